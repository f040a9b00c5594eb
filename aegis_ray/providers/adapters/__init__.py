"""One adapter per wire protocol, each over the official SDK; SDKs are imported lazily."""

from __future__ import annotations

from aegis_ray.providers.adapters.base import Adapter
from aegis_ray.providers.endpoint_config import EndpointConfig


def make_adapter(config: EndpointConfig) -> Adapter:
    protocol = config.ref.protocol
    if protocol == "openai-chat":
        from aegis_ray.providers.adapters.openai_chat import OpenAIChatAdapter

        return OpenAIChatAdapter(config)
    if protocol == "openai-responses":
        from aegis_ray.providers.adapters.openai_responses import OpenAIResponsesAdapter

        return OpenAIResponsesAdapter(config)
    if protocol == "anthropic":
        from aegis_ray.providers.adapters.anthropic import AnthropicAdapter

        return AnthropicAdapter(config)
    from aegis_ray.providers.adapters.gemini import GeminiAdapter

    return GeminiAdapter(config)


__all__ = ["Adapter", "make_adapter"]
