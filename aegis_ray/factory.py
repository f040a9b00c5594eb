"""Factory mode: headless, durable batch jobs drained from the store's queue.

A job is a task (plus the model chain resolved when it was enqueued). Its id is derived from its
content unless given, so enqueuing the same file again never redoes a finished job. `drain` runs on
any number of workers at once (actors, or `aegis worker` processes on other nodes): each claims
jobs in batches under a lease with a fencing token, keeps a few claimed jobs ready so that a slot
that finishes starts the next one at once, renews the lease while a job runs, and records the
result only while it still owns the job. A worker that dies leaves jobs whose leases expire;
another worker reclaims them. Provider errors requeue a job until its attempts run out.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path

from pydantic import Field, ValidationError

from aegis_ray.errors import AegisError, BadInputError
from aegis_ray.store import FencedOutError, Job, Store
from aegis_ray.types import Frozen, RunResult, RunSpec, TaskText

Answer = Callable[[RunSpec], Awaitable[RunResult]]


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
            raise BadInputError(f"cannot read jobs file {file}: {exc.strerror}") from exc
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
            return
        if self._options.stop_when_empty:
            queue = await self._store.queue_counts()
            if queue["queued"] == 0 and queue["running"] == 0:
                self._done = True
                return
        await asyncio.sleep(self._options.idle_poll_s)  # others' jobs are running; their leases may expire


async def drain(store: Store, answer: Answer, worker: str, options: WorkerOptions) -> DrainStats:
    """Work the queue with `concurrency` slots until it is empty (or forever)."""
    started = time.monotonic()
    counts = {"finished": 0, "failed": 0, "requeued": 0, "fenced": 0}
    feed = _Feed(store, worker, options)

    async def process(job: Job) -> None:
        try:
            spec = RunSpec.model_validate(job.payload["spec"])
            try:
                result = await answer(spec)
            except AegisError as error:
                status = await store.fail_job(job, f"{type(error).__name__}: {error}")
                counts["requeued" if status == "queued" else "failed"] += 1
                return
            await store.finish_job(job, {"result": result.model_dump(mode="json")})
            counts["finished"] += 1
        except FencedOutError:
            counts["fenced"] += 1  # the lease was lost and another worker owns the job now
        finally:
            feed.done(job)

    async def slot() -> None:
        while (job := await feed.next()) is not None:
            await process(job)

    slots = asyncio.gather(*(slot() for _ in range(options.concurrency)))
    renewals = asyncio.ensure_future(feed.renew_leases())
    try:
        await asyncio.wait((slots, renewals), return_when=asyncio.FIRST_COMPLETED)
        (renewals if renewals.done() else slots).result()  # renewals end only by failing: raise it
    finally:
        slots.cancel()
        renewals.cancel()
    counts["fenced"] += feed.lost_ready
    return DrainStats(worker=worker, seconds=time.monotonic() - started, claims=feed.claims, **counts)


def job_payload(job: FactoryJob, chain: tuple[str, ...]) -> dict[str, object]:
    spec = RunSpec(task=job.task, model=chain[0], fallback_models=chain[1:], system_prompt=job.system_prompt)
    return {"spec": spec.model_dump(mode="json")}


def result_line(job: Job | None, job_id: str) -> dict[str, object]:
    """One line of the results file."""
    if job is None:
        return {"job_id": job_id, "status": "missing"}
    line: dict[str, object] = {"job_id": job.job_id, "status": job.status, "attempts": job.attempts,
                               "task": job.payload["spec"]["task"]}
    if job.result:
        result = job.result["result"]
        line |= {"answer": result["answer"]["text"], "model": result["model"], "simulated": result["simulated"],
                 "cost_usd": result["cost_usd"], "latency_s": result["latency_s"]}
    if job.error:
        line["error"] = job.error
    return line
