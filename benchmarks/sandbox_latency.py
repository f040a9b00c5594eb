"""Cold-start cost of the sandbox: `python3 -c pass` bare vs inside bubblewrap, median of N.

Each sandboxed run is a fresh sandbox: new namespaces, mounts, rlimits and (where writable) a pids
cgroup, torn down afterwards. Prints a table and writes `benchmarks/results/sandbox_latency.json`.

    python benchmarks/sandbox_latency.py [--runs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from aegis_ray.sandbox import SandboxLimits
from aegis_ray.sandbox.bubblewrap import BubblewrapSandbox

RESULTS = Path(__file__).parent / "results" / "sandbox_latency.json"
ARGV = ["/usr/bin/python3", "-c", "pass"]  # the same interpreter outside and in (the sandbox binds /usr)


async def bare() -> None:
    process = await asyncio.create_subprocess_exec(*ARGV)
    await process.wait()


async def median_ms(run: Callable[[], Awaitable[object]], runs: int) -> tuple[float, list[float]]:
    await run()  # warm the page cache
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await run()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), samples


async def main(runs: int) -> dict[str, float]:
    sandbox = BubblewrapSandbox()
    workspace = Path(tempfile.mkdtemp(prefix="aegis-bench-"))

    async def sandboxed() -> None:
        (await sandbox.run(ARGV, workspace, SandboxLimits())).raise_for_outcome()

    bare_ms, _ = await median_ms(bare, runs)
    boxed_ms, _ = await median_ms(sandboxed, runs)
    return {"bare_p50_ms": bare_ms, "bubblewrap_p50_ms": boxed_ms, "ratio": boxed_ms / bare_ms,
            "added_ms": boxed_ms - bare_ms, "process_limit_by_cgroup": sandbox.limits_processes}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    result = asyncio.run(main(args.runs))
    print(f"{'python3 -c pass':20} {'p50 ms':>8} {'ratio':>7}")
    print(f"{'bare process':20} {result['bare_p50_ms']:8.1f} {1.0:7.2f}")
    print(f"{'bubblewrap sandbox':20} {result['bubblewrap_p50_ms']:8.1f} {result['ratio']:7.2f}")
    print(f"the sandbox adds {result['added_ms']:.1f} ms per cold start")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"runs": args.runs, **result}, indent=2))
