"""Model references (`provider:model`) and the capability matrix.

    openai:gpt-4o-mini                          OpenAI chat completions
    openai-responses:gpt-4o-mini                OpenAI responses API
    anthropic:claude-sonnet-4-5                 Anthropic messages
    gemini:gemini-2.5-flash                     Gemini generateContent
    openai-compatible:http://host:8000/v1:NAME  any OpenAI-compatible server (vLLM, Ollama, llama.cpp)
    sim:sim-honest                              Aegis's simulated model server (always labelled)
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

from aegis_ray.config import ProviderName
from aegis_ray.errors import UnknownModelError

WireProtocol = Literal["openai-chat", "openai-responses", "anthropic", "gemini"]

_PROTOCOL: dict[str, WireProtocol] = {
    "openai": "openai-chat",
    "openai-compatible": "openai-chat",
    "sim": "openai-chat",
    "openai-responses": "openai-responses",
    "anthropic": "anthropic",
    "gemini": "gemini",
}
# Names from the OpenTelemetry GenAI conventions' well-known `gen_ai.provider.name` values.
_OTEL_PROVIDER: dict[str, str] = {
    "openai": "openai",
    "openai-responses": "openai",
    "openai-compatible": "openai",
    "anthropic": "anthropic",
    "gemini": "gcp.gemini",
    "sim": "aegis.sim",
}
_COMPATIBLE = re.compile(r"^openai-compatible:(https?://[^/:\s]+(?::\d+)?(?:/[^:\s]*)?):(.+)$")


class Capabilities(BaseModel):
    model_config = ConfigDict(frozen=True)

    tools: bool = True
    parallel_tool_calls: bool = True
    streaming: bool = True
    json_mode: bool = True
    responses_api: bool = False


_CAPABILITIES: dict[str, Capabilities] = {
    "openai": Capabilities(),
    "openai-responses": Capabilities(responses_api=True),
    "anthropic": Capabilities(json_mode=False),
    "gemini": Capabilities(),
    # Compatible servers vary; tools and JSON mode are common but not universal (llama.cpp needs
    # --jinja for tools). Requests needing them are sent and any 400 surfaces as a typed error.
    "openai-compatible": Capabilities(parallel_tool_calls=False),
    "sim": Capabilities(),
}


class ModelRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    provider: ProviderName
    model: str
    base_url: str | None = None

    @property
    def name(self) -> str:
        if self.provider == "openai-compatible":
            return f"openai-compatible:{self.base_url}:{self.model}"
        return f"{self.provider}:{self.model}"

    @property
    def protocol(self) -> WireProtocol:
        return _PROTOCOL[self.provider]

    @property
    def otel_provider(self) -> str:
        return _OTEL_PROVIDER[self.provider]

    @property
    def simulated(self) -> bool:
        return self.provider == "sim"

    @property
    def capabilities(self) -> Capabilities:
        return _CAPABILITIES[self.provider]

    def __str__(self) -> str:
        return self.name


def parse_model_ref(text: str) -> ModelRef:
    """Parse `provider:model`; a bad reference raises `UnknownModelError` saying what is accepted."""
    text = text.strip()
    match = _COMPATIBLE.match(text)
    if match:
        return ModelRef(provider="openai-compatible", model=match.group(2), base_url=match.group(1))
    provider, sep, model = text.partition(":")
    if not sep or not model.strip() or provider not in _PROTOCOL or provider == "openai-compatible":
        raise UnknownModelError(
            f"cannot route model '{text}'",
            model=text,
            hint="use provider:model with provider one of openai, openai-responses, anthropic, gemini, sim, "
            "or openai-compatible:<url>:<model>",
        )
    return ModelRef(provider=provider, model=model.strip())  # type: ignore[arg-type]

