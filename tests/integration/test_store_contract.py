"""The store contract: every backend passes the same suite (SQLite, and the real PostgreSQL server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from aegis_ray.errors import BadInputError
from aegis_ray.store import EffectWriter, FencedOutError, JobOutcome, Store, open_store
from aegis_ray.store.schema import SCHEMA_VERSION
from aegis_ray.types import RunSpec, RunState, RunStatus, Step
from tests.helpers import postgres_schema

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgres"])
async def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Callable]:
    """Opens stores on one database (several stores = several processes sharing it)."""
    opened: list[Store] = []
    with postgres_schema() if request.param == "postgres" else _nothing() as url:
        database = url if request.param == "postgres" else f"sqlite:///{tmp_path / 'aegis.db'}"

        async def make() -> Store:
            opened.append(await open_store(database, tmp_path))
            return opened[-1]

        yield make
        for store in opened:
            await store.close()


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


def state_after(spec: RunSpec, steps: int) -> RunState:
    state = RunState(run_id="run-1", spec=spec, status=RunStatus.RUNNING)
    state.steps = [Step(index=i, state="act") for i in range(steps)]
    return state


async def test_migrations_are_idempotent(make_store) -> None:
    store = await make_store()
    assert await store.migrate() == SCHEMA_VERSION
    assert await store.migrate() == SCHEMA_VERSION


async def test_runs_checkpoints_and_the_step_log(make_store) -> None:
    store = await make_store()
    spec = RunSpec(task="t")
    assert await store.create_run("run-1", spec)
    assert not await store.create_run("run-1", spec)
    epoch = await store.claim_run("run-1", "worker-a", lease_s=30)
    for i in range(3):
        state = state_after(spec, i + 1)
        await store.commit_step("run-1", epoch, state.steps[-1], state)
    record = await store.load_run("run-1")
    assert record.step_count == 3 and record.status is RunStatus.RUNNING and len(record.state.steps) == 3
    assert [s.index for s in await store.steps("run-1")] == [0, 1, 2]
    assert [r.run_id for r in await store.list_runs(status=RunStatus.RUNNING)] == ["run-1"]
    await store.prune_run("run-1")
    assert await store.steps("run-1") == [] and (await store.load_run("run-1")).step_count == 3


async def test_a_taken_over_run_fences_out_the_stale_writer(make_store) -> None:
    store = await make_store()
    spec = RunSpec(task="t")
    await store.create_run("run-1", spec)
    stale = await store.claim_run("run-1", "worker-a", lease_s=30)
    fresh = await store.claim_run("run-1", "worker-b", lease_s=30)
    assert fresh == stale + 1
    with pytest.raises(FencedOutError):
        await store.commit_step("run-1", stale, Step(index=0, state="act"), state_after(spec, 1))
    await store.commit_step("run-1", fresh, Step(index=0, state="act"), state_after(spec, 1))
    with pytest.raises(FencedOutError):
        await store.effect_once("k", "run-1", stale, lambda w: w.log("x"))
    assert await store.effect_log("run-1") == []


async def test_transactional_effects_happen_exactly_once(make_store) -> None:
    store = await make_store()
    await store.create_run("run-1", RunSpec(task="t"))
    calls = 0

    async def pay(writer: EffectWriter) -> str:
        nonlocal calls
        calls += 1
        await writer.log("paid 10")
        return "receipt-1"

    assert await store.effect_once("run-1/3/call-a", "run-1", None, pay) == ("receipt-1", False)
    assert await store.effect_once("run-1/3/call-a", "run-1", None, pay) == ("receipt-1", True)
    assert calls == 1 and await store.effect_log("run-1") == ["paid 10"]

    async def crash(writer: EffectWriter) -> str:
        await writer.log("half done")
        raise RuntimeError("crash inside the effect")

    with pytest.raises(RuntimeError):
        await store.effect_once("run-1/4/call-b", "run-1", None, crash)
    assert await store.effect_log("run-1") == ["paid 10"]  # rolled back with its record
    assert await store.effect_once("run-1/4/call-b", "run-1", None, pay) == ("receipt-1", False)


async def test_two_phase_effects_report_an_unknown_outcome(make_store) -> None:
    store = await make_store()
    assert await store.effect_begin("k1", "run-1") == ("new", None)
    await store.effect_finish("k1", "ok")
    assert await store.effect_begin("k1", "run-1") == ("done", "ok")
    assert await store.effect_begin("k2", "run-1") == ("new", None)
    assert await store.effect_begin("k2", "run-1") == ("unknown", None)  # began, never finished: a crash


async def test_queue_dedupes_and_concurrent_workers_get_distinct_jobs(make_store) -> None:
    first, second = await make_store(), await make_store()
    assert await first.enqueue([(f"job-{i}", {"n": i}) for i in range(20)]) == 20
    assert await second.enqueue([("job-0", {"n": 0}), ("job-20", {"n": 20})]) == 1
    claims = await asyncio.gather(*(store.claim_job(f"w{i}", lease_s=30)
                                    for i, store in enumerate([first, second] * 12)))
    claimed = [job.job_id for job in claims if job is not None]
    assert len(claimed) == 21 and len(set(claimed)) == 21
    assert (await first.queue_counts())["running"] == 21


async def test_an_expired_lease_is_reclaimed_and_the_old_worker_fenced(make_store) -> None:
    store = await make_store()
    await store.enqueue([("job-1", {}), ("job-2", {})])
    old = await store.claim_job("worker-a", lease_s=0.05)
    other = await store.claim_job("worker-a", lease_s=30)
    await asyncio.sleep(0.1)
    new = await store.claim_job("worker-b", lease_s=30)
    assert new.job_id == old.job_id and new.token == old.token + 1 and new.attempts == 2
    # In one batch, the stale result is refused without holding back the job still owned.
    assert await store.record_jobs([JobOutcome(job=old, result={"answer": "stale"}),
                                    JobOutcome(job=other, result={"answer": "other"})]) == [None, "done"]
    assert await store.record_jobs([JobOutcome(job=new, result={"answer": "fresh"})]) == ["done"]
    assert {j.job_id: j.result for j in await store.jobs("done")} == {"job-1": {"answer": "fresh"},
                                                                     "job-2": {"answer": "other"}}


async def test_renewed_leases_hold_and_lost_ones_are_reported(make_store) -> None:
    store = await make_store()
    await store.enqueue([("job-1", {}), ("job-2", {})])
    first, second = await store.claim_jobs("worker-a", lease_s=0.2, limit=2)
    await asyncio.sleep(0.1)
    assert await store.renew_jobs([first, second], lease_s=0.2) == set()
    await asyncio.sleep(0.15)  # past the first lease, within the renewed one
    assert await store.claim_job("worker-b", lease_s=30) is None
    await asyncio.sleep(0.1)
    taken = await store.claim_job("worker-b", lease_s=30)  # now both have expired: b takes one
    assert await store.renew_jobs([first, second], lease_s=30) == {taken.job_id}


async def test_failed_jobs_are_retried_then_marked_failed(make_store) -> None:
    store = await make_store()
    await store.enqueue([("job-1", {})], max_attempts=2)
    assert await store.record_jobs([JobOutcome(job=await store.claim_job("w", 30), error="boom")]) == ["queued"]
    assert await store.record_jobs([JobOutcome(job=await store.claim_job("w", 30), error="boom again")]) == ["failed"]
    assert await store.claim_job("w", 30) is None
    assert (await store.jobs("failed"))[0].error == "boom again"


async def test_failed_jobs_can_be_queued_again_and_pollers_read_only_finished_ones(make_store) -> None:
    store = await make_store()
    await store.enqueue([("bad-1", {}), ("bad-2", {}), ("good", {}), ("waiting", {})], max_attempts=1)
    for job in await store.claim_jobs("w", 30, 3):
        await store.record_jobs([JobOutcome(job=job, result={"ok": 1}) if job.job_id == "good"
                                 else JobOutcome(job=job, error="boom")])
    finished = await store.finished_jobs(["bad-1", "bad-2", "good", "waiting", "unknown"])
    assert set(finished) == {"bad-1", "bad-2", "good"}
    assert await store.requeue_failed(["bad-1", "good", "waiting"]) == 1  # only a failed job is requeued
    assert {j.job_id: (j.status, j.attempts, j.error) for j in (await store.jobs_by_id(["bad-1"])).values()} == {
        "bad-1": ("queued", 0, None)}
    assert await store.requeue_failed() == 1  # every failed one: bad-2
    assert (await store.queue_counts())["failed"] == 0
    assert {j.job_id for j in await store.claim_jobs("w", 30, 10)} == {"bad-1", "bad-2", "waiting"}


async def test_the_audit_chain_detects_an_edited_a_deleted_and_a_cut_off_entry(make_store) -> None:
    store = await make_store()
    assert (await store.verify_audit()).ok  # empty: nothing to break
    for i in range(5):
        await store.audit("cli:ops", "kill_switch.stop" if i % 2 else "approval.decide", {"n": i}, tenant="acme")
    assert (report := await store.verify_audit()).ok and report.entries == 5
    assert [e.seq for e in await store.audit_entries(tenant="acme", after=2)] == [3, 4, 5]

    async def tamper(sql: str, *params: object) -> str | None:
        async with store.transaction() as tx:
            await tx.execute(sql, params)
        return (await store.verify_audit()).problem

    edited = await tamper("UPDATE audit SET detail = ? WHERE seq = 3", '{"n": 99}')
    assert edited == "entry 3 was edited after it was written"
    await tamper("UPDATE audit SET detail = ? WHERE seq = 3", '{"n": 2}')  # put back as it was
    assert (await store.verify_audit()).ok
    assert "entry 3 is missing" in (await tamper("DELETE FROM audit WHERE seq = 3") or "")
    assert "cut off the end" in (await tamper("DELETE FROM audit WHERE seq > 2") or "")


async def test_audit_appends_from_two_processes_keep_one_chain(make_store) -> None:
    first, second = await make_store(), await make_store()
    await asyncio.gather(*(store.audit(f"w{i}", "policy.block", {"i": i})
                           for i in range(20) for store in (first, second)))
    report = await first.verify_audit()
    assert report.ok and report.entries == 40, report


async def test_api_keys_are_shown_once_stored_hashed_and_revocable(make_store) -> None:
    store = await make_store()
    assert not await store.has_keys()
    made = await store.create_key("acme")
    admin = await store.create_key("ops", admin=True)
    assert await store.has_keys()
    assert (await store.check_key(made.secret)) == made.key and (await store.check_key(admin.secret)).admin
    async with store.reading() as tx:
        stored = [r[0] for r in await tx.all("SELECT secret_sha256 FROM api_keys")]
    assert all(made.secret.split("_", 2)[2] not in s for s in stored)  # only the hash is kept
    forged = made.secret[:-4] + ("AAAA" if not made.secret.endswith("AAAA") else "BBBB")
    assert await store.check_key(forged) is None and await store.check_key("not a key") is None
    await store.revoke_key(made.key.key_id)
    assert await store.check_key(made.secret) is None
    assert [k.key_id for k in await store.list_keys()] == [admin.key.key_id]
    with pytest.raises(BadInputError):
        await store.create_key("no spaces allowed")


async def test_runs_and_jobs_are_kept_by_tenant(make_store) -> None:
    store = await make_store()
    for tenant in ("acme", "globex", None):
        await store.create_run(f"run-{tenant}", RunSpec(task="t", tenant=tenant))
        await store.enqueue([(f"job-{tenant}", {"spec": RunSpec(task="t", tenant=tenant).model_dump(mode="json")})])
    assert [r.run_id for r in await store.list_runs(tenant="acme")] == ["run-acme"]
    assert {r.run_id for r in await store.list_runs()} == {"run-acme", "run-globex", "run-None"}
    assert (await store.load_run("run-globex")).tenant == "globex"
    assert (await store.queue_counts("acme"))["queued"] == 1 and (await store.queue_counts())["queued"] == 3


async def test_approvals_and_flags(make_store) -> None:
    store = await make_store()
    await store.request_approval("req-1", "run-1", {"tool": "run_command"})
    assert await store.approval("req-1") is None
    assert [r[0] for r in await store.pending_approvals()] == ["req-1"]
    assert await store.decide_approval("run-1", approved=True) == 1
    assert await store.approval("req-1") is True and await store.pending_approvals() == []
    assert await store.flag("kill_switch") is None
    await store.set_flag("kill_switch", "stopped")
    await store.set_flag("kill_switch", "running")
    assert await store.flag("kill_switch") == "running"


async def test_two_factory_workers_drain_a_queue_with_every_result_committed_once(make_store) -> None:
    from collections import Counter

    from aegis_ray.factory import FactoryJob, WorkerOptions, drain, job_payload
    from tests.helpers import answering

    first, second = await make_store(), await make_store()
    jobs = [FactoryJob(task=f"task {i}") for i in range(150)]
    await first.enqueue([(j.job_id, job_payload(j, ("sim:sim-honest",))) for j in jobs])
    answered: Counter[str] = Counter()
    answer = answering(0.005, answered)
    options = WorkerOptions(concurrency=12, record_s=0.01)
    stats = await asyncio.gather(drain(first, answer, "w1", options), drain(second, answer, "w2", options))
    assert sum(s.finished for s in stats) == 150 and all(s.finished > 0 for s in stats)
    assert sum(s.records for s in stats) < 150 / 2  # committed in batches
    assert set(answered.values()) == {1}
    done = await first.jobs("done", limit=1000)
    assert len(done) == 150 and all(j.result["result"]["answer"]["text"] == f"done: {j.payload['spec']['task']}"
                                    for j in done)


async def test_a_read_neither_waits_for_a_writer_nor_sees_what_it_has_not_committed(make_store) -> None:
    # The kill switch is read on every API request while workers write: a reader must not queue
    # behind another process's open write transaction (SQLite: no write lock taken for reading).
    writer, reader = await make_store(), await make_store()
    await writer.set_flag("kill_switch", "running")
    writing, release = asyncio.Event(), asyncio.Event()

    async def hold_a_write_open() -> None:
        async with writer.transaction() as tx:
            await tx.execute("UPDATE flags SET value = ? WHERE name = ?", ("stopped", "kill_switch"))
            writing.set()
            await release.wait()

    holder = asyncio.create_task(hold_a_write_open())
    await writing.wait()
    assert await asyncio.wait_for(reader.flag("kill_switch"), timeout=5) == "running"
    assert (await asyncio.wait_for(reader.queue_counts(), timeout=5))["queued"] == 0
    release.set()
    await holder
    assert await reader.flag("kill_switch") == "stopped"
