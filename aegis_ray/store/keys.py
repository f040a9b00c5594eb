"""API keys, per tenant, in the store: `aegis keys create|list|revoke`, read by Serve.

A key is `aegis_<key id>_<secret>`: the id finds the row, the secret (32 random bytes, URL-safe) is
kept only as its SHA-256 and compared in constant time. A plain hash suffices because the secret is
random, not a password (no dictionary to slow down). The key is shown once, when it is created.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

from pydantic import Field

from aegis_ray.errors import BadInputError, NotFoundError
from aegis_ray.store.core import Record, StoreCore

KEY_PATTERN = re.compile(r"aegis_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
TENANT_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class ApiKey(Record):
    key_id: str
    tenant: str
    admin: bool = Field(description="May see every tenant's data and flip the kill switch.")
    created: float
    revoked: float | None = None


class NewApiKey(Record):
    key: ApiKey
    secret: str = Field(description="The whole key, `aegis_<id>_<secret>`: shown once, stored only hashed.")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_tenant(tenant: str) -> str:
    if not TENANT_PATTERN.fullmatch(tenant):
        raise BadInputError(f"{tenant!r} is not a tenant name",
                            hint="1-64 letters, digits, '_', '.' or '-', starting with a letter or digit")
    return tenant


class Keys(StoreCore):
    """Create, list, revoke and check API keys."""

    async def create_key(self, tenant: str, *, admin: bool = False) -> NewApiKey:
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        now = time.time()
        async with self.transaction() as tx:
            await tx.execute("INSERT INTO api_keys (key_id, tenant, admin, secret_sha256, created) "
                             "VALUES (?, ?, ?, ?, ?)", (key_id, check_tenant(tenant), int(admin), _digest(secret), now))
        return NewApiKey(key=ApiKey(key_id=key_id, tenant=tenant, admin=admin, created=now),
                         secret=f"aegis_{key_id}_{secret}")

    async def list_keys(self, *, include_revoked: bool = False) -> list[ApiKey]:
        where = "" if include_revoked else "WHERE revoked IS NULL"
        async with self.reading() as tx:
            rows = await tx.all(f"SELECT key_id, tenant, admin, created, revoked FROM api_keys {where} "
                                "ORDER BY created")
        return [ApiKey(key_id=r[0], tenant=r[1], admin=bool(r[2]), created=r[3], revoked=r[4]) for r in rows]

    async def revoke_key(self, key_id: str) -> ApiKey:
        async with self.transaction() as tx:
            row = await tx.one("SELECT key_id, tenant, admin, created, revoked FROM api_keys WHERE key_id = ?",
                               (key_id,))
            if row is None:
                raise NotFoundError(f"no API key {key_id!r}", hint="`aegis keys list` shows the key ids")
            revoked = row[4] or time.time()
            await tx.execute("UPDATE api_keys SET revoked = ? WHERE key_id = ?", (revoked, key_id))
        return ApiKey(key_id=row[0], tenant=row[1], admin=bool(row[2]), created=row[3], revoked=revoked)

    async def check_key(self, key: str) -> ApiKey | None:
        """The live key `key` is, or None (malformed, unknown, revoked, or a wrong secret)."""
        match = KEY_PATTERN.fullmatch(key)
        if match is None:
            return None
        key_id, secret = match.groups()
        async with self.reading() as tx:
            row = await tx.one("SELECT key_id, tenant, admin, created, revoked, secret_sha256 FROM api_keys "
                               "WHERE key_id = ?", (key_id,))
        if row is None or row[4] is not None or not hmac.compare_digest(row[5], _digest(secret)):
            return None
        return ApiKey(key_id=row[0], tenant=row[1], admin=bool(row[2]), created=row[3])

    async def has_keys(self) -> bool:
        async with self.reading() as tx:
            return await tx.one("SELECT 1 FROM api_keys WHERE revoked IS NULL LIMIT 1") is not None
