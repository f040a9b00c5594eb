"""Attack success rate and benign utility, undefended vs defended, on a red-team world.

`--world classic` (the default): every scenario of the classic world. The model is the simulated
`compromised` persona (it obeys every instruction it finds, however encoded), as the planner and
as the quarantined reader. The undefended baseline runs in the same run, so the defended 0% is a
measured difference, not a constant. Prints a table and writes `benchmarks/results/redteam.json`
(the figures README quotes).

`--world office`: the office suite (`aegis_ray.security.redteam.office`: 60+ tools, 80+ tasks,
30+ attacks, a frozen dev/test split), with the default security settings, for three adversaries
(an always-obey planner behind the quarantine, the same with a compromised quarantined reader, a
leaky planner that also reads raw outputs), undefended, defended with no human approval, and
defended with exceptions approved; plus the detector's precision and recall per technique and DLP's
false positives on that world. The headline is the test split; `--split dev` runs dev alone (what a
defence is tuned on). Prints a table and writes `benchmarks/results/redteam_office.json`.

    python benchmarks/redteam.py [--world classic|office] [--limit N] [--split both|dev|test]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "redteam.json"
OFFICE_RESULTS = Path(__file__).parent / "results" / "redteam_office.json"
PORT = 8792


def classic(limit: int | None) -> None:
    from aegis_ray.security.redteam.runner import report_table
    from aegis_ray.security.redteam.simulated import run_red_team
    from aegis_ray.sim.process import start_sim_process

    server = start_sim_process(PORT)
    try:
        report = asyncio.run(run_red_team(f"http://127.0.0.1:{PORT}", limit))
    finally:
        server.terminate()
    print(report_table(report))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report.model_dump_json(indent=2))


def office(limit: int | None, split: str = "both") -> None:
    from aegis_ray.security.redteam.office.bench import office_red_team
    from aegis_ray.security.redteam.office.report import table

    def progress(done: int, total: int) -> None:
        if done % 400 < 4 or done == total:
            print(f"\r{done}/{total} runs", end="", file=sys.stderr, flush=True)

    sides = ("test", "dev") if split == "both" else (split,)
    report = asyncio.run(office_red_team(limit, progress, sides))
    print(file=sys.stderr)
    print(table(report))
    OFFICE_RESULTS.parent.mkdir(parents=True, exist_ok=True)
    OFFICE_RESULTS.write_text(report.model_dump_json(indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", choices=("classic", "office"), default="classic")
    parser.add_argument("--limit", type=int, default=None, help="classic: scenarios; office: pairs per split")
    parser.add_argument("--split", choices=("both", "dev", "test"), default="both", help="office: which split")
    args = parser.parse_args()
    if args.world == "office":
        office(args.limit, args.split)
    else:
        classic(args.limit)


if __name__ == "__main__":
    main()
