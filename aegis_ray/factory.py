"""Factory mode: headless, durable batch jobs drained from the store's queue.

A job is a task (plus the model chain resolved when it was enqueued). Its id is derived from its
content unless given, so enqueuing the same file again never redoes a finished job. `drain` runs on
any number of workers at once (actors, or `aegis worker` processes on other nodes): each claims
jobs in batches under a lease with a fencing token, keeps a few claimed jobs ready so that a slot
that finishes starts the next one at once, renews the leases while jobs run, and commits results
in batches behind the slots, each only while it still owns the job. A worker that dies leaves jobs
whose leases expire; another worker reclaims them. A worker that is stopped (Ctrl-C) hands its jobs
back at once, and so does one the kill switch halts (`aegis_ray.control`: within a second of the
flip). Provider errors requeue a job until its attempts run out.

A job keeps the W3C trace context of the code that enqueued it (`trace`, ids only; never part of its
id), and each attempt runs under a `factory job` span in that trace, linked to the drain's own
(`aegis_ray.tracing.consumer_span`); a job queued without one joins the drain's trace.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import Field, ValidationError

from aegis_ray.control.switch import KillSwitch, SwitchState
from aegis_ray.errors import AegisError, BadInputError
from aegis_ray.model_ref import ModelRef
from aegis_ray.store import Job, JobOutcome, Store
from aegis_ray.tracing import consumer_span, inject
from aegis_ray.types import Frozen, RunResult, RunSpec, TaskText

Answer = Callable[[RunSpec], Awaitable[RunResult]]
AgentRunner = Callable[[RunSpec, dict[str, Any]], Awaitable[RunResult]]
"""Runs a job that is agent work, given its payload: a session (`payload["session"]`) or a plan
(`payload["plan"]`); see `aegis_ray.agent_jobs`."""
AGENT_KINDS = ("session", "plan")
TRACE_KEY = "trace"  # a payload's W3C trace context of its enqueuer: `traceparent`, `tracestate`
T = TypeVar("T")
_FIRST_IDLE_WAIT_S = 0.01  # the first wait of a worker that finds nothing to claim; doubled up to idle_poll_s


class FactoryJob(Frozen):
    """One line of a jobs file: `{"task": ...}` (optionally `id`, `model`, `system_prompt`) or a string."""

    task: TaskText
    id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:\-]{1,128}$")
    model: str | None = None
    system_prompt: str | None = None

    @property
    def job_id(self) -> str:
        if self.id:
            return self.id
        content = json.dumps([self.task, self.model, self.system_prompt])
        return "job_" + hashlib.sha256(content.encode()).hexdigest()[:20]


def read_jobs(tasks: list[str], file: Path | None) -> list[FactoryJob]:
    """Jobs from arguments and/or a JSONL file; a bad line is a `BadInputError` naming the line."""
    jobs = [FactoryJob(task=t) for t in tasks]
    if file is not None:
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise BadInputError(f"cannot read jobs file {file}: {exc.strerror}",
                                hint='check the path; the file holds one job per line: {"task": "..."}') from exc
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                jobs.append(FactoryJob(task=data) if isinstance(data, str) else FactoryJob.model_validate(data))
            except (ValueError, ValidationError) as exc:
                detail = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
                raise BadInputError(f"{file}:{number}: not a job: {detail}",
                                    hint='each line is {"task": "..."} or a JSON string') from exc
    if not jobs:
        raise BadInputError("no jobs given", hint="pass tasks as arguments or --file jobs.jsonl")
    return jobs


class WorkerOptions(Frozen):
    concurrency: int = Field(default=16, ge=1, le=4096)
    lease_s: float = Field(default=30.0, gt=0)
    idle_poll_s: float = Field(default=0.2, gt=0)
    stop_when_empty: bool = True
    prefetch: int | None = Field(default=None, ge=1, description=(
        "Claimed jobs kept ready for the next free slot; refilled in one transaction when half are "
        "gone. None: a quarter of `concurrency`."))
    record_s: float = Field(default=0.02, gt=0, le=5, description=(
        "Results are committed together, one transaction at most this long after the first of them "
        "is ready, behind the slots (a slot never waits for its result's commit)."))
    obey_kill_switch: bool = Field(default=True, description=(
        "Halt (claim nothing more, hand back the jobs held) within a second of the kill switch's flip."))

    @property
    def ready_jobs(self) -> int:
        return self.prefetch or max(1, self.concurrency // 4)


class DrainStats(Frozen):
    worker: str
    finished: int
    failed: int
    requeued: int
    fenced: int
    seconds: float
    claims: int = Field(description="Claim transactions: jobs are claimed in batches, not one by one.")
    records: int = Field(description="Result transactions: results are committed in batches too.")
    released: int = Field(default=0, description="Jobs a stopped drain handed back unfinished.")
    halted: bool = Field(default=False, description="The kill switch stopped the drain (or was stopped already).")


class _Feed:
    """Claimed jobs for the worker's slots: a slot that finishes takes the next one at once, and the
    feed is refilled in one claim transaction when it runs half empty (not one claim per job). The
    leases of every job held (ready or running) are renewed together by `renew_leases`."""

    def __init__(self, store: Store, worker: str, options: WorkerOptions) -> None:
        self._store, self._worker, self._options = store, worker, options
        self._ready: deque[Job] = deque()
        self.held: dict[str, Job] = {}  # claimed and not yet finished: ready or running
        self.lost_ready = 0  # ready jobs whose lease another worker took before they ran
        self._refill: asyncio.Future[None] | None = None
        self._released = asyncio.Event()  # a held job was finished (its outcome committed)
        self._first_idle_wait = min(_FIRST_IDLE_WAIT_S, options.idle_poll_s)
        self._idle_wait = self._first_idle_wait
        self._waiting = 0  # slots with nothing to run
        self._done = False
        self.claims = 0

    async def next(self) -> Job | None:
        """The next job to run, or None when the queue is drained (and `stop_when_empty`)."""
        while not self._ready:
            if self._done:
                return None
            self._waiting += 1
            try:
                await asyncio.shield(self._refilling())
            finally:
                self._waiting -= 1
        job = self._ready.popleft()
        if len(self._ready) < self._options.ready_jobs / 2:
            self._refilling()  # in the background
        return job

    def done(self, job: Job) -> None:
        self.held.pop(job.job_id, None)
        self._released.set()

    async def release(self) -> int:
        """Hand back every job held and not finished (a stopped drain's), after the claim in progress:
        their leases end now, so the next drain claims them at once. Returns how many."""
        self._done = True
        if self._refill is not None:
            await asyncio.wait([self._refill])
        held, self._ready = list(self.held.values()), deque()
        self.held.clear()
        if held:
            await self._store.renew_jobs(held, 0)  # a lease that ends now
        return len(held)

    async def renew_leases(self) -> None:
        """Every third of a lease, renew all held jobs in one transaction; drop ready jobs lost."""
        while True:
            await asyncio.sleep(self._options.lease_s / 3)
            lost = await self._store.renew_jobs(list(self.held.values()), self._options.lease_s)
            for job in [j for j in self._ready if j.job_id in lost]:
                self._ready.remove(job)
                self.held.pop(job.job_id)
                self.lost_ready += 1

    def _refilling(self) -> asyncio.Future[None]:
        """The claim in progress, or a new one; a background claim that failed raises here."""
        if self._refill is not None and self._refill.done():
            refill, self._refill = self._refill, None
            if not refill.cancelled() and (error := refill.exception()) is not None:
                raise error
        if self._refill is None:
            self._refill = asyncio.ensure_future(self._claim())
        return self._refill

    async def _claim(self) -> None:
        want = self._options.ready_jobs + self._waiting - len(self._ready)
        claimed = await self._store.claim_jobs(self._worker, self._options.lease_s, want)
        self.claims += 1
        self._ready.extend(claimed)
        self.held.update((job.job_id, job) for job in claimed)
        if claimed or self._ready:
            self._idle_wait = self._first_idle_wait
            return
        if self._options.stop_when_empty:
            queue = await self._store.queue_counts()
            if queue["queued"] == 0 and queue["running"] == 0:
                self._done = True
                return
        # Jobs are running: ours (until their outcomes are committed) or others' (which may finish,
        # fail and be requeued, or lose their leases). Look again when one of ours is released, or
        # after a wait that starts short and doubles up to `idle_poll_s`: a drain that is ending
        # notices other workers' last jobs soon after they finish, and an idle worker polls rarely.
        # A release of ours starts the waits short again.
        self._released.clear()
        try:
            await asyncio.wait_for(self._released.wait(), self._idle_wait)
            self._idle_wait = self._first_idle_wait
        except TimeoutError:
            self._idle_wait = min(2 * self._idle_wait, self._options.idle_poll_s)


_COUNTED = {"done": "finished", "queued": "requeued", "failed": "failed", None: "fenced"}


class _Recorder:
    """Outcomes committed behind the slots. A slot hands its job's outcome here and takes its next
    job at once; pending outcomes are committed together, one transaction every `record_s` (not one
    per job on a slot's time). A job is finished only once committed: until then it stays held and
    its lease renewed, so a worker that dies first leaves it to be redone, as if it had died during
    the call. A slot waits only when a whole round of outcomes is pending (the store is behind)."""

    def __init__(self, store: Store, feed: _Feed, options: WorkerOptions) -> None:
        self._store, self._feed, self._options = store, feed, options
        self._pending: list[JobOutcome] = []
        self._wake = asyncio.Event()
        self._room = asyncio.Condition()
        self._closing = False
        self.counts = dict.fromkeys(_COUNTED.values(), 0)
        self.records = 0

    async def put(self, outcome: JobOutcome) -> None:
        if len(self._pending) >= self._options.concurrency:
            async with self._room:
                await self._room.wait_for(lambda: len(self._pending) < self._options.concurrency)
        self._pending.append(outcome)
        self._wake.set()

    async def run(self) -> None:
        """Commit what is pending, every `record_s`, until closed with nothing left."""
        while not (self._closing and not self._pending):
            await self._wake.wait()
            self._wake.clear()
            if not self._closing:
                await asyncio.sleep(self._options.record_s)
            batch, self._pending = self._pending, []
            if not batch:
                continue
            statuses = await self._store.record_jobs(batch)
            self.records += 1
            for outcome, status in zip(batch, statuses, strict=True):
                self.counts[_COUNTED[status]] += 1
                self._feed.done(outcome.job)
            async with self._room:
                self._room.notify_all()

    def close(self) -> None:
        self._closing = True
        self._wake.set()


async def drain(store: Store, answer: Answer, worker: str, options: WorkerOptions,
                stop: asyncio.Event | None = None, agents: AgentRunner | None = None) -> DrainStats:
    """Work the queue with `concurrency` slots until it is empty (or forever). Once `stop` is set, or
    the calling task is cancelled, the drain claims nothing more and abandons the jobs it runs (an
    answer has no effect to settle), commits the outcomes it has, and hands back every job it still
    holds (`released`), then returns (or re-raises the cancellation). It returns only after its last
    commit, so whoever waits for it reads every outcome in the store. A job that is agent work (a
    session, a plan) is run by `agents` instead of `answer`."""
    started = time.monotonic()
    switch = KillSwitch(store) if options.obey_kill_switch else None
    if switch is not None and await switch.state() is SwitchState.STOPPED:
        return DrainStats(worker=worker, finished=0, failed=0, requeued=0, fenced=0, seconds=0.0, claims=0,
                          records=0, halted=True)
    feed = _Feed(store, worker, options)
    recorder = _Recorder(store, feed, options)

    async def attempt(job: Job) -> JobOutcome:
        kind = next((kind for kind in AGENT_KINDS if kind in job.payload), "answer")
        with consumer_span(job.payload.get(TRACE_KEY), "factory job",
                           {"aegis.job.id": job.job_id, "aegis.job.kind": kind}) as span:
            spec = RunSpec.model_validate(job.payload["spec"])
            try:
                if kind == "answer":
                    result = await answer(spec)
                elif agents is None:
                    return JobOutcome(job=job, error="BadInputError: this worker answers questions; the job is agent "
                                                     "work (run it with `aegis eval run`, whose workers run sessions "
                                                     "and plans)")
                else:
                    result = await agents(spec, job.payload)
            except AegisError as error:
                span.set_attribute("error.type", type(error).__name__)
                return JobOutcome(job=job, error=f"{type(error).__name__}: {error}")
            return JobOutcome(job=job, result={"result": result.model_dump(mode="json")})

    async def slot() -> None:
        while (job := await feed.next()) is not None:
            await recorder.put(await attempt(job))

    slots = asyncio.gather(*(slot() for _ in range(options.concurrency)))
    renewals = asyncio.ensure_future(feed.renew_leases())
    recording = asyncio.ensure_future(recorder.run())
    stopping = asyncio.ensure_future(stop.wait()) if stop else asyncio.get_running_loop().create_future()
    halting = (asyncio.ensure_future(switch.wait_stopped()) if switch is not None
               else asyncio.get_running_loop().create_future())
    cancelled = False
    try:
        try:
            await asyncio.wait((slots, renewals, recording, stopping, halting), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            cancelled = True
        for task in (renewals, recording):
            if task.done():
                task.result()  # they end early only by failing: raise it
        if slots.done():
            slots.result()
        for task in (slots, renewals):  # stopped: abandon the jobs running; no lease renewed after the release
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        recorder.close()
        await recording
        released = await feed.release()
    finally:
        for task in (slots, renewals, recording, stopping, halting):
            task.cancel()
    if cancelled:
        raise asyncio.CancelledError
    counts = recorder.counts | {"fenced": recorder.counts["fenced"] + feed.lost_ready}
    halted = halting.done() and not halting.cancelled()
    return DrainStats(worker=worker, seconds=time.monotonic() - started, claims=feed.claims,
                      records=recorder.records, released=released, halted=halted, **counts)


async def follow_drain(store: Store, job_ids: Sequence[str], drained: Awaitable[T],
                       progress: Callable[[int], object] = lambda _: None,
                       poll_s: float = 0.5) -> tuple[dict[str, Job], T]:
    """Follow a drain that others run (the factory's worker actors) until `drained` (every worker's
    drain) is over, telling `progress` how many jobs are finished; then the jobs as the store holds
    them, and what `drained` came to. That last read comes after every worker's last commit: a poll
    can miss a batch committed just after it, so the report never trusts one."""
    waiting = asyncio.ensure_future(drained)
    try:
        while True:
            over = waiting.done()
            found = await store.jobs_by_id(job_ids)
            progress(sum(job.status in ("done", "failed") for job in found.values()))
            if over:
                return found, waiting.result()
            await asyncio.wait([waiting], timeout=poll_s)
    finally:
        waiting.cancel()


def job_payload(job: FactoryJob, chain: Sequence[ModelRef], tenant: str | None = None) -> dict[str, object]:
    """The queued job: its run spec (the chain resolved now), `tenant`'s if given, and the trace it
    is enqueued in (`traced_payload`)."""
    spec = RunSpec(task=job.task, model=chain[0], fallback_models=chain[1:], system_prompt=job.system_prompt,
                   tenant=tenant)
    return traced_payload({"spec": spec.model_dump(mode="json")})


def traced_payload(payload: dict[str, object]) -> dict[str, object]:
    """`payload` with the current W3C trace context under `trace` (ids only), when there is one: the
    worker that runs the job, in whatever process, traces it as the enqueuer's. A job's id never
    depends on it (re-enqueueing the same job still finds it known)."""
    carrier = inject()
    return {**payload, TRACE_KEY: carrier.headers} if carrier is not None and carrier.headers else payload


def result_line(job: Job | None, job_id: str) -> dict[str, object]:
    """One line of the results file."""
    if job is None:
        return {"job_id": job_id, "status": "missing"}
    line: dict[str, object] = {"job_id": job.job_id, "status": job.status, "attempts": job.attempts,
                               "task": job.payload["spec"]["task"], "worker": job.worker}
    if job.result:
        result = job.result["result"]
        line |= {"answer": result["answer"]["text"], "model": result["model"], "simulated": result["simulated"],
                 "cost_usd": result["cost_usd"], "latency_s": result["latency_s"]}
    if job.error:
        line["error"] = job.error
    return line
