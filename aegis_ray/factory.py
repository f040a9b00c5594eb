"""Factory mode: headless, durable batch jobs drained from the store's queue.

A job is a task (plus the model chain resolved when it was enqueued). Its id is derived from its
content unless given, so enqueuing the same file again never redoes a finished job. `drain` runs on
any number of workers at once (actors, or `aegis worker` processes on other nodes): each claims
jobs in batches under a lease with a fencing token, renews the lease while a job runs, and records
the result only while it still owns the job. A worker that dies leaves jobs whose leases expire;
another worker reclaims them. Provider errors requeue a job until its attempts run out.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
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


class DrainStats(Frozen):
    worker: str
    finished: int
    failed: int
    requeued: int
    fenced: int
    seconds: float


async def _heartbeat(store: Store, job: Job, lease_s: float) -> None:
    while True:
        await asyncio.sleep(lease_s / 3)
        await store.heartbeat(job, lease_s)


async def drain(store: Store, answer: Answer, worker: str, options: WorkerOptions) -> DrainStats:
    """Work the queue with at most `concurrency` jobs in flight until it is empty (or forever)."""
    started = time.monotonic()
    counts = {"finished": 0, "failed": 0, "requeued": 0, "fenced": 0}
    in_flight: set[asyncio.Task[None]] = set()

    async def process(job: Job) -> None:
        beat = asyncio.create_task(_heartbeat(store, job, options.lease_s))
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
            beat.cancel()

    while True:
        room = options.concurrency - len(in_flight)
        claimed = await store.claim_jobs(worker, options.lease_s, room) if room else []
        for job in claimed:
            task = asyncio.create_task(process(job))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        if not claimed and not in_flight:
            queue = await store.queue_counts()
            if options.stop_when_empty and queue["queued"] == 0 and queue["running"] == 0:
                break
            await asyncio.sleep(options.idle_poll_s)  # others' jobs are running; their leases may expire
        elif in_flight:
            await asyncio.wait(in_flight, timeout=options.idle_poll_s, return_when=asyncio.FIRST_COMPLETED)
    return DrainStats(worker=worker, seconds=time.monotonic() - started, **counts)


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
