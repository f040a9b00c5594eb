"""Attack success rate and benign utility, undefended vs defended, on every red-team scenario.

The model is the simulated `compromised` persona (it obeys every instruction it finds, however
encoded), as the planner and as the quarantined reader. The undefended baseline runs in the same
run, so the defended 0% is a measured difference, not a constant. Prints a table and writes
`benchmarks/results/redteam.json` (the figures README quotes).

    python benchmarks/redteam.py [--limit N]
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from aegis_ray.security.redteam.runner import report_table
from aegis_ray.security.redteam.simulated import run_red_team
from aegis_ray.sim.process import start_sim_process

RESULTS = Path(__file__).parent / "results" / "redteam.json"
PORT = 8792


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    server = start_sim_process(PORT)
    try:
        report = asyncio.run(run_red_team(f"http://127.0.0.1:{PORT}", args.limit))
    finally:
        server.terminate()
    print(report_table(report))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report.model_dump_json(indent=2))


if __name__ == "__main__":
    main()
