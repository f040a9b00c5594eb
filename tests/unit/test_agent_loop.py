"""The agent loop end to end: scripted simulated models (in-process), real tools, the real bubblewrap sandbox."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aegis_ray.loop import AgentLoop, LoopState
from aegis_ray.loop.states import TRANSITIONS
from aegis_ray.providers import EndpointCache, Gateway
from aegis_ray.sandbox import make_sandbox
from aegis_ray.sim import ModelProfile, Rule, Script, SimConfig, Turn
from aegis_ray.sim.inprocess import InProcessSim
from aegis_ray.tools import BUILTIN_TOOLS, ApprovalRequest, ToolContext, ToolRegistry, Workspace
from aegis_ray.types import Budget, ContainsCheck, RunSpec, RunStatus, Step
from tests.helpers import local_models

pytestmark = pytest.mark.unit

FIB_PY = "a, b = 0, 1\nfor _ in range(20):\n    a, b = b, a + b\nprint(a)\n"


def call(name: str, **arguments: object) -> dict:
    return {"name": name, "arguments": arguments}


SCRIPTS = {
    "fib": Script(turns=[Turn(tool_calls=[call("write_file", path="fib.py", content=FIB_PY)]),
                         Turn(tool_calls=[call("run_command", command="python3 fib.py")]),
                         Turn(text="The 20th Fibonacci number is 6765.")]),
    "forever": Script(turns=[Turn(tool_calls=[call("write_file", path=f"f{i}.txt", content=str(i))])
                             for i in range(50)]),
    "circles": Script(rules=[Rule(role="tool", reply=Turn(tool_calls=[call("list_dir", path=".")]))],
                      turns=[Turn(tool_calls=[call("list_dir", path=".")])]),
    "toucher": Script(rules=[Rule(role="tool", reply=Turn(text="done"))],
                      turns=[Turn(tool_calls=[call("run_command", command="touch marker")])]),
    "parallel": Script(rules=[Rule(role="tool", reply=Turn(text="both slept"))],
                       turns=[Turn(tool_calls=[call("run_command", command="sleep 1"),
                                               call("run_command", command="sleep 1")])]),
    "wrong": Script(turns=[Turn(text="The answer is 42.")]),
}


@pytest.fixture(scope="module")
def scripted() -> InProcessSim:
    # Priced names (the sim-honest prices), except "unpriced", whose cost is unknown.
    config = SimConfig(models={f"sim-honest-{name}": ModelProfile(script=s) for name, s in SCRIPTS.items()}
                       | {"unpriced": ModelProfile(script=SCRIPTS["wrong"]), "sim-honest*": ModelProfile()})
    return InProcessSim(config)


@pytest.fixture
async def make_loop(scripted: InProcessSim, tmp_path: Path) -> AsyncIterator:
    caches: list[EndpointCache] = []

    def make(model: str, *, policy: str = "auto", approver=None, steps: list[Step] | None = None) -> AgentLoop:
        cache = local_models(scripted)
        caches.append(cache)
        registry = ToolRegistry(BUILTIN_TOOLS, policy=policy, approver=approver)
        context = ToolContext(workspace=Workspace(tmp_path / "ws"), sandbox=make_sandbox("bubblewrap"))

        async def record(step: Step, _: object) -> None:
            if steps is not None:
                steps.append(step)

        name = model if model in ("unpriced", "sim-honest") else f"sim-honest-{model}"
        return AgentLoop(Gateway(cache, [f"sim:{name}"]), registry, context, on_step=record)

    yield make
    for cache in caches:
        await cache.aclose()


async def test_scripted_session_computes_fibonacci_in_the_sandbox(make_loop, tmp_path: Path) -> None:
    live: list[Step] = []
    loop = make_loop("fib", steps=live)
    state = await loop.run(RunSpec(task="Compute the 20th Fibonacci number", checks=(ContainsCheck(text="6765"),)))
    assert state.status is RunStatus.SUCCEEDED
    assert "6765" in state.answer.text
    assert (tmp_path / "ws" / "fib.py").read_text() == FIB_PY
    assert [s.state for s in state.steps] == [
        "plan", "act", "observe", "reflect", "act", "observe", "reflect", "act", "verify", "stop"]
    run = next(r for s in state.steps for r in s.tool_results if r.name == "run_command")
    assert run.ok and "6765" in run.content
    assert live == state.steps  # every step was reported as it happened
    assert state.usage.total_tokens > 0 and state.cost_usd > 0


def test_every_recorded_transition_is_legal() -> None:
    for source, targets in TRANSITIONS.items():
        assert source not in targets or source is LoopState.OBSERVE
    assert LoopState.STOP not in TRANSITIONS  # terminal states have no way out


@pytest.mark.parametrize(("budget", "reason"), [
    (Budget(max_usd=1e-9), "USD budget spent"),
    (Budget(max_tokens=20), "token budget spent"),
    (Budget(max_steps=2), "step budget spent"),
])
async def test_budgets_stop_the_run(make_loop, budget: Budget, reason: str) -> None:
    state = await make_loop("forever").run(RunSpec(task="keep writing", budget=budget))
    assert state.status is RunStatus.BUDGET_EXCEEDED
    assert reason in state.answer.reason
    assert state.turns <= (budget.max_steps if budget.max_steps < 20 else 1)


async def test_a_usd_budget_on_an_unpriced_model_fails_closed(make_loop) -> None:
    state = await make_loop("unpriced").run(RunSpec(task="hi", budget=Budget(max_usd=10.0)))
    assert state.status is RunStatus.BUDGET_EXCEEDED
    assert "no price is known for sim:unpriced" in state.answer.reason


async def test_a_model_going_round_in_circles_is_stuck(make_loop) -> None:
    state = await make_loop("circles").run(RunSpec(task="look around"))
    assert state.status is RunStatus.STUCK
    assert "list_dir was called 3 times" in state.answer.reason
    assert state.turns == 3


async def test_denied_command_is_not_run_and_the_model_sees_why(make_loop, tmp_path: Path) -> None:
    asked: list[ApprovalRequest] = []

    async def deny(request: ApprovalRequest) -> bool:
        asked.append(request)
        return False

    state = await make_loop("toucher", policy="ask", approver=deny).run(RunSpec(task="touch a file"))
    assert [r.tool for r in asked] == ["run_command"]
    assert not (tmp_path / "ws" / "marker").exists()
    denial = next(m for m in state.messages if m.role == "tool")
    assert "was not run: denied by the approver" in denial.content


async def test_auto_policy_runs_the_command(make_loop, tmp_path: Path) -> None:
    state = await make_loop("toucher", policy="auto").run(RunSpec(task="touch a file"))
    assert state.status is RunStatus.SUCCEEDED
    assert (tmp_path / "ws" / "marker").exists()


async def test_ask_without_an_approver_fails_closed(make_loop, tmp_path: Path) -> None:
    await make_loop("toucher", policy="ask").run(RunSpec(task="touch a file"))
    assert not (tmp_path / "ws" / "marker").exists()


async def test_tool_calls_of_one_turn_run_in_parallel(make_loop) -> None:
    started = time.perf_counter()
    state = await make_loop("parallel").run(RunSpec(task="sleep twice"))
    assert state.status is RunStatus.SUCCEEDED
    assert time.perf_counter() - started < 1.8  # two 1 s sleeps, overlapped


async def test_forced_tool_use_on_the_first_turn(make_loop) -> None:
    state = await make_loop("sim-honest").run(RunSpec(task="What is in here?", require_tool="list_dir",
                                                      budget=Budget(max_steps=2)))
    first = next(s for s in state.steps if s.state == "act")
    assert [c.name for c in first.completion.tool_calls] == ["list_dir"]


async def test_an_answer_failing_its_declared_checks_abstains(make_loop) -> None:
    state = await make_loop("wrong").run(RunSpec(task="fib(20)?", checks=(ContainsCheck(text="6765"),)))
    assert state.status is RunStatus.ABSTAINED
    assert state.answer.abstained and state.answer.text == ""
    assert "lacks '6765'" in state.answer.reason
