"""Running an eval: every (sample, epoch) a durable factory job, then scores, metrics and the log.

`plan_eval` decides everything before anything runs (the dataset, the solver and its panel, the
scorers, one job per sample and epoch), so a bad task fails in milliseconds. `execute` enqueues the
jobs in the store's factory queue under content-addressed ids (`solvers.job_key`): re-running the
eval, or resuming it after a crash, finds the finished jobs and redoes none of them. The queue is
drained by `workers` (the factory's `drain` in this process, or `FactoryWorker` actors on the
cluster); as jobs finish, each is finished by the solver and scored here. A solver's or a
model-graded scorer's own model calls are kept in the store's effect ledger, so those are not
redone either. With `max_usd` the jobs are enqueued a window at a time and no new one is enqueued
once the eval's spend (earlier runs' included) reaches the budget; the log then says so. With a
`BatchStage` (`--batch`) the jobs not finished yet are first answered through the provider's batch
API at the batch price (`aegis_ray.evals.batch`), and only what a batch did not answer goes online.

`run_eval` is the Python API: it plans, answers in this process (simulated models in-process too),
and returns `EvalResults` (`.metrics`, `.to_pandas()`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import json
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from aegis_ray.config import Settings, load_settings
from aegis_ray.control.switch import KillSwitch
from aegis_ray.errors import BadInputError
from aegis_ray.evals.batch import Batched, BatchOptions, BatchStage, answer_in_batches, check_batch_plan
from aegis_ray.evals.dataset import Dataset, Sample
from aegis_ray.evals.log import DatasetRef, EvalLog, EvalSpec, Timings, new_log, write_log
from aegis_ray.evals.metrics import compute_metrics
from aegis_ray.evals.results import MetricValue, SampleResult
from aegis_ray.evals.scorers import SCORERS, GradeFn, ScoreFn
from aegis_ray.evals.settle import Settler
from aegis_ray.evals.solvers import Solver, SolverContext, Spending, build_solver, job_key
from aegis_ray.evals.task import TaskSpec, resolve_task
from aegis_ray.factory import traced_payload
from aegis_ray.model_ref import ModelLike, ModelRef, as_model_ref
from aegis_ray.types import Frozen, Message, ModelRequest, RunResult, RunSpec, utcnow

if TYPE_CHECKING:
    import pandas

    from aegis_ray.providers.gateway import EndpointCache
    from aegis_ray.store import Store
    from aegis_ray.verify.base import Models

Workers = Callable[[], Awaitable[object]]
"""Drains the factory queue until it is empty: `factory.drain` here, or `FactoryWorker` actors.
Started again whenever it ends while jobs of the eval are still queued (a window was refilled)."""


class EvalOptions(Frozen):
    epochs: int | None = Field(default=None, ge=1, description="None: the task's.")
    limit: int | None = Field(default=None, ge=1)
    shuffle: bool = False
    seed: int | None = None
    max_usd: float | None = Field(default=None, ge=0, description=(
        "No new sample once the eval has spent this (0: none; collect what earlier runs finished)."))
    window: int = Field(default=64, ge=1, description="With max_usd: jobs enqueued ahead (the budget's overshoot).")
    poll_s: float = Field(default=0.25, gt=0)


class EvalJob(Frozen):
    job_id: str
    sample: Sample
    epoch: int = Field(ge=1)
    spec: RunSpec
    extra: dict[str, Any] = Field(default_factory=dict, description="The solver's (a session's: `session`).")

    def payload(self, task: str) -> dict[str, object]:
        """The factory job: `spec` is what `factory.drain` answers (or runs as a session, if `extra`
        carries one); `eval` says whose it is; `trace`, the trace it is enqueued in."""
        return traced_payload({"spec": self.spec.model_dump(mode="json"), **self.extra,
                               "eval": {"task": task, "sample_id": self.sample.id, "epoch": self.epoch}})


@dataclass(frozen=True)
class EvalPlan:
    task: TaskSpec
    spec: EvalSpec
    dataset: Dataset
    solver: Solver
    jobs: tuple[EvalJob, ...]
    options: EvalOptions

    @property
    def models(self) -> tuple[ModelRef, ...]:
        """Every model the eval may call: the chain, the solver's panel, model-graded judges."""
        judges = [as_model_ref(str(s.options["judge"])) for s in self.task.scorers if "judge" in s.options]
        return tuple(dict.fromkeys((*self.solver.models, *judges)))

    @property
    def calls_models_after(self) -> bool:
        """Whether finishing a job makes model calls (a verified solver, a model-graded scorer)."""
        return self.solver.calls_models or any("grade" in _parameters(s.name) for s in self.task.scorers)

    @property
    def fingerprint(self) -> str:
        """What a job's finished, scored result depends on beyond the job."""
        scorers = [s.model_dump(mode="json") for s in self.task.scorers]
        return hashlib.sha256(json.dumps([self.solver.fingerprint, scorers]).encode()).hexdigest()[:24]

    def scorers(self, models: Models | None) -> dict[str, ScoreFn]:
        """Each scorer built, a model-graded one given the chain as its author and `models` to grade with."""
        grade: GradeFn = _grader(models)
        built = {}
        for spec in self.task.scorers:
            runtime = {"author": self.spec.models, "grade": grade}
            built[spec.name] = spec.build(**{k: v for k, v in runtime.items()
                                             if k in _parameters(spec.name) and k not in spec.options})
        return built


