"""What the CLI records and reports (issue 20): a plain `aegis run` is recorded under the id it
prints; `run --code` with no sandbox backend fails before anything starts; `aegis factory` reports
its jobs as the store holds them after every worker's last commit (item 12), down to the engine:
a drain returns only after its last commit, and the report is read after the drain is over."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest

from aegis_ray.factory import WorkerOptions, drain, follow_drain
from aegis_ray.store import Job, JobOutcome
from aegis_ray.store.jobs import JobStatus
from aegis_ray.store.sqlite import SqliteStore
from aegis_ray.types import RunResult, RunSpec
from tests.e2e.test_interrupt import recorded_runs
from tests.helpers import aegis, answering, clean_env

pytestmark = pytest.mark.e2e

QUESTION = "What is the capital of Australia?"


def test_a_plain_run_is_recorded_under_the_id_it_prints(cluster_address: str, tmp_path: Path) -> None:
    env = clean_env(RAY_ADDRESS=cluster_address, AEGIS_HOME=str(tmp_path / "home"))
    result = aegis("run", QUESTION, "--json", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    printed = RunResult.model_validate_json(result.stdout)
    listed = json.loads(aegis("runs", "--json", env=env, cwd=tmp_path).stdout)
    assert [(r["run_id"], r["status"], r["task"]) for r in listed] == [(printed.run_id, "succeeded", QUESTION)]


def test_no_sandbox_backend_fails_before_the_session_starts(tmp_path: Path) -> None:
    nothing = tmp_path / "bin"  # a PATH without bwrap (or anything else), and no Docker engine
    nothing.mkdir()
    env = clean_env(PATH=str(nothing), DOCKER_HOST="unix:///nonexistent/docker.sock",
                    AEGIS_HOME=str(tmp_path / "home"))
    result = aegis("run", "--code", "Compute the 20th Fibonacci number", env=env, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    first, *rest = result.stderr.strip().splitlines()
    assert first.startswith("error: ") and "bubblewrap" in first and "apt-get install bubblewrap" in first
    assert [line for line in rest if not line.startswith("hint: ")] == []  # nothing else: no Ray, no session
    assert result.stdout == "" and recorded_runs(tmp_path / "home") == []


def test_factory_reports_every_job_done_after_the_last_commits(cluster_address: str, tmp_path: Path) -> None:
    env = clean_env(RAY_ADDRESS=cluster_address, AEGIS_HOME=str(tmp_path / "home"))
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("".join(json.dumps({"task": f"What is the capital of Peru? (job {i})"}) + "\n"
                            for i in range(200)))
    result = aegis("factory", "-f", str(jobs), "--workers", "2", "--concurrency", "16", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "200 done, 0 not done" in result.stderr
    assert [json.loads(line)["status"] for line in result.stdout.splitlines()] == ["done"] * 200


class SlowCommits(SqliteStore):
    """Results committed late: each batch lands well after the slots that produced it moved on."""

    async def record_jobs(self, outcomes: Sequence[JobOutcome]) -> list[JobStatus | None]:
        await asyncio.sleep(0.05)
        return await super().record_jobs(outcomes)


async def test_a_drain_returns_only_after_its_last_commit(tmp_path: Path) -> None:
    store = SlowCommits(tmp_path / "aegis.db")
    await store.migrate()
    await store.enqueue([(f"job-{i}", {"spec": RunSpec(task=f"task {i}").model_dump(mode="json")})
                         for i in range(120)])
    stats = await drain(store, answering(0.001, Counter()), "w", WorkerOptions(concurrency=16, record_s=0.05))
    found = await store.jobs_by_id([f"job-{i}" for i in range(120)])  # read the moment the drain returns
    assert stats.finished == 120 and stats.records < 120
    assert Counter(job.status for job in found.values()) == {"done": 120}
    await store.close()


class RacedRead(SqliteStore):
    """Its first read of the jobs returns what it read just as the workers make their last commit
    and return: a stale view, though the drain is over by the time the reader sees it."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.reading_now = asyncio.Event()
        self.workers_gone = asyncio.Event()

    async def jobs_by_id(self, job_ids: Sequence[str]) -> dict[str, Job]:
        found = await super().jobs_by_id(job_ids)
        if not self.reading_now.is_set():
            self.reading_now.set()
            await self.workers_gone.wait()
        return found


async def test_the_report_is_read_after_the_drain_is_over(tmp_path: Path) -> None:
    store = RacedRead(tmp_path / "aegis.db")
    await store.migrate()
    ids = [f"job-{i}" for i in range(20)]
    await store.enqueue([(i, {"spec": RunSpec(task=i).model_dump(mode="json")}) for i in ids])
    claimed = await store.claim_jobs("w", 60, 20)
    await store.record_jobs([JobOutcome(job=job, result={}) for job in claimed[:16]])

    async def workers() -> str:
        await store.reading_now.wait()
        await store.record_jobs([JobOutcome(job=job, result={}) for job in claimed[16:]])
        store.workers_gone.set()
        return "drained"

    seen: list[int] = []
    found, drained = await follow_drain(store, ids, workers(), seen.append, poll_s=5)
    assert drained == "drained" and seen == [16, 20]  # the poll saw 4 running; the report does not
    assert Counter(job.status for job in found.values()) == {"done": 20}
    await store.close()
