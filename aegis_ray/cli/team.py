"""`aegis team`: role agents (one actor each, spread over the cluster) debate a task on a shared
board for some rounds, each reading the others' contributions as data; a judge that is none of
them decides. The answer carries the taint of everything on the board. Every call (the roles', the
judge's) is within the global budgets, as `aegis run`'s: a refused one ends the command (exit 6)."""

from __future__ import annotations

import asyncio
from typing import Annotated

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
)
from aegis_ray.cli.control import refuse_if_stopped
from aegis_ray.cli.session_run import agent_profile
from aegis_ray.config import load_settings


@reports_errors
def team(
    task: Annotated[str, typer.Argument(help="What the team should decide.")],
    roles: Annotated[str | None, typer.Option(help="Comma-separated roles, each NAME or NAME=provider:model "
                                                   "(default proposer,skeptic,fact-checker; also known: planner, "
                                                   "reviewer; others get a generic brief).")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="The roles' model, for a role naming none.")]
    = None,
    judge: Annotated[str | None, typer.Option(help="The judge, none of the roles' models (default: the "
                                                   "verification judge; offline, the simulated one).")] = None,
    rounds: Annotated[int, typer.Option(min=1, max=5, help="Debate rounds before the judge decides.")] = 2,
    profile: Annotated[str | None, typer.Option(help="An agent profile whose system prompt every role "
                                                    "follows (coding, research, sre, or your own).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the board and the decision as JSON.")] = False,
) -> None:
    """A debate of role agents on actors across the cluster; a judge decides."""
    from actors.team import run_team
    from aegis_ray.control.budget import Governor
    from aegis_ray.plan.team import DEFAULT_ROLES, team_judge, team_roles
    from aegis_ray.runner import endpoint_configurer

    settings = load_settings()
    agent = agent_profile(settings, profile)
    members = team_roles(settings, [r for r in roles.split(",") if r.strip()] if roles else DEFAULT_ROLES, model)
    decider = team_judge(settings, judge, members)
    models = tuple(dict.fromkeys((*(m for _, chain in members for m in chain), decider)))
    check_simulated_models(settings, models)
    refuse_if_stopped(settings)
    simulated = any(m.simulated for m in models)
    join_cluster(settings, preload=("aegis_ray.sim.server",) if simulated else ())
    with simulator(simulated and not settings.sim_url) as sim_url:
        configure = endpoint_configurer(settings, sim_url)
        result = asyncio.run(run_team(task, members, (decider,), {m.name: configure(m) for m in models}, rounds,
                                      system_prompt=agent.system_prompt if agent else None,
                                      governor=Governor.of(settings)))  # for no tenant, as `aegis run`
    if as_json:
        out.print_json(result.model_dump_json())
    else:
        for said in result.board:
            err.print(f"[cyan]{said.role:>12}[/] r{said.round} [dim]{escape(said.model)}[/] {escape(said.text)}",
                      soft_wrap=True, highlight=False)
        err.print(f"[dim]decided by {escape(result.judge)}; the answer carries the taint of "
                  f"{len(result.label.sources)} contributions[/]", soft_wrap=True)
        out.print(result.answer, markup=False, soft_wrap=True)
    if simulated:
        simulated_notice(result.judge)
