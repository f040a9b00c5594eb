"""`aegis eval run | view | compare`: batch evaluation on the cluster, its report, and the
regression gate.

`run` plans the eval (task, dataset, solver, scorers, model chain) before Ray starts, then every
(sample, epoch) is a durable factory job drained by `FactoryWorker` actors (the same jobs
`aegis factory` runs, under content-addressed ids: the same command again, or after a crash,
redoes nothing finished); a solver's or a judge's further calls fan out over the `VerifierPool`.
With `--batch` the samples not finished yet go first through the first model's provider batch API
(OpenAI Batch, Anthropic Message Batches, Gemini batch mode) at the batch price; the driver waits
for the batches (a driver that dies meanwhile collects them on the next run, never submitting them
again), and what a batch did not answer runs online as above.
Progress is one line on stderr; the report goes to stdout and the log to `--log-dir`. Exit codes:
0 when every sample ran without error, 1 otherwise (errored samples, or `--max-usd` spent first),
2 bad input, 130 after Ctrl-C (the workers hand their samples back; the same command finishes).
`compare` exits 1 when a checked metric got worse by more than `--max-drop`.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from aegis_ray.cli.common import (
    check_simulated_models,
    err,
    join_cluster,
    out,
    reports_errors,
    simulated_notice,
    simulator,
    status,
)
from aegis_ray.cli.interrupt import interruptible
from aegis_ray.cli.output import print_table
from aegis_ray.config import Settings, load_settings

if TYPE_CHECKING:
    from aegis_ray.evals.batch import BatchOptions
    from aegis_ray.evals.compare import ComparisonReport
    from aegis_ray.evals.log import EvalLog
    from aegis_ray.evals.results import MetricValue
    from aegis_ray.evals.run import EvalPlan, EvalResults, Progress
    from aegis_ray.factory import WorkerOptions

app = typer.Typer(no_args_is_help=True, help="Batch evaluation: run a task over a dataset, view a log, "
                                             "compare two logs (the regression gate).")


@app.command("run")
@reports_errors
def run(
    task: Annotated[str, typer.Argument(metavar="TASK_OR_FILE", help="A task.toml, a directory holding one, or a "
                                        ".jsonl/.csv/.parquet dataset (answer solver, includes scorer).")],
    model: Annotated[str | None, typer.Option("--model", "-m", help="provider:model (default: the configured "
                                                                    "model, else sim:sim-honest).")] = None,
    fallback: Annotated[list[str] | None, typer.Option("--fallback", help="Fallback model (repeatable).")] = None,
    epochs: Annotated[int | None, typer.Option(min=1, help="Answers per sample (default: the task's).")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N samples (after --shuffle).")] = None,
    shuffle: Annotated[bool, typer.Option("--shuffle", help="Shuffle the samples first.")] = False,
    seed: Annotated[int | None, typer.Option(help="Shuffle seed (default: drawn, and kept in the log).")] = None,
    scorer: Annotated[list[str] | None, typer.Option("--scorer", help="Score with this scorer instead "
                                                                      "(repeatable).")] = None,
    log_dir: Annotated[Path | None, typer.Option(help="Where the log is written (default: AEGIS_EVAL_LOG_DIR, "
                                                 "else ~/.aegis/evals).")] = None,
    max_usd: Annotated[float | None, typer.Option(min=0, help="Start no new sample once the eval has spent this "
                                                      "many USD (earlier runs' spend included; 0: none).")] = None,
    workers: Annotated[int, typer.Option(min=1, max=256, help="FactoryWorker actors.")] = 1,
    concurrency: Annotated[int, typer.Option(min=1, max=4096, help="Samples in flight per worker.")] = 16,
    lease: Annotated[float, typer.Option(min=1, help="Seconds a claimed sample is leased.")] = 30.0,
    batch: Annotated[bool, typer.Option("--batch", help="Answer through the first model's provider batch API "
                                                        "(half price; within the provider's window) first.")] = False,
    batch_poll: Annotated[float, typer.Option(min=0.01, help="With --batch: seconds between batch status "
                                                             "checks.")] = 30.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print a summary as JSON (the log's path, metrics).")] = False,
) -> None:
    """Run an eval: every (sample, epoch) a durable job on the cluster, then scores, metrics and a log.
    The same command again finishes an interrupted eval without redoing finished samples."""
    from aegis_ray.evals.batch import BatchOptions, check_batch_plan
    from aegis_ray.evals.run import EvalOptions, plan_eval
    from aegis_ray.evals.task import resolve_task
    from aegis_ray.factory import WorkerOptions
    from aegis_ray.runner import plan_models

    with interruptible() as interrupt:
        settings = load_settings()
        chain = plan_models(settings, model, fallback or ()).chain
        options = EvalOptions(epochs=epochs, limit=limit, shuffle=shuffle, seed=seed, max_usd=max_usd,
                              window=workers * concurrency)
        plan = plan_eval(resolve_task(task, tuple(scorer or ())), chain, settings, options)
        batching = BatchOptions(poll_s=batch_poll) if batch else None
        if batching is not None:
            check_batch_plan(plan)
        check_simulated_models(settings, plan.models)  # before Ray starts
        needs_simulator = any(m.simulated for m in plan.models) and not settings.sim_url
        join_cluster(settings, preload=("aegis_ray.sim",) if needs_simulator else ())
        interrupt.check()
        progress = _ProgressLine()
        with simulator(needs_simulator) as sim_url:
            work = WorkerOptions(concurrency=concurrency, lease_s=lease)
            try:
                results = interrupt.run(_on_cluster(plan, settings, sim_url, workers, work,
                                                    log_dir or settings.evals_dir, progress, batching), KEPT)
            finally:
                progress.close()
    log = results.log
    errors = sum(r.error is not None for r in log.results)
    if as_json:
        out.print_json(json.dumps({"log": str(results.path), "eval_id": log.eval_id, "status": log.status,
                                   "stopped": log.stopped, "results": len(log.results), "errors": errors,
                                   "metrics": {k: v.model_dump(mode="json") for k, v in log.metrics.items()},
                                   "batch": log.batch.model_dump(mode="json") if log.batch else None}))
    else:
        print_report(log)
        out.print(f"log {results.path}", markup=False, soft_wrap=True)
    if any(r.simulated for r in log.results):
        simulated_notice(", ".join(m.name for m in plan.models if m.simulated))
    if log.stopped:
        err.print(f"[bold]stopped:[/] {escape(log.stopped)}; the same command with a higher --max-usd continues",
                  soft_wrap=True)
    raise typer.Exit(1 if errors or log.stopped else 0)


KEPT = "the samples that finished are kept: the same command again finishes the rest without redoing them"
_STOP_WAIT_S = 10.0  # a stopped worker commits what it has and hands back its jobs; then it is killed anyway


async def _on_cluster(plan: EvalPlan, settings: Settings, sim_url: str | None, workers: int, work: WorkerOptions,
                      log_dir: Path, progress: _ProgressLine, batching: BatchOptions | None = None) -> EvalResults:
    """The eval's jobs drained by FactoryWorker actors, later calls made over a VerifierPool; with
    `batching`, answered through the first model's batch API first, from this process. Ctrl-C
    stops the workers (they hand back the jobs they hold) and then ends them."""
    import ray

    from actors.factory_worker import factory_fleet
    from actors.verifier_actor import VerifierPool
    from aegis_ray.control.budget import Governor
    from aegis_ray.evals.batch import BatchStage
    from aegis_ray.evals.run import execute
    from aegis_ray.providers.batch import batch_client
    from aegis_ray.runner import endpoint_configurer
    from aegis_ray.store import open_store

    configure = endpoint_configurer(settings, sim_url)
    endpoints = {m.name: configure(m) for m in plan.models}
    stage = BatchStage(batch_client(endpoints[plan.spec.models[0].name]), batching) if batching else None
    fleet = factory_fleet(endpoints, settings.database_dsn, str(settings.home), workers, Governor.of(settings))
    pool = (VerifierPool(endpoints, settings.verification.pool_size, Governor.of(settings))
            if plan.calls_models_after else None)  # within the budgets, as the eval's jobs

    from aegis_ray.tracing import inject

    trace = inject()  # the workers' spans join this command's trace

    async def drain() -> object:
        return await asyncio.gather(*(worker.drain.remote(work, trace) for worker in fleet))

    store = await open_store(settings.database_dsn, settings.home)
    try:
        return await execute(plan, store, drain, models=pool, log_dir=log_dir, on_progress=progress, batch=stage)
    except asyncio.CancelledError:
        stops = [worker.stop.remote() for worker in fleet]
        await asyncio.wait([asyncio.ensure_future(asyncio.gather(*stops, return_exceptions=True))],
                           timeout=_STOP_WAIT_S)
        for worker in fleet:
            ray.kill(worker)
        raise
    finally:
        await store.close()
        if stage is not None:
            await stage.client.aclose()


class _ProgressLine:
    """The eval's progress on stderr: one line redrawn in a terminal, else a line every few seconds."""

    EVERY_S = 3.0

    def __init__(self) -> None:
        self._live, self._line, self._printed, self._at = err.is_terminal, "", "", 0.0

    def __call__(self, progress: Progress) -> None:
        self._line = progress.line()
        if self._live:
            err.file.write(f"\r\x1b[2K{self._line}")
            err.file.flush()
        elif self._line != self._printed and time.monotonic() - self._at >= self.EVERY_S:
            self._print()

    def _print(self) -> None:
        err.print(self._line, markup=False, highlight=False, soft_wrap=True)
        self._printed, self._at = self._line, time.monotonic()

    def close(self) -> None:
        """The last line, kept: ended in a terminal, printed if it was not."""
        if self._live and self._line:
            err.file.write("\n")
        elif self._line != self._printed:
            self._print()


