"""Aegis: a model-agnostic, verifying, zero-trust LLM agent harness that runs on Ray.

`aegis_ray` is the engine (pure asyncio + pydantic, no Ray needed); `actors` puts it into Ray
actors and `serve_app` serves it over HTTP.

The names below load on first use (PEP 562), so that `aegis` reaches its Ctrl-C handler
(`aegis_ray.cli.main`) before pydantic and the settings are imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aegis_ray.lazy import lazy_exports

if TYPE_CHECKING:
    from aegis_ray.config import Settings, load_settings
    from aegis_ray.errors import AegisError
    from aegis_ray.types import Completion, Message, ModelRequest, RunResult, RunSpec, ToolSpec

__version__ = "0.1.0"

__all__ = [
    "AegisError", "Completion", "Message", "ModelRequest", "RunResult", "RunSpec", "Settings", "ToolSpec",
    "__version__", "load_settings",
]

__getattr__ = lazy_exports(__name__, {
    "Settings": "config", "load_settings": "config", "AegisError": "errors",
    **{name: "types" for name in ("Completion", "Message", "ModelRequest", "RunResult", "RunSpec", "ToolSpec")},
})
