"""`aegis sim serve`: the simulated model server (OpenAI, Anthropic and Gemini wire protocols) in
the foreground, for tests, demos and benchmarks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aegis_ray.cli.common import err, reports_errors


@reports_errors
def serve(
    port: Annotated[int, typer.Option(min=0, max=65535)] = 8900,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    config: Annotated[Path | None, typer.Option(help="JSON or YAML SimConfig (models, personas, scripts).")] = None,
) -> None:
    """Serve the simulated model (OpenAI, Anthropic and Gemini wire protocols) until interrupted."""
    from aegis_ray.sim import SimConfig
    from aegis_ray.sim.server import serve_forever

    sim_config = SimConfig.from_file(config) if config else SimConfig()
    err.print(f"[bold yellow]SIMULATED[/] model server on http://{host}:{port} — models: "
              f"{', '.join(sim_config.models)}\n  OpenAI base URL  http://{host}:{port}/v1\n"
              f"  Anthropic / Gemini base URL  http://{host}:{port}\n  use it with AEGIS_SIM_URL=http://{host}:{port}")
    serve_forever(sim_config, host, port)