@app.command("view")
@reports_errors
def view(
    log: Annotated[Path, typer.Argument(metavar="LOG", help="An eval log (JSON).")],
    samples: Annotated[bool, typer.Option("--samples", help="Also list every result and its scores.")] = False,
    html: Annotated[Path | None, typer.Option("--html", metavar="FILE", help=(
        "Also write the report as one static HTML page with plots (no network assets)."))] = None,
) -> None:
    """Print an eval log's report: what ran, metrics with their 95% intervals, cost and latency."""
    from aegis_ray.evals.log import read_log

    report = read_log(log)
    print_report(report, samples=samples)
    if html is not None:
        from aegis_ray.evals.html_report import write_html

        status(f"wrote the HTML report to {write_html(report, html)}")


def print_report(log: EvalLog, *, samples: bool = False) -> None:
    spec, results = log.spec, log.results
    models = ", ".join(m.name for m in spec.models)
    duration = log.timings.duration_s
    errors = sum(r.error is not None for r in results)
    git = f" · git {log.git_revision[:12]}{' (dirty)' if log.git_dirty else ''}" if log.git_revision else ""
    for line in [
        f"{spec.task} · {log.eval_id} · {log.status} · {log.created_at:%Y-%m-%d %H:%M} UTC"
        + (f" · {duration:.1f} s" if duration is not None else ""),
        f"model {models} · solver {spec.solver.name} · {spec.dataset.samples} samples × {spec.epochs} "
        f"epoch{'s' if spec.epochs > 1 else ''} · dataset {spec.dataset.name} (sha256 {spec.dataset.hash[:12]})",
        f"{len(results)} results, {errors} errored · aegis {log.aegis_version}{git}",
        *([f"stopped: {log.stopped}"] if log.stopped else []),
        *([_batch_line(log)] if log.batch else []),
    ]:
        out.print(line, markup=False, highlight=False, soft_wrap=True)
    out.print()
    print_table(["metric", "value", "95% interval", "n", "details"],
                [[key, _value(m), _interval(m), str(m.n), _details(m)] for key, m in log.metrics.items()], squeeze=4)
    if samples:
        out.print()
        scorers = [s.name for s in spec.scorers]
        print_table(["sample", "epoch", *scorers, "cost", "output"],
                    [[r.sample_id, str(r.epoch), *(_score(r.scores.get(s)) for s in scorers), f"${r.cost_usd:.6f}",
                      f"error: {r.error.message}" if r.error else (r.output or "")] for r in results],
                    squeeze=3 + len(scorers))


