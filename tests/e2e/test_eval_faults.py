"""A 500-sample `aegis eval run` on the cluster against a model that fails 10% of its calls (rate
limits, 5xx, unavailable, at random): every sample is answered and scored exactly once, none is
lost (500 results, 500 distinct samples, no errors) and none is duplicated (the simulator answered
500 calls successfully: a job whose attempt failed was claimed again, never answered twice)."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterator
from importlib.resources import files
from itertools import cycle
from pathlib import Path

import httpx
import pytest

from aegis_ray.evals.log import read_log
from tests.helpers import aegis, clean_env, sim_cli_server

pytestmark = pytest.mark.e2e

SAMPLES = 500
SIM_CONFIG = {"models": {"sim-flaky*": {"persona": "honest", "fault_rate": 0.1}}}


@pytest.fixture(scope="module")
def sim_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with sim_cli_server(SIM_CONFIG, tmp_path_factory.mktemp("sim")) as url:
        yield url


def capitals_task(directory: Path) -> Path:
    facts = [line.split("\t") for line in (files("aegis_ray.sim") / "data" / "facts.tsv").read_text().splitlines()
             if line.startswith("capital\t")]
    directory.mkdir()
    with open(directory / "samples.jsonl", "w") as samples:
        for i, (_, subject, answer, *_) in zip(range(SAMPLES), cycle(facts), strict=False):
            samples.write(json.dumps({"id": f"q{i:03d}", "input": f"What is the capital of {subject}?",
                                      "target": answer}) + "\n")
    (directory / "task.toml").write_text('name = "flaky-capitals"\ndataset = "samples.jsonl"\n'
                                         'solver = { name = "answer" }\n[[scorers]]\nname = "includes"\n')
    return directory


def test_a_500_sample_eval_with_10_percent_faults_loses_and_duplicates_nothing(
        sim_url: str, cluster_address: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = clean_env(RAY_ADDRESS=cluster_address, AEGIS_HOME=str(home), AEGIS_SIM_URL=sim_url)
    httpx.post(f"{sim_url}/_sim/reset").raise_for_status()
    ran = aegis("eval", "run", str(capitals_task(tmp_path / "task")), "--model", "sim:sim-flaky", "--workers", "2",
                "--concurrency", "32", "--log-dir", str(tmp_path / "logs"), "--json", env=env, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    log = read_log(json.loads(ran.stdout)["log"])
    assert len(log.results) == SAMPLES and [r for r in log.results if r.error] == []
    assert len({r.sample_id for r in log.results}) == SAMPLES  # none lost, none twice
    assert log.metrics["includes/accuracy"].value == 1.0  # every answer is the honest persona's

    calls = Counter(r["status"] for r in httpx.get(f"{sim_url}/_sim/log").json() if r["model"] == "sim-flaky")
    faults = sum(n for status, n in calls.items() if status != 200)
    assert calls[200] == SAMPLES, calls  # each sample answered once: no duplicate model call
    assert 0.04 * SAMPLES <= faults <= 0.2 * SAMPLES, calls  # the faults really happened, and were retried
    with sqlite3.connect(home / "aegis.db") as db:
        attempts = Counter(a for (a,) in db.execute("SELECT attempts FROM jobs WHERE status = 'done'"))
    # Every job done once; a job whose call failed past the endpoint's retries (or met an open
    # breaker) was claimed again, which duplicates nothing: only one of its attempts was answered.
    assert sum(attempts.values()) == SAMPLES and max(attempts) <= 3, attempts
