"""Spend per scope and period, with reservations: what the cost governor (`control.budget`) checks.

A call reserves its estimated cost in every limited (scope, period) at once, in one transaction that
locks those rows (Postgres `FOR UPDATE`; SQLite's write transactions are serial), and is refused if
any would pass its limit; afterwards it settles at its real cost. Two workers in two processes on
two nodes therefore never overshoot a limit by more than the reservations in flight, and a call
that was allowed never finds the money gone. A reservation whose process died holds until it
expires, then stops counting.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

from pydantic import Field

from aegis_ray.store.core import Record, StoreCore


class Allowance(Record):
    """One limit a call is checked against."""

    scope: str = Field(description="`*` for everything, else the tenant.")
    period: str = Field(description="`day:2026-12-03` or `month:2026-12` (UTC).")
    usd: float | None = None
    tokens: int | None = None


class Spent(Record):
    scope: str
    period: str
    usd: float
    tokens: int
    held_usd: float
    held_tokens: int


class Overdrawn(Record):
    """Why a reservation was refused: the first allowance it would pass."""

    allowance: Allowance
    spent: Spent


class Spend(StoreCore):
    """Reserve, settle and read spend."""

    async def reserve_spend(self, allowances: Sequence[Allowance], usd: float, tokens: int,
                            hold_s: float) -> str | Overdrawn:
        """Hold `usd` and `tokens` in every allowance, or none: the hold's id, or what it would overdraw."""
        now, hold_id = time.time(), uuid.uuid4().hex
        async with self.transaction() as tx:
            for allowance in allowances:
                await tx.execute("INSERT INTO spend (scope, period) VALUES (?, ?) ON CONFLICT (scope, period) "
                                 "DO NOTHING", (allowance.scope, allowance.period))
                row = await tx.one("SELECT usd, tokens FROM spend WHERE scope = ? AND period = ?"
                                   + self.wait_lock_suffix, (allowance.scope, allowance.period))
                held = await tx.one("SELECT COALESCE(SUM(usd), 0), COALESCE(SUM(tokens), 0) FROM spend_holds "
                                    "WHERE scope = ? AND period = ? AND expires > ?",
                                    (allowance.scope, allowance.period, now))
                assert row is not None and held is not None
                spent = Spent(scope=allowance.scope, period=allowance.period, usd=row[0], tokens=row[1],
                              held_usd=held[0], held_tokens=held[1])
                if (allowance.usd is not None and spent.usd + spent.held_usd + usd > allowance.usd) or (
                        allowance.tokens is not None and spent.tokens + spent.held_tokens + tokens > allowance.tokens):
                    return Overdrawn(allowance=allowance, spent=spent)
            for allowance in allowances:
                await tx.execute("INSERT INTO spend_holds (hold_id, scope, period, usd, tokens, expires) "
                                 "VALUES (?, ?, ?, ?, ?, ?)",
                                 (hold_id, allowance.scope, allowance.period, usd, tokens, now + hold_s))
        return hold_id

    async def settle_spend(self, hold_id: str, usd: float, tokens: int) -> None:
        """Replace the hold by what the call really cost (0 for a call that failed)."""
        async with self.transaction() as tx:
            rows = await tx.all("SELECT scope, period FROM spend_holds WHERE hold_id = ?", (hold_id,))
            for scope, period in rows:
                await tx.execute("UPDATE spend SET usd = usd + ?, tokens = tokens + ? WHERE scope = ? AND period = ?",
                                 (usd, tokens, scope, period))
            await tx.execute("DELETE FROM spend_holds WHERE hold_id = ?", (hold_id,))

    async def spent(self, periods: Sequence[str]) -> list[Spent]:
        """What every scope spent (and holds) in `periods`."""
        now = time.time()
        marks = ", ".join("?" for _ in periods)
        async with self.reading() as tx:
            rows = await tx.all(
                f"SELECT s.scope, s.period, s.usd, s.tokens, COALESCE(SUM(h.usd), 0), COALESCE(SUM(h.tokens), 0) "
                f"FROM spend s LEFT JOIN spend_holds h ON h.scope = s.scope AND h.period = s.period AND h.expires > ? "
                f"WHERE s.period IN ({marks}) GROUP BY s.scope, s.period, s.usd, s.tokens ORDER BY s.scope, s.period",
                (now, *periods))
        return [Spent(scope=r[0], period=r[1], usd=r[2], tokens=r[3], held_usd=r[4], held_tokens=r[5]) for r in rows]
