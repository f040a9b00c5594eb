"""`aegis orchestrate`: a goal planned as a DAG by the model, its steps fanned out across the
cluster by the `Orchestrator`."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from aegis_ray.cli.common import err, join_cluster, out, reports_errors, simulated_notice, simulator
from aegis_ray.config import load_settings


@reports_errors
def orchestrate(
    goal: Annotated[str, typer.Argument(help="What to achieve; the model breaks it into a plan.")],
    model: Annotated[str | None, typer.Option("--model", "-m", help="provider:model for planning and steps.")] = None,
    retries: Annotated[int, typer.Option(min=0, max=5, help="Retries per failed step.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan and its outcome as JSON.")] = False,
) -> None:
    """Plan GOAL as a DAG of steps and run ready steps in parallel across the cluster."""
    from actors.orchestrator import orchestrate as run_orchestration
    from aegis_ray.runner import endpoint_configurer, plan_models
    from aegis_ray.telemetry import configure_tracing

    settings = load_settings()
    plan = plan_models(settings, model)
    with simulator(plan.needs_simulator) as sim_url:
        configure_tracing(settings.telemetry)
        join_cluster(settings)
        configure = endpoint_configurer(settings, sim_url)
        result = asyncio.run(run_orchestration(goal, {m.name: configure(m) for m in plan.chain}, plan.chain,
                                               settings.database_dsn, str(settings.home), retries))
    if as_json:
        out.print_json(result.model_dump_json())
    else:
        for step in result.plan.steps:
            outcome = result.outcome.steps[step.id]
            mark = {"done": "[green]done[/]", "failed": "[red]failed[/]", "blocked": "[yellow]blocked[/]"}
            err.print(f"[cyan]{step.id:>6}[/] {mark[outcome.status]} {step.task}", soft_wrap=True, highlight=False)
            out.print(f"{step.id}: {outcome.output or outcome.error or ''}", soft_wrap=True)
    if plan.simulated:
        simulated_notice(plan.chain[0].name)
    if not result.outcome.succeeded:
        raise typer.Exit(1)
