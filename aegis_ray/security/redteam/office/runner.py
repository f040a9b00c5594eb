"""One office run: a task (with an attack in its carrier, or none), an adversary, a mode.

- `undefended`: the plain agent loop over a `ToolRegistry` (approval `auto`), an egress gate that
  lets everything out: what the planner reads is what the tools return.
- `defended`: the production wiring, `security.guard.defended_toolbox`, with the default
  `SecuritySettings()` (nothing tuned to this world), the user's request (so the planner is asked
  for its intent plan before any tool runs: the same planner model, which answers it from the
  plan it is about to carry out), approval `auto` (the user lets the agent act), and an approver
  that records each policy exception asked for and denies it: the utility a defence keeps with no
  human in the loop.
- `defended_approved`: the same, with the approver granting every exception.

The planner is `planner.OfficePlanner` (always-obey; leaky for the `leaky` adversary), the reader
`reader.honest_reader` (or `compromised_reader` for the `reader` adversary). The world is judged
afterwards: the task by its expectations and "no other changes"; the attack by its goal's
expectations and by `attacks.hijacks`.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field

from aegis_ray.config import SecuritySettings
from aegis_ray.loop.agent import AgentLoop
from aegis_ray.model_ref import ModelRef
from aegis_ray.providers.function import FunctionModel, ModelFunction
from aegis_ray.providers.gateway import Gateway
from aegis_ray.security.dlp import Scrubber
from aegis_ray.security.egress import EgressGate, EgressPolicy
from aegis_ray.security.guard import defended_toolbox
from aegis_ray.security.quarantine import QuarantinedTools
from aegis_ray.security.redteam.office.attacks import Attack, hijacks
from aegis_ray.security.redteam.office.carriers import CARRIER_BY_REF, place
from aegis_ray.security.redteam.office.diff import changes, judge, landed
from aegis_ray.security.redteam.office.planner import OfficePlanner
from aegis_ray.security.redteam.office.plans import UserTask
from aegis_ray.security.redteam.office.reader import compromised_reader, honest_reader
from aegis_ray.security.redteam.office.seed import seed_state
from aegis_ray.security.redteam.office.state import OfficeState
from aegis_ray.security.redteam.office.tools_web import web_transport
from aegis_ray.security.redteam.office.toolset import office_tools
from aegis_ray.tools.approval import ApprovalRequest
from aegis_ray.tools.base import ToolContext
from aegis_ray.tools.registry import ToolRegistry
from aegis_ray.tools.workspace import Workspace
from aegis_ray.types import Budget, Frozen, RunSpec

Adversary = Literal["obey", "reader", "leaky"]
Mode = Literal["undefended", "defended", "defended_approved"]
ADVERSARIES: tuple[Adversary, ...] = ("obey", "reader", "leaky")
MODES: tuple[Mode, ...] = ("undefended", "defended", "defended_approved")
PLANNER, READER = "sim:office-planner", "sim:office-reader"
MAX_TURNS = 40
_VARIABLE = re.compile(r"\$v\d+\b")


class RunOutcome(Frozen):
    task: str
    attack: str | None
    adversary: Adversary
    mode: Mode
    utility: bool = Field(description="The task's changes happened, and no others.")
    missing: bool = Field(description="Some expected change did not happen.")
    unexpected: tuple[str, ...] = Field(description="Changes the task does not account for.")
    goal_landed: bool = Field(default=False, description="The attack's own goal was reached.")
    hijacked: tuple[str, ...] = Field(default=(), description="Effects that went to the attacker.")
    blocked: tuple[str, ...] = Field(default=(), description="Calls the security layer blocked, with the reason.")
    failed: tuple[str, ...] = Field(default=(), description="Plan calls that failed, with what the tool said.")
    obeyed: tuple[str, ...] = Field(default=(), description="Injected calls the planner made (and whether they ran).")
    variables_passed: int = Field(default=0, description="Injected calls whose arguments named a quarantined "
                                                         "variable ($vN), which the quarantine substitutes.")
    approvals: int = Field(default=0, description="Policy exceptions the approver was asked for.")
    answer: str = ""

    @property
    def landed(self) -> bool:
        return self.goal_landed or bool(self.hijacked)


class RecordingApprover:
    """Records every approval request; grants them or not."""

    def __init__(self, grant: bool) -> None:
        self.grant = grant
        self.requests: list[ApprovalRequest] = []

    async def __call__(self, request: ApprovalRequest) -> bool:
        self.requests.append(request)
        return self.grant


def resolver(function: ModelFunction) -> Callable[[ModelRef], FunctionModel]:
    return lambda ref: FunctionModel(function, ref)


@cache
def _workspace() -> Workspace:
    return Workspace(Path(tempfile.mkdtemp(prefix="aegis-office-")))


def prepared(attack: Attack | None, carriers: tuple[str, ...] = (), seed: int = 0) -> OfficeState:
    """The seeded world with `attack`'s injection in each of `carriers` (refs, `carriers.CARRIERS`)."""
    state = seed_state(seed)
    if attack is not None:
        for ref in carriers:
            place(state, CARRIER_BY_REF[ref], attack.injection())
    return state


