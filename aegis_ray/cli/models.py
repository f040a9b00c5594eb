"""`aegis models`: the configured default model, the providers with keys, and what each provider
kind can do (the capability matrix, a table that fits the terminal)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from aegis_ray.cli.common import out, reports_errors
from aegis_ray.cli.output import print_table
from aegis_ray.config import load_settings


@reports_errors
def models(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show the configured default model, providers with keys, and the capability matrix."""
    from aegis_ray.model_ref import parse_model_ref

    settings = load_settings()
    kinds = ["openai", "openai-responses", "anthropic", "gemini", "sim"]
    matrix = {k: parse_model_ref(f"{k}:x").capabilities.model_dump() for k in kinds}
    report = {"default_model": settings.model, "fallback_models": settings.fallback_models,
              "providers_with_keys": settings.configured_providers(), "capabilities": matrix}
    if as_json:
        out.print_json(json.dumps(report))
        return
    keys = ", ".join(report["providers_with_keys"]) or "none"
    for line in (f"default model: {settings.model or '(none: the simulated model answers)'}",
                 f"providers with keys: {keys}"):
        out.print(line, markup=False, soft_wrap=True)
    names = list(matrix["openai"])
    print_table(["kind", *(HEADERS.get(name, name) for name in names)],
                [[kind, *("yes" if caps[name] else "no" for name in names)] for kind, caps in matrix.items()])


# Short column headers, so that the matrix fits 60 columns.
HEADERS = {"parallel_tool_calls": "parallel", "streaming": "stream", "json_mode": "json", "responses_api": "responses"}
