"""`aegis redteam`: every red-team scenario against a simulated compromised model, undefended and
defended, judged by state. Registered on the main `aegis` app by `aegis_ray.cli`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from aegis_ray.cli import app, out, reports_errors, simulated_notice
from aegis_ray.config import load_settings
from aegis_ray.security.redteam.runner import Report, red_team, report_table


async def run_red_team(sim_url: str, limit: int | None = None, secret: str | None = None) -> Report:
    """The red team with in-process endpoints on the simulated server at `sim_url`."""
    from aegis_ray.providers import EndpointCache, ModelEndpoint
    from aegis_ray.runner import endpoint_configurer

    configure = endpoint_configurer(load_settings(), sim_url)
    endpoints = EndpointCache(lambda model: ModelEndpoint(configure(model)))
    try:
        return await red_team(endpoints, limit=limit, secret=secret)
    finally:
        await endpoints.aclose()


@app.command()
@reports_errors
def redteam(
    limit: Annotated[int | None, typer.Option(min=2, help="Only the first N scenarios (attacks and twins).")] = None,
    output: Annotated[Path | None, typer.Option("--out", help="Also write the report as JSON here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Attack a simulated compromised model with every scenario, undefended and defended; print
    attack success and benign utility per category, carrier and technique (exit 1 if any defended
    attack landed)."""
    from aegis_ray.sim import SimServer

    with SimServer() as server:
        report = asyncio.run(run_red_team(server.base_url, limit))
    text = report.model_dump_json(indent=2)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    if as_json:
        out.print_json(text)
    else:
        out.print(report_table(report), soft_wrap=True)
    simulated_notice("sim:sim-compromised-agent, sim:sim-compromised-reader")
    if report.overall["defended"].landed:
        raise typer.Exit(1)
