"""The `aegis` Typer app: every command module's functions, named and registered here.

Exit codes (DESIGN.md §6): 0 ok, 1 failed run, 2 bad input, 3 abstained. Every command validates
its input with pydantic and reports a failure as one clear line on stderr (plus a hint where one
helps); `--json` output goes to stdout alone, so scripts can parse it.

Nothing imports this module but the entry points (`aegis`, `python -m aegis_ray`); the command
modules import only `aegis_ray.cli.common` (and `verify`, for `run --verify`).
"""

from __future__ import annotations

import typer

from aegis_ray.cli import cluster, factory, mcp, models, orchestrate, redteam, run, runs, serve, sim, verify

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Aegis: a verifying agent harness on Ray.")
sim_app = typer.Typer(no_args_is_help=True, help="The simulated model server (for tests, demos, benchmarks).")
mcp_app = typer.Typer(no_args_is_help=True, help="Model Context Protocol: Aegis as an MCP server.")

# Registration order is the order `aegis --help` lists them in (command groups come last).
app.command()(run.run)
app.command()(runs.runs)
app.command()(runs.approve)
app.command()(factory.factory)
app.command()(factory.worker)
app.command()(factory.queue)
app.command()(models.models)
app.command("serve")(serve.serve)
app.command()(orchestrate.orchestrate)
app.command()(redteam.redteam)
app.command()(verify.verify)
app.command("verify-claims")(verify.verify_claims)
app.command()(verify.calibrate)
app.command()(cluster.up)
app.command()(cluster.down)
app.command("status")(cluster.status_command)
sim_app.command("serve")(sim.serve)
app.add_typer(sim_app, name="sim")
mcp_app.command("serve")(mcp.serve)
app.add_typer(mcp_app, name="mcp")

def main() -> None:
    app()


if __name__ == "__main__":
    main()
