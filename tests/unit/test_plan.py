"""DAG plans: validation, waves, concurrent execution, blocked dependents, retries, checks, resume."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from aegis_ray.errors import ProviderServerError
from aegis_ray.plan import PlanError, execute_plan, parse_plan, validate, waves
from aegis_ray.store import open_store
from aegis_ray.types import ContainsCheck, Plan, PlanStep

pytestmark = pytest.mark.unit


def plan(*steps: tuple[str, tuple[str, ...]]) -> Plan:
    return Plan(goal="g", steps=tuple(PlanStep(id=i, task=f"do {i}", depends_on=d) for i, d in steps))


THREE_WAVES = plan(("a", ()), ("b", ()), ("c", ()), ("d", ("a", "b")), ("e", ("c",)), ("f", ("d", "e")))


@pytest.mark.parametrize(("bad", "message"), [
    (plan(("a", ("b",)), ("b", ("c",)), ("c", ("a",))), "cycle: a → b → c → a"),
    (plan(("a", ("a",))), "cycle: a → a"),
    (plan(("a", ("ghost",))), "step 'a' depends on unknown step(s): ghost"),
    (plan(("a", ()), ("a", ())), "duplicate step ids: a"),
])
def test_invalid_plans_are_rejected_clearly(bad: Plan, message: str) -> None:
    with pytest.raises(PlanError) as caught:
        validate(bad)
    assert message in caught.value.message and caught.value.exit_code == 2


def test_waves() -> None:
    assert waves(THREE_WAVES) == [["a", "b", "c"], ["d", "e"], ["f"]]


def test_model_plans_are_parsed_and_validated() -> None:
    text = 'Here: {"goal": "x", "steps": [{"id": "a", "task": "t"}, {"id": "b", "task": "u", "depends_on": ["a"]}]}'
    assert [s.id for s in parse_plan(text).steps] == ["a", "b"]
    with pytest.raises(PlanError, match="not valid JSON"):
        parse_plan("no plan here")
    with pytest.raises(PlanError, match="cycle"):
        parse_plan('{"goal": "x", "steps": [{"id": "a", "task": "t", "depends_on": ["a"]}]}')


async def test_ready_steps_run_concurrently() -> None:
    async def slow(step: PlanStep, inputs: dict[str, str]) -> str:
        await asyncio.sleep(0.2)
        return f"{step.id}({','.join(sorted(inputs))})"

    started = time.monotonic()
    outcome = await execute_plan(THREE_WAVES, slow, plan_id="p")
    assert outcome.succeeded and time.monotonic() - started < 0.9  # 3 waves of 0.2 s, not 6 steps of 0.2 s
    s = outcome.steps
    assert s["f"].output == "f(d,e)" and s["d"].output == "d(a,b)"
    # An output carries the taint of everything it was built from: f saw d and e, which saw a, b and c.
    assert s["f"].label.tainted and s["f"].label.sources == {f"agent:{i}" for i in "abcdef"}
    assert s["d"].label.sources == {"agent:a", "agent:b", "agent:d"}
    first_wave = [s[i] for i in "abc"]
    assert max(o.started for o in first_wave) < min(o.finished for o in first_wave)  # they overlapped


async def test_a_failed_step_blocks_exactly_its_dependents() -> None:
    async def fail_c(step: PlanStep, _: dict[str, str]) -> str:
        if step.id == "c":
            raise ProviderServerError("down", model="m", status=503)
        return step.id

    outcome = await execute_plan(THREE_WAVES, fail_c, plan_id="p", retries=2)
    status = {k: v.status for k, v in outcome.steps.items()}
    assert status == {"a": "done", "b": "done", "c": "failed", "d": "done", "e": "blocked", "f": "blocked"}
    assert outcome.steps["c"].attempts == 3 and "ProviderServerError" in outcome.steps["c"].error


async def test_retries_and_per_step_checks() -> None:
    calls: dict[str, int] = {}

    async def flaky(step: PlanStep, _: dict[str, str]) -> str:
        calls[step.id] = calls.get(step.id, 0) + 1
        return "42" if calls[step.id] > 1 else "no idea"

    checked = Plan(goal="g", steps=(PlanStep(id="q", task="answer", checks=(ContainsCheck(text="42"),)),))
    outcome = await execute_plan(checked, flaky, plan_id="p", retries=1)
    assert outcome.steps["q"].status == "done" and outcome.steps["q"].attempts == 2


async def test_a_plan_resumes_without_redoing_finished_steps(tmp_path: Path) -> None:
    store = await open_store(None, tmp_path)
    ran: list[str] = []
    broken = {"e"}

    async def run(step: PlanStep, _: dict[str, str]) -> str:
        ran.append(step.id)
        if step.id in broken:
            raise ProviderServerError("down", model="m", status=500)
        return step.id

    first = await execute_plan(THREE_WAVES, run, plan_id="plan-1", retries=0, store=store)
    assert not first.succeeded
    ran.clear()
    broken.clear()
    second = await execute_plan(THREE_WAVES, run, plan_id="plan-1", retries=0, store=store)
    await store.close()
    assert second.succeeded and sorted(ran) == ["e", "f"]  # a, b, c, d were already done
    assert second.steps["a"].resumed and not second.steps["e"].resumed


async def test_the_kill_switch_halts_a_plan_before_its_next_step_and_it_resumes_after(tmp_path: Path) -> None:
    from aegis_ray.control import KillSwitch, StoppedError, SwitchState, set_switch

    store = await open_store(None, tmp_path)
    switch = KillSwitch(store, max_age_s=0)
    ran: list[str] = []

    async def run(step: PlanStep, _: dict[str, str]) -> str:
        ran.append(step.id)
        if step.id == "b":  # the operator stops everything while the first wave runs
            await set_switch(store, SwitchState.STOPPED)
        else:
            await asyncio.sleep(0.05)
        return step.id

    halt = lambda: switch.check("the plan's next step")  # noqa: E731
    with pytest.raises(StoppedError, match="kill switch"):
        await execute_plan(THREE_WAVES, run, plan_id="plan-k", retries=0, store=store, halt=halt)
    assert "b" in ran and not {"d", "e", "f"} & set(ran)  # no step started after the flip
    await set_switch(store, SwitchState.RUNNING)
    first, ran[:] = list(ran), []
    resumed = await execute_plan(THREE_WAVES, run, plan_id="plan-k", retries=0, store=store, halt=halt)
    await store.close()
    assert resumed.succeeded and resumed.steps["b"].resumed and "b" not in ran  # b finished: not redone
    assert {"d", "e", "f"} <= set(ran) and len(ran) == len(set(ran)) and set(first) | set(ran) == set("abcdef")
