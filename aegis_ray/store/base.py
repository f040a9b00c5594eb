"""The checkpoint store contract, written once in SQL; backends supply only transactions and dialect.

The store is the system of record (Ray's object store only holds hot copies). It keeps runs with
their latest checkpoint, an append-only step log, the effect ledger (exactly-once side effects), the
job queue, approvals and flags. A claimed run has an `epoch`: every write of that run names it,
and a write with a stale epoch (a worker that lost its lease) is refused with `FencedOutError`.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from aegis_ray.errors import AegisError
from aegis_ray.store.schema import MIGRATIONS, SCHEMA_VERSION
from aegis_ray.types import RunSpec, RunState, RunStatus, Step

Row = tuple[Any, ...]


class FencedOutError(AegisError):
    """A write for a run this worker no longer owns (its lease was taken over); a job's outcome is
    fenced per job instead (`Store.record_jobs`)."""


class EffectOutcomeUnknownError(AegisError):
    """A non-idempotent effect was started before a crash and never recorded: it may have happened."""


class Tx(Protocol):
    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int: ...
    async def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None: ...
    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...


class Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class RunRecord(Record):
    run_id: str
    spec: RunSpec
    status: RunStatus
    state: RunState | None
    step_count: int
    epoch: int
    owner: str | None
    updated: float
    session: dict[str, Any] | None = None


JobStatus = Literal["queued", "running", "done", "failed"]


class Job(Record):
    job_id: str
    payload: dict[str, Any]
    status: JobStatus
    attempts: int
    max_attempts: int
    token: int
    worker: str | None
    result: dict[str, Any] | None = None
    error: str | None = None


class JobOutcome(Record):
    """What one attempt at a job came to: its result, or the error that ended it."""

    job: Job
    result: dict[str, Any] | None = None
    error: str | None = None


class EffectWriter:
    """Handed to a transactional effect: what it writes commits with its idempotency record."""

    def __init__(self, tx: Tx, run_id: str, key: str) -> None:
        self._tx, self.run_id, self.key = tx, run_id, key

    async def log(self, entry: str) -> None:
        await self._tx.execute("INSERT INTO effect_log (run_id, effect_key, entry, created) VALUES (?, ?, ?, ?)",
                               (self.run_id, self.key, entry, time.time()))


def _job(row: Row) -> Job:
    job_id, payload, status, attempts, max_attempts, token, worker, result, error = row
    return Job(job_id=job_id, payload=json.loads(payload), status=status, attempts=attempts,
               max_attempts=max_attempts, token=token, worker=worker,
               result=json.loads(result) if result else None, error=error)


_JOB_COLUMNS = "job_id, payload, status, attempts, max_attempts, token, worker, result, error"


class Store(ABC):
    """The contract every backend passes (`tests/integration/test_store_contract.py`)."""

    serial_pk = "INTEGER PRIMARY KEY AUTOINCREMENT"
    lock_suffix = ""  # Postgres: " FOR UPDATE SKIP LOCKED"

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Tx]: ...

    def reading(self) -> AbstractAsyncContextManager[Tx]:
        """A transaction that only reads: one consistent view, without the write lock a backend may
        take for `transaction` (SQLite's BEGIN IMMEDIATE), so readers and writers never wait on each
        other. Postgres reads take no locks in any transaction."""
        return self.transaction()

    @abstractmethod
    async def close(self) -> None: ...

    # --- schema ---------------------------------------------------------------------------------

    async def migrate(self) -> int:
        """Apply every migration not yet applied; returns the schema version."""
        async with self.transaction() as tx:
            await tx.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = await tx.one("SELECT MAX(version) FROM schema_version")
            current = row[0] if row and row[0] is not None else 0
            for version, statements in enumerate(MIGRATIONS[current:], start=current + 1):
                for statement in statements:
                    await tx.execute(statement.format(serial=self.serial_pk))
                await tx.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
        return SCHEMA_VERSION

    # --- runs, checkpoints, step log --------------------------------------------------------------

    async def create_run(self, run_id: str, spec: RunSpec, session: dict[str, Any] | None = None) -> bool:
        """Record a new run (pending); False if it already exists (creating twice is harmless)."""
        now = time.time()
        async with self.transaction() as tx:
            if await tx.one("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)):
                return False
            await tx.execute("INSERT INTO runs (run_id, spec, status, session, created, updated) "
                             "VALUES (?, ?, ?, ?, ?, ?)", (run_id, spec.model_dump_json(), RunStatus.PENDING.value,
                                                           json.dumps(session) if session else None, now, now))
        return True

    async def claim_run(self, run_id: str, owner: str, lease_s: float) -> int:
        """Take the run over: a new epoch (fencing token) that every later write must name."""
        async with self.transaction() as tx:
            row = await tx.one("SELECT epoch FROM runs WHERE run_id = ?" + self.lock_suffix, (run_id,))
            if row is None:
                raise AegisError(f"no run {run_id!r}", hint="create it first")
            epoch = row[0] + 1
            await tx.execute("UPDATE runs SET epoch = ?, owner = ?, lease_until = ?, updated = ? WHERE run_id = ?",
                             (epoch, owner, time.time() + lease_s, time.time(), run_id))
        return epoch

    async def _fence(self, tx: Tx, run_id: str, epoch: int) -> None:
        row = await tx.one("SELECT epoch FROM runs WHERE run_id = ?" + self.lock_suffix, (run_id,))
        if row is None or row[0] != epoch:
            raise FencedOutError(f"run {run_id} was taken over (epoch {row[0] if row else None}, this writer {epoch})")

    async def commit_step(self, run_id: str, epoch: int, step: Step, state: RunState) -> None:
        """Append `step` and replace the checkpoint with `state`, atomically and fenced."""
        async with self.transaction() as tx:
            await self._fence(tx, run_id, epoch)
            await tx.execute("INSERT INTO steps (run_id, idx, epoch, body) VALUES (?, ?, ?, ?)",
                             (run_id, step.index, epoch, step.model_dump_json()))
            await tx.execute("UPDATE runs SET state = ?, status = ?, step_count = ?, updated = ? WHERE run_id = ?",
                             (state.model_dump_json(), state.status.value, len(state.steps), time.time(), run_id))

    async def set_status(self, run_id: str, epoch: int, status: RunStatus) -> None:
        async with self.transaction() as tx:
            await self._fence(tx, run_id, epoch)
            await tx.execute("UPDATE runs SET status = ?, updated = ? WHERE run_id = ?",
                             (status.value, time.time(), run_id))

    async def load_run(self, run_id: str) -> RunRecord | None:
        async with self.reading() as tx:
            row = await tx.one("SELECT run_id, spec, status, state, step_count, epoch, owner, updated, session "
                               "FROM runs WHERE run_id = ?", (run_id,))
        if row is None:
            return None
        return RunRecord(run_id=row[0], spec=RunSpec.model_validate_json(row[1]), status=RunStatus(row[2]),
                         state=RunState.model_validate_json(row[3]) if row[3] else None, step_count=row[4],
                         epoch=row[5], owner=row[6], updated=row[7], session=json.loads(row[8]) if row[8] else None)

    async def list_runs(self, limit: int = 50, status: RunStatus | None = None) -> list[RunRecord]:
        where, params = ("WHERE status = ?", (status.value,)) if status else ("", ())
        async with self.reading() as tx:
            rows = await tx.all(f"SELECT run_id FROM runs {where} ORDER BY updated DESC LIMIT ?", (*params, limit))
        records = [await self.load_run(r[0]) for r in rows]
        return [r for r in records if r is not None]

    async def steps(self, run_id: str) -> list[Step]:
        async with self.reading() as tx:
            rows = await tx.all("SELECT body FROM steps WHERE run_id = ? ORDER BY idx", (run_id,))
        return [Step.model_validate_json(r[0]) for r in rows]

    async def prune_run(self, run_id: str) -> None:
        """Drop a run's step log and effect records, keeping its final checkpoint row."""
        async with self.transaction() as tx:
            await tx.execute("DELETE FROM steps WHERE run_id = ?", (run_id,))
            await tx.execute("DELETE FROM effects WHERE run_id = ?", (run_id,))

    # --- exactly-once effects -------------------------------------------------------------------

    async def effect_once(self, key: str, run_id: str, epoch: int | None,
                          effect: Callable[[EffectWriter], Awaitable[str]]) -> tuple[str, bool]:
        """Run a transactional effect at most once per key: its writes and its idempotency record
        commit together. Returns (result, replayed)."""
        async with self.transaction() as tx:
            if epoch is not None:
                await self._fence(tx, run_id, epoch)
            row = await tx.one("SELECT status, result FROM effects WHERE key = ?" + self.lock_suffix, (key,))
            if row is not None and row[0] == "done":
                return row[1], True
            result = await effect(EffectWriter(tx, run_id, key))
            if row is None:
                await tx.execute("INSERT INTO effects (key, run_id, status, result, created) VALUES (?, ?, ?, ?, ?)",
                                 (key, run_id, "done", result, time.time()))
            else:
                await tx.execute("UPDATE effects SET status = 'done', result = ? WHERE key = ?", (result, key))
        return result, False

    async def effect_begin(self, key: str, run_id: str) -> tuple[Literal["new", "done", "unknown"], str | None]:
        """Two-phase effects (files, commands, HTTP): `done` with its recorded result, `unknown` when a
        previous attempt started and never finished (it may have happened), else `new` (now pending)."""
        async with self.transaction() as tx:
            row = await tx.one("SELECT status, result FROM effects WHERE key = ?" + self.lock_suffix, (key,))
            if row is None:
                await tx.execute("INSERT INTO effects (key, run_id, status, created) VALUES (?, ?, 'pending', ?)",
                                 (key, run_id, time.time()))
                return "new", None
        return ("done", row[1]) if row[0] == "done" else ("unknown", None)

    async def effect_finish(self, key: str, result: str) -> None:
        async with self.transaction() as tx:
            await tx.execute("UPDATE effects SET status = 'done', result = ? WHERE key = ?", (result, key))

    async def effect_log(self, run_id: str) -> list[str]:
        async with self.reading() as tx:
            rows = await tx.all("SELECT entry FROM effect_log WHERE run_id = ? ORDER BY id", (run_id,))
        return [r[0] for r in rows]

    # --- job queue ------------------------------------------------------------------------------

    async def enqueue(self, jobs: Sequence[tuple[str, dict[str, Any]]], max_attempts: int = 3) -> int:
        """Add jobs by id; an id already known (queued, running or finished) is skipped."""
        now, added = time.time(), 0
        async with self.transaction() as tx:
            for job_id, payload in jobs:
                if await tx.one("SELECT 1 FROM jobs WHERE job_id = ?", (job_id,)):
                    continue
                await tx.execute("INSERT INTO jobs (job_id, payload, status, max_attempts, created, updated) "
                                 "VALUES (?, ?, 'queued', ?, ?, ?)",
                                 (job_id, json.dumps(payload), max_attempts, now, now))
                added += 1
        return added

    async def claim_job(self, worker: str, lease_s: float) -> Job | None:
        """The oldest queued job, or a running one whose lease expired; it gets a new fencing token."""
        claimed = await self.claim_jobs(worker, lease_s, 1)
        return claimed[0] if claimed else None

    async def claim_jobs(self, worker: str, lease_s: float, limit: int) -> list[Job]:
        """Up to `limit` claimable jobs in one transaction (oldest first), each with a new token."""
        now = time.time()
        claimed = []
        async with self.transaction() as tx:
            rows = await tx.all(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE status = 'queued' OR (status = 'running' AND lease_until < ?) "
                "ORDER BY created LIMIT ?" + self.lock_suffix, (now, limit))
            for row in rows:
                job = _job(row)
                token = job.token + 1
                await tx.execute("UPDATE jobs SET status = 'running', token = ?, worker = ?, "
                                 "attempts = attempts + 1, lease_until = ?, updated = ? WHERE job_id = ?",
                                 (token, worker, now + lease_s, now, job.job_id))
                claimed.append(job.model_copy(update={"status": "running", "token": token, "worker": worker,
                                                      "attempts": job.attempts + 1}))
        return claimed

    async def renew_jobs(self, jobs: Sequence[Job], lease_s: float) -> set[str]:
        """Extend the leases of jobs this worker holds, in one transaction; returns the ids of those
        it no longer owns (taken over by another worker)."""
        until, lost = time.time() + lease_s, set()
        async with self.transaction() as tx:
            for job in jobs:
                if not await tx.execute("UPDATE jobs SET lease_until = ? WHERE job_id = ? AND token = ? "
                                        "AND status = 'running'", (until, job.job_id, job.token)):
                    lost.add(job.job_id)
        return lost

    async def record_jobs(self, outcomes: Sequence[JobOutcome]) -> list[JobStatus | None]:
        """Record what workers' attempts came to, in one transaction; returns each job's new status.

        A result makes its job `done`; an error requeues it while attempts remain, else fails it.
        Each is fenced on its own token: a job another worker took over is left as it is (None),
        without holding back the others."""
        now, statuses = time.time(), []
        async with self.transaction() as tx:
            for outcome in outcomes:
                job = outcome.job
                status: JobStatus
                if outcome.error is None:
                    status = "done"
                    sql, params = "status = 'done', result = ?, error = NULL", (json.dumps(outcome.result),)
                else:
                    status = "queued" if job.attempts < job.max_attempts else "failed"
                    sql, params = "status = ?, error = ?, lease_until = 0", (status, outcome.error[:2000])
                changed = await tx.execute(f"UPDATE jobs SET {sql}, updated = ? WHERE job_id = ? AND token = ? "
                                           "AND status = 'running'", (*params, now, job.job_id, job.token))
                statuses.append(status if changed else None)
        return statuses

    async def jobs(self, status: JobStatus | None = None, limit: int = 1000) -> list[Job]:
        where, params = ("WHERE status = ?", (status,)) if status else ("", ())
        async with self.reading() as tx:
            rows = await tx.all(f"SELECT {_JOB_COLUMNS} FROM jobs {where} ORDER BY created LIMIT ?", (*params, limit))
        return [_job(r) for r in rows]

    async def jobs_by_id(self, job_ids: Sequence[str]) -> dict[str, Job]:
        found: dict[str, Job] = {}
        for start in range(0, len(job_ids), 500):
            chunk = list(job_ids[start:start + 500])
            marks = ", ".join("?" for _ in chunk)
            async with self.reading() as tx:
                rows = await tx.all(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE job_id IN ({marks})", chunk)
            found |= {row[0]: _job(row) for row in rows}
        return found

    async def queue_counts(self) -> dict[str, int]:
        async with self.reading() as tx:
            rows = await tx.all("SELECT status, COUNT(*) FROM jobs GROUP BY status")
        return {"queued": 0, "running": 0, "done": 0, "failed": 0} | {r[0]: r[1] for r in rows}

    # --- approvals and flags --------------------------------------------------------------------

    async def request_approval(self, request_id: str, run_id: str, request: dict[str, Any]) -> None:
        async with self.transaction() as tx:
            if not await tx.one("SELECT 1 FROM approvals WHERE request_id = ?", (request_id,)):
                await tx.execute("INSERT INTO approvals (request_id, run_id, request, created) VALUES (?, ?, ?, ?)",
                                 (request_id, run_id, json.dumps(request), time.time()))

    async def decide_approval(self, run_id: str, approved: bool, request_id: str | None = None) -> int:
        """Decide one pending request, or every pending request of the run; returns how many."""
        only, params = (" AND request_id = ?", (request_id,)) if request_id else ("", ())
        async with self.transaction() as tx:
            return await tx.execute("UPDATE approvals SET approved = ?, decided = ? "
                                    f"WHERE run_id = ? AND approved IS NULL{only}",
                                    (int(approved), time.time(), run_id, *params))

    async def approval(self, request_id: str) -> bool | None:
        """The decision on a request: None while pending (or unknown)."""
        async with self.reading() as tx:
            row = await tx.one("SELECT approved FROM approvals WHERE request_id = ?", (request_id,))
        return None if row is None or row[0] is None else bool(row[0])

    async def pending_approvals(self) -> list[tuple[str, str, dict[str, Any]]]:
        async with self.reading() as tx:
            rows = await tx.all("SELECT request_id, run_id, request FROM approvals WHERE approved IS NULL "
                                "ORDER BY created")
        return [(r[0], r[1], json.loads(r[2])) for r in rows]

    async def set_flag(self, name: str, value: str) -> None:
        async with self.transaction() as tx:
            if await tx.one("SELECT 1 FROM flags WHERE name = ?", (name,)):
                await tx.execute("UPDATE flags SET value = ?, updated = ? WHERE name = ?", (value, time.time(), name))
            else:
                await tx.execute("INSERT INTO flags (name, value, updated) VALUES (?, ?, ?)",
                                 (name, value, time.time()))

    async def flag(self, name: str) -> str | None:
        async with self.reading() as tx:
            row = await tx.one("SELECT value FROM flags WHERE name = ?", (name,))
        return row[0] if row else None

