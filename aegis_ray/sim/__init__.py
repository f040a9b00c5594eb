"""Simulated model server: a loopback HTTP server that speaks the OpenAI (chat completions and
responses), Anthropic and Gemini wire protocols, driven by scripts, personas, latency and faults.

The names load on first use (PEP 562): `aegis_ray.sim.models` alone (the CLI checks a `sim:` model
name against it before anything starts) does not pull in the server, uvicorn and Starlette.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aegis_ray.sim.models import Fault, FaultKind, ModelProfile, Persona, Rule, Script, SimConfig, Turn
    from aegis_ray.sim.server import SimServer

_HOMES = {"Fault": "models", "FaultKind": "models", "ModelProfile": "models", "Persona": "models", "Rule": "models",
          "Script": "models", "SimConfig": "models", "Turn": "models", "SimServer": "server"}

__all__ = ["Fault", "FaultKind", "ModelProfile", "Persona", "Rule", "Script", "SimConfig", "SimServer", "Turn"]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
