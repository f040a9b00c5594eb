"""`aegis mcp serve`: Aegis's own tools, plus `run` and `verify`, as an MCP server.

Every call goes through the same `ToolRegistry` path as a model's calls: schema validation,
workspace confinement, the sandbox for execution, and the approval policy (`auto` or `deny` here:
an MCP host asks its own user before it calls a tool). Transports: stdio, or streamable HTTP.

No security guard (`security.guard.defended_toolbox`) is put over these tools, on purpose: it
defends an Aegis planner model from content Aegis's tools bring in, and here there is none. The
planner is the host's model, outside Aegis: every argument arrives from it, so Aegis has no
provenance to label tainted and the capability policy has nothing to decide; quarantining a
tool's output would withhold it from the very caller who asked for it (and one server's variables
would be shared by all its clients); no tool here sends anything over the network (`run` is one
tool-less model answer, `verify` is local, and exec runs sandboxed without network), so the
egress gate has no request to check. Confinement, the sandbox and the approval policy still hold.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import Field

from aegis_ray.checks import run_checks
from aegis_ray.providers.gateway import Gateway
from aegis_ray.runner import answer_task
from aegis_ray.tools.base import Effect, Tool, ToolArgs, ToolContext, tool
from aegis_ray.tools.registry import ToolRegistry
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


def build_server(registry: ToolRegistry, context: ToolContext) -> Any:
    """A low-level MCP server whose tools are exactly the registry's."""
    import mcp.types as types
    from mcp.server.lowlevel import Server

    async def list_tools(_: Any, __: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[
            types.Tool(name=spec.name, description=spec.description, input_schema=spec.parameters)
            for spec in registry.specs])

    async def call_tool(_: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        call = ToolCall(id=uuid.uuid4().hex, name=params.name, arguments=dict(params.arguments or {}))
        result = await registry.call(call, context)
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
