"""Flags: named string settings shared by every process on the store (the kill switch, say)."""

from __future__ import annotations

import time

from aegis_ray.store.core import StoreCore


class Flags(StoreCore):
    """Set and read flags."""

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
