"""`aegis orchestrate`: a goal planned as a DAG by the model, its steps fanned out across the
cluster by the `Orchestrator`, then one answer synthesised from their results (spotlighted as data;
the answer carries the join of their taint labels).

Every model call (the planning, each step's on its node, the synthesis) is within the global
budgets, as `aegis run`'s: a refused planning call ends the command (exit 6); a refused step fails
as a step fails (the outcome says so, exit 1); a refused synthesis still prints the steps' outcome,
then exits 6."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from aegis_ray.cli.common import err, join_cluster, out, reports_errors, simulated_notice, simulator
from aegis_ray.cli.control import refuse_if_stopped
from aegis_ray.config import load_settings

if TYPE_CHECKING:
    from aegis_ray.control.budget import BudgetExhaustedError
    from aegis_ray.model_ref import ModelRef
    from aegis_ray.plan.patterns import SynthesisedOrchestration


@reports_errors
def orchestrate(
    goal: Annotated[str, typer.Argument(help="What to achieve; the model breaks it into a plan.")],
    model: Annotated[str | None, typer.Option("--model", "-m", help="provider:model for planning, steps and "
                                                                     "the synthesis.")] = None,
    retries: Annotated[int, typer.Option(min=0, max=5, help="Retries per failed step.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan, its outcome and the synthesis as JSON.")]
    = False,
) -> None:
    """Plan GOAL as a DAG of steps, run ready steps in parallel across the cluster, and synthesise
    one answer from their results."""
    from aegis_ray.runner import endpoint_configurer, plan_models
    from aegis_ray.telemetry import configure_tracing
    from aegis_ray.tracing import traced

    settings = load_settings()
    plan = plan_models(settings, model)
    refuse_if_stopped(settings)
    with simulator(plan.needs_simulator) as sim_url:
        configure_tracing(settings.telemetry)
        join_cluster(settings)
        configure = endpoint_configurer(settings, sim_url)
        result, refused = asyncio.run(traced("aegis orchestrate", _orchestrate(goal, configure, plan.chain, settings,
                                                                              retries)))
    if as_json:
        out.print_json(result.model_dump_json())
    else:
        for step in result.plan.steps:
            outcome = result.outcome.steps[step.id]
            mark = {"done": "[green]done[/]", "failed": "[red]failed[/]", "blocked": "[yellow]blocked[/]"}
            err.print(f"[cyan]{step.id:>6}[/] {mark[outcome.status]} {step.task}", soft_wrap=True, highlight=False)
            out.print(f"{step.id}: {outcome.output or outcome.error or ''}", soft_wrap=True)
        if result.synthesis is not None:
            sources = ", ".join(sorted(result.synthesis.label.sources))
            err.print(f"[dim]synthesis by {escape(result.synthesis.model)} from {escape(sources)} (untrusted: it "
                      "carries their taint)[/]", soft_wrap=True)
            out.print(f"answer: {result.synthesis.answer}", markup=False, soft_wrap=True)
    if plan.simulated:
        simulated_notice(plan.chain[0].name)
    if refused is not None:
        raise refused
    if not result.outcome.succeeded:
        raise typer.Exit(1)


async def _orchestrate(goal: str, configure: Any, chain: tuple[ModelRef, ...], settings: Any,
                       retries: int) -> tuple[SynthesisedOrchestration, BudgetExhaustedError | None]:
    """The orchestration, and the budget's refusal of its synthesis (None: not refused)."""
    from actors.orchestrator import orchestrate as run_orchestration
    from actors.registry import ClusterModels
    from aegis_ray.control.budget import BudgetExhaustedError, Governor
    from aegis_ray.plan.patterns import SynthesisedOrchestration, synthesised
    from aegis_ray.store import open_store

    governor = Governor.of(settings)  # the global budgets, as `aegis run`: for no tenant
    store = await open_store(settings.database_dsn, settings.home)
    try:
        async with ClusterModels(configure) as models:
            gateway = models.gateway(chain).gated(governor.gate(store, None) if governor is not None else None)
            orchestration = await run_orchestration(goal, gateway, {m.name: configure(m) for m in chain},
                                                    settings.database_dsn, str(settings.home), retries,
                                                    governor=governor)
            try:
                return await synthesised(gateway, goal, orchestration), None
            except BudgetExhaustedError as refused:  # the steps were answered (and paid for): say how they went
                return SynthesisedOrchestration(plan=orchestration.plan, outcome=orchestration.outcome,
                                                synthesis=None), refused
    finally:
        await store.close()