def _parameters(scorer: str) -> Sequence[str]:
    return list(inspect.signature(SCORERS[scorer].factory).parameters) if scorer in SCORERS else []


def _grader(models: Models | None) -> GradeFn:
    """A model-graded scorer's judge call, through `models` (a sample's `Spending`, which counts its cost)."""
    async def grade(judge: ModelRef, prompt: str) -> str:
        request = ModelRequest(messages=(Message.user(prompt),))
        return (await (models or Spending(None)).complete(request, [judge.name])).text
    return grade


def plan_eval(task: TaskSpec | str | Path, chain: Sequence[ModelLike], settings: Settings,
              options: EvalOptions | None = None) -> EvalPlan:
    """Everything decided before anything runs; a bad task, option or panel fails here."""
    options = options or EvalOptions()
    task = task if isinstance(task, TaskSpec) else resolve_task(task)
    names = [s.name for s in task.scorers]
    if len(set(names)) != len(names):
        raise BadInputError(f"task {task.name!r} names a scorer twice", hint="scores are kept by scorer name")
    refs = tuple(map(as_model_ref, chain))
    if not refs:
        raise BadInputError("an eval needs at least one model", hint="pass --model provider:name")
    solver = build_solver(task.solver, SolverContext(chain=refs, system_prompt=task.system_prompt, settings=settings))
    dataset = task.load_dataset(limit=options.limit, shuffle=options.shuffle, seed=options.seed)
    epochs = options.epochs or task.epochs
    spec = EvalSpec(task=task.name, dataset=DatasetRef.of(dataset), solver=task.solver, scorers=task.scorers,
                    metrics=tuple(task.metric_specs(solver.metrics)), models=refs, epochs=epochs,
                    limit=options.limit, seed=dataset.seed, system_prompt=task.system_prompt, max_usd=options.max_usd)
    jobs = []
    for sample in dataset.samples:
        run = solver.job(sample)
        extra = solver.job_payload(sample)
        jobs += [EvalJob(job_id=job_key(run, sample, epoch, extra), sample=sample, epoch=epoch, spec=run, extra=extra)
                 for epoch in range(1, epochs + 1)]
    plan = EvalPlan(task=task, spec=spec, dataset=dataset, solver=solver, jobs=tuple(jobs), options=options)
    plan.scorers(None)  # a bad scorer option, or a judge that is the author, fails now
    return plan


