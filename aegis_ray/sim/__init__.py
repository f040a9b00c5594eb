"""Simulated model server: a loopback HTTP server that speaks the OpenAI (chat completions and
responses), Anthropic and Gemini wire protocols, driven by scripts, personas, latency and faults."""

from aegis_ray.sim.models import Fault, FaultKind, ModelProfile, Persona, Rule, Script, SimConfig, Turn
from aegis_ray.sim.server import SimServer

__all__ = ["Fault", "FaultKind", "ModelProfile", "Persona", "Rule", "Script", "SimConfig", "SimServer", "Turn"]
