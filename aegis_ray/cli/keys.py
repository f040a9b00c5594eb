"""`aegis keys create|list|revoke`: API keys per tenant, in the store Serve reads (shown once, kept
hashed). Each creation and revocation is recorded in the audit log as `cli:USER`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from aegis_ray.cli.common import out, reports_errors, status, store_call
from aegis_ray.cli.control import cli_actor
from aegis_ray.cli.output import print_table
from aegis_ray.config import load_settings

app = typer.Typer(no_args_is_help=True, help="API keys per tenant (Serve's /api and /v1).")


@app.command("create")
@reports_errors
def create(
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="Whose key: runs, jobs and evals are kept by tenant.")],
    admin: Annotated[bool, typer.Option("--admin", help="Sees every tenant's data; may flip the kill switch.")]
    = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Make a key for TENANT and print it once (only its hash is kept)."""
    async def make(store: Any) -> Any:
        made = await store.create_key(tenant, admin=admin)
        await store.audit(cli_actor(), "key.create", {"key_id": made.key.key_id, "admin": admin}, tenant=tenant)
        return made

    made = store_call(load_settings(), make)
    if as_json:
        out.print_json(json.dumps({"key": made.secret, **made.key.model_dump()}))
        return
    out.print(made.secret, markup=False)
    status(f"key {made.key.key_id} for tenant {tenant}{' (admin)' if admin else ''}: shown this once, kept "
           "hashed; send it as Authorization: Bearer <key>")


@app.command("list")
@reports_errors
def list_keys(
    revoked: Annotated[bool, typer.Option("--revoked", help="Include revoked keys.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The keys (ids, tenants, admin or not, when made); never their secrets."""
    keys = store_call(load_settings(), lambda store: store.list_keys(include_revoked=revoked))
    if as_json:
        out.print_json(json.dumps([k.model_dump() for k in keys]))
        return
    when = lambda t: f"{datetime.fromtimestamp(t, UTC):%Y-%m-%d %H:%M}" if t else ""  # noqa: E731
    print_table(["key id", "tenant", "admin", "created (UTC)", "revoked (UTC)"],
                [[k.key_id, k.tenant, "yes" if k.admin else "", when(k.created), when(k.revoked)] for k in keys])


@app.command("revoke")
@reports_errors
def revoke(key_id: Annotated[str, typer.Argument(help="The key's id (`aegis keys list`).")]) -> None:
    """Revoke a key: Serve refuses it within seconds."""
    async def drop(store: Any) -> Any:
        key = await store.revoke_key(key_id)
        await store.audit(cli_actor(), "key.revoke", {"key_id": key_id}, tenant=key.tenant)
        return key

    key = store_call(load_settings(), drop)
    status(f"revoked key {key.key_id} of tenant {key.tenant}")
