"""`aegis serve`: the HTTP API, the OpenAI-compatible endpoint and the dashboard, deployed on Ray
Serve until Ctrl-C, which shuts Serve down and exits 0: stopping a server is how it ends, not a
failure (130 when Ctrl-C comes while it is still starting: that cancels the command)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated

import typer

from aegis_ray.cli.common import err, join_cluster, reports_errors, simulated_notice, simulator
from aegis_ray.cli.interrupt import Cancelled, interruptible
from aegis_ray.config import load_settings


@reports_errors
def serve(
    host: Annotated[str, typer.Option(help="Bind address; keep 127.0.0.1 unless AEGIS_API_KEY is set.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8080,
) -> None:
    """Serve the HTTP API, the OpenAI-compatible endpoint and the dashboard on Ray Serve (Ctrl-C stops it)."""
    from aegis_ray.runner import plan_models

    with interruptible() as interrupt:
        settings = load_settings()
        if host not in ("127.0.0.1", "localhost", "::1") and not (settings.api_key or settings.api_keys_file):
            err.print(f"[bold yellow]warning:[/] serving on {host} with no API key: anyone who can reach it can use it")
        plan = plan_models(settings)
        with simulator(plan.needs_simulator) as sim_url:
            join_cluster(settings)
            interrupt.check()
            from serve_app.deployment import start  # after the status line: Serve and FastAPI take a second or two

            try:
                start(settings, sim_url, host, port)
                interrupt.check("Serve was still starting; it is shut down")
                if plan.simulated:
                    simulated_notice(", ".join(m.name for m in plan.chain))
                err.print(f"Aegis is serving on http://{host}:{port} (dashboard /, API /api, OpenAI-compatible /v1); "
                          "Ctrl-C stops it", soft_wrap=True)
                interrupt.notice = "stopping..."
                with contextlib.suppress(Cancelled):
                    interrupt.run(_forever())
            finally:
                _shut_down()
    err.print("Aegis stopped serving", soft_wrap=True)


async def _forever() -> None:
    await asyncio.get_running_loop().create_future()


def _shut_down() -> None:
    """Shut Serve down: its controller, proxies and replicas, and with them the port. The controller
    ends its shutdown by killing itself, which Ray reports to the driver as a failed task
    ("graceful_shutdown failed ... will be retried") on sys.stdout, where `join_cluster` sends what
    Ray prints; from here on that goes nowhere (the command's own lines go to `err`)."""
    import os
    import sys

    from ray import serve as ray_serve

    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the process's stdout from now until it exits
    ray_serve.shutdown()
