"""The `aegis` Typer app: every command module's functions, named and registered here.

Exit codes: 0 ok, 1 failed run, 2 bad input, 3 abstained, 4 parked awaiting approval, 130 cancelled
(Ctrl-C). Every command validates
its input with pydantic and reports a failure as one `error:` line and one `hint:` line on stderr,
usage errors (unknown option or command, missing argument, bad value) included: `main` runs the app
with Click's standalone mode off, to print those itself. `--json` output goes to stdout alone.

Nothing imports this module but the entry points (`aegis`, `python -m aegis_ray`); the command
modules import only `aegis_ray.cli.common` (and `verify`, for `run --verify`).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from typer._click.exceptions import ClickException, UsageError

from aegis_ray.cli import (
    chat,
    cluster,
    control,
    factory,
    keys,
    mcp,
    models,
    orchestrate,
    redteam,
    run,
    runs,
    serve,
    sim,
    supervise,
    team,
    verify,
)
from aegis_ray.cli import eval as eval_cli  # `as`: not the builtin
from aegis_ray.cli.common import print_error, report_usage_error, set_verbose

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Aegis: a verifying agent harness on Ray.")
sim_app = typer.Typer(no_args_is_help=True, help="The simulated model server (for tests, demos, benchmarks).")
mcp_app = typer.Typer(no_args_is_help=True, help="Model Context Protocol: Aegis as an MCP server.")


@app.callback()
def _global_options(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also show Ray's and Serve's own log lines.")]
    = False,
) -> None:
    set_verbose(verbose)


# Registration order is the order `aegis --help` lists them in (command groups come last).
app.command()(run.run)
app.command()(chat.chat)
app.command()(runs.runs)
app.command()(runs.approve)
app.command()(runs.resume)
app.command()(control.stop)
app.command()(control.audit)
app.command()(factory.factory)
app.command()(factory.worker)
app.command()(factory.queue)
app.command()(models.models)
app.command("serve")(serve.serve)
app.command()(orchestrate.orchestrate)
app.command()(supervise.supervise)
app.command()(team.team)
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
app.add_typer(eval_cli.app, name="eval")
app.add_typer(keys.app, name="keys")


def main() -> None:
    """Run the app; exit with the command's code, or 2 after a usage error in the Aegis style."""
    try:
        code = app(standalone_mode=False)
    except UsageError as error:
        code = report_usage_error(error)
    except ClickException as error:
        print_error(error.format_message(), "see `aegis --help`")
        code = error.exit_code
    except typer.Abort:
        print_error("aborted: the input ended before a prompt was answered", "run it from a terminal, or "
                    "with --approve auto or deny so that nothing asks")
        code = 1
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
