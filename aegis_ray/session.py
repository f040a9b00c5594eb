"""A session's engine side: what a session is (`SessionSpec`, `SessionConfig`), its tools, and the
agent loop a run of it drives.

`Session(spec, gateway, secrets=...)` loads the session's tools once; `await Session.open()`
mounts its MCP servers (each refused, with a line saying why, if it fails to start or a tool
description reads as an injection; their tools untrusted unless the server is marked trusted);
`Session.loop(context, approver, on_step)` assembles a run's `AgentLoop`: the tools in a registry
with the session's approval policy, under the security layer (`security.guard.defended_toolbox`,
with the session's security settings, its provider keys scrubbed, its first model as the
quarantined reader and the planner) unless the spec switches it off, the verifier (the declared
checks, or the spec's verification policy; then re-execution), judging only the latest message's
turn of a conversation, and context compaction. Each run tells the toolbox which user request it
serves (the task, or a conversation's latest message: `current_message`); the intent plan is derived
from that message alone before its first tool call, checkpointed with the run (`RunState.tool_state`),
and a run resumed within the message enforces the committed plan, never a new one.
Where it runs (a Ray actor, durability, event streaming, waiting on approvals) is the caller's:
`actors.session_actor`.
"""

from __future__ import annotations

import fnmatch
import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from aegis_ray.checks import Verifier, declared_checks
from aegis_ray.config import BudgetSettings, CompactionSettings, MCPServerSettings, Price, SecuritySettings, Settings
from aegis_ray.loop.agent import AgentLoop, StepListener, TextListener
from aegis_ray.loop.conversation import USER_STEP, current_message
from aegis_ray.model_ref import ModelName, ModelRef
from aegis_ray.providers import EndpointConfig, Gateway
from aegis_ray.sandbox import SandboxBackend, SandboxLimits
from aegis_ray.security.detector import detect
from aegis_ray.security.guard import defended_toolbox
from aegis_ray.security.quarantine import QuarantinedTools
from aegis_ray.tools import BUILTIN_TOOLS, ApprovalPolicy, Approver, Tool, ToolContext, ToolRegistry
from aegis_ray.tools.ledger import LEDGER_TOOLS
from aegis_ray.tools.mcp_client import MountedServers, mount_servers
from aegis_ray.tools.registry import ToolBox
from aegis_ray.types import Answer, RunSpec, RunState
from aegis_ray.verify.execution import execution_verifier
from aegis_ray.verify.policy import VerificationPolicy, policy_verifier


class SessionSpec(BaseModel):
    """What a session is, without credentials: persisted with each run so any process can resume it."""

    model_config = ConfigDict(frozen=True)

    workspace: str
    chain: tuple[ModelName, ...]
    approval: ApprovalPolicy = "ask"
    approvals: Literal["live", "park"] = "live"
    sandbox_backend: SandboxBackend = "auto"
    sandbox_image: str | None = None
    sandbox_pool_size: int = 2
    limits: SandboxLimits = SandboxLimits()
    stuck_repeats: int = 3
    extra_tools: tuple[str, ...] = Field(default=(), description="'module:attribute' of extra Tool objects.")
    verification: VerificationPolicy | None = Field(
        default=None, description="Verify the final answer with this policy (default: the declared checks only).")
    security: SecuritySettings = SecuritySettings()
    compaction: CompactionSettings = CompactionSettings()
    mcp_servers: tuple[MCPServerSettings, ...] = Field(default=(), description="MCP servers whose tools it mounts.")
    tools: tuple[str, ...] | None = Field(default=None, description=(
        "fnmatch patterns of the tools the model is offered (an agent profile's); None: every tool."))

    @property
    def models(self) -> tuple[ModelRef, ...]:
        """Every model the session calls: its chain, and its verification judge and voters."""
        policy = self.verification
        checkers = (policy.judge, *policy.voters) if policy and policy.judge else policy.voters if policy else ()
        return tuple(dict.fromkeys((*self.chain, *checkers)))


class SessionConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    spec: SessionSpec
    endpoints: dict[str, EndpointConfig]
    database_url: str | None = None
    home: str
    lease_s: float = 300.0
    budgets: BudgetSettings = Field(default_factory=BudgetSettings, description=(
        "The cost governor's limits, checked before each of the session's model calls (for its run's tenant)."))
    prices: dict[str, Price] = Field(default_factory=dict, description="Price overrides, for the governor's holds.")

    def provider_keys(self) -> list[str]:
        """The session's own provider keys: scrubbed from logs and from anything a tool sends."""
        return [c.api_key.get_secret_value() for c in self.endpoints.values() if c.api_key]


def session_from_settings(settings: Settings, chain: tuple[ModelRef, ...], workspace: Path, approval: ApprovalPolicy,
                          approvals: Literal["live", "park"], *, verification: VerificationPolicy | None = None,
                          mcp_servers: Sequence[MCPServerSettings] = (), tools: tuple[str, ...] | None = None
                          ) -> SessionSpec:
    """A session in `workspace` as the settings make it (sandbox, security, compaction, and the MCP
    servers of aegis.toml, then `mcp_servers`); the CLI's and the HTTP API's sessions alike."""
    return SessionSpec(workspace=str(workspace), chain=chain, approval=approval, approvals=approvals,
                       sandbox_backend=settings.sandbox.backend, sandbox_image=settings.sandbox.image,
                       limits=settings.sandbox.limits, verification=verification, security=settings.security,
                       compaction=settings.compaction, mcp_servers=(*settings.mcp.servers, *mcp_servers), tools=tools)