class Progress(Frozen):
    task: str
    done: int = Field(description="(sample, epoch) results settled, earlier runs' included.")
    total: int
    before: int = Field(description="Settled by earlier runs of the same eval.")
    errors: int = 0
    spent_usd: float = 0.0
    elapsed_s: float = 0.0
    note: str | None = Field(default=None, description="What it waits for, if anything (a provider batch).")

    @property
    def rate(self) -> float | None:
        """Results per second in this run."""
        return (self.done - self.before) / self.elapsed_s if self.elapsed_s > 0 and self.done > self.before else None

    @property
    def eta_s(self) -> float | None:
        return (self.total - self.done) / self.rate if self.rate else None

    def line(self) -> str:
        """`arithmetic 37/60 · 4.1/s · ETA 6 s · $0.012345 · 2 errors`."""
        parts = [f"{self.task} {self.done}/{self.total}"]
        if self.before:
            parts.append(f"{self.before} from earlier runs")
        parts.append(f"{self.rate:.1f}/s" if self.rate else "-/s")
        if self.done < self.total:
            parts.append(f"ETA {self.eta_s:.0f} s" if self.eta_s is not None else "ETA -")
        parts.append(f"${self.spent_usd:.6f}")
        if self.errors:
            parts.append(f"{self.errors} errors")
        if self.note:
            parts.append(self.note)
        return " · ".join(parts)


class EvalResults(Frozen):
    """What `run_eval` returns: the log (and where it was written)."""

    log: EvalLog
    path: Path | None = None

    @property
    def metrics(self) -> dict[str, MetricValue]:
        """By key: `numeric/accuracy`, `cost`, `latency`, ..."""
        return self.log.metrics

    @property
    def results(self) -> tuple[SampleResult, ...]:
        return self.log.results

    def to_pandas(self) -> pandas.DataFrame:
        """One row per (sample, epoch): ids, output, cost, latency, error, and a column per scorer."""
        try:
            import pandas
        except ImportError:
            from aegis_ray.evals.errors import MissingDependencyError

            raise MissingDependencyError("EvalResults.to_pandas", "pandas") from None
        rows = [{"sample_id": r.sample_id, "epoch": r.epoch, "input": r.input, "target": r.target,
                 "output": r.output, "model": r.model.name if r.model else None, "cost_usd": r.cost_usd,
                 "latency_s": r.latency_s, "confidence": r.confidence, "abstained": r.abstained,
                 "error": r.error.message if r.error else None,
                 **{f"score_{name}": s.as_float for name, s in r.scores.items()}} for r in self.log.results]
        return pandas.DataFrame(rows)


