"""Durable storage: one store contract, SQLite (embedded default) and PostgreSQL implementations."""

from __future__ import annotations

from pathlib import Path

from aegis_ray.errors import EffectOutcomeUnknownError, FencedOutError
from aegis_ray.store.audit import AuditEntry, AuditReport
from aegis_ray.store.base import Store
from aegis_ray.store.batches import BatchRecord
from aegis_ray.store.effects import EffectWriter
from aegis_ray.store.jobs import Job, JobOutcome
from aegis_ray.store.keys import ApiKey, NewApiKey
from aegis_ray.store.runs import CheckpointTag, RunRecord


async def open_store(database_url: str | None, home: Path) -> Store:
    """PostgreSQL when a `postgresql://` URL is given, else SQLite at `home/aegis.db`; migrated."""
    store: Store
    if database_url and database_url.startswith(("postgres://", "postgresql://")):
        from aegis_ray.store.postgres import PostgresStore

        store = PostgresStore(database_url)
    elif database_url and database_url.startswith("sqlite:///"):
        from aegis_ray.store.sqlite import SqliteStore

        store = SqliteStore(Path(database_url.removeprefix("sqlite:///")))
    else:
        from aegis_ray.store.sqlite import SqliteStore

        store = SqliteStore(home / "aegis.db")
    await store.migrate()
    return store


__all__ = [
    "ApiKey", "AuditEntry", "AuditReport", "BatchRecord", "CheckpointTag", "EffectOutcomeUnknownError",
    "EffectWriter", "FencedOutError", "Job", "JobOutcome", "NewApiKey", "RunRecord", "Store", "open_store",
]
