"""The audit log: privileged actions, append-only and hash-chained.

Every entry (who, for which tenant, what, when, details) carries the SHA-256 of the entry before it
and its own: an entry edited, deleted or inserted afterwards breaks the chain, and `verify_audit`
says where. The chain's head (the last entry's hash and sequence number) is kept as a flag and
updated in the same transaction as each append, which also serialises appenders across processes
(Postgres: the head's row is locked; SQLite: write transactions are serial), and lets a verifier
detect the last entries being cut off.

Hand-written rather than a library: it is a few lines of hashlib over the store's own tables, and
the audit must live in the same database and transaction as the actions it records.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from pydantic import Field

from aegis_ray.store.core import Record, StoreCore

HEAD = "audit_head"
GENESIS = "0" * 64
_COLUMNS = "seq, at, actor, tenant, action, detail, prev_hash, hash"


class AuditEntry(Record):
    seq: int
    at: float = Field(description="Unix time.")
    actor: str = Field(description="Who: `cli:USER`, `api:TENANT`, `system`.")
    tenant: str | None = None
    action: str = Field(description="e.g. kill_switch.stop, approval.decide, key.create, auth.denied.")
    detail: dict[str, Any] = Field(default_factory=dict)
    prev_hash: str
    hash: str


class AuditReport(Record):
    entries: int
    ok: bool
    problem: str | None = Field(default=None, description="The first break in the chain, if any.")


def entry_hash(prev_hash: str, seq: int, at: float, actor: str, tenant: str | None, action: str,
               detail: dict[str, Any]) -> str:
    body = json.dumps([prev_hash, seq, repr(at), actor, tenant, action, detail], sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(body.encode()).hexdigest()


class Audit(StoreCore):
    """Append to the audit log, read it, verify its chain."""

    async def audit(self, actor: str, action: str, detail: dict[str, Any] | None = None, *,
                    tenant: str | None = None) -> AuditEntry:
        detail = json.loads(json.dumps(detail or {}, default=str))  # what is stored is what is hashed
        at = time.time()
        async with self.transaction() as tx:
            await tx.execute("INSERT INTO flags (name, value, updated) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
                             (HEAD, json.dumps([0, GENESIS]), at))
            row = await tx.one("SELECT value FROM flags WHERE name = ?" + self.wait_lock_suffix, (HEAD,))
            assert row is not None
            last_seq, prev_hash = json.loads(row[0])
            seq = last_seq + 1
            digest = entry_hash(prev_hash, seq, at, actor, tenant, action, detail)
            await tx.execute("INSERT INTO audit (seq, at, actor, tenant, action, detail, prev_hash, hash) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             (seq, at, actor, tenant, action, json.dumps(detail, sort_keys=True), prev_hash, digest))
            await tx.execute("UPDATE flags SET value = ?, updated = ? WHERE name = ?",
                             (json.dumps([seq, digest]), at, HEAD))
        return AuditEntry(seq=seq, at=at, actor=actor, tenant=tenant, action=action, detail=detail,
                          prev_hash=prev_hash, hash=digest)

    async def audit_entries(self, limit: int = 100, *, tenant: str | None = None, after: int = 0,
                            latest: bool = False) -> list[AuditEntry]:
        """Up to `limit` entries after sequence number `after` (the first ones, or the `latest`),
        oldest first; those of `tenant` only, if given."""
        where, params = ("WHERE seq > ? AND tenant = ?", (after, tenant)) if tenant else ("WHERE seq > ?", (after,))
        async with self.reading() as tx:
            rows = await tx.all(f"SELECT {_COLUMNS} FROM audit {where} ORDER BY seq {'DESC' if latest else ''} "
                                "LIMIT ?", (*params, limit))
        return [AuditEntry(seq=r[0], at=r[1], actor=r[2], tenant=r[3], action=r[4], detail=json.loads(r[5]),
                           prev_hash=r[6], hash=r[7]) for r in (reversed(rows) if latest else rows)]

    async def verify_audit(self) -> AuditReport:
        """Walk the whole chain: each entry's hash recomputed, each linked to the one before, no
        sequence number missing, and the last one the head the appenders left."""
        async with self.reading() as tx:
            rows = await tx.all(f"SELECT {_COLUMNS} FROM audit ORDER BY seq")
            head = await tx.one("SELECT value FROM flags WHERE name = ?", (HEAD,))
        prev_hash, expected_seq = GENESIS, 1
        for seq, at, actor, tenant, action, detail, stored_prev, stored_hash in rows:
            if seq != expected_seq:
                return AuditReport(entries=len(rows), ok=False,
                                   problem=f"entry {expected_seq} is missing (the next is {seq})")
            if stored_prev != prev_hash:
                return AuditReport(entries=len(rows), ok=False,
                                   problem=f"entry {seq} does not follow entry {seq - 1} (an entry was replaced)")
            if entry_hash(prev_hash, seq, at, actor, tenant, action, json.loads(detail)) != stored_hash:
                return AuditReport(entries=len(rows), ok=False, problem=f"entry {seq} was edited after it was written")
            prev_hash, expected_seq = stored_hash, seq + 1
        head_seq, head_hash = json.loads(head[0]) if head else (0, GENESIS)
        if (head_seq, head_hash) != (expected_seq - 1, prev_hash):
            return AuditReport(entries=len(rows), ok=False,
                               problem=f"the log ends at entry {expected_seq - 1}, but {head_seq} were written "
                                       "(entries were cut off the end)")
        return AuditReport(entries=len(rows), ok=True)
