"""One adapter per wire protocol, each over the official SDK; SDKs are imported lazily."""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from aegis_ray.model_ref import WireProtocol
from aegis_ray.providers.adapters.base import Adapter
from aegis_ray.providers.endpoint_config import EndpointConfig

_ADAPTERS: dict[WireProtocol, tuple[str, str, str]] = {  # protocol: (module here, adapter class, its SDK)
    "openai-chat": ("openai_chat", "OpenAIChatAdapter", "openai"),
    "openai-responses": ("openai_responses", "OpenAIResponsesAdapter", "openai"),
    "anthropic": ("anthropic", "AnthropicAdapter", "anthropic"),
    "gemini": ("gemini", "GeminiAdapter", "google.genai"),
}


def _adapter_class(protocol: WireProtocol) -> type[Adapter]:
    module, name, _ = _ADAPTERS[protocol]
    adapter: type[Adapter] = getattr(importlib.import_module(f"aegis_ray.providers.adapters.{module}"), name)
    return adapter


def make_adapter(config: EndpointConfig) -> Adapter:
    return _adapter_class(config.ref.protocol)(config)


def preload(configs: Iterable[EndpointConfig]) -> None:
    """Import the adapters and SDKs these endpoints use, now: an SDK import takes 0.4-1.5 s of CPU,
    which a long-lived worker should pay when it starts, not during its first calls."""
    for protocol in {config.ref.protocol for config in configs}:
        _adapter_class(protocol)
        importlib.import_module(_ADAPTERS[protocol][2])


__all__ = ["Adapter", "make_adapter", "preload"]