def session_config(settings: Settings, spec: SessionSpec, configure: Callable[[ModelRef], EndpointConfig]
                   ) -> SessionConfig:
    """The `SessionConfig` of `spec`: each model's endpoint, the store, the Aegis home."""
    return SessionConfig(spec=spec, endpoints={m.name: configure(m) for m in spec.models},
                         database_url=settings.database_dsn, home=str(settings.home), budgets=settings.budgets,
                         prices=settings.prices)


def load_tool(path: str) -> Tool:
    module, _, attribute = path.partition(":")
    found = getattr(importlib.import_module(module), attribute)
    if not isinstance(found, Tool):
        raise TypeError(f"{path} is not a Tool")
    return found


class Session:
    def __init__(self, spec: SessionSpec, gateway: Gateway, *, secrets: Sequence[str] = ()) -> None:
        self.spec = spec
        self.gateway = gateway
        self.secrets = tuple(secrets)
        self.tools: tuple[Tool, ...] = (*BUILTIN_TOOLS, *LEDGER_TOOLS, *(load_tool(p) for p in spec.extra_tools))
        self.mcp: MountedServers | None = None

    async def open(self) -> list[str]:
        """Mount the session's MCP servers (once): one line for each, mounted or left out."""
        if self.mcp is not None:
            return []
        self.mcp = await mount_servers(self.spec.mcp_servers, _injection)
        return self.mcp.notices

    async def aclose(self) -> None:
        if self.mcp is not None:
            await self.mcp.aclose()

    def toolbox(self, approver: Approver | None) -> ToolBox:
        """The session's tools under the security layer (unless switched off): untrusted output
        quarantined, arguments checked against the capability policy and the egress gate, and the
        session's own provider keys scrubbed from anything a tool sends."""
        spec = self.spec
        mounted = self.mcp or MountedServers()
        tools = tuple(t for t in (*self.tools, *mounted.tools) if _offered(spec.tools, t.name))
        if not spec.security.enabled:
            return ToolRegistry(tools, policy=spec.approval, approver=approver)
        security = spec.security.model_copy(update={"untrusted_tools": [*spec.security.untrusted_tools,
                                                                        *mounted.untrusted]})
        return defended_toolbox(lambda _gate: tools, security=security, models=self.gateway,
                                reader=spec.chain[0], secrets=self.secrets, approval=spec.approval,
                                approver=approver, contained=CONTAINED_TOOLS)

    def loop(self, context: ToolContext, approver: Approver | None, on_step: StepListener | None = None,
             on_text: TextListener | None = None, node: str | None = None) -> AgentLoop:
        """A run's agent loop, ready to `run` (`on_text`: the model's text as it is written; `node`:
        where it runs, recorded on each step)."""
        policy = self.spec.verification
        verifier = execution_verifier(context, policy_verifier(policy, self.gateway) if policy else declared_checks)
        return _SessionLoop(self.gateway, self.toolbox(approver), context, on_step=on_step,
                            verifier=_latest_turn(verifier), stuck_repeats=self.spec.stuck_repeats,
                            compaction=self.spec.compaction, on_text=on_text, node=node)


CONTAINED_TOOLS = tuple(t.name for t in (*BUILTIN_TOOLS, *LEDGER_TOOLS))
"""The session's own tools, outside the intent plan's scope: files in its workspace, commands in its
sandbox (no network), its run's ledger. A coding agent writes, runs and rewrites many times; a plan
of one call each would send every iteration to a person. What the plan guards is what leaves the
sandbox: MCP tools, extra tools, anything with an outside effect."""


class _SessionLoop(AgentLoop):
    """A session's agent loop: each run first tells its defended toolbox which request it serves."""

    async def run(self, spec: RunSpec, state: RunState | None = None) -> RunState:
        state = state or RunState(spec=spec)
        if isinstance(self.tools, QuarantinedTools):
            self.tools.begin_request(*_request(state))
        return await super().run(spec, state)


def _request(state: RunState) -> tuple[str, int]:
    """The request a run now serves, and which of the conversation's messages it is (0: the task;
    then one per follow-up): what the intent plan is derived from, the message's text alone."""
    return current_message(state).spec.task, sum(step.state == USER_STEP for step in state.steps)


def _offered(patterns: tuple[str, ...] | None, name: str) -> bool:
    return patterns is None or any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def _injection(tool: Tool) -> str | None:
    """Why a mounted tool's description is refused: it reads as an injection (fail closed)."""
    found = detect(tool.description)
    if not found.flagged:
        return None
    rules = ", ".join(sorted({f.rule for f in found.findings})) or "smuggled characters"
    return f"reads as an injection ({rules})"


def _latest_turn(verifier: Verifier) -> Verifier:
    """`verifier` judging a conversation's latest answer by the steps since the user's latest message."""

    async def check(state: RunState, answer: str) -> Answer:
        return await verifier(current_message(state), answer)

    return check
