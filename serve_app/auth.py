"""Who is calling: bearer keys, each naming a tenant, some of them admins.

Keys come from three places: `AEGIS_API_KEY` (the operator's: tenant `default`, admin), a keys file
(`AEGIS_API_KEYS_FILE`: JSON `{"tenant": "key"}`, or `{"tenant": {"key": "...", "admin": true}}`),
and the store (`aegis keys create`: `aegis_<id>_<secret>`, kept hashed, revocable). With none of
them the API is open (the loopback default) and every caller is the admin. Static keys are compared
in constant time; a store key is checked against the store and the answer kept for a few seconds
(a revoked key stops working within `STORE_KEY_TTL_S`). A presented key that is refused is
recorded in the audit log (once a minute per key).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request
from pydantic import BaseModel, ConfigDict

from aegis_ray.errors import ConfigError
from aegis_ray.store import ApiKey, Store
from aegis_ray.store.keys import KEY_PATTERN

OPERATOR_TENANT = "default"
STORE_KEY_TTL_S = 5.0
DENIAL_AUDIT_EVERY_S = 60.0


class Principal(BaseModel):
    """The caller: a tenant (None: the API is open) and whether it may see and control everything."""

    model_config = ConfigDict(frozen=True)

    tenant: str | None
    admin: bool
    key_id: str | None = None

    @property
    def actor(self) -> str:
        """How the audit log names the caller."""
        return f"api:{self.tenant or 'open'}" + (f":{self.key_id}" if self.key_id else "")

    @property
    def scope(self) -> str | None:
        """The tenant whose data the caller may see; None: every tenant's (an admin)."""
        return None if self.admin else self.tenant


OPEN = Principal(tenant=None, admin=True)


class StaticKey(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant: str
    key: str
    admin: bool = False


def load_keys(api_key: str | None, keys_file: str | None) -> list[StaticKey]:
    keys = [StaticKey(tenant=OPERATOR_TENANT, key=api_key, admin=True)] if api_key else []
    if keys_file:
        try:
            data = json.loads(Path(keys_file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read API keys file {keys_file}: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{keys_file} must be a JSON object of tenant → key (or → {{key, admin}})")
        for tenant, value in data.items():
            entry = {"key": value} if isinstance(value, str) else value
            if not isinstance(entry, dict) or not isinstance(entry.get("key"), str) or not entry["key"]:
                raise ConfigError(f"{keys_file}: tenant {tenant!r} needs a non-empty key",
                                  hint='{"acme": "KEY"} or {"ops": {"key": "KEY", "admin": true}}')
            keys.append(StaticKey(tenant=tenant, key=entry["key"], admin=bool(entry.get("admin", False))))
    return keys


class UnauthorizedError(HTTPException):
    """401: no key, or not one of the server's; the body is the API's `ErrorBody` like every error."""

    hint = ("the key is the server's AEGIS_API_KEY, one in AEGIS_API_KEYS_FILE, or one `aegis keys create` "
            "made; the dashboard asks for it")

    def __init__(self) -> None:
        super().__init__(status_code=401, detail="missing or invalid API key: send Authorization: Bearer <key>",
                         headers={"WWW-Authenticate": "Bearer"})


class ForbiddenError(HTTPException):
    """403: the caller is known but may not do this (only an admin key flips the kill switch)."""

    hint = "use an admin key: AEGIS_API_KEY, or one made with `aegis keys create --admin`"

    def __init__(self, what: str) -> None:
        super().__init__(status_code=403, detail=f"{what} needs an admin key")


class Authenticator:
    """Turns a request's bearer key into a `Principal` (or a 401)."""

    def __init__(self, static: list[StaticKey], store: Callable[[], Awaitable[Store]] | None = None) -> None:
        self.static, self._store = static, store
        self._checked: dict[str, tuple[float, ApiKey | None]] = {}  # key digest -> (when, key)
        self._store_has_keys: tuple[float, bool] = (float("-inf"), False)
        self._denied: dict[str, float] = {}

    async def principal(self, request: Request) -> Principal:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""
        if token:
            for entry in self.static:
                if hmac.compare_digest(token.encode(), entry.key.encode()):
                    return Principal(tenant=entry.tenant, admin=entry.admin)
            if KEY_PATTERN.fullmatch(token) and (key := await self._store_key(token)) is not None:
                return Principal(tenant=key.tenant, admin=key.admin, key_id=key.key_id)
        if not self.static and not await self._keys_in_store():
            return OPEN  # no keys anywhere: an open (loopback) API, whatever a client sends
        if token:
            await self._audit_denial(token, request)
        raise UnauthorizedError()

    async def _store_key(self, token: str) -> ApiKey | None:
        if self._store is None:
            return None
        digest = hashlib.sha256(token.encode()).hexdigest()
        checked = self._checked.get(digest)
        if checked is None or time.monotonic() - checked[0] > STORE_KEY_TTL_S:
            checked = (time.monotonic(), await (await self._store()).check_key(token))
            self._checked[digest] = checked
        return checked[1]

    async def _keys_in_store(self) -> bool:
        when, has = self._store_has_keys
        if self._store is not None and time.monotonic() - when > STORE_KEY_TTL_S:
            has = await (await self._store()).has_keys()
            self._store_has_keys = (time.monotonic(), has)
        return has

    async def _audit_denial(self, token: str, request: Request) -> None:
        digest = hashlib.sha256(token.encode()).hexdigest()[:16]
        now = time.monotonic()
        if self._store is None or now - self._denied.get(digest, float("-inf")) < DENIAL_AUDIT_EVERY_S:
            return
        self._denied[digest] = now
        detail: dict[str, Any] = {"key_sha256_prefix": digest, "path": request.url.path,
                                  "client": request.client.host if request.client else None}
        with contextlib.suppress(Exception):  # the 401 goes out whether or not the store could record it
            await (await self._store()).audit("api:unknown", "auth.denied", detail)
