"""An eval's answers through a provider's batch API (`aegis eval run --batch`): half the price, in
the provider's window (minutes to hours) instead of at once.

Before the eval's queue runs, `answer_in_batches` sends the jobs not finished yet whose answer is
one call without tools (the `answer` and `verified` solvers' jobs) to the chain's first model, in
batches of at most `max_items`. Each batch is recorded in the store the moment the provider accepts
it (`Store.batch_submitted`, under the eval's scope), so a later run of the same eval (after a
crash, or Ctrl-C while waiting) finds it and collects it instead of submitting it again; a job any
recorded batch holds is never batched twice. Collecting commits each answer as a finished job of
the eval, charged at the model's batch price; the runner then settles them like any other finished
job. A request that failed inside a batch is left to the queue: it is answered online, with the
chain's fallbacks, like any job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import Field

from aegis_ray.errors import BadInputError
from aegis_ray.evals.results import BatchUse
from aegis_ray.types import Answer, Completion, Frozen, Message, ModelRequest, RunResult, RunStatus, new_id

if TYPE_CHECKING:
    from aegis_ray.evals.run import EvalJob, EvalPlan
    from aegis_ray.providers.batch import BatchClient
    from aegis_ray.store import Store

BATCHABLE_SOLVERS = frozenset({"answer", "verified"})
"""Solvers whose job is one model call without tools."""


class BatchOptions(Frozen):
    poll_s: float = Field(default=30.0, gt=0, description="How often a batch's status is asked.")
    timeout_s: float | None = Field(default=None, gt=0, description=(
        "Give up waiting after this (the batch stays recorded: the same command collects it later)."))
    max_items: int = Field(default=10_000, ge=1, le=50_000, description="Requests per batch.")


@dataclass(frozen=True)
class BatchStage:
    """What `execute` needs to send an eval's answers in batches: the chain's first model's client."""

    client: BatchClient
    options: BatchOptions = field(default_factory=BatchOptions)


@dataclass(frozen=True)
class Batched:
    """What the batch path came to: for the log, and the batch that answered each job."""

    use: BatchUse
    by_job: dict[str, str]


def check_batch_plan(plan: EvalPlan) -> None:
    """Refuse, before anything runs, an eval whose answers cannot go in batches."""
    if plan.task.solver.name not in BATCHABLE_SOLVERS:
        raise BadInputError(f"the {plan.task.solver.name!r} solver makes tool calls or several calls per sample; "
                            f"--batch sends only the samples of {' and '.join(sorted(BATCHABLE_SOLVERS))} solvers",
                            hint="drop --batch for this task")
    if plan.options.max_usd is not None:
        raise BadInputError("--batch and --max-usd cannot be combined: a batch is sent, and paid for, whole",
                            hint="drop one of them")
    from aegis_ray.providers.batch import check_batchable

    check_batchable(plan.spec.models[0])


def scope_of(plan: EvalPlan) -> str:
    """Whose batches these are: the eval's task and the model they went to."""
    return f"eval:{plan.task.name}:{plan.spec.models[0].name}"


def _request(job: EvalJob) -> ModelRequest:
    from aegis_ray.runner import DEFAULT_SYSTEM_PROMPT

    spec = job.spec
    return ModelRequest(messages=(Message.system(spec.system_prompt or DEFAULT_SYSTEM_PROMPT), Message.user(spec.task)))


def _needs_tools(job: EvalJob) -> bool:
    return job.spec.require_tool is not None or bool(job.spec.attachments)


async def answer_in_batches(plan: EvalPlan, store: Store, stage: BatchStage,
                            on_state: Callable[[str], None] | None = None) -> Batched:
    """Collect the eval's recorded batches, send its other unfinished jobs in new ones and collect
    those (see the module docstring); `on_state` hears each poll (`batch_… in_progress`)."""
    from aegis_ray.providers.batch import BatchItem

    scope, by_id = scope_of(plan), {j.job_id: j for j in plan.jobs}
    known = await store.jobs_by_id(list(by_id))
    records = await store.batches_of(scope)
    covered = {item for record in records for item in record.items}
    fresh = [j for j in plan.jobs if j.job_id not in known and j.job_id not in covered and not _needs_tools(j)]
    pending = [(r.batch_id, r.items) for r in records if r.status == "submitted"]
    model = plan.spec.models[0].name
    for start in range(0, len(fresh), stage.options.max_items):
        chunk = [j.job_id for j in fresh[start:start + stage.options.max_items]]
        batch_id = await stage.client.submit([BatchItem(custom_id=i, request=_request(by_id[i])) for i in chunk])
        await store.batch_submitted(scope, batch_id, model, chunk)
        pending.append((batch_id, tuple(chunk)))
    collecting = [asyncio.ensure_future(_collect(plan, store, stage, batch_id, items, on_state))
                  for batch_id, items in pending]
    try:
        await asyncio.gather(*collecting)
    finally:  # one that failed (a timeout) leaves the others recorded, to collect next time
        for task in collecting:
            task.cancel()
    return await _summary(plan, store, stage, scope)


async def _collect(plan: EvalPlan, store: Store, stage: BatchStage, batch_id: str, items: Sequence[str],
                   on_state: Callable[[str], None] | None) -> None:
    from aegis_ray.providers.batch import wait_until_ended

    client, options, by_id = stage.client, stage.options, {j.job_id: j for j in plan.jobs}
    await wait_until_ended(client, batch_id, poll_s=options.poll_s, timeout_s=options.timeout_s,
                           on_status=None if on_state is None else lambda s: on_state(f"batch {s.batch_id} {s.state}"))
    outcomes = await client.results(batch_id, items)
    done = [(job.job_id, job.payload(plan.task.name), _result(job, o.completion, batch_id))
            for o in outcomes if o.completion is not None and (job := by_id.get(o.custom_id)) is not None]
    await store.batch_collected(batch_id, done)


def _result(job: EvalJob, completion: Completion, batch_id: str) -> dict[str, object]:
    """The finished job's result, as `factory.drain` writes one, with the batch that answered it."""
    answered = RunResult(run_id=new_id("run"), task=job.spec.task, status=RunStatus.SUCCEEDED,
                         answer=Answer(text=completion.text), model=completion.model, simulated=completion.simulated,
                         usage=completion.usage, cost_usd=completion.cost_usd, latency_s=completion.latency_s)
    return {"result": answered.model_dump(mode="json"), "batch_id": batch_id}


async def _summary(plan: EvalPlan, store: Store, stage: BatchStage, scope: str) -> Batched:
    from aegis_ray.providers.pricing import batch_price

    ids = {j.job_id for j in plan.jobs}
    records = [r for r in await store.batches_of(scope) if ids & set(r.items)]
    jobs = await store.jobs_by_id(sorted(ids))
    by_job = {job_id: str(job.result["batch_id"]) for job_id, job in jobs.items()
              if job.result and job.result.get("batch_id")}
    sent = {item for r in records for item in r.items if item in ids and r.status == "collected"}
    config = stage.client.config
    use = BatchUse(provider=config.ref.provider, model=config.ref, batch_ids=tuple(r.batch_id for r in records),
                   answered=len(by_job), failed=len(sent - set(by_job)),
                   price=batch_price(config.price(config.ref.model)))
    return Batched(use=use, by_job=by_job)
