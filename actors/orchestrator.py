"""`Orchestrator`: runs a plan across the cluster, each ready step a Ray task answered on leases from
the shared `ProviderActor`s, with the plan's progress durable in the store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import ray
from ray.exceptions import RayTaskError

from actors.registry import ClusterModels
from aegis_ray.errors import AegisError
from aegis_ray.model_ref import ModelRef
from aegis_ray.plan import Orchestration, PlanOutcome, execute_plan, make_plan
from aegis_ray.providers import EndpointConfig
from aegis_ray.runner import answer_task
from aegis_ray.store import open_store
from aegis_ray.types import Plan, PlanStep, RunSpec, new_id


def step_prompt(step: PlanStep, inputs: dict[str, str]) -> str:
    if not inputs:
        return step.task
    context = "\n".join(f"[{step_id}] {output}" for step_id, output in inputs.items())
    return f"Results of earlier steps:\n{context}\n\nTask: {step.task}"


async def answer_step(step: PlanStep, inputs: dict[str, str], endpoints: dict[str, EndpointConfig],
                      chain: tuple[ModelRef, ...]) -> str:
    async with ClusterModels(lambda ref: endpoints[ref.name]) as models:
        return (await answer_task(models.gateway(chain), RunSpec(task=step_prompt(step, inputs)))).answer.text


@ray.remote(num_cpus=0, max_retries=0)
def run_plan_step(step: PlanStep, inputs: dict[str, str], endpoints: dict[str, EndpointConfig],
                  chain: tuple[ModelRef, ...]) -> str:
    return asyncio.run(answer_step(step, inputs, endpoints, chain))


@ray.remote(num_cpus=0, max_restarts=-1)
class Orchestrator:
    def __init__(self, endpoints: dict[str, EndpointConfig], chain: tuple[ModelRef, ...], database_url: str | None,
                 home: str) -> None:
        self._endpoints, self._chain = endpoints, chain
        self._database_url, self._home = database_url, Path(home)

    async def run(self, plan: Plan, plan_id: str, retries: int = 1) -> PlanOutcome:
        store = await open_store(self._database_url, self._home)

        async def run_step(step: PlanStep, inputs: dict[str, str]) -> str:
            try:
                return await run_plan_step.remote(step, inputs, self._endpoints, self._chain)
            except RayTaskError as error:
                raise (error.cause if isinstance(error.cause, AegisError) else error) from None

        try:
            return await execute_plan(plan, run_step, plan_id=plan_id, retries=retries, store=store)
        finally:
            await store.close()


async def orchestrate(goal: str, endpoints: dict[str, EndpointConfig], chain: tuple[ModelRef, ...],
                      database_url: str | None, home: str, retries: int = 1) -> Orchestration:
    """The first model of `chain` plans `goal`; an `Orchestrator` runs the plan across the cluster."""
    async with ClusterModels(lambda ref: endpoints[ref.name]) as models:
        plan = await make_plan(models.gateway(chain), goal)
    orchestrator = Orchestrator.remote(endpoints, chain, database_url, home)
    try:
        outcome = await orchestrator.run.remote(plan, new_id("plan"), retries)
    finally:
        ray.kill(orchestrator)
    return Orchestration(plan=plan, outcome=outcome)
