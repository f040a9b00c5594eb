"""Simulated model server: a loopback HTTP server that speaks the OpenAI (chat completions and
responses), Anthropic and Gemini wire protocols, driven by scripts, personas, latency and faults.

The names load on first use (PEP 562): `aegis_ray.sim.models` alone (the CLI checks a `sim:` model
name against it before anything starts) does not pull in the server, uvicorn and Starlette.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aegis_ray.lazy import lazy_exports

if TYPE_CHECKING:
    from aegis_ray.sim.models import Fault, FaultKind, ModelProfile, Persona, Rule, Script, SimConfig, Turn
    from aegis_ray.sim.server import SimServer

__all__ = ["Fault", "FaultKind", "ModelProfile", "Persona", "Rule", "Script", "SimConfig", "SimServer", "Turn"]

__getattr__ = lazy_exports(__name__, {name: "server" if name == "SimServer" else "models" for name in __all__})
