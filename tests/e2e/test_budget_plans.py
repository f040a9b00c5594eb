"""The cost governor on plans and teams: `aegis orchestrate` (the planning call in the command, each
step's call in a Ray task elsewhere on the cluster, the synthesis), `aegis team` (each role's calls
and the judge's on their `RoleAgent` actors), the same over HTTP for the caller's tenant, and a plan
job of the eval `orchestrate` solver. The limits are set in the command's environment (or the Serve
app's settings) only: the tasks and actors get them from their driver. A refused call is never sent
(the simulator's request log), is audited (`budget.exhausted`), and a step refused fails at once,
not retried.

Where a limit must admit some calls and refuse the next, it is computed from what those calls hold
and use, measured first by making the same calls through the same engine functions (`make_plan`,
`answer_task`, `debate`) with a gate that records them: nothing here assumes a prompt's length."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from aegis_ray.agent_jobs import run_plan_job
from aegis_ray.config import BudgetSettings, Settings, SpendLimits
from aegis_ray.control.budget import BudgetExhaustedError, Governor
from aegis_ray.model_ref import ModelRef
from aegis_ray.plan import make_plan
from aegis_ray.plan.executor import step_prompt
from aegis_ray.plan.patterns import SynthesisedOrchestration
from aegis_ray.plan.team import debate, role
from aegis_ray.providers import Gateway
from aegis_ray.providers.endpoint import estimate_tokens
from aegis_ray.runner import answer_task
from aegis_ray.sim import SimServer
from aegis_ray.store import open_store
from aegis_ray.types import Completion, ModelRequest, Plan, RunSpec
from tests.helpers import aegis, budgeted_service, clean_env, sim_models, tenant_clients

pytestmark = pytest.mark.e2e

MODEL, JUDGE = "sim:sim-honest", "sim:sim-honest-judge"
# Two independent steps (the simulated planner makes one per fact asked), one asked in fewer words.
GOAL = "Who wrote Dune, and what is the capital of the U.S. state of Massachusetts?"
TASK = "What is the capital of Peru?"
BROKE, PLANNER, OTHER = "broke", "planner", "initech"  # tenants of no other test: spend lasts the day


class Recorder:
    """A gate that records each call's hold (its worst case in tokens, as `SpendGate.reserve` holds
    it: the request's estimated input and its `max_tokens`) and the tokens it really used."""

    def __init__(self) -> None:
        self.held: list[int] = []
        self.used: list[int] = []

    async def reserve(self, ref: ModelRef, request: ModelRequest) -> None:
        self.held.append(estimate_tokens(request))

    async def settle(self, hold: Any, completion: Completion | None) -> None:
        self.used.append(completion.usage.total_tokens if completion else 0)


async def measure_plan(sim: SimServer) -> tuple[Plan, Recorder]:
    """GOAL's plan, and the holds and use of its planning call, then of each step's call."""
    recorder, models = Recorder(), sim_models(sim)
    gateway = Gateway(models, [MODEL], gate=recorder)
    try:
        plan = await make_plan(gateway, GOAL)
        for step in plan.steps:
            await answer_task(gateway, RunSpec(task=step_prompt(step, {})))
    finally:
        await models.aclose()
    return plan, recorder


def steps_limit(sim: SimServer) -> tuple[int, str, str]:
    """A token limit that admits GOAL's planning call and its shorter step, but neither its longer
    step (whenever it comes) nor then the synthesis; the admitted step's id and the refused one's."""
    plan, calls = asyncio.run(measure_plan(sim))
    sim.reset()
    (planning, *steps), used = calls.held, calls.used[0]
    assert len(plan.steps) == 2 and steps[0] != steps[1], (plan, calls.held)
    short, long = sorted(range(2), key=lambda i: steps[i])
    limit = used + steps[short]  # the planning call's use, then room for the shorter step's hold alone
    assert planning <= limit  # the planning call's own hold fits
    return limit, plan.steps[short].id, plan.steps[long].id


def cli_env(cluster_address: str, sim: SimServer, home: Path, tokens_per_day: int) -> dict[str, str]:
    return clean_env(RAY_ADDRESS=cluster_address, AEGIS_HOME=str(home), AEGIS_SIM_URL=sim.base_url,
                     AEGIS_BUDGETS__ALL__TOKENS_PER_DAY=str(tokens_per_day))


