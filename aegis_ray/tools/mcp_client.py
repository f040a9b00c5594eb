"""Mount the tools of any MCP server (stdio or streamable HTTP) into a `ToolRegistry`.

Mounted tools go through the same registry as built-ins: arguments validated against the schema the
server published, approval gates, typed errors. A server's annotations are hints from a party we do
not trust, so a tool it calls read-only still counts as a network effect (approval-gated) unless the
mount is told to trust those hints.
"""

from __future__ import annotations

import re
from contextlib import AsyncExitStack
from typing import Any

from pydantic import BaseModel, Field, model_validator

from aegis_ray.errors import BadInputError, ToolError
from aegis_ray.tools.base import Effect, Tool, ToolContext, json_schema_args
from aegis_ray.tools.registry import ToolRegistry
from aegis_ray.types import Frozen


class MCPServerSpec(Frozen):
    """Where an MCP server is: a command to launch (stdio) or a streamable-HTTP URL."""

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,20}$", description="Prefix for its tools' names.")
    command: tuple[str, ...] = ()
    url: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    trust_read_only_hints: bool = False

    @model_validator(mode="after")
    def _one_transport(self) -> MCPServerSpec:
        if bool(self.command) == bool(self.url):
            raise ValueError("give exactly one of command (stdio) or url (streamable HTTP)")
        return self


def _text(result: Any) -> str:
    parts = []
    for block in result.content or []:
        text = getattr(block, "text", None)
        parts.append(text if text is not None else f"[{getattr(block, 'type', 'content')}]")
    return "\n".join(parts)


class MCPMount:
    """An open connection to one MCP server whose tools are registered; close it with `aclose`."""

    def __init__(self, spec: MCPServerSpec) -> None:
        self.spec = spec
        self.tool_names: list[str] = []
        self._stack = AsyncExitStack()
        self._client: Any = None

    async def open(self, registry: ToolRegistry) -> MCPMount:
        from mcp import Client, StdioServerParameters

        target: Any = self.spec.url or StdioServerParameters(
            command=self.spec.command[0], args=list(self.spec.command[1:]), env=self.spec.env or None)
        try:
            self._client = await self._stack.enter_async_context(Client(target))
            listed = await self._client.list_tools()
        except Exception as exc:
            await self._stack.aclose()
            raise BadInputError(f"cannot connect to MCP server {self.spec.name!r}: {exc}") from exc
        for remote in listed.tools:
            registry.add(self._tool(remote))
        return self

    def _tool(self, remote: Any) -> Tool:
        name = re.sub(r"[^A-Za-z0-9_\-]", "_", f"{self.spec.name}_{remote.name}")[:64]
        read_only = bool(remote.annotations and remote.annotations.read_only_hint)
        effect = Effect.READ if (read_only and self.spec.trust_read_only_hints) else Effect.NETWORK
        schema = dict(remote.input_schema or {"type": "object"})
        remote_name = remote.name

        async def call(args: BaseModel, _: ToolContext) -> str:
            result = await self._client.call_tool(remote_name, args.model_dump())
            text = _text(result)
            if result.is_error:
                raise ToolError(f"MCP tool {remote_name} failed: {text}")
            return text

        self.tool_names.append(name)
        return Tool(name=name, description=remote.description or "", effect=effect,
                    args_model=json_schema_args(name, schema), function=call, input_schema=schema)

    async def aclose(self) -> None:
        await self._stack.aclose()


async def mount_mcp(registry: ToolRegistry, spec: MCPServerSpec) -> MCPMount:
    return await MCPMount(spec).open(registry)
