"""`Orchestrator`: runs a plan across the cluster, each ready step a Ray task answered on leases from
the shared `ProviderActor`s, with the plan's progress durable in the store.

Steps are placed on purpose (`actors.placement`): the work nodes in turn, so a plan's parallel
steps run on different nodes, and each step's outcome records the node it ran on. A step whose node
dies while it runs is run again by Ray on another node (`max_retries`, system failures only: a step
that failed by itself is the executor's to retry); the steps already finished are not, since each
is recorded in the store as it finishes. The `Orchestrator` stays on its driver's node; if its process
dies, `orchestrate` runs the plan again on the restarted actor, which skips every finished step.

Budgets: the driver hands the `Orchestrator` its `Governor` (`Governor.of(settings)`; None: no limit
is configured) and each run the tenant it is for; every step's task gets both, opens the store every
process shares and gates its call with them (`Governor.gate`), as the driver's own calls (the
planning, the synthesis) are gated with its store. No step loads settings of its node. A refused
call raises `BudgetExhaustedError` in the step, is audited and never sent; the step fails with it
(not retried, by the executor or by Ray: it is no lost node), and the plan's outcome says so.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import ray
from ray.exceptions import RayActorError, RayError, RayTaskError

from actors.placement import NodeRing, claim_endpoints, on_node, this_node
from actors.registry import ClusterModels
from aegis_ray.control.budget import Governor
from aegis_ray.control.switch import KillSwitch
from aegis_ray.errors import AegisError
from aegis_ray.model_ref import ModelRef
from aegis_ray.plan import Orchestration, PlanOutcome, StepResult, execute_plan, make_plan
from aegis_ray.plan.executor import step_prompt
from aegis_ray.providers import EndpointConfig, Gateway
from aegis_ray.runner import answer_task
from aegis_ray.store import open_store
from aegis_ray.telemetry import flush_telemetry
from aegis_ray.tracing import TraceCarrier, inject, remote_span
from aegis_ray.types import Plan, PlanStep, RunSpec, new_id

NODE_LOSS_RETRIES = 3
"""How often Ray runs a step again when the node (or worker process) running it dies."""
ORCHESTRATOR_RESTARTS = 3


class StepLostError(AegisError):
    """A step's worker or node died more often than Ray retries it."""


async def answer_step(step: PlanStep, inputs: dict[str, str], endpoints: dict[str, EndpointConfig],
                      chain: tuple[ModelRef, ...], governor: Governor | None = None, tenant: str | None = None) -> str:
    """The step's one model call, within `governor`'s limits for `tenant` (None: no limit)."""
    store = await open_store(governor.database_url, Path(governor.home)) if governor is not None else None
    try:
        async with ClusterModels(lambda ref: endpoints[ref.name]) as models:
            gate = governor.gate(store, tenant) if governor is not None and store is not None else None
            spec = RunSpec(task=step_prompt(step, inputs), tenant=tenant)
            return (await answer_task(models.gateway(chain).gated(gate), spec)).answer.text
    finally:
        if store is not None:
            await store.close()


@ray.remote(num_cpus=0, max_retries=NODE_LOSS_RETRIES)
def run_plan_step(step: PlanStep, inputs: dict[str, str], endpoints: dict[str, EndpointConfig],
                  chain: tuple[ModelRef, ...], governor: Governor | None = None, tenant: str | None = None,
                  trace: TraceCarrier | None = None) -> StepResult:
    """`max_retries`: run again when its worker or node dies (a system failure), never when the step
    raised (a refused call, a failed model): that is the executor's to decide."""
    with remote_span(trace, "plan step", {"aegis.plan.step": step.id}):
        output = asyncio.run(answer_step(step, inputs, endpoints, chain, governor, tenant))
    if trace is not None:
        flush_telemetry()
    return StepResult(output=output, node=this_node())