def refusals(env: dict[str, str], cwd: Path) -> list[dict[str, Any]]:
    entries = json.loads(aegis("audit", "--json", env=env, cwd=cwd).stdout)["entries"]
    assert {e["action"] for e in entries} <= {"budget.exhausted"}, entries
    return entries


def test_orchestrate_past_the_budget_exits_6_and_sends_nothing(sim: SimServer, cluster_address: str,
                                                              tmp_path: Path) -> None:
    env = cli_env(cluster_address, sim, tmp_path / "home", 100)
    refused = aegis("orchestrate", GOAL, "-m", MODEL, env=env, cwd=tmp_path)
    assert refused.returncode == 6, refused.stderr
    assert "daily budget of all tenants together" in refused.stderr and "Traceback" not in refused.stderr
    assert sim.requests() == []  # not the planning call, nor any step's
    [entry] = refusals(env, tmp_path)
    assert entry["detail"]["scope"] == "*" and entry["detail"]["model"] == MODEL


def test_orchestrate_steps_past_the_budget_fail_unsent_and_unretried(sim: SimServer, cluster_address: str,
                                                                     tmp_path: Path) -> None:
    """The planning call fits, then one step's; the other step's is refused in its Ray task (the
    worker's node never saw the limit), fails at once (retries allow 2 more tries), and the
    outcome says so; the synthesis is refused too, after the outcome is printed (exit 6)."""
    limit, admitted, refused_step = steps_limit(sim)
    env = cli_env(cluster_address, sim, tmp_path / "home", limit)
    ran = aegis("orchestrate", GOAL, "-m", MODEL, "--retries", "2", "--json", env=env, cwd=tmp_path)
    assert ran.returncode == 6, ran.stderr
    assert "daily budget of all tenants together" in ran.stderr
    result = SynthesisedOrchestration.model_validate_json(ran.stdout)
    steps = result.outcome.steps
    assert steps[admitted].status == "done" and steps[admitted].output
    refused = steps[refused_step]
    assert refused.status == "failed" and refused.attempts == 1
    assert (refused.error or "").startswith("BudgetExhaustedError: the daily budget of all tenants together")
    assert result.synthesis is None
    assert len(sim.requests()) == 2  # the planning call and the admitted step's: nothing refused was sent
    assert len(refusals(env, tmp_path)) == 2  # the refused step's one try, and the synthesis


def test_team_past_the_budget_exits_6_and_sends_nothing(sim: SimServer, cluster_address: str,
                                                       tmp_path: Path) -> None:
    env = cli_env(cluster_address, sim, tmp_path / "home", 100)
    refused = aegis("team", TASK, "-m", MODEL, "--judge", JUDGE, "--roles", "proposer,skeptic", "--rounds", "1",
                    env=env, cwd=tmp_path)
    assert refused.returncode == 6, refused.stderr
    assert "daily budget of all tenants together" in refused.stderr and "Traceback" not in refused.stderr
    assert sim.requests() == []  # no role's turn
    entries = refusals(env, tmp_path)
    assert entries and all(e["detail"]["model"] == MODEL for e in entries)


def test_the_teams_judge_is_governed_too(sim: SimServer, cluster_address: str, tmp_path: Path) -> None:
    """A limit that admits the one role's turn, not the judge's after it: refused on the judge's agent."""
    recorder, models = Recorder(), sim_models(sim)

    async def measure() -> None:
        roles = Gateway(models, [MODEL], gate=recorder)
        try:
            await debate(TASK, [role("proposer")], lambda _, request: roles.complete(request),
                         Gateway(models, [JUDGE], gate=recorder), rounds=1)
        finally:
            await models.aclose()

    asyncio.run(measure())
    sim.reset()
    env = cli_env(cluster_address, sim, tmp_path / "home", recorder.held[0])
    refused = aegis("team", TASK, "-m", MODEL, "--judge", JUDGE, "--roles", "proposer", "--rounds", "1",
                    env=env, cwd=tmp_path)
    assert refused.returncode == 6, refused.stderr
    assert [r.model for r in sim.requests()] == [MODEL.removeprefix("sim:")]  # the role's turn only
    [entry] = refusals(env, tmp_path)
    assert entry["detail"]["model"] == JUDGE


