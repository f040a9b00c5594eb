"""SQLite store: the embedded default (WAL mode, a file under the Aegis home directory).

One connection per store, transactions serialised by a lock and opened with BEGIN IMMEDIATE, so
that two processes (e.g. two `aegis worker`s) sharing the file take the write lock in turn. Reads
(`reading`) open a deferred transaction instead: in WAL mode a reader sees a snapshot and neither
waits for a writer nor holds one up (the kill switch read on every API request, say).

Statements run on the event loop's own thread, not in a worker thread: a statement here takes
tens of microseconds (WAL, `synchronous=NORMAL`: a commit does not fsync), while a hop to a thread
and back costs up to the interpreter's 5 ms GIL switch interval whenever the loop is busy, which is
exactly when a factory worker with many calls in flight writes its results. The one wait that can
be long, for another process's write lock, is never taken blocking: BEGIN IMMEDIATE is tried
without a busy timeout and retried after an async sleep.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aegis_ray.store.base import Store
from aegis_ray.store.core import Row

LOCK_WAIT_S = 30.0  # how long a transaction waits for another process's write lock before failing
_RETRY_S = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05)


class _SqliteTx:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._connection.execute(sql, tuple(params)).rowcount

    async def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row: Row | None = self._connection.execute(sql, tuple(params)).fetchone()
        return row

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._connection.execute(sql, tuple(params)).fetchall()


def _is_busy(error: sqlite3.OperationalError) -> bool:
    return getattr(error, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class SqliteStore(Store):
    def __init__(self, path: Path) -> None:
        self.path = path
        self._connection: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Switching a new file to WAL takes a lock once: wait for it here, then never block again.
            connection = sqlite3.connect(self.path, isolation_level=None, timeout=LOCK_WAIT_S, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA busy_timeout=0")
            self._connection = connection
        return self._connection

    async def _begin(self, connection: sqlite3.Connection) -> None:
        deadline = time.monotonic() + LOCK_WAIT_S
        attempt = 0
        while True:
            try:
                connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if not _is_busy(error) or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(_RETRY_S[min(attempt, len(_RETRY_S) - 1)])
            attempt += 1

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_SqliteTx]:
        async with self._lock:
            connection = self._connect()
            await self._begin(connection)
            try:
                yield _SqliteTx(connection)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[_SqliteTx]:
        async with self._lock:
            connection = self._connect()
            connection.execute("BEGIN")  # deferred: a snapshot on the first read, no write lock (WAL)
            try:
                yield _SqliteTx(connection)
            finally:
                connection.execute("COMMIT")

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
