"""MCP both ways: real third-party servers mounted into a session; `aegis mcp serve` used by the
official MCP client, and its server in-process under the security guard."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from aegis_ray.config import SecuritySettings
from aegis_ray.loop import AgentLoop
from aegis_ray.mcp_server import build_server, served_toolbox
from aegis_ray.providers import EndpointCache, FunctionInfo, FunctionModel, Gateway, ModelEndpoint
from aegis_ray.security.quarantine import QuarantinedTools
from aegis_ray.sim import ModelProfile, Script, SimConfig, SimServer, Turn
from aegis_ray.tools import ToolContext, ToolRegistry, Workspace
from aegis_ray.tools.mcp_client import MCPServerSpec, mount_mcp
from aegis_ray.types import Message, RunSpec, RunStatus, ToolCall
from tests.helpers import free_port, sim_endpoint

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
EVERYTHING_VERSION = "2026.8.31"
EVERYTHING = ROOT / ".mcp-servers/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
TIME_SERVER = MCPServerSpec(name="time", command=(sys.executable, "-m", "mcp_server_time", "--local-timezone", "UTC"))


@pytest.fixture(scope="module")
def everything() -> MCPServerSpec:
    """The reference MCP server from npm (installed by .ci/run; installed here if it is missing)."""
    if not EVERYTHING.exists():
        subprocess.run(["npm", "install", "--silent", "--prefix", str(ROOT / ".mcp-servers"),
                        f"@modelcontextprotocol/server-everything@{EVERYTHING_VERSION}"], check=True, timeout=300)
    return MCPServerSpec(name="everything", command=(shutil.which("node") or "node", str(EVERYTHING), "stdio"))


async def test_mounts_mcp_server_time_and_a_session_calls_it(tmp_path: Path) -> None:
    script = Script(turns=[Turn(tool_calls=[{"name": "time_get_current_time", "arguments": {"timezone": "UTC"}}])])
    config = SimConfig(models={"sim-honest-timekeeper": ModelProfile(script=script)})
    registry = ToolRegistry([], policy="auto")
    mount = await mount_mcp(registry, TIME_SERVER)
    try:
        assert {"time_get_current_time", "time_convert_time"} <= set(mount.tool_names)
        with SimServer(config) as sim:
            cache = EndpointCache(lambda _: ModelEndpoint(sim_endpoint(sim, "sim-honest-timekeeper")))
            loop = AgentLoop(Gateway(cache, ["sim:sim-honest-timekeeper"]), registry,
                             ToolContext(workspace=Workspace(tmp_path)))
            state = await loop.run(RunSpec(task="What time is it in UTC?"))
            await cache.aclose()
    finally:
        await mount.aclose()
    assert state.status is RunStatus.SUCCEEDED
    reported = json.loads(state.answer.text)  # the model reported what the tool returned
    assert reported["timezone"] == "UTC" and "datetime" in reported


async def test_mounts_the_everything_reference_server(everything: MCPServerSpec, tmp_path: Path) -> None:
    registry = ToolRegistry([], policy="auto")
    mount = await mount_mcp(registry, everything)
    try:
        assert "everything_echo" in mount.tool_names
        context = ToolContext(workspace=Workspace(tmp_path))
        echoed = await registry.call(ToolCall(id="1", name="everything_echo", arguments={"message": "hi"}), context)
        assert echoed.ok and echoed.content == "Echo: hi"
        invalid = await registry.call(ToolCall(id="2", name="everything_echo", arguments={"msg": 1}), context)
        assert not invalid.ok and invalid.error_type == "ToolArgumentsError" and "message" in invalid.content
    finally:
        await mount.aclose()


async def test_mounted_tools_stay_behind_the_approval_gate(tmp_path: Path) -> None:
    registry = ToolRegistry([], policy="deny")
    mount = await mount_mcp(registry, TIME_SERVER)  # the server calls its tools read-only: a hint, not trusted
    try:
        result = await registry.call(ToolCall(id="1", name="time_get_current_time", arguments={"timezone": "UTC"}),
                                     ToolContext(workspace=Workspace(tmp_path)))
        assert not result.ok and result.error_type == "ApprovalDeniedError"
    finally:
        await mount.aclose()


async def test_a_bad_server_is_a_clear_error() -> None:
    from aegis_ray.errors import BadInputError

    with pytest.raises(BadInputError, match="cannot connect to MCP server 'ghost'"):
        await mount_mcp(ToolRegistry([]), MCPServerSpec(name="ghost", command=(sys.executable, "-c", "pass")))


async def test_official_client_lists_and_calls_aegis_mcp_serve(tmp_path: Path) -> None:
    server = StdioServerParameters(command=sys.executable,
                                   args=["-m", "aegis_ray", "mcp", "serve", "--workspace", str(tmp_path)])
    async with Client(server) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"read_file", "write_file", "run_command", "run_python", "run", "verify"} <= names
        wrote = await client.call_tool("write_file", {"path": "a.py", "content": "print(6 * 7)"})
        assert not wrote.is_error
        ran = await client.call_tool("run_command", {"command": "python3 a.py"})
        assert not ran.is_error and "42" in ran.content[0].text
        refused = await client.call_tool("read_file", {"path": "../outside"})
        assert refused.is_error and "'..' may not appear" in refused.content[0].text
        answered = await client.call_tool("run", {"task": "What is the capital of France?"})
        assert "Paris" in answered.content[0].text and "simulated" in answered.content[0].text
    assert (tmp_path / "a.py").read_text() == "print(6 * 7)"


async def test_the_guard_masks_aegiss_own_keys_in_what_served_tools_are_sent(tmp_path: Path) -> None:
    key = "prov-7f3c9a1b2d4e6f80"  # no known credential format: only the guard's secrets can mask it

    def echo(messages: tuple[Message, ...], _: FunctionInfo) -> str:
        return messages[-1].content  # the task, as the model was sent it

    gateway = Gateway(lambda _: FunctionModel(echo, "sim:echo"), ["sim:echo"])
    tools = served_toolbox(gateway, security=SecuritySettings(), secrets=[key], approval="auto")
    async with Client(build_server(tools, ToolContext(workspace=Workspace(tmp_path)))) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert isinstance(tools, QuarantinedTools)
        assert names == {s.name for s in tools.tools.specs}  # the guarded tools, none refused, no `extract`
        answered = await client.call_tool("run", {"task": f"Repeat after me: {key}"})
        assert not answered.is_error and key not in answered.content[0].text
        assert "Repeat after me: [REDACTED:known_secret]" in answered.content[0].text
        wrote = await client.call_tool("write_file", {"path": "notes.txt", "content": f"the key is {key}\n$v1 stays"})
        assert not wrote.is_error
        read = await client.call_tool("read_file", {"path": "notes.txt"})
        assert read.content[0].text == "the key is [REDACTED:known_secret]\n$v1 stays"  # output as the tool read it
    assert (tmp_path / "notes.txt").read_text() == "the key is [REDACTED:known_secret]\n$v1 stays"


@pytest.fixture
def http_mcp_server(tmp_path: Path) -> Iterator[str]:
    """`aegis mcp serve --http` in its own process, its workspace `tmp_path`; yields its URL."""
    import time

    import httpx

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "aegis_ray", "mcp", "serve", "--http", "--port", str(port),
                               "--workspace", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/mcp", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/mcp"
    server.terminate()
    server.wait(timeout=10)


async def test_mounts_aegis_mcp_serve_over_streamable_http(http_mcp_server: str, tmp_path: Path) -> None:
    registry = ToolRegistry([], policy="auto")
    mount = await mount_mcp(registry, MCPServerSpec(name="aegis", url=http_mcp_server))
    try:
        assert "aegis_write_file" in mount.tool_names
        wrote = await registry.call(ToolCall(id="1", name="aegis_write_file",
                                             arguments={"path": "via-http.txt", "content": "hi"}),
                                    ToolContext(workspace=Workspace(tmp_path / "client")))
        assert wrote.ok, wrote
    finally:
        await mount.aclose()
    assert (tmp_path / "via-http.txt").read_text() == "hi"  # written by the server, in its workspace
