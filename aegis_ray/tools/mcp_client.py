"""Mount the tools of any MCP server (stdio or streamable HTTP) into a `ToolRegistry`.

Mounted tools go through the same registry as built-ins: arguments validated against the schema the
server published, approval gates, typed errors. A server's annotations are hints from a party we do
not trust, so a tool it calls read-only still counts as a network effect (approval-gated) unless the
mount is told to trust those hints.

`mount_servers` mounts a session's servers (`[[mcp.servers]]` in aegis.toml, `--mcp` on the
command line) each on its own: one that fails to start, or whose tools `refuse` turns down (the
session refuses a tool description the injection detector flags), is closed and reported in one
line, and the session goes on without it.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, model_validator

from aegis_ray.config import MCPServerSettings
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


def server_from_flag(text: str) -> MCPServerSettings:
    """`--mcp "CMD ARGS"` (stdio) or `--mcp http://HOST:PORT/mcp` (streamable HTTP)."""
    text = text.strip()
    if re.match(r"^https?://", text):
        return MCPServerSettings(url=text)
    try:
        command = shlex.split(text)
    except ValueError as exc:
        raise BadInputError(f"cannot parse --mcp {text!r}: {exc}",
                            hint='quote it as one argument: --mcp "CMD ARGS"') from None
    if not command:
        raise BadInputError("--mcp is empty", hint='give a command (--mcp "CMD ARGS") or a URL (--mcp http://HOST/mcp)')
    return MCPServerSettings(command=command)


def _derived_name(server: MCPServerSettings) -> str:
    """A tool-name prefix from the server's command or URL: `mcp_server_time` → `time`,
    `.../server-everything/dist/index.js` → `everything`, `http://host:8765/mcp` → `host`."""
    if server.url:
        words = [urlsplit(server.url).hostname or ""]
    else:
        args = [a for a in server.command if not a.startswith("-")]
        named = [p for a in args for p in PurePath(a).parts if re.search(r"mcp|server", p, re.I)]
        words = named[-1:] or [PurePath(server.command[0]).name]
    stem = words[0] if server.url else PurePath(words[0]).stem
    word = re.sub(r"^(?:mcp[-_]?)?(?:server[-_]?)?", "", stem, flags=re.I)
    word = re.sub(r"[^A-Za-z0-9_]", "_", word).strip("_")[:20]
    return word if word[:1].isalpha() else f"mcp{word}"[:20] if word else "mcp"


def server_spec(server: MCPServerSettings, taken: Sequence[str] = ()) -> MCPServerSpec:
    """The mount spec of a configured server, its name unique among `taken`."""
    name = server.name or _derived_name(server)
    base, n = name, 2
    while name in taken:
        name, n = f"{base[:18]}{n}", n + 1
    return MCPServerSpec(name=name, command=tuple(server.command), url=server.url, env=server.env)


@dataclass
class MountedServers:
    """A session's MCP servers: their tools, the names of those that are untrusted, one line per
    server refused or unreachable; close with `aclose`."""

    tools: list[Tool] = field(default_factory=list)
    untrusted: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    mounts: list[MCPMount] = field(default_factory=list)

    async def aclose(self) -> None:
        for mount in self.mounts:
            await mount.aclose()
        self.mounts.clear()


async def mount_servers(servers: Sequence[MCPServerSettings], refuse: Callable[[Tool], str | None]) -> MountedServers:
    """Mount each of `servers` (see the module docstring); `refuse(tool)` says why a tool is not
    accepted, or None."""
    mounted = MountedServers()
    for server in servers:
        spec = server_spec(server, [m.spec.name for m in mounted.mounts])
        registry = ToolRegistry([])
        try:
            mount = await mount_mcp(registry, spec)
        except BadInputError as error:
            mounted.notices.append(f"MCP server {spec.name} is left out: {' '.join(error.message.split())}")
            continue
        tools = [registry.get(name) for name in mount.tool_names]
        refused = [(t.name, reason) for t in tools if (reason := refuse(t)) is not None]
        if refused:
            await mount.aclose()
            name, reason = refused[0]
            mounted.notices.append(f"MCP server {spec.name} is refused: the description of its tool {name} {reason}")
            continue
        mounted.mounts.append(mount)
        mounted.tools += tools
        mounted.untrusted += [] if server.trusted else [t.name for t in tools]
        mounted.notices.append(f"MCP server {spec.name}: {len(tools)} tools"
                               f"{'' if server.trusted else ', untrusted'}")
    return mounted
