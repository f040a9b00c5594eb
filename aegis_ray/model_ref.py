"""Model references (`provider:model`) and the capability matrix.

    openai:gpt-4o-mini                          OpenAI chat completions
    openai-responses:gpt-4o-mini                OpenAI responses API
    anthropic:claude-sonnet-4-5                 Anthropic messages
    gemini:gemini-2.5-flash                     Gemini generateContent
    openai-compatible:http://host:8000/v1:NAME  any OpenAI-compatible server (vLLM, Ollama, llama.cpp)
    sim:sim-honest                              Aegis's simulated model server (always labelled)

A reference may pin a version: `MODEL@VERSION` names the provider's dated snapshot, and is the same
reference as that dated name (`openai:gpt-4o-mini@2024-07-18` is `openai:gpt-4o-mini-2024-07-18`;
`anthropic:claude-3-5-sonnet@20241022`, `gemini:gemini-1.5-flash@002`, `sim:sim-honest@2025-01-01`).
`ModelRef.version` reads the pin back from either spelling; an unpinned reference follows whatever
the provider's alias points at today.

A reference is parsed once, where it enters (a flag, a request body, a settings file, a stored
spec), into a `ModelRef`, and carried as one: fields typed `ModelName` take the text and hold the
`ModelRef`, and serialize back to the text.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer, WithJsonSchema

from aegis_ray.errors import UnknownModelError

ProviderName = Literal["openai", "openai-responses", "anthropic", "gemini", "openai-compatible", "sim"]
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
# How each provider dates its snapshots: `@VERSION` becomes the `-VERSION` suffix matched here.
_OPENAI_DATE = re.compile(r"-(\d{4}-\d{2}-\d{2})$")
_VERSION: dict[str, tuple[re.Pattern[str], str]] = {
    "openai": (_OPENAI_DATE, "YYYY-MM-DD"),
    "openai-responses": (_OPENAI_DATE, "YYYY-MM-DD"),
    "sim": (_OPENAI_DATE, "YYYY-MM-DD"),
    "anthropic": (re.compile(r"-(\d{8})$"), "YYYYMMDD"),
    "gemini": (re.compile(r"-(\d{3})$"), "NNN (e.g. 002)"),
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
    def version(self) -> str | None:
        """The pinned version (the provider's snapshot date or number), None when unpinned."""
        found = _VERSION.get(self.provider)
        match = found[0].search(self.model) if found else None
        return match.group(1) if match else None

    @property
    def pinned(self) -> bool:
        return self.version is not None

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

    # A reference equals its canonical text, and hashes as it, like a `StrEnum` member: tables keyed
    # by the text (endpoint maps that cross Ray, results files) and comparisons with a configured
    # name keep working with the parsed reference.
    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return self.name == other
        return isinstance(other, ModelRef) and self.name == other.name

    def __hash__(self) -> int:
        return hash(self.name)


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
    return ModelRef(provider=provider, model=_pinned(provider, model.strip(), text))  # type: ignore[arg-type]


def _pinned(provider: str, model: str, text: str) -> str:
    """`MODEL@VERSION` as the provider's dated model name; a name without `@` as it is."""
    name, sep, version = (part.strip() for part in model.partition("@"))
    if not sep:
        return model
    pattern, shape = _VERSION[provider]
    if provider == "anthropic":
        version = version.replace("-", "")  # 2024-10-22 and 20241022 name the same snapshot
    dated = f"{name}-{version}"
    match = pattern.search(dated)
    if not name or match is None or match.start() != len(name):
        raise UnknownModelError(f"cannot pin model '{text}'", model=text,
                                hint=f"write the version of a {provider} model as {shape}: {provider}:MODEL@VERSION")
    return dated



ModelLike = ModelRef | str
"""A reference or its text: what the Python API accepts (`as_model_ref` parses the text once)."""


def as_model_ref(model: ModelLike) -> ModelRef:
    """`model` as a `ModelRef`: text is parsed (the Python API's convenience), a reference kept."""
    return model if isinstance(model, ModelRef) else parse_model_ref(model)


def _parse_text(value: Any) -> Any:
    return parse_model_ref(value) if isinstance(value, str) else value


ModelName = Annotated[
    ModelRef,
    BeforeValidator(_parse_text),
    PlainSerializer(lambda ref: ref.name, return_type=str),
    WithJsonSchema({"type": "string", "description": "provider:model, e.g. openai:gpt-4o-mini or sim:sim-honest",
                    "examples": ["sim:sim-honest"]}),
]
"""A model reference field: `provider:model` text in, a `ModelRef` held, the text out again."""
