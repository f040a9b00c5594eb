"""`aegis redteam`: every red-team scenario against a simulated compromised model, undefended and
defended, judged by state."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from aegis_ray.cli.common import out, reports_errors, simulated_notice


@reports_errors
def redteam(
    limit: Annotated[int | None, typer.Option(min=2, help="Only the first N scenarios (attacks and twins).")] = None,
    output: Annotated[Path | None, typer.Option("--out", help="Also write the report as JSON here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Attack a simulated compromised model with every scenario, undefended and defended; print
    attack success and benign utility per category, carrier and technique (exit 1 if any defended
    attack landed)."""
    from aegis_ray.security import report_table, run_red_team
    from aegis_ray.sim.server import SimServer

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
