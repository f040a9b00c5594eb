"""PostgreSQL store (psycopg 3 with an async connection pool), chosen by `AEGIS_DATABASE_URL`.

Claims lock their row with FOR UPDATE SKIP LOCKED, so many workers drain one queue without
waiting on each other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from aegis_ray.store.base import Store
from aegis_ray.store.core import Row


class _PostgresTx:
    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        await self._cursor.execute(sql.replace("?", "%s"), tuple(params))
        return self._cursor.rowcount

    async def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        await self._cursor.execute(sql.replace("?", "%s"), tuple(params))
        return await self._cursor.fetchone()

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        await self._cursor.execute(sql.replace("?", "%s"), tuple(params))
        return list(await self._cursor.fetchall())


class PostgresStore(Store):
    serial_pk = "BIGSERIAL PRIMARY KEY"
    lock_suffix = " FOR UPDATE SKIP LOCKED"
    wait_lock_suffix = " FOR UPDATE"
    migration_lock_sql = "SELECT pg_advisory_xact_lock(727176)"  # any fixed key: Aegis's migrations

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        from psycopg_pool import AsyncConnectionPool

        self.url = url
        self._pool = AsyncConnectionPool(url, min_size=min_size, max_size=max_size, open=False)
        self._opened = False

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_PostgresTx]:
        if not self._opened:
            await self._pool.open(wait=True, timeout=10)
            self._opened = True
        async with self._pool.connection() as connection, connection.transaction(), connection.cursor() as cursor:
            yield _PostgresTx(cursor)

    async def close(self) -> None:
        if self._opened:
            await self._pool.close()
            self._opened = False