async def test_a_plan_job_of_the_orchestrate_solver_refuses_a_step_once(sim: SimServer, tmp_path: Path) -> None:
    """The eval solver's plan job runs its steps through the gateway the factory worker gated for the
    job's tenant (here as the worker gates it: `Governor.gate`): a step refused is tried once, and
    the synthesis past the limit fails the job."""
    limit, _, _ = await asyncio.to_thread(steps_limit, sim)
    governor = Governor(database_url=None, home=str(tmp_path),
                        budgets=BudgetSettings(tenants={PLANNER: SpendLimits(tokens_per_day=limit)}))
    store, models = await open_store(None, tmp_path), sim_models(sim)
    try:
        gateway = Gateway(models, [MODEL]).gated(governor.gate(store, PLANNER))
        with pytest.raises(BudgetExhaustedError, match=f"budget of tenant {PLANNER}"):
            await run_plan_job(RunSpec(task=GOAL, tenant=PLANNER), gateway, "plan-job")
        assert len(sim.requests()) == 2  # the planning call and the admitted step's
        entries = [e for e in await store.audit_entries(tenant=PLANNER) if e.action == "budget.exhausted"]
        assert len(entries) == 2  # the refused step's one try (of 2 allowed), and the synthesis
    finally:
        await models.aclose()
        await store.close()


# --- over HTTP, for the caller's tenant --------------------------------------------------------


@pytest.fixture(scope="module")
def budgeted(service: tuple[str, Settings], sim_server: SimServer) -> Iterator[tuple[str, Settings]]:
    """The session's Serve app redeployed with per-tenant limits (restored after the module): BROKE
    can afford no call; PLANNER GOAL's planning call and one of its steps."""
    limit, _, _ = steps_limit(sim_server)
    limits = {BROKE: SpendLimits(tokens_per_day=100), PLANNER: SpendLimits(tokens_per_day=limit)}
    with budgeted_service(service, limits) as limited:
        yield limited


@pytest.fixture(scope="module")
def clients(budgeted: tuple[str, Settings]) -> Iterator[dict[str, httpx.Client]]:
    with tenant_clients(*budgeted, (BROKE, PLANNER, OTHER), timeout_s=180) as made:
        yield made


def assert_refused(response: httpx.Response, tenant: str) -> None:
    body = response.json()
    assert response.status_code == 402, response.text
    assert body["error"] == "BudgetExhaustedError" and f"budget of tenant {tenant}" in body["detail"]


def tenant_refusals(clients: dict[str, httpx.Client], tenant: str) -> list[dict[str, Any]]:
    entries = clients["admin"].get("/api/audit", params={"limit": 1000}).json()["entries"]
    return [e for e in entries if e["action"] == "budget.exhausted" and e["tenant"] == tenant]


def test_api_plans_and_teams_past_the_tenants_limit_are_402_and_never_sent(
        clients: dict[str, httpx.Client], sim: SimServer) -> None:
    broke = clients[BROKE]
    assert_refused(broke.post("/api/orchestrate", json={"goal": GOAL, "model": MODEL}), BROKE)
    assert_refused(broke.post("/api/team", json={"task": TASK, "model": MODEL, "judge": JUDGE,
                                                 "roles": ["proposer", "skeptic"], "rounds": 1}), BROKE)
    assert sim.requests() == []
    assert {e["detail"]["scope"] for e in tenant_refusals(clients, BROKE)} == {BROKE}

    other = clients[OTHER]  # another tenant's plans and teams go on
    planned = other.post("/api/orchestrate", json={"goal": GOAL, "model": MODEL})
    assert planned.status_code == 200 and planned.json()["synthesis"] is not None, planned.text
    team = other.post("/api/team", json={"task": TASK, "model": MODEL, "judge": JUDGE, "roles": ["proposer"],
                                         "rounds": 1})
    assert team.status_code == 200 and "Lima" in team.json()["answer"], team.text
    assert not tenant_refusals(clients, OTHER)


def test_api_plan_steps_count_against_the_callers_tenant(clients: dict[str, httpx.Client], sim: SimServer) -> None:
    """PLANNER's planning call fits, then one step's (a Ray task: the tenant travels with it); the
    other step's is refused as PLANNER's, once, and the synthesis after it (402)."""
    assert_refused(clients[PLANNER].post("/api/orchestrate", json={"goal": GOAL, "model": MODEL}), PLANNER)
    assert len(sim.requests()) == 2  # the planning call and the admitted step's
    assert len(tenant_refusals(clients, PLANNER)) == 2  # the refused step's one try, and the synthesis
