"""Every office tool over one state: `office_tools(state, gate, transport)`.

A `ToolsOverGate` for the guard is `lambda gate: office_tools(state, gate, transport)`. `tap`, when
given, receives the raw text of every successful tool output in call order: the leaky adversary's
view of what the quarantine withheld (it changes nothing the tools do or return).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx

from aegis_ray.security.dlp import Scrubber
from aegis_ray.security.egress import EgressGate, EgressPolicy
from aegis_ray.security.redteam.office.seed import seed_state
from aegis_ray.security.redteam.office.state import OfficeState
from aegis_ray.security.redteam.office.tools_bank import bank_tools
from aegis_ray.security.redteam.office.tools_calendar import calendar_tools
from aegis_ray.security.redteam.office.tools_chat import chat_tools
from aegis_ray.security.redteam.office.tools_drive import drive_tools
from aegis_ray.security.redteam.office.tools_mail import mail_tools
from aegis_ray.security.redteam.office.tools_travel import travel_tools
from aegis_ray.security.redteam.office.tools_web import web_tools, web_transport
from aegis_ray.tools.base import Tool, ToolContext, ToolFunction


def office_tools(state: OfficeState, gate: EgressGate, transport: httpx.AsyncBaseTransport,
                 tap: list[str] | None = None) -> list[Tool]:
    tools = [*mail_tools(state), *calendar_tools(state), *drive_tools(state), *bank_tools(state),
             *chat_tools(state), *travel_tools(state), *web_tools(state, gate, transport)]
    if tap is None:
        return tools
    return [dataclasses.replace(t, function=_tapped(t.function, tap)) for t in tools]


def _tapped(function: ToolFunction, tap: list[str]) -> ToolFunction:
    async def run(args: Any, ctx: ToolContext) -> str:
        output = await function(args, ctx)
        tap.append(output)
        return output

    return run


def all_tools() -> list[Tool]:
    """Every office tool, built over a throwaway state (for their names and specs)."""
    state = seed_state()
    return office_tools(state, EgressGate(EgressPolicy(), Scrubber()), web_transport(state))


def tool_names() -> list[str]:
    return [t.name for t in all_tools()]