async def execute(plan: EvalPlan, store: Store, workers: Workers, *, models: Models | None = None,
                  log_dir: str | Path | None = None, on_progress: Callable[[Progress], None] | None = None,
                  batch: BatchStage | None = None) -> EvalResults:
    """Run `plan` over the store's factory queue (see the module docstring); write the log to
    `log_dir` if given. `models`: for a solver's or a scorer's model calls after the job; `batch`:
    answer what it can through a provider's batch API first."""
    started, clock = utcnow(), time.monotonic()
    options, by_id = plan.options, {j.job_id: j for j in plan.jobs}
    batched = await _batches(plan, store, batch, clock, on_progress) if batch is not None else None
    settler = Settler(plan, store, models)
    known = await store.jobs_by_id(list(by_id))
    outstanding = {i for i, job in known.items() if job.status in ("queued", "running")}
    for job in (j for j in known.values() if j.status in ("done", "failed")):
        settler.settle(job, by_id[job.job_id])
    fresh = [i for i in by_id if i not in known]
    await settler.wait()
    before = len(settler.results)
    window = len(fresh) if options.max_usd is None else options.window
    draining: asyncio.Future[object] | None = None
    stopped: str | None = None

    def report() -> None:
        if on_progress is not None:
            on_progress(Progress(task=plan.task.name, done=len(settler.results), total=len(plan.jobs), before=before,
                                 errors=settler.errors, spent_usd=settler.spent_usd,
                                 elapsed_s=time.monotonic() - clock))

    report()
    completed = False
    switch = KillSwitch(store)  # workers halt on their own; this stops starting them again
    try:
        while True:
            if fresh and options.max_usd is not None and settler.spent_usd >= options.max_usd:
                stopped = (f"the budget of ${options.max_usd:g} was spent (${settler.spent_usd:.6f}) with "
                           f"{len(fresh)} of {len(plan.jobs)} samples not started")
                fresh = []
            if fresh and len(outstanding) < window:
                batch, fresh = fresh[:window - len(outstanding)], fresh[window - len(outstanding):]
                await store.enqueue([(i, by_id[i].payload(plan.task.name)) for i in batch])
                outstanding.update(batch)
            if not outstanding:
                break
            if draining is None or draining.done():
                if draining is not None:
                    draining.result()  # workers that failed: raise why
                await switch.check(f"the eval {plan.task.name!r} ({len(settler.results)} of {len(plan.jobs)} results "
                                   "are kept: the same command finishes it after `aegis resume`)")
                draining = asyncio.ensure_future(workers())
            await asyncio.wait([draining], timeout=options.poll_s)
            for job_id, job in (await store.finished_jobs(sorted(outstanding))).items():
                outstanding.discard(job_id)
                settler.settle(job, by_id[job_id])
            report()
        await settler.wait()
        completed = True
    finally:
        await _stop(draining, graceful=completed)
        await settler.close()
    report()
    return _finish(plan, settler.ordered(), started, stopped, log_dir, batched)


async def _batches(plan: EvalPlan, store: Store, stage: BatchStage, clock: float,
                   on_progress: Callable[[Progress], None] | None) -> Batched:
    """The batch path (`aegis_ray.evals.batch`), its waits reported as progress."""
    finished = sum(j.status in ("done", "failed") for j in (await store.jobs_by_id([j.job_id for j in plan.jobs]))
                   .values())

    def waiting(note: str) -> None:
        if on_progress is not None:
            on_progress(Progress(task=plan.task.name, done=finished, total=len(plan.jobs), before=finished,
                                 elapsed_s=time.monotonic() - clock, note=note))

    return await answer_in_batches(plan, store, stage, waiting)


async def _stop(draining: asyncio.Future[object] | None, *, graceful: bool) -> None:
    """After a run that completed, let the workers end (they stop when the queue is empty) for a
    moment, then cancel them; after a failure or a cancellation, cancel them at once. Jobs they
    still hold go back to the queue when their leases expire. Their errors are dropped here: one
    that ended the eval early was raised by the loop already, and a later one is not the eval's."""
    if draining is None:
        return
    if graceful:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(draining), timeout=2.0)
    if not draining.done():
        draining.cancel()
    with contextlib.suppress(Exception, asyncio.CancelledError):
        await draining


def _finish(plan: EvalPlan, results: list[SampleResult], started: datetime, stopped: str | None,
            log_dir: str | Path | None, batched: Batched | None = None) -> EvalResults:
    if batched is not None:
        results = [r.model_copy(update={"batch_id": batched.by_job.get(r.job_id or "")}) for r in results]
    metrics = compute_metrics(results, [s.name for s in plan.task.scorers], plan.spec.metrics)
    log = new_log(plan.spec, results, metrics, Timings(started_at=started, finished_at=utcnow()),
                  status="cancelled" if stopped else "success", stopped=stopped,
                  batch=batched.use if batched is not None else None)
    path = None
    if log_dir is not None:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", plan.task.name)
        path = write_log(log, Path(log_dir) / f"{started:%Y-%m-%dT%H-%M-%S}_{name}_{log.eval_id}.json")
    return EvalResults(log=log, path=path)