@ray.remote(num_cpus=0, max_restarts=-1)
class Orchestrator:
    def __init__(self, endpoints: dict[str, EndpointConfig], chain: tuple[ModelRef, ...], database_url: str | None,
                 home: str, governor: Governor | None = None) -> None:
        self._endpoints, self._chain = endpoints, chain
        self._database_url, self._home = database_url, Path(home)
        self._governor = governor

    async def run(self, plan: Plan, plan_id: str, retries: int = 1, trace: TraceCarrier | None = None,
                  tenant: str | None = None) -> PlanOutcome:
        """`trace`: the driver's trace context, which the plan's steps join; `tenant`: whose limits
        the steps' calls count against (None: only the global ones)."""
        try:
            with remote_span(trace, "orchestrator run", {"aegis.plan.id": plan_id}):
                return await self._run(plan, plan_id, retries, tenant)
        finally:
            if trace is not None:  # the driver ends this actor as soon as it has the outcome
                await asyncio.to_thread(flush_telemetry)

    async def _run(self, plan: Plan, plan_id: str, retries: int, tenant: str | None) -> PlanOutcome:
        store = await open_store(self._database_url, self._home)
        nodes = NodeRing()

        async def run_step(step: PlanStep, inputs: dict[str, str]) -> StepResult:
            placed = run_plan_step.options(scheduling_strategy=nodes.next())
            try:
                return await placed.remote(step, inputs, self._endpoints, self._chain, self._governor, tenant,
                                           inject())
            except RayTaskError as error:
                raise (error.cause if isinstance(error.cause, AegisError) else error) from None
            except RayError as error:  # its worker or node died more often than Ray retries
                raise StepLostError(f"step {step.id} was lost with its node: {error}") from None

        try:
            switch = KillSwitch(store)
            return await execute_plan(plan, run_step, plan_id=plan_id, retries=retries, store=store,
                                      halt=lambda: switch.check(f"the next step of plan {plan_id}"))
        finally:
            await store.close()


async def orchestrate(goal: str, planner: Gateway, endpoints: dict[str, EndpointConfig], database_url: str | None,
                      home: str, retries: int = 1, *, governor: Governor | None = None,
                      tenant: str | None = None) -> Orchestration:
    """`planner` (the caller's gateway, gated by the caller for `tenant`) plans `goal`; an
    `Orchestrator` runs the plan across the cluster on `planner`'s chain (`endpoints`: its models'),
    each step's call within `governor`'s limits for `tenant`."""
    plan = await make_plan(planner, goal)
    orchestrator = start_orchestrator(endpoints, planner.chain, database_url, home, governor)
    try:
        outcome = await run_plan(orchestrator, plan, new_id("plan"), retries, tenant)
    finally:
        ray.kill(orchestrator)
    return Orchestration(plan=plan, outcome=outcome)


def start_orchestrator(endpoints: dict[str, EndpointConfig], chain: tuple[ModelRef, ...], database_url: str | None,
                       home: str, governor: Governor | None = None) -> ray.actor.ActorHandle:
    """An `Orchestrator` on this (the driver's) node: it owns the plan's step tasks, which would be
    lost with it, and that node's loss is the driver's too. The endpoints' `ProviderActor`s are made
    here first, so a loopback endpoint's is pinned to this node, which can reach it. `governor`:
    the budgets its steps' calls are within (the driver's)."""
    claim_endpoints(endpoints.values())
    here = on_node(this_node(), soft=False)
    return Orchestrator.options(scheduling_strategy=here).remote(endpoints, chain, database_url, home, governor)


async def run_plan(orchestrator: ray.actor.ActorHandle, plan: Plan, plan_id: str, retries: int = 1,
                   tenant: str | None = None) -> PlanOutcome:
    """Run `plan` on `orchestrator` for `tenant`; if the actor dies, again on the restarted actor
    (finished steps are skipped: the store has them)."""
    restarts = 0
    while True:
        try:
            return await orchestrator.run.remote(plan, plan_id, retries, inject(), tenant)
        except RayActorError:
            restarts += 1
            if restarts > ORCHESTRATOR_RESTARTS:
                raise
            await asyncio.sleep(0.2)  # Ray is restarting it (max_restarts=-1)