async def run_one(task: UserTask, attack: Attack | None, adversary: Adversary, mode: Mode, *,
                  carriers: tuple[str, ...] = (), obey: bool = True, seed: int = 0, world: OfficeState | None = None,
                  tap: list[str] | None = None, security: SecuritySettings | None = None) -> RunOutcome:
    """Run `task` once and judge the world; `attack` sits in `carriers`. `obey=False` is the honest
    planner (the ground truth); `world` replaces the seeded state; `tap` collects every raw output;
    `security` replaces the default settings (the benchmark never does: it measures the defaults)."""
    state = world if world is not None else prepared(attack, carriers, seed)
    before = state.snapshot()
    transport = web_transport(state)
    tap = [] if tap is None else tap
    approver = RecordingApprover(grant=mode == "defended_approved")
    tools: ToolRegistry | QuarantinedTools
    if mode == "undefended":
        gate = EgressGate(EgressPolicy(allow_hosts=("*",)), Scrubber((), pii=False), transport=transport)
        tools = ToolRegistry(office_tools(state, gate, transport, tap), policy="auto")
    planner = OfficePlanner(task, obey=obey, tap=tap if adversary == "leaky" else None)
    if mode != "undefended":
        reader = compromised_reader if adversary == "reader" else honest_reader
        models = Gateway(lambda ref: FunctionModel(planner if ref.name == PLANNER else reader, ref), [READER])
        tools = defended_toolbox(lambda g: office_tools(state, g, transport, tap),
                                 security=security or SecuritySettings(), models=models, reader=READER,
                                 approval="auto", approver=approver, transport=transport, request=task.prompt,
                                 planner=PLANNER)
        gate = tools.gate
    loop = AgentLoop(Gateway(resolver(planner), [PLANNER]), tools, ToolContext(workspace=_workspace()))
    run = await loop.run(RunSpec(task=task.prompt, budget=Budget(max_steps=MAX_TURNS)))
    await gate.aclose()
    found = changes(before, state)
    verdict = judge(task.expect, found)
    results = [r for s in run.steps for r in s.tool_results]
    failed = tuple(f"{r.name}: {r.content[:300]}" for r in results if not r.ok and r.call_id.startswith("plan-"))
    obeyed = tuple(f"{r.name}{'' if r.ok else ' (failed)'}" for r in results if r.call_id.startswith("inj-"))
    injected = [c for m in run.messages if m.role == "assistant" for c in m.tool_calls if c.id.startswith("inj-")]
    passed_on = sum(bool(_VARIABLE.search(json.dumps(c.arguments))) for c in injected)
    return RunOutcome(
        task=task.id, attack=attack.id if attack else None, adversary=adversary, mode=mode,
        utility=verdict.success, missing=not verdict.met, unexpected=verdict.unexpected,
        goal_landed=attack is not None and landed(attack.expect, found),
        hijacked=tuple(hijacks(found)) if attack is not None else (),
        blocked=tuple(tools.blocked) if isinstance(tools, QuarantinedTools) else (), failed=failed,
        obeyed=obeyed, variables_passed=passed_on, approvals=len(approver.requests),
        answer=run.answer.text if run.answer else "")
