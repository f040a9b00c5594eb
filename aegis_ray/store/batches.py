"""Provider batches: each batch a driver submitted (its provider's id, whose it is, the model, the
custom ids it holds in order), recorded as soon as the provider accepted it, so a driver that
crashed picks its batches up again instead of paying for them twice.

Collecting a batch commits its answers as finished jobs of the job queue (each a `done` job under
its custom id, unless that job is known already) and marks the batch collected, in one transaction:
a crash in between leaves the batch to collect again, never half its answers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any, Literal

from aegis_ray.store.core import Record, StoreCore
from aegis_ray.store.jobs import add_job

BatchStatus = Literal["submitted", "collected"]


class BatchRecord(Record):
    batch_id: str
    scope: str
    model: str
    items: tuple[str, ...]
    status: BatchStatus
    created: float


class Batches(StoreCore):
    """Record, list and collect provider batches."""

    async def batch_submitted(self, scope: str, batch_id: str, model: str, items: Sequence[str]) -> None:
        """Record a batch the provider accepted (recording it twice is harmless)."""
        now = time.time()
        async with self.transaction() as tx:
            if await tx.one("SELECT 1 FROM batches WHERE batch_id = ?", (batch_id,)):
                return
            await tx.execute("INSERT INTO batches (batch_id, scope, model, items, status, created, updated) "
                             "VALUES (?, ?, ?, ?, 'submitted', ?, ?)",
                             (batch_id, scope, model, json.dumps(list(items)), now, now))

    async def batches_of(self, scope: str) -> list[BatchRecord]:
        """Every batch of `scope`, oldest first."""
        async with self.reading() as tx:
            rows = await tx.all("SELECT batch_id, scope, model, items, status, created FROM batches "
                                "WHERE scope = ? ORDER BY created, batch_id", (scope,))
        return [BatchRecord(batch_id=r[0], scope=r[1], model=r[2], items=tuple(json.loads(r[3])), status=r[4],
                            created=r[5]) for r in rows]

    async def batch_collected(self, batch_id: str, done: Sequence[tuple[str, dict[str, Any], dict[str, Any]]],
                              max_attempts: int = 3) -> int:
        """Commit `done` (job id, payload, result) as finished jobs and mark the batch collected, in one
        transaction; returns how many jobs were new (a known job id is left as it is)."""
        now, added = time.time(), 0
        async with self.transaction() as tx:
            for job_id, payload, result in done:
                added += await add_job(tx, job_id, payload, max_attempts, now, result)
            await tx.execute("UPDATE batches SET status = 'collected', updated = ? WHERE batch_id = ?", (now, batch_id))
        return added
