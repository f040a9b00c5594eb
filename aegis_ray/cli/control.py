"""`aegis stop` and `aegis resume` (with no run): the kill switch, flipped in the store every entry
point reads (`aegis_ray.control`). New work halts cluster-wide within a second of `stop`."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from aegis_ray.cli.common import out, reports_errors, status, store_call
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
        return await set_switch(store, SwitchState(state))

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
