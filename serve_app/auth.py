"""Bearer-token auth: off by default (loopback), on when AEGIS_API_KEY or a keys file is set.

Keys are compared in constant time; a keys file (JSON `{"tenant": "key", ...}`) gives each tenant
its own key.
"""

from __future__ import annotations

import hmac
import json
from pathlib import Path

from fastapi import HTTPException, Request

from aegis_ray.errors import ConfigError


def load_keys(api_key: str | None, keys_file: str | None) -> dict[str, str]:
    keys = {"default": api_key} if api_key else {}
    if keys_file:
        try:
            data = json.loads(Path(keys_file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read API keys file {keys_file}: {exc}") from exc
        if not isinstance(data, dict) or not all(isinstance(v, str) and v for v in data.values()):
            raise ConfigError(f"{keys_file} must be a JSON object of tenant → key")
        keys |= data
    return keys


class UnauthorizedError(HTTPException):
    """401: no key, or not one of the server's; the body is the API's `ErrorBody` like every error."""

    hint = "the key is the server's AEGIS_API_KEY (or one in AEGIS_API_KEYS_FILE); the dashboard asks for it"

    def __init__(self) -> None:
        super().__init__(status_code=401, detail="missing or invalid API key: send Authorization: Bearer <key>",
                         headers={"WWW-Authenticate": "Bearer"})


def tenant_for(request: Request, keys: dict[str, str]) -> str | None:
    """The tenant whose key the request carries; raises 401 when keys are set and none matches."""
    if not keys:
        return None
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        for tenant, key in keys.items():
            if hmac.compare_digest(token.encode(), key.encode()):
                return tenant
    raise UnauthorizedError()
