"""Run a plan: every step starts as soon as its dependencies are done, all ready steps at once.

A step is retried up to `retries` more times; a step that still fails (or fails its checks) marks
every step that depends on it, transitively, `blocked`, and the rest of the plan goes on. A step
whose model call the cost governor refused (`BudgetExhaustedError`: the call was not made) fails at
once, not retried: a retry would be refused alike. With a `Store`, each finished step's output is
recorded under `plan:<id>:<step>`, so running the same plan again (after a crash) skips the steps
already done.

Each finished step's output carries a taint label (`security.taint`): an agent's output is content
Aegis does not control (a worker may have read the web), so it is untrusted, from `agent:<step>`,
joined with the labels of the inputs it was given; what is built from it inherits that.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Literal

from pydantic import Field

from aegis_ray.checks import run_checks
from aegis_ray.control.budget import BudgetExhaustedError
from aegis_ray.errors import AegisError
from aegis_ray.plan.dag import validate
from aegis_ray.security.taint import TRUSTED, Label, join_all, untrusted
from aegis_ray.store import Store
from aegis_ray.types import Frozen, Plan, PlanStep


class StepResult(Frozen):
    """What a step runner may return instead of the bare output: the output and where it ran."""

    output: str
    node: str | None = Field(default=None, description="The cluster node the step ran on.")


StepRunner = Callable[[PlanStep, dict[str, str]], Awaitable[str | StepResult]]
"""Runs one step given the outputs of its dependencies (by step id); returns its output (with the
node it ran on, when it ran on a cluster)."""


class StepOutcome(Frozen):
    step_id: str
    status: Literal["done", "failed", "blocked"]
    output: str = ""
    label: Label = Field(default=TRUSTED, description="The output's provenance: untrusted from agent:<step>, "
                         "joined with its inputs' labels.")
    error: str | None = None
    node: str | None = Field(default=None, description="The cluster node the step last ran on, if known.")
    attempts: int = 0
    started: float | None = None
    finished: float | None = None
    resumed: bool = False


class PlanOutcome(Frozen):
    plan_id: str
    steps: dict[str, StepOutcome]

    @property
    def succeeded(self) -> bool:
        return all(s.status == "done" for s in self.steps.values())


class Orchestration(Frozen):
    """A goal's plan and what became of each step."""

    plan: Plan
    outcome: PlanOutcome


def step_prompt(step: PlanStep, inputs: dict[str, str]) -> str:
    """What a step's model is asked: its task, after the results of the steps it depends on."""
    if not inputs:
        return step.task
    context = "\n".join(f"[{step_id}] {output}" for step_id, output in inputs.items())
    return f"Results of earlier steps:\n{context}\n\nTask: {step.task}"


async def execute_plan(plan: Plan, run_step: StepRunner, *, plan_id: str, retries: int = 1,
                       store: Store | None = None, halt: Callable[[], Awaitable[None]] | None = None) -> PlanOutcome:
    """Run the plan's steps as their dependencies finish. `halt` is awaited before each step starts
    and raises to stop the plan there (the kill switch): steps running are cancelled, finished ones
    stay recorded (with `store`), so the plan resumes without redoing them."""
    validate(plan)
    steps = {s.id: s for s in plan.steps}
    outcomes: dict[str, StepOutcome] = {}
    running: dict[str, asyncio.Task[StepOutcome]] = {}

    async def attempt(step: PlanStep) -> StepOutcome:
        inputs = {d: outcomes[d].output for d in step.depends_on}
        key = f"plan:{plan_id}:{step.id}"
        if store is not None:
            status, recorded = await store.effect_begin(key, plan_id)
            if status == "done" and recorded is not None:
                return StepOutcome.model_validate_json(recorded).model_copy(update={"resumed": True})
        if halt is not None:
            await halt()
        started, error = time.monotonic(), None
        for tries in range(1, retries + 2):
            try:
                ran = await run_step(step, inputs)
            except AegisError as exc:
                error = f"{type(exc).__name__}: {exc}"
                if isinstance(exc, BudgetExhaustedError):  # not sent, and a retry would be refused alike
                    break
                continue
            output, node = (ran.output, ran.node) if isinstance(ran, StepResult) else (ran, None)
            failed = [o.reason for o in run_checks(step.checks, output) if not o.passed]
            if failed:
                error = "check failed: " + "; ".join(failed)
                continue
            label = join_all([untrusted(f"agent:{step.id}"), *(outcomes[d].label for d in step.depends_on)])
            outcome = StepOutcome(step_id=step.id, status="done", output=output, label=label, node=node,
                                  attempts=tries, started=started, finished=time.monotonic())
            if store is not None:
                await store.effect_finish(key, outcome.model_dump_json())
            return outcome
        return StepOutcome(step_id=step.id, status="failed", error=error, attempts=tries, started=started,
                           finished=time.monotonic())

    def block_dependents(failed: str) -> None:
        for step in plan.steps:
            if failed in step.depends_on and step.id not in outcomes:
                outcomes[step.id] = StepOutcome(step_id=step.id, status="blocked",
                                                error=f"depends on {failed}, which did not succeed")
                block_dependents(step.id)

    try:
        while len(outcomes) < len(steps):
            for step in plan.steps:
                ready = all(d in outcomes and outcomes[d].status == "done" for d in step.depends_on)
                if step.id not in outcomes and step.id not in running and ready:
                    running[step.id] = asyncio.create_task(attempt(step))
            if not running:
                break
            done, _ = await asyncio.wait(running.values(), return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                outcome = task.result()  # raises what halted the plan
                del running[outcome.step_id]
                outcomes[outcome.step_id] = outcome
                if outcome.status != "done":
                    block_dependents(outcome.step_id)
    finally:
        for task in running.values():
            task.cancel()
    return PlanOutcome(plan_id=plan_id, steps={s.id: outcomes[s.id] for s in plan.steps})