def _batch_line(log: EvalLog) -> str:
    """`batch: openai batch API, 20 answered at $0.075/$0.3 per Mtok (batch price), 0 failed → online · batch_…`."""
    use = log.batch
    assert use is not None
    price = f"${use.price.input_per_mtok:g}/${use.price.output_per_mtok:g} per Mtok" if use.price else "unknown price"
    return (f"batch: {use.provider} batch API, {use.answered} answered at {price} (batch price), {use.failed} failed "
            f"→ online · {', '.join(use.batch_ids) or 'no batch'}")


def _value(metric: MetricValue) -> str:
    if metric.value is None:
        return "undefined"
    if metric.name == "cost":
        return f"${metric.value:.6f}"
    return f"{metric.value:.3f} s" if metric.name == "latency" else f"{metric.value:.3f}"


def _interval(metric: MetricValue) -> str:
    if metric.ci_low is None or metric.ci_high is None:
        return ""
    return f"[{metric.ci_low:.3f}, {metric.ci_high:.3f}] {metric.interval or ''}".rstrip()


def _details(metric: MetricValue) -> str:
    if metric.note:
        return metric.note
    if metric.name == "cost":
        return ", ".join(f"{k} ${v:.6f}" for k, v in metric.details.items())
    if metric.name == "latency":
        return ", ".join(f"{k} {v:.3f} s" for k, v in metric.details.items())
    return ", ".join(f"{k} {v:g}" for k, v in metric.details.items())


