"""Multi-agent patterns with simulated models (in-process, personas and scripts): orchestrator-worker and its
synthesis, evaluator-optimizer with its acceptance gates, and a team debate decided by a judge."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from aegis_ray.errors import BadInputError, ProviderServerError
from aegis_ray.plan.executor import execute_plan
from aegis_ray.plan.gates import all_of, checks_gate, critic_gate, verification_gate
from aegis_ray.plan.patterns import evaluate_optimize, optimize, orchestrate, parse_critique, synthesise
from aegis_ray.plan.team import DEFAULT_ROLES, Role, debate, role
from aegis_ray.providers import Gateway
from aegis_ray.runner import answer_task
from aegis_ray.security.taint import join_all
from aegis_ray.sim import ModelProfile, Rule, Script, SimConfig, Turn
from aegis_ray.sim.facts import fact_table
from aegis_ray.sim.inprocess import InProcessSim
from aegis_ray.types import Completion, Message, ModelRequest, Plan, PlanStep, RegexCheck, RunSpec
from aegis_ray.verify import ClaimsLayer, VerificationPolicy
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


async def test_the_synthesis_carries_the_join_of_the_labels_of_the_results_it_used(gateway) -> None:
    plan = Plan(goal="capitals", steps=(PlanStep(id="a", task="What is the capital of France?"),
                                        PlanStep(id="b", task="What is the capital of Japan?"),
                                        PlanStep(id="both", task="Name both capitals.", depends_on=("a", "b")),
                                        PlanStep(id="lost", task="What is the capital of Atlantis?")))

    async def run_step(step: PlanStep, inputs: dict[str, str]) -> str:
        if step.id == "lost":
            raise ProviderServerError("the worker fell over", model="sim:sim-honest", status=500)
        return " and ".join(inputs.values()) or {"a": "Paris.", "b": "Tokyo."}[step.id]

    outcome = await execute_plan(plan, run_step, plan_id="p-labels", retries=0)
    assert outcome.steps["both"].label.sources == {"agent:both", "agent:a", "agent:b"}
    synthesis = await synthesise(gateway("sim-honest-synth"), "capitals", outcome)
    assert synthesis.used == ("a", "b", "both") and synthesis.missing == ("lost",)
    assert synthesis.label == join_all(outcome.steps[s].label for s in ("a", "b", "both"))
    assert synthesis.label.tainted and "agent:lost" not in synthesis.label.sources


CAPITALS = ("France", "Japan", "Kenya", "Peru", "Chile", "Egypt", "Canada", "Italy")


async def test_supervise_a_hallucinating_worker_is_corrected_by_an_honest_critic(local_sim: InProcessSim) -> None:
    cache = local_models(local_sim)
    worker, critic = Gateway(cache, ["sim:sim-hallucinating"]), Gateway(cache, ["sim:sim-honest-critic"])
    policy = VerificationPolicy(layers=(ClaimsLayer(mode="detect"),), judge="sim:sim-honest-critic",
                                voters=("sim:sim-honest-critic",))
    gate = all_of([checks_gate([RegexCheck(pattern=r"\w")]), verification_gate(policy, critic)])
    corrected = 0
    try:
        for country in CAPITALS:
            question = f"What is the capital of {country}?"
            result = await optimize(worker, gate, question, max_rounds=4)
            truth = fact_table().lookup(question).answer
            first = result.rounds[0]
            assert result.accepted == (truth in result.answer)  # the honest critic accepts the truth alone
            assert first.author == "sim:sim-hallucinating"
            if not first.critique.accept and result.accepted:
                corrected += 1
                assert truth not in first.draft and "refuted" in first.critique.feedback
    finally:
        await cache.aclose()
    assert corrected >= 1


async def test_gates_checks_first_and_an_unparseable_critic_rejects(gateway) -> None:
    draft = Completion(model="sim:sim-honest-writer", response_model="w", text="Draft one")
    assert not (await checks_gate([RegexCheck(pattern="^Final")])("Write it", draft)).accept
    assert (await critic_gate(gateway("sim-honest-critic"))("Write it", draft)).feedback == "say more"
    assert not (await critic_gate(gateway("sim-honest"))("Write it", draft)).accept  # not JSON: fail closed


async def test_a_team_of_liars_is_decided_by_an_honest_judge_the_board_spotlighted(local_sim: InProcessSim) -> None:
    cache = local_models(local_sim)
    seen: list[ModelRequest] = []

    async def run_role(agent: Role, request: ModelRequest) -> Completion:
        seen.append(request)
        return await Gateway(cache, [f"sim:sim-consistent-liar-{agent.name}"]).complete(request)

    try:
        liar = Gateway(cache, ["sim:sim-consistent-liar-proposer"])
        questions = [f"What is the capital of {c}?" for c in (*CAPITALS, "Spain", "Brazil", "Germany", "India")]
        wrong = [q for q in questions if fact_table().lookup(q).answer not in (await liar.complete(
            ModelRequest(messages=(Message.user(q),)))).text]
        question = wrong[0]  # every role lies about it, the same way
        result = await debate(question, [role(n) for n in DEFAULT_ROLES], run_role,
                              Gateway(cache, ["sim:sim-honest-judge"]), rounds=2)
    finally:
        await cache.aclose()
    assert fact_table().lookup(question).answer in result.answer and result.judge == "sim:sim-honest-judge"
    assert [(c.role, c.round) for c in result.board] == [(n, r) for r in (1, 2) for n in DEFAULT_ROLES]
    assert result.label.tainted and result.label.sources == {f"agent:{n}/r{r}" for n in DEFAULT_ROLES for r in (1, 2)}
    second = result.board[len(DEFAULT_ROLES)]
    assert second.label.sources >= {f"agent:{n}/r1" for n in DEFAULT_ROLES}  # it read the first round
    later = seen[-1].messages[-1].content
    assert later.startswith(question) and "<<" in later and "[proposer, round 1]" in later
    with pytest.raises(BadInputError, match="bad role name"):
        role("Not A Role!")
