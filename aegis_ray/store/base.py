"""The checkpoint store contract, written once in SQL; backends supply only transactions and dialect.

The store is the system of record (Ray's object store only holds hot copies). It keeps runs with
their latest checkpoint, an append-only step log, the effect ledger (exactly-once side effects), the
job queue, approvals, flags, provider batches, the audit log, API keys and spend. A claimed run has
an `epoch`: every write of that run names it, and a write with a stale epoch (a worker that lost its
lease) is refused with `FencedOutError`.

`Store` is the one face callers see; each aggregate's methods live in its own module (`runs`,
`effects`, `jobs`, `approvals`, `flags`, `batches`, `audit`, `keys`, `spend`), all on the backend
hooks of `core.StoreCore`.
"""

from __future__ import annotations

from aegis_ray.store.approvals import Approvals
from aegis_ray.store.audit import Audit
from aegis_ray.store.batches import Batches
from aegis_ray.store.core import StoreCore
from aegis_ray.store.effects import Effects
from aegis_ray.store.flags import Flags
from aegis_ray.store.jobs import Jobs
from aegis_ray.store.keys import Keys
from aegis_ray.store.runs import Runs
from aegis_ray.store.schema import MIGRATIONS, SCHEMA_VERSION
from aegis_ray.store.spend import Spend


class Store(Runs, Effects, Jobs, Approvals, Flags, Batches, Audit, Keys, Spend, StoreCore):
    """The contract every backend passes (`tests/integration/test_store_contract.py`)."""

    async def migrate(self) -> int:
        """Apply every migration not yet applied; returns the schema version."""
        async with self.transaction() as tx:
            if self.migration_lock_sql:  # two processes opening a new database at once take turns
                await tx.execute(self.migration_lock_sql)
            await tx.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = await tx.one("SELECT MAX(version) FROM schema_version")
            current = row[0] if row and row[0] is not None else 0
            for version, statements in enumerate(MIGRATIONS[current:], start=current + 1):
                for statement in statements:
                    await tx.execute(statement.format(serial=self.serial_pk))
                await tx.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
        return SCHEMA_VERSION

