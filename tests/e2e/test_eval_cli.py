"""`aegis eval run | view | compare` as a user runs them, on the test session's Ray cluster and a
simulated model server: a killed driver's eval finishes on the next run without redoing finished
samples; the report; the regression gate's exit codes on a real regression (a hallucinating model)."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aegis_ray.evals.log import read_log
from tests.helpers import AEGIS, aegis, clean_env, sim_cli_server

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).parents[2] / "examples" / "evals"
SIM_CONFIG = {"models": {
    "sim-slow*": {"persona": "honest", "latency_ms": 400},
    "sim-honest*": {"persona": "honest"},
    "sim-liar*": {"persona": "hallucinating", "hallucination_rate": 0.5, "hallucination_mode": "consistent"},
}}


@pytest.fixture(scope="module")
def sim_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with sim_cli_server(SIM_CONFIG, tmp_path_factory.mktemp("sim")) as url:
        yield url


@pytest.fixture
def env(sim_url: str, cluster_address: str, tmp_path: Path) -> dict[str, str]:
    return clean_env(RAY_ADDRESS=cluster_address, AEGIS_HOME=str(tmp_path / "home"), AEGIS_SIM_URL=sim_url)


def done_jobs(home: Path) -> dict[str, int]:
    """The store's finished jobs and their attempts, read as the workers commit them."""
    with sqlite3.connect(home / "aegis.db", timeout=10) as db:
        return dict(db.execute("SELECT job_id, attempts FROM jobs WHERE status = 'done'").fetchall())


def test_a_killed_eval_finishes_on_the_next_run_without_redoing_samples(env: dict[str, str], tmp_path: Path) -> None:
    home, logs = Path(env["AEGIS_HOME"]), tmp_path / "logs"
    command = ["eval", "run", str(EXAMPLES / "arithmetic"), "--model", "sim:sim-slow", "--epochs", "2",
               "--concurrency", "2", "--lease", "2", "--log-dir", str(logs)]
    driver = subprocess.Popen([*AEGIS, *command], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and driver.poll() is None:
        if (home / "aegis.db").exists() and len(done_jobs(home)) >= 6:
            break
        time.sleep(0.2)
    driver.send_signal(signal.SIGKILL)
    driver.wait(timeout=10)
    time.sleep(2)  # the driver's worker actors die with it
    before = done_jobs(home)
    assert 6 <= len(before) < 40 and set(before.values()) == {1}
    assert not logs.exists() or not list(logs.iterdir()), "a killed eval writes no log"

    again = aegis(*command, "--json", env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert (summary["status"], summary["results"], summary["errors"]) == ("success", 40, 0)
    earlier = re.search(r"(\d+) from earlier runs", again.stderr)
    assert earlier is not None and len(before) <= int(earlier.group(1)) < 40, again.stderr
    after = done_jobs(home)
    assert len(after) == 40 and all(after[job] == 1 for job in before), "a finished sample was redone"
    log = read_log(summary["log"])
    assert {r.job_id: r.attempts for r in log.results if r.job_id in before} == before
    # The simulator knows facts, not arithmetic: it says "I don't know." (an honest 0, interval [0, 0.161]).
    accuracy = log.metrics["numeric/accuracy"]
    assert accuracy.value == 0.0 and accuracy.n == 20 and all(r.output == "I don't know." for r in log.results)

    view = aegis("eval", "view", summary["log"], env=env, cwd=tmp_path)
    assert view.returncode == 0, view.stderr
    assert "arithmetic · " in view.stdout and "sim:sim-slow" in view.stdout and "20 samples × 2 epochs" in view.stdout
    assert "numeric/accuracy" in view.stdout and "cost" in view.stdout and "latency" in view.stdout


def test_compare_exits_1_on_a_regression_and_0_otherwise(env: dict[str, str], tmp_path: Path) -> None:
    facts = str(EXAMPLES / "facts" / "facts.jsonl")  # a dataset file: the answer solver, the includes scorer

    def run(model: str) -> str:
        done = aegis("eval", "run", facts, "--model", model, "--log-dir", str(tmp_path / model), "--json",
                     env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)["log"]

    honest, liar = run("sim:sim-honest"), run("sim:sim-liar")
    assert read_log(honest).metrics["includes/accuracy"].value == 1.0
    worse = read_log(liar).metrics["includes/accuracy"].value
    assert worse is not None and worse < 1.0

    regression = aegis("eval", "compare", honest, liar, "--max-drop", "0.02", env=env, cwd=tmp_path)
    assert regression.returncode == 1, regression.stderr
    assert "includes/accuracy" in regression.stdout and "FAIL" in regression.stdout and "newcombe" in regression.stdout
    assert f"regression: includes/accuracy got worse by {1 - worse:.4g}" in regression.stderr
    for base, new, extra in [(honest, honest, []), (liar, honest, []), (honest, liar, ["--max-drop", "0.9"])]:
        ok = aegis("eval", "compare", base, new, *extra, env=env, cwd=tmp_path)
        assert ok.returncode == 0, ok.stderr
        assert "no regression" in ok.stderr
    missing = aegis("eval", "compare", honest, liar, "--metric", "pass@5", env=env, cwd=tmp_path)
    assert missing.returncode == 2 and "metric 'pass@5' is not in the base log" in missing.stderr
