"""Wall time of `aegis run "What is the capital of Australia?"` as a user sees it, median of N runs:

- cold: no cluster running (the command starts Ray for itself and stops it at exit);
- warm: a local cluster up (`aegis up`), every run joins it;
- invalid model: `--model sim:no-such-model`, rejected before Ray is touched (exit 2), with no
  cluster and again with the local cluster up;
- baseline: `python -c "import ray; ray.init()"` in the same session, on the same machine.

Also the time to the first line on stderr (the status line) and the model call as the run reports
it. Each run is a fresh process with a clean environment (no keys: the simulated model answers; no
RAY_ADDRESS) and an Aegis home of its own. Targets (issue 20): warm <= 2.0 s, invalid model <= 1.5 s,
cold <= 1.2x the baseline plus the model call. Prints a table, writes
`benchmarks/results/cli_latency.json`.

    python benchmarks/cli_latency.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "cli_latency.json"
QUESTION = "What is the capital of Australia?"
AEGIS = [sys.executable, "-m", "aegis_ray"]
BASELINE = [sys.executable, "-c", "import ray; ray.init(address='local')"]  # 'local': never join a running one
_CALL_MS = re.compile(r"· (\d+) ms")


def clean_env(home: Path) -> dict[str, str]:
    drop = ("AEGIS_", "RAY_ADDRESS", "OPENAI_", "ANTHROPIC_", "GEMINI_", "GOOGLE_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return {**env, "AEGIS_HOME": str(home), "COLUMNS": "200"}


class Sample:
    """One timed process: wall time, time to its first stderr line, exit code, output."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        started = time.perf_counter()
        process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   stdin=subprocess.DEVNULL)
        self.first_line_s: float | None = None
        lines: list[bytes] = []

        def read() -> None:
            assert process.stderr is not None
            for line in process.stderr:
                if self.first_line_s is None:
                    self.first_line_s = time.perf_counter() - started
                lines.append(line)

        reader = threading.Thread(target=read)
        reader.start()
        assert process.stdout is not None
        self.stdout = process.stdout.read().decode()
        self.code = process.wait(timeout=600)
        self.wall_s = time.perf_counter() - started
        reader.join()
        self.stderr = b"".join(lines).decode(errors="replace")

    @property
    def call_s(self) -> float | None:
        found = _CALL_MS.search(self.stderr)
        return int(found.group(1)) / 1000 if found else None


def measure(argv: list[str], env: dict[str, str], cwd: Path, runs: int, expect: int = 0,
            between: list[str] | None = None) -> dict[str, object]:
    samples = []
    for _ in range(runs):
        if between:
            subprocess.run([*AEGIS, *between], env=env, cwd=cwd, capture_output=True, timeout=120, check=False)
        sample = Sample(argv, env, cwd)
        if sample.code != expect:
            raise SystemExit(f"{' '.join(argv[2:])} exited {sample.code}, not {expect}:\n{sample.stderr[-2000:]}")
        samples.append(sample)
    firsts = [s.first_line_s for s in samples if s.first_line_s is not None]
    calls = [s.call_s for s in samples if s.call_s is not None]
    return {
        "median_s": round(statistics.median(s.wall_s for s in samples), 3),
        "samples_s": [round(s.wall_s, 3) for s in samples],
        "first_stderr_line_median_s": round(statistics.median(firsts), 3) if firsts else None,
        "model_call_median_s": round(statistics.median(calls), 3) if calls else None,
        "first_status_line": samples[-1].stderr.splitlines()[0] if samples[-1].stderr else "",
    }


def main(runs: int) -> dict[str, object]:
    home = Path(tempfile.mkdtemp(prefix="aegis-bench-"))
    cwd = Path(tempfile.mkdtemp(prefix="aegis-bench-cwd-"))
    env = clean_env(home)
    run = [*AEGIS, "run", QUESTION]
    load_before = os.getloadavg()
    try:
        subprocess.run([*AEGIS, "down"], env=env, cwd=cwd, capture_output=True, timeout=120, check=False)
        baseline = measure(BASELINE, env, cwd, runs)
        invalid = measure([*run, "--model", "sim:no-such-model"], env, cwd, runs, expect=2)
        cold = measure(run, env, cwd, runs)
        started = time.perf_counter()
        up = subprocess.run([*AEGIS, "up"], env=env, cwd=cwd, capture_output=True, text=True, timeout=300,
                            check=False)
        if up.returncode != 0:
            raise SystemExit(f"aegis up failed:\n{up.stderr}")
        up_s = time.perf_counter() - started
        warm = measure(run, env, cwd, runs)
        invalid_warm = measure([*run, "--model", "sim:no-such-model"], env, cwd, runs, expect=2)
    finally:
        down = subprocess.run([*AEGIS, "down"], env=env, cwd=cwd, capture_output=True, text=True, timeout=120,
                              check=False)
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(cwd, ignore_errors=True)
    call_s = warm["model_call_median_s"] or 0.0
    cold_target = 1.2 * float(baseline["median_s"]) + float(call_s)  # type: ignore[arg-type]
    targets = {"warm_s": 2.0, "invalid_model_s": 1.5, "cold_s": round(cold_target, 3),
               "cold_rule": "1.2 x baseline median + the warm runs' model call (as `aegis run` reports it)"}
    return {
        "command": f'aegis run "{QUESTION}"',
        "runs": runs,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "load_average_before": [round(x, 2) for x in load_before],
                    "load_average_after": [round(x, 2) for x in os.getloadavg()]},
        "baseline_ray_init": baseline,
        "cold": cold,
        "aegis_up_s": round(up_s, 3),
        "warm": warm,
        "invalid_model": invalid,
        "invalid_model_warm": invalid_warm,
        "aegis_down": down.stderr.strip().splitlines()[-1:] if down.stderr else [],
        "targets": targets,
        "met": {"warm": warm["median_s"] <= 2.0,  # type: ignore[operator]
                "invalid_model": invalid["median_s"] <= 1.5,  # type: ignore[operator]
                "invalid_model_warm": invalid_warm["median_s"] <= 1.5,  # type: ignore[operator]
                "cold": cold["median_s"] <= cold_target},  # type: ignore[operator]
    }


def table(result: dict[str, object]) -> str:
    rows = [("ray.init() alone (baseline)", "baseline_ray_init", None),
            ("aegis run, cold (no cluster)", "cold", "cold_s"),
            ("aegis run, warm (aegis up)", "warm", "warm_s"),
            ("aegis run, invalid model", "invalid_model", "invalid_model_s"),
            ("  the same, cluster up", "invalid_model_warm", "invalid_model_s")]
    targets: dict[str, float] = result["targets"]  # type: ignore[assignment]
    lines = [f"{'':32} {'median s':>9} {'1st line s':>10} {'target s':>9}  samples"]
    for label, key, target in rows:
        entry: dict[str, object] = result[key]  # type: ignore[assignment]
        first = entry["first_stderr_line_median_s"]
        lines.append(f"{label:32} {entry['median_s']:>9.2f} {first if first is not None else '-':>10} "
                     f"{targets[target] if target else '':>9}  {entry['samples_s']}")
    lines.append(f"aegis up: {result['aegis_up_s']:.2f} s · model call (warm, as the run reports it): "
                 f"{result['warm']['model_call_median_s']} s · met: {result['met']}")  # type: ignore[index]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    outcome = main(args.runs)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(outcome, indent=2) + "\n", encoding="utf-8")
    print(table(outcome))
    print(f"wrote {RESULTS}")
