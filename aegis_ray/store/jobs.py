"""The job queue: jobs enqueued by id, claimed under a lease with a fencing token, and their outcomes.

A worker that loses a job's lease (another claimed it once it expired) is fenced per job by the
job's `token`: its renewal and its outcome are refused for that job alone.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any, Literal

from aegis_ray.store.core import Record, Row, StoreCore, Tx

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


def _job(row: Row) -> Job:
    job_id, payload, status, attempts, max_attempts, token, worker, result, error = row
    return Job(job_id=job_id, payload=json.loads(payload), status=status, attempts=attempts,
               max_attempts=max_attempts, token=token, worker=worker,
               result=json.loads(result) if result else None, error=error)


_JOB_COLUMNS = "job_id, payload, status, attempts, max_attempts, token, worker, result, error"


async def add_job(tx: Tx, job_id: str, payload: dict[str, Any], max_attempts: int, now: float,
                  result: dict[str, Any] | None = None) -> bool:
    """Insert a job unless its id is known (then False): queued, or `done` with `result` when it was
    answered outside the queue (a provider batch, `store/batches.py`). A job is its spec's tenant's
    (`payload["spec"]["tenant"]`), if it names one."""
    if await tx.one("SELECT 1 FROM jobs WHERE job_id = ?", (job_id,)):
        return False
    spec = payload.get("spec")
    tenant = spec.get("tenant") if isinstance(spec, dict) else None
    done = result is not None
    await tx.execute("INSERT INTO jobs (job_id, payload, status, attempts, max_attempts, result, tenant, created, "
                     "updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (job_id, json.dumps(payload), "done" if done else "queued", int(done), max_attempts,
                      json.dumps(result) if done else None, tenant, now, now))
    return True


class Jobs(StoreCore):
    """Enqueue, claim, renew and settle jobs; count and look them up."""

    async def enqueue(self, jobs: Sequence[tuple[str, dict[str, Any]]], max_attempts: int = 3) -> int:
        """Add jobs by id; an id already known (queued, running or finished) is skipped. A job is its
        spec's tenant's (`payload["spec"]["tenant"]`), if it names one."""
        now, added = time.time(), 0
        async with self.transaction() as tx:
            for job_id, payload in jobs:
                added += await add_job(tx, job_id, payload, max_attempts, now)
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
        return await self._jobs_among(job_ids, "")

    async def finished_jobs(self, job_ids: Sequence[str]) -> dict[str, Job]:
        """Those of `job_ids` that are done or failed: what a poller of many jobs reads, without
        loading the ones still queued or running every time."""
        return await self._jobs_among(job_ids, " AND status IN ('done', 'failed')")

    async def _jobs_among(self, job_ids: Sequence[str], condition: str) -> dict[str, Job]:
        found: dict[str, Job] = {}
        for start in range(0, len(job_ids), 500):
            chunk = list(job_ids[start:start + 500])
            marks = ", ".join("?" for _ in chunk)
            async with self.reading() as tx:
                rows = await tx.all(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE job_id IN ({marks}){condition}", chunk)
            found |= {row[0]: _job(row) for row in rows}
        return found

    async def requeue_failed(self, job_ids: Sequence[str] | None = None) -> int:
        """Queue failed jobs again (those of `job_ids`, else every one) with their attempts reset;
        returns how many. Done, queued and running jobs are left as they are."""
        now, requeued = time.time(), 0
        reset = "UPDATE jobs SET status = 'queued', attempts = 0, error = NULL, lease_until = 0, updated = ? "
        async with self.transaction() as tx:
            if job_ids is None:
                return await tx.execute(reset + "WHERE status = 'failed'", (now,))
            for start in range(0, len(job_ids), 500):
                chunk = list(job_ids[start:start + 500])
                marks = ", ".join("?" for _ in chunk)
                requeued += await tx.execute(reset + f"WHERE status = 'failed' AND job_id IN ({marks})",
                                             (now, *chunk))
        return requeued

    async def queue_counts(self, tenant: str | None = None) -> dict[str, int]:
        """Jobs by status (with `tenant`, that tenant's only)."""
        where, params = ("WHERE tenant = ?", (tenant,)) if tenant else ("", ())
        async with self.reading() as tx:
            rows = await tx.all(f"SELECT status, COUNT(*) FROM jobs {where} GROUP BY status", params)
        return {"queued": 0, "running": 0, "done": 0, "failed": 0} | {r[0]: r[1] for r in rows}
