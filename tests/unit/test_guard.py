"""One defended toolbox: the red team, sessions and the MCP server all get their tools from
`aegis_ray.security.guard.defended_toolbox`, each with its own settings, so the red team measures
the production wiring."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aegis_ray.config import SecuritySettings
from aegis_ray.providers import EndpointCache, Gateway
from aegis_ray.security import guard
from aegis_ray.security.policy import default_policy
from aegis_ray.security.quarantine import QuarantinedTools
from aegis_ray.security.redteam import runner
from aegis_ray.security.redteam.scenarios import scenarios
from aegis_ray.security.redteam.world import ALLOWED_HOSTS, CONTACTS, UNTRUSTED_TOOLS
from aegis_ray.sim import SimServer
from aegis_ray.tools import ApprovalRequest, ToolContext, ToolRegistry, Workspace
from tests.helpers import sim_models

pytestmark = pytest.mark.unit

SECRET = "sk-canary-0a1b2c3d4e5f60718293"


class Spy:
    """Wraps the builder: records each call's keyword arguments and what it built."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.built: list[QuarantinedTools] = []

    def __call__(self, tools: guard.ToolsOverGate, **kwargs: Any) -> QuarantinedTools:
        self.calls.append(kwargs)
        self.built.append(guard.defended_toolbox(tools, **kwargs))
        return self.built[-1]


