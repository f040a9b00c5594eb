"""`aegis serve`: the HTTP API, the OpenAI-compatible endpoint and the dashboard, deployed on Ray
Serve until interrupted."""

from __future__ import annotations

from typing import Annotated

import typer

from aegis_ray.cli.common import err, join_cluster, reports_errors, simulated_notice, simulator
from aegis_ray.config import load_settings


@reports_errors
def serve(
    host: Annotated[str, typer.Option(help="Bind address; keep 127.0.0.1 unless AEGIS_API_KEY is set.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8080,
) -> None:
    """Serve the HTTP API, the OpenAI-compatible endpoint and the dashboard on Ray Serve."""
    import time

    from ray import serve as ray_serve

    from aegis_ray.runner import plan_models
    from serve_app.deployment import start

    settings = load_settings()
    if host not in ("127.0.0.1", "localhost", "::1") and not (settings.api_key or settings.api_keys_file):
        err.print(f"[bold yellow]warning:[/] serving on {host} with no API key: anyone who can reach it can use it")
    plan = plan_models(settings)
    with simulator(plan.needs_simulator) as sim_url:
        join_cluster(settings)
        start(settings, sim_url, host, port)
        if plan.simulated:
            simulated_notice(", ".join(m.name for m in plan.chain))
        err.print(f"Aegis is serving on http://{host}:{port} (dashboard /, API /api, OpenAI-compatible /v1); "
                  "Ctrl-C stops it")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            ray_serve.shutdown()
