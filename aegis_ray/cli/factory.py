"""`aegis factory`, `aegis worker` and `aegis queue`: batches of jobs run durably through the
store's queue, drained by worker actors on the cluster or by any process that runs `aegis worker`.

Ctrl-C stops a drain (exit 130): the workers claim nothing more, abandon the answers in flight,
commit the outcomes they have and hand back every job they hold (its lease ends at once, so the
next run takes it); the results so far are written, and the same command again finishes the rest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from aegis_ray.cli.common import err, join_cluster, out, reports_errors, simulated_notice, simulator, status, store_call
from aegis_ray.cli.control import refuse_if_stopped
from aegis_ray.cli.interrupt import Cancelled, Interrupt, interruptible
from aegis_ray.config import Settings, load_settings

if TYPE_CHECKING:
    from aegis_ray.factory import DrainStats, WorkerOptions
    from aegis_ray.store import Job


@reports_errors
def factory(
    tasks: Annotated[list[str] | None, typer.Argument(help="Tasks, one job each.")] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help='JSONL: {"task": ...} per line.')] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Model for jobs that name none.")] = None,
    fallback: Annotated[list[str] | None, typer.Option("--fallback")] = None,
    workers: Annotated[int, typer.Option(min=1, max=256, help="Worker actors.")] = 1,
    concurrency: Annotated[int, typer.Option(min=1, max=4096, help="Jobs in flight per worker.")] = 16,
    lease: Annotated[float, typer.Option(min=1, help="Seconds a claimed job is leased.")] = 30.0,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Results JSONL (default: stdout).")] = None,
    no_drain: Annotated[bool, typer.Option("--no-drain", help="Only enqueue; `aegis worker`s drain.")] = False,
) -> None:
    """Run a batch of jobs durably: enqueue, drain with worker actors, write results as JSONL.
    Running the same jobs again does not redo those already finished; Ctrl-C stops the drain (the
    jobs not finished stay queued for the next run)."""
    from aegis_ray.factory import WorkerOptions, job_payload, read_jobs, result_line
    from aegis_ray.runner import endpoint_configurer, plan_models
    from aegis_ray.telemetry import configure_tracing, span_of

    with interruptible() as interrupt:
        settings = load_settings()
        jobs = read_jobs(list(tasks or []), file)
        plans = [plan_models(settings, j.model or model, fallback or ()) for j in jobs]
        ids = list(dict.fromkeys(j.job_id for j in jobs))
        configure_tracing(settings.telemetry)
        # the command's root span: each job carries its context, so whichever worker drains it joins this trace
        with span_of("aegis factory", {"aegis.jobs": len(ids)}), \
                simulator(any(p.needs_simulator for p in plans)) as sim_url:
            configure = endpoint_configurer(settings, sim_url)
            endpoints = {m.name: configure(m) for p in plans for m in p.chain}
            added = store_call(settings, lambda store: store.enqueue(
                [(j.job_id, job_payload(j, p.chain)) for j, p in zip(jobs, plans, strict=True)]))
            err.print(f"[dim]{len(ids)} jobs: {added} new, {len(ids) - added} already known[/]")
            if any(p.simulated for p in plans):
                simulated_notice(", ".join(sorted({m.name for p in plans for m in p.chain if m.simulated})))
            if no_drain:
                return
            queued = "the jobs are queued: run the same command again (or `aegis worker`) to run them"
            refuse_if_stopped(settings, "draining the queue (the jobs are queued)")
            interrupt.check(queued)
            join_cluster(settings)
            interrupt.check(queued)
            found, stopped = _drain_on_cluster(settings, endpoints, ids, workers,
                                               WorkerOptions(concurrency=concurrency, lease_s=lease), interrupt)
        lines = [result_line(found.get(job_id), job_id) for job_id in ids]
        text = "\n".join(json.dumps(line) for line in lines) + "\n"
        if output:
            output.write_text(text, encoding="utf-8")
        else:
            out.file.write(text)  # stdout as it was before Ray was joined
        failed = [line for line in lines if line["status"] != "done"]
        where = f" · results in {output}" if output else ""
        summary = f"{len(lines) - len(failed)} done, {len(failed)} not done{where}"
        if stopped:
            raise Cancelled(f"{summary}; the jobs not finished are queued again: run the same command again to "
                            "finish them")
        if failed:
            refuse_if_stopped(settings, f"the rest of the drain ({summary}; the jobs not finished are queued)")
        err.print(summary)
    raise typer.Exit(1 if failed else 0)


def _drain_on_cluster(settings: Settings, endpoints: dict[str, Any], ids: list[str], workers: int,
                      options: WorkerOptions, interrupt: Interrupt) -> tuple[dict[str, Job], bool]:
    """Drain the queue with `workers` worker actors, a progress bar following the store; the jobs
    as the store holds them once every worker has made its last commit, and whether Ctrl-C stopped
    the drain (the workers then claim nothing more and hand back the jobs they hold)."""
    import ray
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from actors.factory_worker import factory_fleet
    from aegis_ray.control.budget import Governor
    from aegis_ray.factory import follow_drain
    from aegis_ray.store import open_store

    fleet = factory_fleet(endpoints, settings.database_dsn, str(settings.home), workers, Governor.of(settings))
    from aegis_ray.tracing import inject

    trace = inject()  # the workers' spans join this command's trace
    ray.get([w.__ray_ready__.remote() for w in fleet])  # all start together: a short queue is shared out too
    draining = [w.drain.remote(options, trace) for w in fleet]

    async def drained() -> list[DrainStats]:
        return [await ref for ref in draining]

    async def follow() -> dict[str, Job]:
        columns = (TextColumn("factory"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        store = await open_store(settings.database_dsn, settings.home)
        try:
            with Progress(*columns, console=err, transient=False) as progress:
                bar = progress.add_task("jobs", total=len(ids))
                found, _ = await follow_drain(store, ids, drained(),
                                              lambda finished: progress.update(bar, completed=finished))
                return found
        finally:
            await store.close()

    try:
        return interrupt.run(follow()), False
    except Cancelled:
        stops = [w.stop.remote() for w in fleet]
        ray.wait([*stops, *draining], num_returns=len(stops) + len(draining), timeout=_STOP_WAIT_S)
        for w in fleet:
            ray.kill(w)
        return store_call(settings, lambda store: store.jobs_by_id(ids)), True


_STOP_WAIT_S = 10.0  # a stopped worker commits what it has and hands back its jobs; then it is killed anyway


@reports_errors
def worker(
    concurrency: Annotated[int, typer.Option(min=1, max=4096)] = 16,
    lease: Annotated[float, typer.Option(min=1, help="Seconds a claimed job is leased.")] = 30.0,
    follow: Annotated[bool, typer.Option("--follow", help="Keep waiting for jobs when the queue is empty.")] = False,
) -> None:
    """Drain the factory queue from this process (any node): the jobs anyone enqueued. Ctrl-C stops
    it: the jobs it holds are handed back to the queue."""
    import os

    from actors.factory_worker import drain_through_cluster
    from actors.placement import this_node
    from aegis_ray.control import KillSwitch, StoppedError
    from aegis_ray.control.budget import Governor
    from aegis_ray.factory import WorkerOptions
    from aegis_ray.runner import endpoint_configurer
    from aegis_ray.store import open_store
    from aegis_ray.telemetry import configure_tracing

    with interruptible() as interrupt:
        settings = load_settings()
        configure_tracing(settings.telemetry)  # each job's span joins the trace of whoever enqueued it
        with simulator(not settings.sim_url) as sim_url:
            join_cluster(settings)
            interrupt.check()
            configure = endpoint_configurer(settings, sim_url)
            options = WorkerOptions(concurrency=concurrency, lease_s=lease, stop_when_empty=not follow)
            worker_name = f"cli:{this_node()[:12]}:{os.getpid()}"  # as actors name theirs
            governor = Governor.of(settings)

            async def work() -> DrainStats:
                store = await open_store(settings.database_dsn, settings.home)
                try:
                    while True:
                        stats = await drain_through_cluster(store, configure, worker_name, options,
                                                                governor=governor)
                        if not (stats.halted and follow):
                            return stats
                        status("the kill switch is stopped: this worker holds no job and waits for `aegis resume`")
                        await KillSwitch(store).wait_running()
                        status("the kill switch is running again: this worker goes on")
                finally:
                    await store.close()

            stats = interrupt.run(work(), "the worker stopped; the jobs it held are queued again")
    err.print(f"worker done: {stats.finished} finished, {stats.requeued} requeued, {stats.failed} failed, "
              f"{stats.fenced} lost to other workers, {stats.seconds:.1f} s")
    if stats.halted:
        raise StoppedError("the kill switch stopped this worker; the jobs it held are queued again",
                           hint="`aegis resume`, then `aegis worker` again (with --follow a worker waits instead)")


@reports_errors
def queue(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help=(
        "Queue every failed job again, its attempts reset (a worker then runs it)."))] = False,
) -> None:
    """Show the factory queue: jobs by status, and the latest failures."""
    async def look(store: Any) -> tuple[int, dict[str, int], list[Any]]:
        requeued = await store.requeue_failed() if retry_failed else 0
        return requeued, await store.queue_counts(), (await store.jobs("failed", limit=5))

    requeued, counts, failed = store_call(load_settings(), look)
    if as_json:
        out.print_json(json.dumps({"counts": counts, "failed": [f.model_dump() for f in failed],
                                   **({"requeued": requeued} if retry_failed else {})}))
        return
    if retry_failed:
        status(f"queued {requeued} failed job{'' if requeued == 1 else 's'} again"
               + ("; `aegis worker` runs them" if requeued else ""))
    out.print("  ".join(f"{k} {v}" for k, v in counts.items()))
    for job in failed:
        out.print(f"failed {job.job_id}: {job.error}", markup=False)