async def test_the_red_team_defends_through_the_production_builder(sim: SimServer,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    assert runner.defended_toolbox is guard.defended_toolbox  # the name the runner calls is the builder
    spy = Spy()
    monkeypatch.setattr(runner, "defended_toolbox", spy)
    scenario = next(s for s in scenarios(SECRET) if not s.benign and s.carrier == "email"
                    and s.goal == "email_attacker")
    resolve = sim_models(sim)
    try:
        models = Gateway(resolve, [runner.READER])
        undefended = await runner.run_one(scenario, "undefended", resolve, models, SECRET)
        assert spy.calls == []  # the baseline is not defended
        defended = await runner.run_one(scenario, "defended", resolve, models, SECRET)
    finally:
        await resolve.aclose()
    assert undefended.landed and not defended.landed, (undefended, defended)
    assert len(spy.calls) == 1
    call = spy.calls[0]
    security: SecuritySettings = call["security"]
    assert tuple(security.allow_hosts) == ALLOWED_HOSTS and tuple(security.contacts) == CONTACTS
    assert tuple(security.untrusted_tools) == UNTRUSTED_TOOLS and security.enabled
    assert list(call["secrets"]) == [SECRET] and call["reader"] == runner.READER and call["approval"] == "auto"
    assert call["transport"] is not None  # the world's network, whose log the judge reads
    built = spy.built[0]
    assert built.gate.policy.allow_hosts == ALLOWED_HOSTS and built.policy == default_policy(CONTACTS)
    assert built.untrusted_tools == frozenset(UNTRUSTED_TOOLS) and built.scrubber.known == [SECRET]
    assert built.variables, "the run's loop read the inbox through the built toolbox (its output quarantined)"


async def _approve(_: ApprovalRequest) -> bool:
    return True


def _session(tmp_path: Path, security: SecuritySettings) -> Any:
    from aegis_ray.session import Session, SessionSpec

    spec = SessionSpec(workspace=str(tmp_path), chain=("sim:sim-honest", "sim:sim-backup"), approval="ask",
                       security=security)
    unused = EndpointCache(lambda _: (_ for _ in ()).throw(AssertionError("no model is called")))
    return Session(spec, Gateway(unused, spec.chain), secrets=["sk-session-provider-key-42"])


def test_a_sessions_tools_are_guarded_by_the_builder_with_its_settings(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from aegis_ray import session

    assert session.defended_toolbox is guard.defended_toolbox
    spy = Spy()
    monkeypatch.setattr(session, "defended_toolbox", spy)
    security = SecuritySettings(allow_hosts=["docs.example.com"], contacts=["bob@corp.example"],
                                untrusted_tools=["read_*", "mcp_*"])
    loop = _session(tmp_path, security).loop(ToolContext(workspace=Workspace(tmp_path)), _approve)
    assert len(spy.calls) == 1 and loop.tools is spy.built[0]
    call = spy.calls[0]
    assert call["security"] == security and call["reader"] == "sim:sim-honest" and call["approval"] == "ask"
    assert list(call["secrets"]) == ["sk-session-provider-key-42"] and call["approver"] is _approve
    assert call.get("transport") is None
    tools = loop.tools
    assert isinstance(tools, QuarantinedTools)
    assert tools.gate.policy.allow_hosts == ("docs.example.com",)
    assert tools.policy == default_policy(("bob@corp.example",))
    assert tools.untrusted_tools == frozenset({"read_file"})  # the patterns, matched against the session's tools
    assert tools.scrubber.known == ["sk-session-provider-key-42"] and tools.reader == "sim:sim-honest"
    assert tools.tools.policy == "ask" and tools.tools.approver is _approve
    assert {"read_file", "write_file", "run_command", "extract"} <= {s.name for s in tools.specs}


def test_a_session_with_security_off_gets_the_bare_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aegis_ray import session

    spy = Spy()
    monkeypatch.setattr(session, "defended_toolbox", spy)
    loop = _session(tmp_path, SecuritySettings(enabled=False)).loop(ToolContext(workspace=Workspace(tmp_path)),
                                                                    _approve)
    assert spy.calls == [] and isinstance(loop.tools, ToolRegistry) and loop.tools.approver is _approve


def test_the_mcp_servers_tools_are_guarded_by_the_builder_with_nothing_untrusted(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from aegis_ray import mcp_server

    assert mcp_server.defended_toolbox is guard.defended_toolbox
    spy = Spy()
    monkeypatch.setattr(mcp_server, "defended_toolbox", spy)
    security = SecuritySettings(allow_hosts=["docs.example.com"], contacts=["bob@corp.example"])
    unused = EndpointCache(lambda _: (_ for _ in ()).throw(AssertionError("no model is called")))
    gateway = Gateway(unused, ["sim:sim-honest"])
    tools = mcp_server.served_toolbox(gateway, security=security, secrets=["aegis-provider-key-42"], approval="auto")
    assert len(spy.calls) == 1 and tools is spy.built[0]
    call = spy.calls[0]
    assert call["security"] == security.model_copy(update={"untrusted_tools": []})  # only that setting differs
    assert list(call["secrets"]) == ["aegis-provider-key-42"] and call["approval"] == "auto"
    assert call["models"] is gateway and call["reader"] == "sim:sim-honest" and call.get("transport") is None
    assert isinstance(tools, QuarantinedTools) and tools.untrusted_tools == frozenset()
    assert tools.gate.policy.allow_hosts == ("docs.example.com",)
    assert tools.policy == default_policy(("bob@corp.example",))
    assert tools.scrubber.known == ["aegis-provider-key-42"] and tools.tools.policy == "auto" and not tools.refused
    assert {"read_file", "write_file", "run_command", "run_python", "run", "verify"} <= {s.name for s in tools.specs}

    bare = mcp_server.served_toolbox(gateway, security=SecuritySettings(enabled=False), secrets=(), approval="deny")
    assert len(spy.calls) == 1 and isinstance(bare, ToolRegistry) and bare.policy == "deny"


def test_trust_fails_closed_and_an_exactly_named_tool_stays_untrusted() -> None:
    from aegis_ray.security.guard import untrusted_names
    from aegis_ray.tools import BUILTIN_TOOLS

    specs = [t.spec for t in BUILTIN_TOOLS]
    default = untrusted_names(specs, SecuritySettings())
    assert "read_file" in default and "grep" in default and "run_python" not in default  # declared trusted
    mcp = SecuritySettings(untrusted_tools=["*", "run_python"], trusted_tools=["run_*"])  # as a session names MCP
    assert "run_python" in untrusted_names(specs, mcp) and "run_command" not in untrusted_names(specs, mcp)
    assert untrusted_names(specs, SecuritySettings(untrusted_tools=[])) == []  # the MCP server's setting
