"""Factory mode as a user runs it: `aegis factory`, `aegis worker`, `aegis queue` as subprocesses,
against a simulated model that fails 10% of calls (429 / 500 / 503)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import AEGIS, aegis, clean_env, sim_cli_server

pytestmark = pytest.mark.e2e

SIM_CONFIG = {"models": {"sim-faulty*": {"persona": "honest", "fault_rate": 0.1, "latency_ms": 20},
                         "sim-slow*": {"persona": "honest", "latency_ms": 150}}}


@pytest.fixture(scope="module")
def sim_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with sim_cli_server(SIM_CONFIG, tmp_path_factory.mktemp("sim")) as url:
        yield url


def write_jobs(path: Path, count: int) -> Path:
    facts = ["France", "Japan", "Kenya", "Peru", "Norway"]
    path.write_text("".join(json.dumps({"task": f"What is the capital of {facts[i % 5]}? (job {i})"}) + "\n"
                            for i in range(count)))
    return path


def test_500_jobs_with_faults_lose_and_duplicate_nothing(sim_url: str, cluster_address: str, tmp_path: Path) -> None:
    env = clean_env(RAY_ADDRESS=cluster_address, AEGIS_HOME=str(tmp_path / "home"), AEGIS_SIM_URL=sim_url,
                    AEGIS_RETRY__INITIAL_BACKOFF_S="0.01", AEGIS_RETRY__JITTER_S="0.01")
    jobs = write_jobs(tmp_path / "jobs.jsonl", 500)
    httpx.post(f"{sim_url}/_sim/reset")
    run = aegis("factory", "-f", str(jobs), "--model", "sim:sim-faulty", "--concurrency", "32",
                "-o", str(tmp_path / "results.jsonl"), env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    results = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert len(results) == 500 and len({r["job_id"] for r in results}) == 500
    assert all(r["status"] == "done" and r["simulated"] for r in results)
    assert sum("Paris" in r["answer"] for r in results) == 100
    faults = [r for r in httpx.get(f"{sim_url}/_sim/log").json() if r["status"] != 200]
    assert len(faults) > 20, "the simulated model injected faults"
    # The same file again: nothing is redone.
    httpx.post(f"{sim_url}/_sim/reset")
    again = aegis("factory", "-f", str(jobs), "--model", "sim:sim-faulty", env=env, cwd=tmp_path)
    assert "0 new, 500 already known" in again.stderr and again.returncode == 0
    assert httpx.get(f"{sim_url}/_sim/log").json() == []
    assert len(again.stdout.splitlines()) == 500
    counts = json.loads(aegis("queue", "--json", env=env, cwd=tmp_path).stdout)["counts"]
    assert counts == {"queued": 0, "running": 0, "done": 500, "failed": 0}


def test_a_killed_worker_leaves_nothing_behind(sim_url: str, cluster_address: str, tmp_path: Path) -> None:
    env = clean_env(RAY_ADDRESS=cluster_address, AEGIS_HOME=str(tmp_path / "home"), AEGIS_SIM_URL=sim_url)
    jobs = write_jobs(tmp_path / "jobs.jsonl", 120)
    queued = aegis("factory", "-f", str(jobs), "--model", "sim:sim-slow", "--no-drain", env=env, cwd=tmp_path)
    assert queued.returncode == 0 and "120 new" in queued.stderr
    first = subprocess.Popen([*AEGIS, "worker", "--concurrency", "4", "--lease", "2"], env=env, cwd=tmp_path,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        counts = json.loads(aegis("queue", "--json", env=env, cwd=tmp_path).stdout)["counts"]
        if counts["done"] >= 10:
            break
        time.sleep(0.3)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    stranded = json.loads(aegis("queue", "--json", env=env, cwd=tmp_path).stdout)["counts"]
    assert 10 <= stranded["done"] < 120
    second = aegis("worker", "--concurrency", "16", "--lease", "2", env=env, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    counts = json.loads(aegis("queue", "--json", env=env, cwd=tmp_path).stdout)["counts"]
    assert counts == {"queued": 0, "running": 0, "done": 120, "failed": 0}


def test_bad_job_files_say_which_line(tmp_path: Path) -> None:
    bad = tmp_path / "jobs.jsonl"
    bad.write_text('{"task": "fine"}\n{"task": ""}\n')
    result = aegis("factory", "-f", str(bad), cwd=tmp_path, env=clean_env(AEGIS_HOME=str(tmp_path / "home")))
    assert result.returncode == 2 and "jobs.jsonl:2: not a job" in result.stderr


def test_queue_retry_failed_queues_failed_jobs_again(tmp_path: Path) -> None:
    import asyncio

    from aegis_ray.store import JobOutcome, open_store

    async def seed() -> None:
        store = await open_store(None, tmp_path / "home")
        await store.enqueue([("job-a", {}), ("job-b", {}), ("job-c", {})], max_attempts=1)
        for job in await store.claim_jobs("w", 30, 3):
            error = None if job.job_id == "job-c" else "provider down"
            await store.record_jobs([JobOutcome(job=job, error=error, result=None if error else {"ok": True})])
        await store.close()

    asyncio.run(seed())
    env = clean_env(AEGIS_HOME=str(tmp_path / "home"))
    before = json.loads(aegis("queue", "--json", env=env, cwd=tmp_path).stdout)
    assert before["counts"]["failed"] == 2 and {f["job_id"] for f in before["failed"]} == {"job-a", "job-b"}
    retried = aegis("queue", "--retry-failed", env=env, cwd=tmp_path)
    assert retried.returncode == 0 and "queued 2 failed jobs again" in retried.stderr, retried.stderr
    after = json.loads(aegis("queue", "--json", env=env, cwd=tmp_path).stdout)["counts"]
    assert (after["queued"], after["failed"], after["done"]) == (2, 0, 1)
