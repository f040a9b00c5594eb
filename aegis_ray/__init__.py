"""Aegis: a model-agnostic, verifying, zero-trust LLM agent harness that runs on Ray.

`aegis_ray` is the engine (pure asyncio + pydantic, no Ray needed); `actors` puts it into Ray
actors and `serve_app` serves it over HTTP.
"""

from aegis_ray.config import Settings, load_settings
from aegis_ray.errors import AegisError
from aegis_ray.types import Completion, Message, ModelRequest, RunResult, RunSpec, ToolSpec

__version__ = "0.1.0"

__all__ = [
    "AegisError", "Completion", "Message", "ModelRequest", "RunResult", "RunSpec", "Settings", "ToolSpec",
    "__version__", "load_settings",
]
