"""The `aegis` command line.

Exit codes (DESIGN.md §6): 0 ok, 1 failed run, 2 bad input, 3 abstained. Every command validates
its input with pydantic and reports a failure as one clear line on stderr (plus a hint where one
helps); `--json` output goes to stdout alone, so scripts can parse it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console

from aegis_ray.config import load_settings
from aegis_ray.errors import AegisError, BadInputError
from aegis_ray.types import RunResult, RunSpec

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Aegis: a verifying agent harness on Ray.")
sim_app = typer.Typer(no_args_is_help=True, help="The simulated model server (for tests, demos, benchmarks).")
app.add_typer(sim_app, name="sim")

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

F = TypeVar("F", bound=Callable[..., Any])


def _fail(error: AegisError) -> typer.Exit:
    err.print(f"[bold red]error:[/] {error.message}", markup=True, soft_wrap=True)
    if error.hint:
        err.print(f"[dim]hint: {error.hint}[/]", soft_wrap=True)
    return typer.Exit(error.exit_code)


def reports_errors(command: F) -> F:
    """Turn Aegis and validation errors into one line and the right exit code."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise _fail(BadInputError(f"invalid {where}: {first['msg']}")) from None
        except AegisError as exc:
            raise _fail(exc) from None

    return wrapper  # type: ignore[return-value]


def _simulated_notice(model: str) -> None:
    err.print(
        f"[bold yellow]SIMULATED MODEL[/] — this answer comes from Aegis's built-in simulated model server "
        f"({model}), not from a real LLM.\n[dim]To use a real model: export OPENAI_API_KEY (or ANTHROPIC_API_KEY / "
        "GEMINI_API_KEY) and AEGIS_MODEL=openai:<model> (or pass --model), or point at any OpenAI-compatible "
        "server with --model openai-compatible:http://HOST:PORT/v1:<model>.[/]",
        soft_wrap=True,
    )


def _print_result(result: RunResult) -> None:
    out.print(result.answer.text, markup=False, soft_wrap=True)
    cost = "unknown (no price for this model)" if result.cost_usd is None else f"${result.cost_usd:.6f}"
    label = " (simulated)" if result.simulated else ""
    err.print(
        f"[dim]model {result.model}{label} · tokens {result.usage.input_tokens} in / "
        f"{result.usage.output_tokens} out · cost {cost} · {result.latency_s * 1000:.0f} ms[/]", soft_wrap=True,
    )


@app.command()
@reports_errors
def run(
    task: Annotated[str, typer.Argument(help="What the agent should do.")],
    model: Annotated[str | None, typer.Option("--model", "-m", help="provider:model, e.g. openai:gpt-4o-mini")] = None,
    fallback: Annotated[list[str] | None, typer.Option("--fallback", help="Fallback model (repeatable).")] = None,
    system: Annotated[str | None, typer.Option(help="System prompt.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Run one task on the cluster (local Ray unless RAY_ADDRESS is set) and print the answer."""
    from aegis_ray.runner import answer_task, endpoint_configurer, plan_models

    spec = RunSpec(task=task, model=model, fallback_models=tuple(fallback or ()), system_prompt=system)
    settings = load_settings()
    plan = plan_models(settings, spec)
    with _simulator(plan.needs_simulator) as sim_url:
        from actors.cluster import connect
        from actors.registry import ActorEndpoint
        from aegis_ray.providers import EndpointCache, Gateway
        from aegis_ray.telemetry import configure_tracing

        configure_tracing(settings.telemetry)
        connect(settings.ray_address, object_store_memory=settings.ray_object_store_mb * 2**20)
        configure = endpoint_configurer(settings, sim_url)
        gateway = Gateway(EndpointCache(lambda m: ActorEndpoint(configure(m))), plan.chain)
        result = asyncio.run(answer_task(gateway, spec))
    if result.simulated:
        _simulated_notice(result.model)
    if as_json:
        out.print_json(result.model_dump_json())
    else:
        _print_result(result)


class _simulator:
    """Context: a background simulated server when the plan needs one, yielding its URL (or None)."""

    def __init__(self, needed: bool) -> None:
        self._server = None
        if needed:
            from aegis_ray.sim import SimServer

            self._server = SimServer()

    def __enter__(self) -> str | None:
        return self._server.start().base_url if self._server else None

    def __exit__(self, *_: object) -> None:
        if self._server:
            self._server.stop()


@app.command()
@reports_errors
def models(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show the configured default model, providers with keys, and the capability matrix."""
    from aegis_ray.providers.routing import parse_model_ref

    settings = load_settings()
    kinds = ["openai", "openai-responses", "anthropic", "gemini", "sim"]
    matrix = {k: parse_model_ref(f"{k}:x").capabilities.model_dump() for k in kinds}
    report = {"default_model": settings.model, "fallback_models": settings.fallback_models,
              "providers_with_keys": settings.configured_providers(), "capabilities": matrix}
    if as_json:
        out.print_json(json.dumps(report))
        return
    out.print(f"default model: {settings.model or '(none: the simulated model answers)'}")
    out.print(f"providers with keys: {', '.join(report['providers_with_keys']) or 'none'}")
    for kind, caps in matrix.items():
        out.print(f"  {kind:17} " + " ".join(f"{name}={'yes' if ok else 'no'}" for name, ok in caps.items()))


@sim_app.command("serve")
@reports_errors
def sim_serve(
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
