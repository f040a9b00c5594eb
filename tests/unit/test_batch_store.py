"""The store's provider batches, on SQLite and the real PostgreSQL server: recorded once, listed by
scope in order, and collected (answers committed as done jobs, the batch marked) in one transaction."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aegis_ray.store import Store, open_store
from tests.helpers import postgres_schema


@pytest.fixture(params=[pytest.param("sqlite", marks=pytest.mark.unit),
                        pytest.param("postgres", marks=pytest.mark.integration)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    with postgres_schema() if request.param == "postgres" else contextlib.nullcontext() as url:
        opened = await open_store(url or f"sqlite:///{tmp_path / 'aegis.db'}", tmp_path)
        yield opened
        await opened.close()


async def test_batches_are_recorded_once_and_listed_by_scope(store: Store) -> None:
    await store.batch_submitted("eval:a", "batch_2", "sim:sim-honest", ["j3", "j1"])
    await store.batch_submitted("eval:a", "batch_1", "sim:sim-honest", ["j2"])
    await store.batch_submitted("eval:a", "batch_2", "sim:other", ["jx"])  # a second record of it changes nothing
    await store.batch_submitted("eval:b", "batch_3", "anthropic:sim-honest", ["j9"])
    found = await store.batches_of("eval:a")
    assert [(b.batch_id, b.model, b.items, b.status) for b in found] == [
        ("batch_2", "sim:sim-honest", ("j3", "j1"), "submitted"), ("batch_1", "sim:sim-honest", ("j2",), "submitted")]
    assert await store.batches_of("eval:none") == []


async def test_collecting_commits_done_jobs_and_marks_the_batch(store: Store) -> None:
    await store.batch_submitted("eval:a", "batch_1", "sim:sim-honest", ["j1", "j2", "j3"])
    await store.enqueue([("j3", {"spec": "queued before"})])
    done = [(job_id, {"spec": job_id}, {"result": {"answer": job_id}}) for job_id in ("j1", "j3")]
    assert await store.batch_collected("batch_1", done) == 1  # j3 was known: left as it is
    jobs = await store.jobs_by_id(["j1", "j2", "j3"])
    assert set(jobs) == {"j1", "j3"}
    assert (jobs["j1"].status, jobs["j1"].attempts, jobs["j1"].result) == ("done", 1, {"result": {"answer": "j1"}})
    assert jobs["j1"].payload == {"spec": "j1"} and jobs["j3"].status == "queued"
    assert [b.status for b in await store.batches_of("eval:a")] == ["collected"]
    assert await store.batch_collected("batch_1", done) == 0  # collecting again is harmless
    assert await store.claim_jobs("w", 5.0, 10) != [] and (await store.jobs_by_id(["j1"]))["j1"].status == "done"
