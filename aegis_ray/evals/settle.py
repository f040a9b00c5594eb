"""Settling an eval's finished factory jobs: each answer finished by the solver and scored.

A job that failed (its attempts ran out) is a result with its error. A done job's answer goes
through the solver's `finish` and every scorer; when those make model calls (a verified solver, a
model-graded scorer) the scored result is kept in the store's effect ledger under a key of the job
and of what scoring depends on, so a re-run or a resumed run does not pay for them again (a result
that errored is not kept: it is tried again). Settling runs concurrently, a bounded number at a
time, while the runner keeps polling the queue.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import TYPE_CHECKING

from aegis_ray.errors import AegisError
from aegis_ray.evals.results import SampleError, SampleResult
from aegis_ray.evals.scorers import score_output
from aegis_ray.evals.solvers import Spending
from aegis_ray.types import RunResult

if TYPE_CHECKING:
    from aegis_ray.evals.run import EvalJob, EvalPlan
    from aegis_ray.store import Job, Store
    from aegis_ray.verify.base import Models


class Settler:
    def __init__(self, plan: EvalPlan, store: Store, models: Models | None, concurrency: int = 32) -> None:
        self._plan, self._store, self._models = plan, store, models
        self._durable = plan.calls_models_after
        self._scorers = None if self._durable else plan.scorers(None)
        self._limit = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self.results: dict[str, SampleResult] = {}
        self.spent_usd = 0.0
        self.errors = 0

    def settle(self, job: Job, eval_job: EvalJob) -> None:
        """Settle `job` in the background; its answer's cost counts at once (for the budget)."""
        answered = _job_cost(job)
        self.spent_usd += answered
        task = asyncio.ensure_future(self._settle(job, eval_job, answered))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait(self) -> None:
        """Until every job handed to `settle` is settled (a settling that failed raises here)."""
        while self._tasks:
            await asyncio.gather(*self._tasks)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def ordered(self) -> list[SampleResult]:
        """The results in the plan's order (dataset order, then epoch)."""
        return [self.results[j.job_id] for j in self._plan.jobs if j.job_id in self.results]

    async def _settle(self, job: Job, eval_job: EvalJob, answered: float) -> None:
        async with self._limit:
            result = await (self._kept(job, eval_job) if self._durable else self._score(job, eval_job))
        self.results[job.job_id] = result
        self.spent_usd += result.cost_usd - answered
        self.errors += result.error is not None

    async def _kept(self, job: Job, eval_job: EvalJob) -> SampleResult:
        """`_score`, kept in the effect ledger: a result scored before is read back, not redone."""
        key = "eval:" + hashlib.sha256(f"{job.job_id}:{self._plan.fingerprint}".encode()).hexdigest()[:32]
        state, stored = await self._store.effect_begin(key, job.job_id)
        if state == "done" and stored:
            return SampleResult.model_validate_json(stored)
        result = await self._score(job, eval_job)
        if result.error is None:
            await self._store.effect_finish(key, result.model_dump_json())
        return result

    async def _score(self, job: Job, eval_job: EvalJob) -> SampleResult:
        sample = eval_job.sample
        base = SampleResult(sample_id=sample.id, epoch=eval_job.epoch, input=sample.input, target=sample.target,
                            job_id=job.job_id, attempts=job.attempts)
        if job.status != "done" or not job.result:
            return base.model_copy(update={"error": sample_error(job)})
        answer = RunResult.model_validate(job.result["result"])
        spending = Spending(self._models)
        answered = SampleResult.model_validate({
            **base.model_dump(), "output": answer.answer.text, "cost_usd": answer.cost_usd or 0.0,
            "latency_s": answer.latency_s, "model": answer.model, "simulated": answer.simulated})
        try:
            solved = await self._plan.solver.finish(sample, answer, spending)
            scorers = self._scorers or self._plan.scorers(spending)
            scores = {name: await score_output(fn, solved.output, sample, solved) for name, fn in scorers.items()}
        except AegisError as error:
            return answered.model_copy(update={"cost_usd": answered.cost_usd + spending.cost_usd,
                                               "error": SampleError.of(error)})
        if solved.confidence is not None:  # the solver's confidence, for scorers that give none (AUROC)
            scores = {name: s if s.confidence is not None else s.model_copy(update={"confidence": solved.confidence})
                      for name, s in scores.items()}
        return answered.model_copy(update={
            "output": solved.output, "scores": scores, "cost_usd": answered.cost_usd + spending.cost_usd,
            "latency_s": answer.latency_s + solved.seconds, "confidence": solved.confidence,
            "abstained": solved.abstained})


def _job_cost(job: Job) -> float:
    if job.status != "done" or not job.result:
        return 0.0
    return float(job.result["result"].get("cost_usd") or 0.0)


def sample_error(job: Job) -> SampleError:
    """A failed job's last error (`Type: message`, as `factory.drain` records it) as a sample error."""
    kind, _, message = (job.error or "JobFailed: no error recorded").partition(": ")
    return SampleError(type=kind if kind.isidentifier() else "JobFailed", message=message or kind)
