"""What every part of the store stands on: the transaction protocol, the backend hooks, and run fencing.

A backend (`sqlite.py`, `postgres.py`) supplies transactions and its dialect; each aggregate's
module (`runs`, `effects`, `jobs`, `approvals`, `flags`) writes its SQL once against `Tx`. A claimed
run has an `epoch`: a write of that run names it, and `StoreCore._fence` refuses one whose epoch is
stale (a worker that lost its lease) with `FencedOutError`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from aegis_ray.errors import FencedOutError

Row = tuple[Any, ...]


class Tx(Protocol):
    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int: ...
    async def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None: ...
    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...


class Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class StoreCore(ABC):
    """The backend's hooks, shared by every aggregate of the store."""

    serial_pk = "INTEGER PRIMARY KEY AUTOINCREMENT"
    lock_suffix = ""  # Postgres: " FOR UPDATE SKIP LOCKED"
    wait_lock_suffix = ""  # Postgres: " FOR UPDATE" (SQLite's write transactions are serial already)
    migration_lock_sql = ""  # Postgres: a transaction-scoped advisory lock (CREATE TABLE IF NOT EXISTS races)

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Tx]: ...

    def reading(self) -> AbstractAsyncContextManager[Tx]:
        """A transaction that only reads: one consistent view, without the write lock a backend may
        take for `transaction` (SQLite's BEGIN IMMEDIATE), so readers and writers never wait on each
        other. Postgres reads take no locks in any transaction."""
        return self.transaction()

    @abstractmethod
    async def close(self) -> None: ...

    async def _fence(self, tx: Tx, run_id: str, epoch: int) -> None:
        row = await tx.one("SELECT epoch FROM runs WHERE run_id = ?" + self.lock_suffix, (run_id,))
        if row is None or row[0] != epoch:
            raise FencedOutError(f"run {run_id} was taken over (epoch {row[0] if row else None}, this writer {epoch})")
