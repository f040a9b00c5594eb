"""`aegis run`: one task on the cluster, a single answer or (`--code`) an agent session with file,
shell and Python tools in a sandboxed workspace; `--verify` checks the answer claim by claim. Every
run is recorded in the store under the run id it prints; Ctrl-C records it cancelled."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from aegis_ray.cli.common import (
    check_simulated_models,
    join_cluster,
    relay_calls,
    reports_errors,
    simulated_notice,
    simulator,
)
from aegis_ray.cli.control import refuse_if_stopped
from aegis_ray.cli.interrupt import Cancelled, interruptible
from aegis_ray.cli.output import finish
from aegis_ray.cli.session_run import agent_profile, drive, raise_if_cancelled, resume_hint, session_spec
from aegis_ray.cli.verify import AnswerCheck
from aegis_ray.config import Settings, load_settings
from aegis_ray.errors import BadInputError
from aegis_ray.model_ref import ModelRef
from aegis_ray.tools.approval import ApprovalPolicy
from aegis_ray.types import Budget, RunResult, RunSpec, new_id


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
    max_steps: Annotated[int | None, typer.Option(min=1, help="Model turns at most (default: the profile's, "
                                                               "else 20).")] = None,
    max_usd: Annotated[float | None, typer.Option(min=0, help="Spend at most this many USD.")] = None,
    verify: Annotated[bool, typer.Option("--verify", help="Verify the answer claim by claim (corpus evidence, "
                                                          "cross-model consensus); abstain unless it holds.")] = False,
    corpus: Annotated[Path | None, typer.Option(help="With --verify: .txt/.md files to cite as evidence.")] = None,
    mcp: Annotated[list[str] | None, typer.Option("--mcp", help='With --code: an MCP server to mount, "CMD ARGS" '
                                                               "(stdio) or http://HOST:PORT/mcp (repeatable).")] = None,
    profile: Annotated[str | None, typer.Option(help="With --code: an agent profile (coding, research, sre, or "
                                                    "your own in ~/.aegis/profiles): tools, prompt, budgets.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Run one task on the cluster (RAY_ADDRESS's, else the local one of `aegis up`, else Ray started
    for this command alone) and print the answer. Ctrl-C cancels it (exit 130): the run is recorded
    `cancelled`, and a --code session can be resumed."""
    from aegis_ray.runner import SIMULATED_CODER_MODEL, SIMULATED_DEFAULT_MODEL, plan_models

    with interruptible() as interrupt:
        settings = load_settings()
        if profile and not code:
            raise BadInputError("--profile chooses the agent of a --code session", hint="add --code, or drop --profile")
        agent = agent_profile(settings, profile)
        spec = RunSpec(task=task, model=model, fallback_models=tuple(fallback or ()),
                       system_prompt=system or (agent.system_prompt if agent else None),
                       budget=agent.budget_with(max_steps, max_usd) if agent else Budget(max_steps=max_steps or 20,
                                                                                         max_usd=max_usd))
        plan = plan_models(settings, spec.model, spec.fallback_models,
                           SIMULATED_CODER_MODEL if code else SIMULATED_DEFAULT_MODEL)
        if corpus and not verify:
            raise BadInputError("--corpus is the evidence for --verify", hint="add --verify")
        if corpus and code:
            raise BadInputError("--corpus applies to a single answer, not to a --code session",
                                hint="drop --code, or drop --corpus (the session verifies by consensus)")
        if mcp and not code:
            raise BadInputError("--mcp mounts tools into a --code session", hint="add --code, or drop --mcp")
        if code:
            _check_sandbox(settings)
        check = AnswerCheck(settings, plan.chain[0], corpus) if verify else None
        check_simulated_models(settings, [*plan.chain, *(check.panel.models if check else ())])  # before Ray
        refuse_if_stopped(settings)
        needs_simulator = plan.needs_simulator or (check is not None and check.panel.simulated)
        from aegis_ray.telemetry import configure_tracing
        from aegis_ray.tracing import traced

        configure_tracing(settings.telemetry)
        # Ray first (the status line says what it does), the simulator's server code loading meanwhile;
        # then the simulator: the local cluster's own when there is one.
        join_cluster(settings, preload=("aegis_ray.sim.server",) if needs_simulator else ())
        interrupt.check()
        with simulator(needs_simulator) as sim_url:
            interrupt.check()
            from aegis_ray.runner import endpoint_configurer

            configure = endpoint_configurer(settings, sim_url)
            if code:
                session = session_spec(settings, plan.chain, workspace,
                                       approve or (agent and agent.approval) or settings.approval,
                                       check.policy if check else None, mcp or (), tools=agent.tools if agent else None)
                run_id = new_id("run")
                result = interrupt.run(drive(settings, session, spec, run_id, configure, quiet=as_json),
                                       f"run {run_id} is stopped, but its session could not say at which step; "
                                       f"`aegis runs` shows its state, and {resume_hint(run_id)} resumes it")
                raise_if_cancelled(result)
            else:
                answering = _answer(settings, spec, plan.chain, configure, check, sim_url, relay=relay_calls())
                result = interrupt.run(traced("aegis run", answering), "the run stopped before it was recorded")
    if result.simulated:
        simulated_notice(result.model)
    finish(result, as_json)


def _check_sandbox(settings: Settings) -> None:
    """A --code session runs code only in a sandbox: with no backend that can run here, fail now,
    before Ray starts, naming the backend missing and how to install it (exit 2)."""
    from aegis_ray.sandbox import make_sandbox

    make_sandbox(settings.sandbox.backend, settings.sandbox.image)


async def _answer(settings: Settings, spec: RunSpec, chain: tuple[ModelRef, ...], configure: Callable[[ModelRef], Any],
                  check: AnswerCheck | None, sim_url: str | None, *, relay: bool = False) -> RunResult:
    """One answer (verified, with `check`), recorded in the store under the run id it carries; Ctrl-C
    records it cancelled. `relay`: through each endpoint's actor, whose SDK client is warm on a
    long-running cluster, where this short-lived process would first import the SDK and open a
    connection pool."""
    from actors.registry import ClusterModels
    from aegis_ray.control.budget import spend_gate
    from aegis_ray.runner import answer_recorded
    from aegis_ray.store import open_store
    from aegis_ray.types import new_id

    run_id = new_id("run")
    then = None if check is None else (lambda result: check.apply(result, settings, sim_url))
    store = await open_store(settings.database_dsn, settings.home)
    try:
        async with ClusterModels(configure, relay=relay or None) as models:
            try:
                gateway = models.gateway(chain).gated(spend_gate(store, settings.budgets, prices=settings.prices))
                return await answer_recorded(gateway, spec, store, run_id, then)
            except asyncio.CancelledError:
                raise Cancelled(f"run {run_id} is recorded as cancelled (`aegis runs --status cancelled` lists "
                                "it); run the same command again to retry") from None
    finally:
        await store.close()
