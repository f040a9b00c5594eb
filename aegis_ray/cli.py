"""The `aegis` command line.

Exit codes (DESIGN.md §6): 0 ok, 1 failed run, 2 bad input, 3 abstained. Every command validates
its input with pydantic and reports a failure as one clear line on stderr (plus a hint where one
helps); `--json` output goes to stdout alone, so scripts can parse it.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console

from aegis_ray.config import Settings, load_settings
from aegis_ray.errors import AegisError, BadInputError
from aegis_ray.tools.approval import ApprovalPolicy
from aegis_ray.types import Budget, RunResult, RunSpec, RunStatus, new_id

if TYPE_CHECKING:
    from actors.session_actor import SessionSpec
    from aegis_ray.verify.policy import VerificationPolicy

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Aegis: a verifying agent harness on Ray.")
sim_app = typer.Typer(no_args_is_help=True, help="The simulated model server (for tests, demos, benchmarks).")
app.add_typer(sim_app, name="sim")
mcp_app = typer.Typer(no_args_is_help=True, help="Model Context Protocol: Aegis as an MCP server.")
app.add_typer(mcp_app, name="mcp")

out = Console(file=sys.stdout, highlight=False)  # bound now: `join_cluster` repoints sys.stdout
err = Console(stderr=True, highlight=False)

F = TypeVar("F", bound=Callable[..., Any])


def _fail(error: AegisError) -> typer.Exit:
    err.print(f"[bold red]error:[/] {error.message}", markup=True, soft_wrap=True)
    if error.hint:
        err.print(f"[dim]hint: {error.hint}[/]", soft_wrap=True)
    return typer.Exit(error.exit_code)


def reports_errors(command: F) -> F:
    """Turn Aegis and validation errors into one line and the right exit code."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise _fail(BadInputError(f"invalid {where}: {first['msg']}")) from None
        except AegisError as exc:
            raise _fail(exc) from None

    return wrapper  # type: ignore[return-value]


def simulated_notice(model: str) -> None:
    err.print(
        f"[bold yellow]SIMULATED MODEL[/] — this answer comes from Aegis's built-in simulated model server "
        f"({model}), not from a real LLM.\n[dim]To use a real model: export OPENAI_API_KEY (or ANTHROPIC_API_KEY / "
        "GEMINI_API_KEY) and AEGIS_MODEL=openai:<model> (or pass --model), or point at any OpenAI-compatible "
        "server with --model openai-compatible:http://HOST:PORT/v1:<model>.[/]",
        soft_wrap=True,
    )


def _print_result(result: RunResult) -> None:
    if result.status is not RunStatus.SUCCEEDED:
        reason = result.answer.reason or result.status.value
        err.print(f"[bold]{result.status.value}:[/] {reason}", soft_wrap=True)
    else:
        out.print(result.answer.text, markup=False, soft_wrap=True)
    cost = "unknown (no price for this model)" if result.cost_usd is None else f"${result.cost_usd:.6f}"
    label = " (simulated)" if result.simulated else ""
    err.print(
        f"[dim]model {result.model}{label} · tokens {result.usage.input_tokens} in / "
        f"{result.usage.output_tokens} out · cost {cost} · {result.latency_s * 1000:.0f} ms[/]", soft_wrap=True,
    )