# --- the Python API ----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def local_models(settings: Settings, refs: Sequence[ModelRef]) -> AsyncIterator[EndpointCache]:
    """Endpoints in this process for `refs`: simulated models answer in-process (no server) unless
    AEGIS_SIM_URL names one; the others by their configured keys."""
    from aegis_ray.providers import EndpointCache, ModelEndpoint, resolve_endpoint

    simulated = None
    if any(r.simulated for r in refs) and not settings.sim_url:
        from aegis_ray.sim.inprocess import InProcessSim

        simulated = InProcessSim().models()
    cache = EndpointCache(lambda ref: simulated(ref) if simulated is not None and ref.simulated
                          else ModelEndpoint(resolve_endpoint(settings, ref, settings.sim_url)))
    try:
        yield cache
    finally:
        await cache.aclose()


async def run_eval(task: TaskSpec | str | Path, *, model: ModelLike | None = None, fallbacks: Sequence[ModelLike] = (),
                   epochs: int | None = None, limit: int | None = None, shuffle: bool = False, seed: int | None = None,
                   max_usd: float | None = None, log_dir: str | Path | None = None, concurrency: int = 16,
                   store: Store | None = None, answer: Callable[[RunSpec], Awaitable[RunResult]] | None = None,
                   models: Models | None = None, settings: Settings | None = None,
                   on_progress: Callable[[Progress], None] | None = None,
                   batch: BatchOptions | None = None) -> EvalResults:
    """Run an eval in this process: `task` a `TaskSpec`, a task file, a directory with `task.toml`
    or a dataset file. The model chain is `model` and `fallbacks`, else the configured one, else the
    simulator. Jobs go through `store` (default: the configured one) and are answered by `answer`
    (default: a gateway in this process); `models` make the calls after the answer (default: the
    same gateway). With `batch`, the answers go through the first model's batch API first (a
    simulated model needs AEGIS_SIM_URL then: batches need the simulator's server)."""
    from aegis_ray.factory import WorkerOptions, drain
    from aegis_ray.providers.gateway import Gateway
    from aegis_ray.runner import answer_task, plan_models
    from aegis_ray.store import open_store

    settings = settings or load_settings()
    chain = plan_models(settings, model, fallbacks).chain
    plan = plan_eval(task, chain, settings, EvalOptions(epochs=epochs, limit=limit, shuffle=shuffle, seed=seed,
                                                        max_usd=max_usd, window=max(concurrency, 1)))
    if batch is not None:
        check_batch_plan(plan)
    async with contextlib.AsyncExitStack() as stack:
        stage = None
        if batch is not None:
            from aegis_ray.providers import resolve_endpoint
            from aegis_ray.providers.batch import batch_client

            client = batch_client(resolve_endpoint(settings, chain[0], settings.sim_url))
            stack.push_async_callback(client.aclose)
            stage = BatchStage(client, batch)
        if store is None:
            store = await open_store(settings.database_dsn, settings.home)
            stack.push_async_callback(store.close)
        if answer is None or (models is None and plan.calls_models_after):
            cache = await stack.enter_async_context(local_models(settings, plan.models))
            models = models or Gateway(cache, chain)

            async def answer_here(spec: RunSpec) -> RunResult:
                return await answer_task(Gateway(cache, [m for m in (spec.model, *spec.fallback_models) if m]), spec)

            answer = answer or answer_here
        else:
            cache = await stack.enter_async_context(local_models(settings, plan.models))

        async def agent_here(spec: RunSpec, payload: dict[str, Any]) -> RunResult:
            from aegis_ray.agent_jobs import run_agent_job

            return await run_agent_job(spec, payload, Gateway(cache, [m for m in (spec.model, *spec.fallback_models)
                                                                      if m]))

        queue, answering, work = store, answer, WorkerOptions(concurrency=concurrency)
        return await execute(plan, queue, lambda: drain(queue, answering, f"eval:{os.getpid()}", work,
                                                        agents=agent_here),
                             models=models, log_dir=log_dir, on_progress=on_progress, batch=stage)

