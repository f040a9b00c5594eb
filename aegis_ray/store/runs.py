"""Runs: each run's row with its latest checkpoint, its lease and epoch, and its append-only step log."""

from __future__ import annotations

import json
import time
from typing import Any

from aegis_ray.errors import AegisError
from aegis_ray.store.core import Record, StoreCore
from aegis_ray.types import RunSpec, RunState, RunStatus, Step


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

    @property
    def tenant(self) -> str | None:
        return self.spec.tenant


class CheckpointTag(Record):
    """What identifies a run's latest checkpoint: the epoch that committed its last step, and how
    many steps it holds. A hot copy (`actors.checkpoint_cache`) stands for the checkpoint only when
    its tag is the store's."""

    epoch: int
    step_count: int


class Runs(StoreCore):
    """Create and claim runs; commit their steps and status, fenced by epoch; read and prune them."""

    async def create_run(self, run_id: str, spec: RunSpec, session: dict[str, Any] | None = None) -> bool:
        """Record a new run (pending); False if it already exists (creating twice is harmless)."""
        now = time.time()
        async with self.transaction() as tx:
            if await tx.one("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)):
                return False
            await tx.execute("INSERT INTO runs (run_id, spec, status, session, tenant, created, updated) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)", (run_id, spec.model_dump_json(), RunStatus.PENDING.value,
                                                              json.dumps(session) if session else None, spec.tenant,
                                                              now, now))
        return True

    async def record_finished_run(self, state: RunState) -> bool:
        """Record a run that finished before reaching the store (one answer): its row with the final
        checkpoint and its whole step log, in one transaction, unclaimed (epoch 0, no owner); False
        if it exists already (recording twice is harmless)."""
        now = time.time()
        async with self.transaction() as tx:
            if await tx.one("SELECT 1 FROM runs WHERE run_id = ?", (state.run_id,)):
                return False
            await tx.execute("INSERT INTO runs (run_id, spec, status, state, step_count, tenant, created, updated) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (state.run_id, state.spec.model_dump_json(),
                                                                 state.status.value, state.model_dump_json(),
                                                                 len(state.steps), state.spec.tenant, now, now))
            for step in state.steps:
                await tx.execute("INSERT INTO steps (run_id, idx, epoch, body) VALUES (?, ?, 0, ?)",
                                 (state.run_id, step.index, step.model_dump_json()))
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

    async def checkpoint_tag(self, run_id: str) -> CheckpointTag | None:
        """The tag of the run's latest checkpoint (two integers, not the checkpoint itself); None
        if it has no committed step (or its step log was pruned)."""
        async with self.reading() as tx:
            row = await tx.one("SELECT steps.epoch, runs.step_count FROM runs JOIN steps ON steps.run_id = runs.run_id "
                               "AND steps.idx = runs.step_count - 1 WHERE runs.run_id = ?", (run_id,))
        return CheckpointTag(epoch=row[0], step_count=row[1]) if row else None

    async def list_runs(self, limit: int = 50, status: RunStatus | None = None, *,
                        tenant: str | None = None) -> list[RunRecord]:
        """The latest runs, newest first; with `tenant`, only that tenant's."""
        conditions = [(c, v) for c, v in (("status = ?", status.value if status else None), ("tenant = ?", tenant))
                      if v is not None]
        where = ("WHERE " + " AND ".join(c for c, _ in conditions)) if conditions else ""
        async with self.reading() as tx:
            rows = await tx.all(f"SELECT run_id FROM runs {where} ORDER BY updated DESC LIMIT ?",
                                (*(v for _, v in conditions), limit))
        records = [await self.load_run(r[0]) for r in rows]
        return [r for r in records if r is not None]

    async def steps(self, run_id: str) -> list[Step]:
        async with self.reading() as tx:
            rows = await tx.all("SELECT body FROM steps WHERE run_id = ? ORDER BY idx", (run_id,))
        return [Step.model_validate_json(r[0]) for r in rows]

    async def run_approvals(self, run_id: str) -> list[dict[str, Any]]:
        """The run's approval requests, oldest first, each with its decision (`approved` None while pending)."""
        async with self.reading() as tx:
            rows = await tx.all("SELECT request_id, request, approved, created, decided FROM approvals "
                                "WHERE run_id = ? ORDER BY created", (run_id,))
        return [{"request_id": r[0], "request": json.loads(r[1]), "approved": None if r[2] is None else bool(r[2]),
                 "created": r[3], "decided": r[4]} for r in rows]

    async def unsettled_effects(self, run_id: str) -> list[str]:
        """The keys of the run's effects begun and never finished (a crash or a cancel came in the
        middle): their outcome is unknown, and a resumed run is told so (`aegis_ray.store.effects`)."""
        async with self.reading() as tx:
            rows = await tx.all("SELECT key FROM effects WHERE run_id = ? AND status = 'pending' ORDER BY created",
                                (run_id,))
        return [r[0] for r in rows]

    async def prune_run(self, run_id: str) -> None:
        """Drop a run's step log and effect records, keeping its final checkpoint row."""
        async with self.transaction() as tx:
            await tx.execute("DELETE FROM steps WHERE run_id = ?", (run_id,))
            await tx.execute("DELETE FROM effects WHERE run_id = ?", (run_id,))