@app.command()
@reports_errors
def run(
    task: Annotated[str, typer.Argument(help="What the agent should do.")],
    model: Annotated[str | None, typer.Option("--model", "-m", help="provider:model, e.g. openai:gpt-4o-mini")] = None,
    fallback: Annotated[list[str] | None, typer.Option("--fallback", help="Fallback model (repeatable).")] = None,
    system: Annotated[str | None, typer.Option(help="System prompt.")] = None,
    code: Annotated[bool, typer.Option("--code", help="Run an agent session with file, shell and Python "
                                                      "tools in a sandboxed workspace.")] = False,
    workspace: Annotated[Path | None, typer.Option(help="Workspace for --code (default: a new one under "
                                                        "~/.aegis/workspaces).")] = None,
    approve: Annotated[ApprovalPolicy | None, typer.Option(help="Mutating/executing tools: ask, auto or deny "
                                                               "(default AEGIS_APPROVAL, else ask).")] = None,
    max_steps: Annotated[int, typer.Option(min=1, help="Model turns at most.")] = 20,
    max_usd: Annotated[float | None, typer.Option(min=0, help="Spend at most this many USD.")] = None,
    verify: Annotated[bool, typer.Option("--verify", help="Verify the answer claim by claim (corpus evidence, "
                                                          "cross-model consensus); abstain unless it holds.")] = False,
    corpus: Annotated[Path | None, typer.Option(help="With --verify: .txt/.md files to cite as evidence.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Run one task on the cluster (local Ray unless RAY_ADDRESS is set) and print the answer."""
    from aegis_ray.runner import SIMULATED_CODER_MODEL, SIMULATED_DEFAULT_MODEL, plan_models

    spec = RunSpec(task=task, model=model, fallback_models=tuple(fallback or ()), system_prompt=system,
                   budget=Budget(max_steps=max_steps, max_usd=max_usd))
    settings = load_settings()
    plan = plan_models(settings, spec, SIMULATED_CODER_MODEL if code else SIMULATED_DEFAULT_MODEL)
    if corpus and not verify:
        raise BadInputError("--corpus is the evidence for --verify", hint="add --verify")
    if corpus and code:
        raise BadInputError("--corpus applies to a single answer, not to a --code session",
                            hint="drop --code, or drop --corpus (the session verifies by consensus)")
    from aegis_ray.verify_cli import AnswerCheck

    check = AnswerCheck(settings, plan.chain[0], corpus) if verify else None
    with simulator(plan.needs_simulator or (check is not None and check.panel.simulated)) as sim_url:
        from aegis_ray.runner import endpoint_configurer
        from aegis_ray.telemetry import configure_tracing

        configure_tracing(settings.telemetry)
        join_cluster(settings)
        configure = endpoint_configurer(settings, sim_url)
        if code:
            session = _session_spec(settings, plan.chain, workspace, approve or settings.approval,
                                    check.policy if check else None)
            result = asyncio.run(_drive(settings, session, spec, new_id("run"), configure, quiet=as_json))
        else:
            result = asyncio.run(_single_answer(spec, plan.chain, configure))
            if check is not None:
                result = asyncio.run(check.apply(result, settings, sim_url))
    if result.simulated:
        simulated_notice(result.model)
    _finish(result, as_json)


def _finish(result: RunResult, as_json: bool) -> None:
    from aegis_ray.runner import EXIT_CODES

    if as_json:
        out.print_json(result.model_dump_json())
    else:
        _print_result(result)
    if result.status is RunStatus.AWAITING_APPROVAL:
        err.print(f"[yellow]parked:[/] run {result.run_id} awaits approval. Decide with `aegis approve "
                  f"{result.run_id}` (or --deny); it resumes from its last step.", soft_wrap=True)
    raise typer.Exit(EXIT_CODES.get(result.status, 1))


async def _single_answer(spec: RunSpec, chain: tuple[str, ...], configure: Callable[[str], Any]) -> RunResult:
    from actors.registry import ClusterModels
    from aegis_ray.runner import answer_task

    async with ClusterModels(configure) as models:
        return await answer_task(models.gateway(chain), spec)


def _session_spec(settings: Settings, chain: tuple[str, ...], workspace: Path | None,
                  policy: ApprovalPolicy, verification: VerificationPolicy | None = None) -> SessionSpec:
    from actors.session_actor import SessionSpec

    root = (workspace or settings.home / "workspaces" / new_id("ws")).resolve()
    root.mkdir(parents=True, exist_ok=True)
    live = policy == "ask" and sys.stdin.isatty()
    return SessionSpec(workspace=str(root), chain=chain, approval=policy, approvals="live" if live else "park",
                       sandbox_backend=settings.sandbox.backend, sandbox_image=settings.sandbox.image,
                       limits=settings.sandbox.limits, verification=verification, security=settings.security)


async def _drive(settings: Settings, session: SessionSpec, spec: RunSpec, run_id: str,
                 configure: Callable[[str], Any], *, quiet: bool) -> RunResult:
    """Run (or resume) `run_id` on a SessionActor of this node, printing its events live."""
    from actors.session_actor import SessionConfig, drive_session, start_session
    from aegis_ray.loop.events import ApprovalEvent, SessionEvent, StepEvent
    from aegis_ray.tools import terminal_approver

    err.print(f"[dim]run {run_id} · workspace {session.workspace} · approvals: {session.approval}"
              f"{' (parks without a terminal)' if session.approvals == 'park' else ''}[/]", soft_wrap=True)
    config = SessionConfig(spec=session, endpoints={m: configure(m) for m in session.models},
                           database_url=settings.database_dsn,
                           home=str(settings.home))

    async def show(event: SessionEvent) -> None:
        if quiet:
            return
        if isinstance(event, StepEvent):
            step = event.step
            err.print(f"[cyan]{step.state:>9}[/] {step.detail}", markup=True, soft_wrap=True, highlight=False)
            for result in step.tool_results:
                mark = "[green]ok[/]" if result.ok else f"[red]{result.error_type}[/]"
                first = (result.content.strip().splitlines() or [""])[-1][:160]
                err.print(f"          ↳ {result.name} {mark} {first}", markup=True, soft_wrap=True)
        elif isinstance(event, ApprovalEvent):
            err.print(f"[yellow]approval needed:[/] {event.request.tool} {event.request.arguments}", soft_wrap=True)

    approver = terminal_approver() if session.approvals == "live" else None
    return await drive_session(start_session(config), spec, run_id, show, approver)


def join_cluster(settings: Settings) -> None:
    """Join RAY_ADDRESS / AEGIS_RAY_ADDRESS, else start a local cluster sized by settings."""
    from actors.cluster import connect
    from aegis_ray.security.dlp import scrub_logs

    scrub_logs(settings.known_secrets())
    connect(settings.ray_address, object_store_memory=settings.ray_object_store_mb * 2**20)
    # Ray prints cluster warnings ("(raylet) WARNING: N PYTHON worker processes have been started")
    # to the driver's sys.stdout, and they cannot be switched off; stdout is Aegis's own (`--json`).
    sys.stdout = sys.stderr


@contextmanager
def simulator(needed: bool) -> Iterator[str | None]:
    """A background simulated server while the block runs, when the model plan needs one; its URL."""
    if not needed:
        yield None
        return
    from aegis_ray.sim import SimServer

    with SimServer() as server:
        yield server.base_url


def _store_call(settings: Settings, work: Callable[[Any], Any]) -> Any:
    """Open the configured store, run `work(store)`, close it."""
    from aegis_ray.store import open_store

    async def go() -> Any:
        store = await open_store(settings.database_dsn, settings.home)
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(go())


@app.command()
@reports_errors
def runs(
    status: Annotated[RunStatus | None, typer.Option(help="Only runs with this status.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List recent runs from the store, newest first."""
    records = _store_call(load_settings(), lambda store: store.list_runs(limit, status))
    if as_json:
        out.print_json(json.dumps([{"run_id": r.run_id, "status": r.status.value, "task": r.spec.task,
                                    "steps": r.step_count, "updated": r.updated} for r in records]))
        return
    for r in records:
        out.print(f"{r.run_id}  {r.status.value:17} {r.step_count:3} steps  {r.spec.task[:60]}", markup=False)


@app.command()
@reports_errors
def approve(
    run_id: Annotated[str, typer.Argument(help="The parked run.")],
    deny: Annotated[bool, typer.Option("--deny", help="Deny instead of approve.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Decide a parked run's pending approvals, then resume it from its last committed step."""
    from actors.session_actor import SessionSpec
    from aegis_ray.runner import endpoint_configurer

    settings = load_settings()

    async def decide(store: Any) -> tuple[Any, int]:
        record = await store.load_run(run_id)
        if record is None or record.session is None:
            raise BadInputError(f"no resumable run {run_id!r}", hint="list runs with `aegis runs`")
        return record, await store.decide_approval(run_id, approved=not deny)

    record, decided = _store_call(settings, decide)
    err.print(f"[dim]{'denied' if deny else 'approved'} {decided} pending request(s) of {run_id}[/]")
    session = SessionSpec.model_validate(record.session)
    needs_sim = any(m.startswith("sim:") for m in session.models) and not settings.sim_url
    with simulator(needs_sim) as sim_url:

        join_cluster(settings)
        result = asyncio.run(_drive(settings, session, record.spec, run_id, endpoint_configurer(settings, sim_url),
                                    quiet=as_json))
    if result.simulated:
        simulated_notice(result.model)
    _finish(result, as_json)


@app.command()
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
    Running the same jobs again does not redo those already finished."""
    import ray
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from actors.factory_worker import FactoryWorker
    from aegis_ray.factory import WorkerOptions, job_payload, read_jobs, result_line
    from aegis_ray.runner import endpoint_configurer, plan_models

    settings = load_settings()
    jobs = read_jobs(list(tasks or []), file)
    plans = [plan_models(settings, RunSpec(task=j.task, model=j.model or model,
                                           fallback_models=tuple(fallback or ()))) for j in jobs]
    ids = list(dict.fromkeys(j.job_id for j in jobs))
    with simulator(any(p.needs_simulator for p in plans)) as sim_url:
        configure = endpoint_configurer(settings, sim_url)
        endpoints = {m: configure(m) for p in plans for m in p.chain}
        added = _store_call(settings, lambda store: store.enqueue(
            [(j.job_id, job_payload(j, p.chain)) for j, p in zip(jobs, plans, strict=True)]))
        err.print(f"[dim]{len(ids)} jobs: {added} new, {len(ids) - added} already known[/]")
        if any(p.simulated for p in plans):
            simulated_notice(", ".join(sorted({m for p in plans for m in p.chain if m.startswith("sim:")})))
        if no_drain:
            return
        join_cluster(settings)
        options = WorkerOptions(concurrency=concurrency, lease_s=lease)
        fleet = [FactoryWorker.remote(endpoints, settings.database_dsn, str(settings.home)) for _ in range(workers)]
        draining = [w.drain.remote(options) for w in fleet]

        async def watch(store: Any) -> dict[str, Any]:
            columns = (TextColumn("factory"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            with Progress(*columns, console=err, transient=False) as progress:
                bar = progress.add_task("jobs", total=len(ids))
                while True:
                    found = await store.jobs_by_id(ids)
                    finished = sum(j.status in ("done", "failed") for j in found.values())
                    progress.update(bar, completed=finished)
                    if finished == len(ids):
                        break
                    ready, _ = ray.wait(draining, num_returns=len(draining), timeout=0)
                    if len(ready) == len(draining):
                        ray.get(ready)  # workers stopped early: surface why
                        break
                    await asyncio.sleep(0.5)
            return found

        found = _store_call(settings, watch)
        ray.get(draining)
    lines = [result_line(found.get(job_id), job_id) for job_id in ids]
    text = "\n".join(json.dumps(line) for line in lines) + "\n"
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        out.file.write(text)  # stdout as it was before Ray was joined
    failed = [line for line in lines if line["status"] != "done"]
    where = f" · results in {output}" if output else ""
    err.print(f"{len(lines) - len(failed)} done, {len(failed)} not done{where}")
    raise typer.Exit(1 if failed else 0)


@app.command()
@reports_errors
def worker(
    concurrency: Annotated[int, typer.Option(min=1, max=4096)] = 16,
    lease: Annotated[float, typer.Option(min=1, help="Seconds a claimed job is leased.")] = 30.0,
    follow: Annotated[bool, typer.Option("--follow", help="Keep waiting for jobs when the queue is empty.")] = False,
) -> None:
    """Drain the factory queue from this process (any node): the jobs anyone enqueued."""
    import os

    from actors.factory_worker import drain_through_cluster
    from aegis_ray.factory import WorkerOptions
    from aegis_ray.runner import endpoint_configurer

    settings = load_settings()
    with simulator(not settings.sim_url) as sim_url:
        join_cluster(settings)
        configure = endpoint_configurer(settings, sim_url)
        options = WorkerOptions(concurrency=concurrency, lease_s=lease, stop_when_empty=not follow)
        stats = _store_call(settings, lambda store: drain_through_cluster(store, configure, f"cli:{os.getpid()}",
                                                                          options))
    err.print(f"worker done: {stats.finished} finished, {stats.requeued} requeued, {stats.failed} failed, "
              f"{stats.fenced} lost to other workers, {stats.seconds:.1f} s")


@app.command()
@reports_errors
def queue(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show the factory queue: jobs by status, and the latest failures."""
    async def look(store: Any) -> tuple[dict[str, int], list[Any]]:
        return await store.queue_counts(), (await store.jobs("failed", limit=5))

    counts, failed = _store_call(load_settings(), look)
    if as_json:
        out.print_json(json.dumps({"counts": counts, "failed": [f.model_dump() for f in failed]}))
        return
    out.print("  ".join(f"{k} {v}" for k, v in counts.items()))
    for job in failed:
        out.print(f"failed {job.job_id}: {job.error}", markup=False)


@app.command()
@reports_errors
def models(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show the configured default model, providers with keys, and the capability matrix."""
    from aegis_ray.providers.routing import parse_model_ref

    settings = load_settings()
    kinds = ["openai", "openai-responses", "anthropic", "gemini", "sim"]
    matrix = {k: parse_model_ref(f"{k}:x").capabilities.model_dump() for k in kinds}
    report = {"default_model": settings.model, "fallback_models": settings.fallback_models,
              "providers_with_keys": settings.configured_providers(), "capabilities": matrix}
    if as_json:
        out.print_json(json.dumps(report))
        return
    out.print(f"default model: {settings.model or '(none: the simulated model answers)'}")
    out.print(f"providers with keys: {', '.join(report['providers_with_keys']) or 'none'}")
    for kind, caps in matrix.items():
        out.print(f"  {kind:17} " + " ".join(f"{name}={'yes' if ok else 'no'}" for name, ok in caps.items()))


@sim_app.command("serve")
@reports_errors
def sim_serve(
    port: Annotated[int, typer.Option(min=0, max=65535)] = 8900,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    config: Annotated[Path | None, typer.Option(help="JSON or YAML SimConfig (models, personas, scripts).")] = None,
) -> None:
    """Serve the simulated model (OpenAI, Anthropic and Gemini wire protocols) until interrupted."""
    from aegis_ray.sim import SimConfig
    from aegis_ray.sim.server import serve_forever

    sim_config = SimConfig.from_file(config) if config else SimConfig()
    err.print(f"[bold yellow]SIMULATED[/] model server on http://{host}:{port} — models: "
              f"{', '.join(sim_config.models)}\n  OpenAI base URL  http://{host}:{port}/v1\n"
              f"  Anthropic / Gemini base URL  http://{host}:{port}\n  use it with AEGIS_SIM_URL=http://{host}:{port}")
    serve_forever(sim_config, host, port)


@app.command("serve")
@reports_errors
def serve_command(
    host: Annotated[str, typer.Option(help="Bind address; keep 127.0.0.1 unless AEGIS_API_KEY is set.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8080,
) -> None:
    """Serve the HTTP API, the OpenAI-compatible endpoint and the dashboard on Ray Serve."""
    import time

    from ray import serve

    from aegis_ray.runner import plan_models
    from serve_app.deployment import start

    settings = load_settings()
    if host not in ("127.0.0.1", "localhost", "::1") and not (settings.api_key or settings.api_keys_file):
        err.print(f"[bold yellow]warning:[/] serving on {host} with no API key: anyone who can reach it can use it")
    plan = plan_models(settings, RunSpec(task="(serve)"))
    with simulator(plan.needs_simulator) as sim_url:
        join_cluster(settings)
        start(settings, sim_url, host, port)
        if plan.simulated:
            simulated_notice(", ".join(plan.chain))
        err.print(f"Aegis is serving on http://{host}:{port} (dashboard /, API /api, OpenAI-compatible /v1); "
                  "Ctrl-C stops it")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            serve.shutdown()


@mcp_app.command("serve")
@reports_errors
def mcp_serve(
    workspace: Annotated[Path, typer.Option(help="Workspace the file and exec tools are confined to.")] = Path("."),
    http: Annotated[bool, typer.Option("--http", help="Streamable HTTP instead of stdio.")] = False,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8765,
    approve: Annotated[ApprovalPolicy, typer.Option(help="auto or deny: the MCP host asks its own user.")] = "auto",
) -> None:
    """Serve Aegis's tools (files, sandboxed exec, run, verify) over MCP (stdio by default)."""
    from aegis_ray.mcp_server import build_server, run_tool, serve_http, serve_stdio, verify
    from aegis_ray.providers import EndpointCache, Gateway, ModelEndpoint
    from aegis_ray.runner import endpoint_configurer, plan_models
    from aegis_ray.sandbox import make_sandbox
    from aegis_ray.tools import BUILTIN_TOOLS, ToolContext, ToolRegistry, Workspace

    if approve == "ask":
        raise BadInputError("--approve ask needs a person at this end; over MCP the host asks its own user",
                            hint="use --approve auto (the default) or deny")
    settings = load_settings()
    plan = plan_models(settings, RunSpec(task="(mcp)"))
    context = ToolContext(workspace=Workspace(workspace.resolve()), limits=settings.sandbox.limits,
                          sandbox=make_sandbox(settings.sandbox.backend, settings.sandbox.image))
    with simulator(plan.needs_simulator) as sim_url:
        configure = endpoint_configurer(settings, sim_url)
        gateway = Gateway(EndpointCache(lambda m: ModelEndpoint(configure(m))), plan.chain)
        server = build_server(ToolRegistry([*BUILTIN_TOOLS, run_tool(gateway), verify], policy=approve), context)
        where = f"http://{host}:{port}/mcp" if http else "stdio"
        err.print(f"[dim]aegis MCP server · workspace {context.workspace.root} · {where}[/]", soft_wrap=True)
        if http:
            serve_http(server, host, port)
        else:
            asyncio.run(serve_stdio(server))


def main() -> None:
    # Registers orchestrate, verify, verify-claims, calibrate and redteam on `app`.
    from aegis_ray import plan_cli, security_cli, verify_cli  # noqa: F401

    app()


if __name__ == "__main__":
    main()
