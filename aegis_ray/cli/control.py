"""The control plane on the command line: `aegis stop` and `aegis resume` (with no run) flip the kill
switch in the store every entry point reads (`aegis_ray.control`; new work halts cluster-wide within
a second of `stop`); `aegis audit` lists and verifies the hash-chained audit log. Actions taken here
are audited as `cli:USER`."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from aegis_ray.cli.common import err, out, reports_errors, status, store_call
from aegis_ray.cli.output import print_table
from aegis_ray.config import load_settings


@reports_errors
def stop(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Stop all new work (the kill switch): runs, sessions, workers, Serve and the MCP server refuse or
    park within a second; `aegis resume` lets work start again."""
    _flip("stopped", as_json)


def resume_work(as_json: bool) -> None:
    """Set the kill switch back to running (`aegis resume` with no run id)."""
    _flip("running", as_json)


def _flip(state: str, as_json: bool) -> None:
    from aegis_ray.control import SwitchState, set_switch

    async def flip(store: Any) -> SwitchState:
        return await set_switch(store, SwitchState(state), actor=cli_actor())

    now = store_call(load_settings(), flip)
    if as_json:
        out.print_json(json.dumps({"kill_switch": now.value}))
    elif now is SwitchState.STOPPED:
        status("kill switch: stopped. No new work starts; workers hand back their jobs, sessions park at "
               "their next step. `aegis resume` lets work start again.")
    else:
        status("kill switch: running. Work may start again (parked sessions: `aegis resume RUN`).")


def switch_state() -> str:
    """The kill switch as the configured store holds it ("unreadable: ..." if it cannot be read)."""
    from aegis_ray.control import read_switch

    try:
        return store_call(load_settings(), read_switch).value
    except Exception as exc:  # status reports, it does not fail
        return f"unreadable ({type(exc).__name__}: {exc}): entry points refuse work"


def refuse_if_stopped(settings: Any, what: str = "a new run") -> None:
    """Fail now (exit 5, one line and a hint) while the kill switch is stopped or cannot be read."""
    from aegis_ray.control import KillSwitch

    store_call(settings, lambda store: KillSwitch(store).check(what))


def cli_actor() -> str:
    """Who an action taken on this command line is audited as."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name for this uid (a container)
        return "cli:unknown"


@reports_errors
def audit(
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="Entries to list (the latest).")] = 50,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's entries.")] = None,
    verify: Annotated[bool, typer.Option("--verify", help="Check the whole hash chain; exit 1 if it is broken.")]
    = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The audit log of privileged actions (kill switch, approvals, keys, denials, blocks), newest
    last; --verify walks its hash chain and names the first entry edited, deleted or cut off."""
    async def read(store: Any) -> tuple[list[Any], Any]:
        entries = await store.audit_entries(limit, tenant=tenant, latest=True)
        return entries, (await store.verify_audit() if verify else None)

    entries, report = store_call(load_settings(), read)
    if as_json:
        out.print_json(json.dumps({"entries": [e.model_dump() for e in entries],
                                   **({"verified": report.model_dump()} if report else {})}))
    else:
        print_table(["#", "when (UTC)", "actor", "tenant", "action", "detail"],
                    [[str(e.seq), f"{datetime.fromtimestamp(e.at, UTC):%Y-%m-%d %H:%M:%S}", e.actor, e.tenant or "",
                      e.action, json.dumps(e.detail) if e.detail else ""] for e in entries], squeeze=5)
        if report is not None:
            line = (f"[green]audit chain intact[/]: {report.entries} entries" if report.ok
                    else f"[bold red]audit chain broken[/]: {report.problem}")
            err.print(line, soft_wrap=True)
    if report is not None and not report.ok:
        raise typer.Exit(1)
