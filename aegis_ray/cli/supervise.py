"""`aegis supervise`: a worker model answers, an acceptance gate judges the draft (verification with
an independent critic as the judge, the critic's own verdict, or the declared checks), and the
worker revises from the feedback until the gate accepts or the rounds run out; exit 3 when no
draft was accepted (the last one is printed as not accepted)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

import typer
from pydantic import TypeAdapter, ValidationError
from rich.markup import escape

from aegis_ray.cli.common import (
    bad_input,
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
from aegis_ray.errors import BadInputError
from aegis_ray.types import Check

GateKind = Literal["verify", "critic", "checks"]  # plan.gates.GateKind, without importing the plans here

NOT_ACCEPTED = 3
CHECK_FIELDS = {"contains": "text", "equals": "value", "regex": "pattern"}


def parse_check(flag: str) -> Check:
    """`KIND:VALUE` (contains, equals, regex) as a declared check."""
    kind, sep, value = flag.partition(":")
    if not sep or kind not in CHECK_FIELDS:
        raise BadInputError(f"cannot read the check {flag!r}",
                            hint="give KIND:VALUE with KIND one of contains, equals, regex (e.g. contains:Canberra)")
    try:
        return TypeAdapter(Check).validate_python({"kind": kind, CHECK_FIELDS[kind]: value})
    except ValidationError as exc:
        raise bad_input(exc) from None


@reports_errors
def supervise(
    task: Annotated[str, typer.Argument(help="What the worker should answer.")],
    model: Annotated[str | None, typer.Option("--model", "-m", help="The worker: provider:model.")] = None,
    critic: Annotated[str | None, typer.Option(help="The independent critic, never the worker (default: the "
                                                    "verification judge; offline, the simulated one).")] = None,
    rounds: Annotated[int, typer.Option(min=1, max=10, help="Drafts at most.")] = 3,
    gate: Annotated[GateKind, typer.Option(help="What accepts a draft: verify (claim by claim, the critic as "
                                                "judge), critic (its verdict), checks (the --check flags alone).")]
    = "verify",
    check: Annotated[list[str] | None, typer.Option("--check", help="A declared check every draft must pass "
                                                                    "first: contains:TEXT, equals:TEXT or "
                                                                    "regex:PATTERN (repeatable).")] = None,
    profile: Annotated[str | None, typer.Option(help="An agent profile whose system prompt the worker "
                                                    "follows (coding, research, sre, or your own).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the supervision as JSON.")] = False,
) -> None:
    """Evaluator-optimizer: a worker drafts, an acceptance gate with an independent critic judges,
    the worker revises, until a draft is accepted (exit 0) or the rounds run out (exit 3)."""
    from aegis_ray.plan.supervise import critic_model
    from aegis_ray.runner import endpoint_configurer, plan_models

    settings = load_settings()
    agent = agent_profile(settings, profile)
    checks = tuple(parse_check(flag) for flag in check or ())
    plan = plan_models(settings, model)
    judge = critic_model(settings, plan.chain[0], critic)
    models = (*plan.chain, judge)
    check_simulated_models(settings, models)
    refuse_if_stopped(settings)
    simulated = any(m.simulated for m in models)
    join_cluster(settings, preload=("aegis_ray.sim.server",) if simulated else ())
    with simulator(simulated and not settings.sim_url) as sim_url:
        configure = endpoint_configurer(settings, sim_url)
        result = asyncio.run(_supervise(configure, plan.chain, judge, task, settings, gate, checks, rounds,
                                        agent.system_prompt if agent else None))
    if as_json:
        out.print_json(result.model_dump_json())
    else:
        for number, done in enumerate(result.rounds, 1):
            verdict = "[green]accepted[/]" if done.critique.accept else "[red]not accepted[/]"
            err.print(f"[cyan]round {number}[/] {escape(done.author or '')}: {verdict} "
                      f"{escape(done.critique.feedback)}", soft_wrap=True, highlight=False)
        out.print(result.answer, markup=False, soft_wrap=True)
    if simulated:
        simulated_notice(result.worker)
    if not result.accepted:
        err.print(f"[bold yellow]not accepted[/] after {len(result.rounds)} rounds: the {result.gate} gate did not "
                  "accept any draft; the last one is printed above", soft_wrap=True)
        raise typer.Exit(NOT_ACCEPTED)


async def _supervise(configure: Any, chain: Any, judge: Any, task: str, settings: Any, gate: GateKind,
                     checks: tuple[Check, ...], rounds: int, system_prompt: str | None) -> Any:
    from actors.registry import ClusterModels
    from aegis_ray.plan.supervise import supervise as run_supervision

    async with ClusterModels(configure) as models:
        return await run_supervision(models.gateway(chain), models.gateway((judge,)), task, settings, gate=gate,
                                     checks=checks, rounds=rounds, system_prompt=system_prompt)
