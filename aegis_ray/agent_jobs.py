"""Agent work as batch jobs (an eval's `session` and `orchestrate` solvers): what a factory worker
does with a job whose payload carries a `session` or a `plan` instead of answering its spec.

A session job runs the agent loop to its end in a throwaway workspace (`session_job`); a plan job
has the first model of the chain plan the task as a DAG, answers its steps as they become ready
(in this worker, each step one gateway call), and synthesises the answer from the steps' results,
spotlighted as data (`plan.patterns.orchestrate`). Either way the job's result is one `RunResult`
whose cost and usage are every model call the work made (a session's state counts them; a plan's
are added up by a `Meter` on its gateway).

Budgets: every call of the work goes through the gateway the worker gives, which the worker gates
with the cost governor for the job's tenant (`actors.factory_worker`); a plan's steps run here,
through the same gateway (the `Meter` passes each call to that gate first), so a plan job is
governed exactly as its planning and synthesis are. A step refused fails as a step fails (not
retried: `plan.executor`); a refused planning or synthesis fails the job.
"""

from __future__ import annotations

import time
from typing import Any

from aegis_ray.model_ref import ModelRef
from aegis_ray.plan.executor import step_prompt
from aegis_ray.plan.patterns import orchestrate
from aegis_ray.providers.gateway import Gate, Gateway
from aegis_ray.runner import answer_task
from aegis_ray.session_job import SessionJob, run_session_job
from aegis_ray.types import Answer, Completion, ModelRequest, PlanStep, RunResult, RunSpec, RunStatus, Usage, new_id


class Meter:
    """A gate that adds up what every call through it cost (before passing it to `inner`, a budget)."""

    def __init__(self, inner: Gate | None = None) -> None:
        self.inner, self.cost_usd, self.usage, self.model, self.simulated = inner, 0.0, Usage(), None, False

    async def reserve(self, ref: ModelRef, request: ModelRequest) -> Any:
        return await self.inner.reserve(ref, request) if self.inner else None

    async def settle(self, hold: Any, completion: Completion | None) -> None:
        if self.inner:
            await self.inner.settle(hold, completion)
        if completion is not None:
            self.cost_usd += completion.cost_usd or 0.0
            self.usage = self.usage + completion.usage
            self.model, self.simulated = self.model or completion.model, self.simulated or completion.simulated


async def run_plan_job(spec: RunSpec, gateway: Gateway, plan_id: str) -> RunResult:
    """Plan `spec.task`, run the steps, synthesise: the synthesis is the answer; cost is everything's."""
    started = time.perf_counter()
    meter = Meter(gateway.gate)
    metered = gateway.gated(meter)

    async def run_step(step: PlanStep, inputs: dict[str, str]) -> str:
        return (await answer_task(metered, RunSpec(task=step_prompt(step, inputs), tenant=spec.tenant))).answer.text

    done = await orchestrate(metered, metered, spec.task, run_step, plan_id=plan_id)
    failed = [s.step_id for s in done.outcome.steps.values() if s.status != "done"]
    reason = f"steps that did not succeed: {', '.join(failed)}" if failed else None
    return RunResult(run_id=plan_id, task=spec.task, status=RunStatus.SUCCEEDED,
                     answer=Answer(text=done.answer, reason=reason), model=meter.model or gateway.chain[0].name,
                     simulated=meter.simulated, usage=meter.usage, cost_usd=meter.cost_usd,
                     latency_s=time.perf_counter() - started)


async def run_agent_job(spec: RunSpec, payload: dict[str, Any], gateway: Gateway) -> RunResult:
    """The job's agent work: its session, or its plan (`factory.AgentRunner`, given a gateway)."""
    if "session" in payload:  # the session's own state counts its cost
        return await run_session_job(spec, SessionJob.model_validate(payload["session"]), gateway)
    return await run_plan_job(spec, gateway, new_id("plan"))
