"""Multi-agent patterns with scripted simulated models (in-process): orchestrator-worker, evaluator-optimizer."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from aegis_ray.plan.patterns import evaluate_optimize, orchestrate, parse_critique
from aegis_ray.providers import Gateway
from aegis_ray.runner import answer_task
from aegis_ray.sim import ModelProfile, Rule, Script, SimConfig, Turn
from aegis_ray.sim.inprocess import InProcessSim
from aegis_ray.types import PlanStep, RunSpec
from tests.helpers import local_models

pytestmark = pytest.mark.unit

PLAN = {"goal": "capitals", "steps": [{"id": c.lower(), "task": f"What is the capital of {c}?"}
                                      for c in ("France", "Japan", "Egypt")]}
MODELS = {
    "sim-honest-planner": ModelProfile(script=Script(turns=[Turn(text=json.dumps(PLAN))])),
    "sim-honest-synth": ModelProfile(script=Script(rules=[
        Rule(contains="Paris", reply=Turn(text="France: Paris; Japan: Tokyo; Egypt: Cairo."))])),
    "sim-honest-writer": ModelProfile(script=Script(turns=[Turn(text="Draft one"), Turn(text="Draft two")])),
    "sim-honest-critic": ModelProfile(script=Script(rules=[
        Rule(contains="Draft one", reply=Turn(text='{"accept": false, "feedback": "say more"}')),
        Rule(contains="Draft two", reply=Turn(text='{"accept": true}'))])),
    "sim-honest-grump": ModelProfile(script=Script(rules=[
        Rule(contains="Draft", reply=Turn(text='{"accept": false, "feedback": "no"}'))])),
    "sim-honest*": ModelProfile(),
}


@pytest.fixture(scope="module")
def scripted() -> InProcessSim:
    return InProcessSim(SimConfig(models=MODELS))


@pytest.fixture
async def gateway(scripted: InProcessSim) -> AsyncIterator:
    cache = local_models(scripted)
    yield lambda model: Gateway(cache, [f"sim:{model}"])
    await cache.aclose()


async def test_orchestrator_worker_decomposes_fans_out_and_synthesises(gateway) -> None:
    workers = gateway("sim-honest")

    async def run_step(step: PlanStep, _: dict[str, str]) -> str:
        return (await answer_task(workers, RunSpec(task=step.task))).answer.text

    result = await orchestrate(gateway("sim-honest-planner"), gateway("sim-honest-synth"),
                               "Capitals of France, Japan and Egypt?", run_step, plan_id="p1")
    assert [s.id for s in result.plan.steps] == ["france", "japan", "egypt"]
    assert {k: v.output for k, v in result.outcome.steps.items()} == {
        "france": "Paris.", "japan": "Tokyo.", "egypt": "Cairo."}
    assert result.answer == "France: Paris; Japan: Tokyo; Egypt: Cairo."
    assert result.label.tainted and result.label.sources == {"agent:france", "agent:japan", "agent:egypt"}
    assert all(s.label.sources == {f"agent:{s.step_id}"} for s in result.outcome.steps.values())


async def test_evaluator_optimizer_refines_until_the_critic_accepts(gateway) -> None:
    result = await evaluate_optimize(gateway("sim-honest-writer"), gateway("sim-honest-critic"), "Write it")
    assert result.accepted and result.answer == "Draft two"
    assert [r.critique.accept for r in result.rounds] == [False, True]
    assert result.rounds[0].critique.feedback == "say more"


async def test_evaluator_optimizer_stops_at_its_budget(gateway) -> None:
    result = await evaluate_optimize(gateway("sim-honest-writer"), gateway("sim-honest-grump"), "Write it",
                                     max_rounds=2)
    assert not result.accepted and len(result.rounds) == 2


async def test_the_critic_is_never_the_author(gateway) -> None:
    with pytest.raises(ValueError, match="different model"):
        await evaluate_optimize(gateway("sim-honest-writer"), gateway("sim-honest-writer"), "Write it")


def test_unparseable_critiques_reject() -> None:
    assert not parse_critique("looks great to me!").accept
