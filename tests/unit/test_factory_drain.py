"""`drain` over a real SQLite store with a stand-in answer: batched claims, exactly-once results,
requeues, and leases renewed for jobs that waited in the feed."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from aegis_ray.factory import FactoryJob, WorkerOptions, drain, job_payload
from aegis_ray.store import Store, open_store
from aegis_ray.types import RunResult, RunSpec
from tests.helpers import answering

pytestmark = pytest.mark.unit


async def queued_store(tmp_path: Path, jobs: int) -> Store:
    store = await open_store(None, tmp_path)
    await store.enqueue([(j.job_id, job_payload(j, ("sim:sim-honest",)))
                         for j in (FactoryJob(task=f"task {i}") for i in range(jobs))])
    return store


async def test_every_job_is_answered_once_with_claims_in_batches(tmp_path: Path) -> None:
    store = await queued_store(tmp_path, 200)
    answered: Counter[str] = Counter()
    stats = await drain(store, answering(0.01, answered), "w1", WorkerOptions(concurrency=16))
    assert (stats.finished, stats.failed, stats.fenced) == (200, 0, 0)
    assert len(answered) == 200 and set(answered.values()) == {1}
    assert stats.claims <= 200 / 2, f"{stats.claims} claim transactions for 200 jobs"
    assert (await store.queue_counts())["done"] == 200
    await store.close()


async def test_a_failed_job_is_requeued_and_finished_later(tmp_path: Path) -> None:
    store = await queued_store(tmp_path, 20)
    answered: Counter[str] = Counter()
    stats = await drain(store, answering(0.0, answered, fail_first="task 3"), "w1", WorkerOptions(concurrency=4))
    assert (stats.finished, stats.requeued, stats.failed) == (20, 1, 0)
    assert answered["task 3"] == 2
    await store.close()


async def test_jobs_waiting_in_the_feed_keep_their_leases(tmp_path: Path) -> None:
    # One slot, four jobs kept ready, a lease shorter than the wait: without the renewal the
    # worker's own next claim would take the expired jobs again and its first copies be fenced out.
    store = await queued_store(tmp_path, 8)
    answered: Counter[str] = Counter()
    options = WorkerOptions(concurrency=1, prefetch=4, lease_s=0.3)
    stats = await drain(store, answering(0.12, answered), "w1", options)
    assert (stats.finished, stats.fenced) == (8, 0)
    assert set(answered.values()) == {1}
    await store.close()


async def test_two_workers_share_the_queue_without_doing_a_job_twice(tmp_path: Path) -> None:
    store = await queued_store(tmp_path, 120)
    other = await open_store(None, tmp_path)  # a second connection, as a second process would have
    answered: Counter[str] = Counter()
    first, second = await asyncio.gather(drain(store, answering(0.005, answered), "w1", WorkerOptions(concurrency=8)),
                                         drain(other, answering(0.005, answered), "w2", WorkerOptions(concurrency=8)))
    assert first.finished + second.finished == 120 and first.finished > 0 and second.finished > 0
    assert set(answered.values()) == {1}
    await store.close()
    await other.close()


async def test_results_are_committed_in_batches_and_the_drain_ends_without_waiting_out_a_poll(tmp_path: Path) -> None:
    # The last jobs' own commits release the worker: it must not sleep out `idle_poll_s` while only
    # its own jobs are still running.
    store = await queued_store(tmp_path, 64)
    answered: Counter[str] = Counter()
    options = WorkerOptions(concurrency=32, idle_poll_s=30, record_s=0.05)
    stats = await asyncio.wait_for(drain(store, answering(0.01, answered), "w1", options), timeout=15)
    assert stats.finished == 64 and set(answered.values()) == {1}
    assert stats.records <= 64 / 4, f"{stats.records} result transactions for 64 jobs"
    assert (await store.queue_counts())["done"] == 64
    await store.close()


async def test_a_worker_stopped_before_its_results_commit_leaves_them_to_be_redone(tmp_path: Path) -> None:
    store = await queued_store(tmp_path, 10)
    answered: Counter[str] = Counter()
    all_answered = asyncio.Event()
    inner = answering(0.0, answered)

    async def answer(spec: RunSpec) -> RunResult:
        result = await inner(spec)
        if sum(answered.values()) == 10:
            all_answered.set()
        return result

    # A commit window longer than the answers: cancelled then, the worker has answers but no commits.
    first = asyncio.ensure_future(drain(store, answer, "w1", WorkerOptions(concurrency=10, record_s=5, lease_s=0.3)))
    await asyncio.wait_for(all_answered.wait(), timeout=10)
    first.cancel()
    assert (await store.queue_counts())["done"] == 0
    await asyncio.sleep(0.35)  # its leases expire
    again = await drain(store, answering(0.0, answered), "w2", WorkerOptions(concurrency=4))
    assert again.finished == 10 and set(answered.values()) == {2}
    assert (await store.queue_counts())["done"] == 10
    await store.close()


async def test_the_kill_switch_halts_a_drain_within_a_second_and_its_jobs_go_back(tmp_path: Path) -> None:
    import time

    from aegis_ray.control import SwitchState, set_switch

    store = await queued_store(tmp_path, 400)
    operator = await open_store(None, tmp_path)  # another process's handle on the same store
    answered: Counter[str] = Counter()
    draining = asyncio.ensure_future(drain(store, answering(0.05, answered), "w1", WorkerOptions(concurrency=8)))
    await asyncio.sleep(0.5)
    await set_switch(operator, SwitchState.STOPPED)
    flipped = time.monotonic()
    stats = await draining
    assert stats.halted and time.monotonic() - flipped <= 1.0
    counts = await store.queue_counts()
    # handed back: the jobs it held have leases that already ended (claimable at once), the rest are queued
    assert counts["queued"] + counts["running"] == 400 - counts["done"] > 0 and stats.released == counts["running"]
    assert counts["done"] == stats.finished and set(answered.values()) == {1}

    again = await drain(store, answering(0.0, answered), "w2", WorkerOptions(concurrency=8))
    assert again.halted and again.claims == 0  # stopped already: nothing is claimed
    await set_switch(operator, SwitchState.RUNNING)
    resumed = await drain(store, answering(0.0, answered), "w3", WorkerOptions(concurrency=8))
    assert not resumed.halted and (await store.queue_counts())["done"] == 400
    await operator.close()
    await store.close()


async def test_an_unreadable_switch_halts_the_drain(tmp_path: Path) -> None:
    store = await queued_store(tmp_path, 10)

    async def broken(_: str) -> str | None:
        raise OSError("disk gone")

    store.flag = broken  # type: ignore[method-assign]
    stats = await drain(store, answering(0.0, Counter()), "w1", WorkerOptions(concurrency=2))
    assert stats.halted and stats.finished == 0  # fail closed
    await store.close()
