"""The effect ledger: side effects done exactly once, by idempotency key.

A transactional effect (`effect_once`) commits its writes with its record; any other effect goes
through two phases (`effect_begin`, `effect_finish`), and one begun but never finished is reported
as `unknown`: it may have happened.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Literal

from aegis_ray.store.core import StoreCore, Tx


class EffectWriter:
    """Handed to a transactional effect: what it writes commits with its idempotency record."""

    def __init__(self, tx: Tx, run_id: str, key: str) -> None:
        self._tx, self.run_id, self.key = tx, run_id, key

    async def log(self, entry: str) -> None:
        await self._tx.execute("INSERT INTO effect_log (run_id, effect_key, entry, created) VALUES (?, ?, ?, ?)",
                               (self.run_id, self.key, entry, time.time()))


class Effects(StoreCore):
    """Record effects by key, so that a replayed run never repeats one."""

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
