"""`aegis mcp serve`: Aegis's own tools, plus `run` and `verify`, as an MCP server.

Every call goes through the same path as a model's calls in a session: `served_toolbox` puts the
tools under the security layer with the one builder sessions and the red team use
(`security.guard.defended_toolbox`), over a `ToolRegistry` (schema validation, workspace
confinement, the sandbox for execution, and the approval policy: `auto` or `deny` here, as an MCP
host asks its own user before it calls a tool). Transports: stdio, or streamable HTTP.

The planner here is the host's model, outside Aegis: it asked for every output, so no tool is
untrusted (`untrusted_tools` is empty): nothing is quarantined, each output reaches the caller as
the tool returned it, and no argument carries taint for the capability policy to refuse. What the
guard does here is DLP and egress: whatever a tool is sent is scrubbed of Aegis's own secrets
(`secrets`: its provider keys) and of anything shaped like a credential, so no call can hand them
to a model through `run`, write them to a file or put them in a command; a network-capable tool
would go through the egress gate and its allowlist. (The gate's client opens on its first request
and no served tool makes one, so there is nothing to close at shutdown.)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from pydantic import Field

from aegis_ray.checks import run_checks
from aegis_ray.config import SecuritySettings
from aegis_ray.control.switch import KillSwitch, StoppedError
from aegis_ray.providers.gateway import Gateway
from aegis_ray.runner import answer_task
from aegis_ray.security.guard import defended_toolbox
from aegis_ray.security.quarantine import EXTRACT_SPEC
from aegis_ray.tools import BUILTIN_TOOLS
from aegis_ray.tools.approval import ApprovalPolicy
from aegis_ray.tools.base import Effect, Tool, ToolArgs, ToolContext, tool
from aegis_ray.tools.registry import ToolBox, ToolRegistry
from aegis_ray.types import Check, RunSpec, ToolCall


class RunArgs(ToolArgs):
    task: str = Field(min_length=1, description="The question or task.")


class VerifyArgs(ToolArgs):
    answer: str = Field(description="The answer to check.")
    checks: list[Check] = Field(min_length=1, description="Deterministic checks: contains, equals, regex, "
                                                          "json_schema.")


def run_tool(gateway: Gateway) -> Tool:
    @tool(Effect.NETWORK, name="run")
    async def run(args: RunArgs, _: ToolContext) -> str:
        """Answer a task with Aegis's configured model chain; the reply says which model answered."""
        result = await answer_task(gateway, RunSpec(task=args.task))
        label = " (simulated model)" if result.simulated else ""
        return f"{result.answer.text}\n\n[model {result.model}{label}]"

    return run


@tool(Effect.READ, name="verify")
async def verify(args: VerifyArgs, _: ToolContext) -> str:
    """Check an answer against deterministic checks; one line per check, PASS or FAIL."""
    outcomes = run_checks(tuple(args.checks), args.answer)
    return "\n".join(f"{'PASS' if o.passed else 'FAIL'} {o.reason}" for o in outcomes)


def served_toolbox(gateway: Gateway, *, security: SecuritySettings, secrets: Iterable[str],
                   approval: ApprovalPolicy) -> ToolBox:
    """The served tools (files, sandboxed exec, `run` over `gateway`, `verify`) with the approval
    policy, under the security layer unless `security` switches it off, with no tool untrusted and
    `secrets` masked in what a tool is sent."""
    tools = (*BUILTIN_TOOLS, run_tool(gateway), verify)
    if not security.enabled:
        return ToolRegistry(tools, policy=approval)
    return defended_toolbox(lambda _gate: tools, security=security.model_copy(update={"untrusted_tools": []}),
                            models=gateway, reader=gateway.chain[0], secrets=secrets, approval=approval)


def build_server(tools: ToolBox, context: ToolContext, switch: KillSwitch | None = None) -> Any:
    """A low-level MCP server whose tools are exactly the toolbox's, less the quarantine's `extract`
    (nothing is quarantined here, so it would never have a variable to read). With `switch`, a call
    while the kill switch is stopped (or unreadable) is refused with the reason, and nothing runs."""
    import mcp.types as types
    from mcp.server.lowlevel import Server

    async def list_tools(_: Any, __: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[
            types.Tool(name=spec.name, description=spec.description, input_schema=spec.parameters)
            for spec in tools.specs if spec != EXTRACT_SPEC])

    async def call_tool(_: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        if switch is not None:
            try:
                await switch.check(f"the MCP tool call {params.name!r}")
            except StoppedError as stopped:
                return types.CallToolResult(content=[types.TextContent(type="text", text=str(stopped))],
                                            is_error=True)
        call = ToolCall(id=uuid.uuid4().hex, name=params.name, arguments=dict(params.arguments or {}))
        result = await tools.call(call, context)
        return types.CallToolResult(content=[types.TextContent(type="text", text=result.content)],
                                    is_error=not result.ok)

    return Server("aegis", version="0.1.0", instructions="Aegis tools: workspace files, sandboxed execution, "
                  "run (answer a task), verify (deterministic checks).",
                  on_list_tools=list_tools, on_call_tool=call_tool)


async def serve_stdio(server: Any) -> None:
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


def serve_http(server: Any, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(server.streamable_http_app(host=host), host=host, port=port, log_level="warning")