def _score(score: Any) -> str:
    return "-" if score is None else f"{score.as_float:g}"


@app.command("compare")
@reports_errors
def compare(
    base: Annotated[Path, typer.Argument(metavar="BASE", help="The baseline eval log.")],
    new: Annotated[Path, typer.Argument(metavar="NEW", help="The eval log to check against it.")],
    metric: Annotated[list[str] | None, typer.Option("--metric", help="Metric to gate on, a name (accuracy: under "
                                                                      "every scorer) or a key (numeric/accuracy); "
                                                                      "repeatable. Default: accuracy.")] = None,
    max_drop: Annotated[float, typer.Option(min=0, help="How much worse a gated metric may get, in its own "
                                                        "units.")] = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
) -> None:
    """The regression gate: each shared metric's difference (NEW - BASE) with its 95% interval;
    exit 1 when a gated metric got worse by more than --max-drop, else 0."""
    from aegis_ray.evals.compare import compare_logs
    from aegis_ray.evals.log import read_log

    report = compare_logs(read_log(base), read_log(new), metrics=tuple(metric or ("accuracy",)), max_drop=max_drop)
    if as_json:
        out.print_json(report.model_dump_json())
    else:
        print_comparison(report)
    raise typer.Exit(0 if report.passed else 1)


def print_comparison(report: ComparisonReport) -> None:
    rows = []
    for d in report.deltas:
        verdict = "" if not d.checked else "pass" if d.passed else "FAIL"
        rows.append([d.key, _number(d.base), _number(d.new), _number(d.difference, signed=True),
                     f"[{d.ci_low:+.3f}, {d.ci_high:+.3f}] {d.interval}" if d.ci_low is not None and
                     d.ci_high is not None else "", verdict])
    print_table(["metric", "base", "new", "difference", "95% interval", "gate"], rows)
    for warning in report.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}", soft_wrap=True)
    for failure in report.failures:
        err.print(f"[bold red]regression:[/] {escape(failure)}", soft_wrap=True)
    if report.passed:
        err.print(f"[green]no regression[/] in {', '.join(report.checked)} beyond {report.max_drop:g}", soft_wrap=True)


def _number(value: float | None, *, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.4g}" if signed else f"{value:.4g}"
