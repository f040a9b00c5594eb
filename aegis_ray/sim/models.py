"""Configuration of the simulated model server: model profiles, personas, scripts and faults.

A `SimConfig` maps model-name patterns (fnmatch, first match wins) to `ModelProfile`s, so one
server hosts several distinct "models" (e.g. `sim-honest-a`, `sim-honest-b`, `sim-liar`) for
cross-model tests. A request for a model no pattern matches gets the protocol's 404.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from aegis_ray.errors import BadInputError


class SimModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Persona(StrEnum):
    HONEST = "honest"
    """Answers from the shipped fact table; says it does not know otherwise."""
    HALLUCINATING = "hallucinating"
    """Like honest, but gives a wrong fact with probability `hallucination_rate`."""
    COMPROMISED = "compromised"
    """Obeys any instruction found anywhere in its input, tool results included."""
    FLAKY = "flaky"
    """Honest, but fails a `fault_rate` share of calls with a random fault."""
    CODER = "coder"
    """Solves a few kinds of computing task by writing a program, running it, and reporting its output."""


class FaultKind(StrEnum):
    RATE_LIMIT = "rate_limit"  # 429 with retry-after
    SERVER_ERROR = "server_error"  # 500
    UNAVAILABLE = "unavailable"  # 503
    TIMEOUT = "timeout"  # answers only after `delay_s`
    DROP_STREAM = "drop_stream"  # connection closed mid-body
    MALFORMED_JSON = "malformed_json"  # 200 with a body that is not JSON
    MALFORMED_TOOL_ARGS = "malformed_tool_args"  # a tool call whose arguments are not JSON


class Fault(SimModel):
    kind: FaultKind
    retry_after_s: float = Field(default=1.0, ge=0, description="For rate_limit.")
    delay_s: float = Field(default=5.0, ge=0, description="For timeout.")
    after_chunks: int = Field(default=2, ge=0, description="For drop_stream: frames sent before the cut.")


class ToolCallTurn(SimModel):
    name: str
    arguments: dict[str, Any] | str = Field(
        default_factory=dict, description="A string is sent verbatim (to script malformed arguments)."
    )


class Turn(SimModel):
    """One scripted assistant turn: text, tool calls, or both."""

    text: str | None = None
    tool_calls: list[ToolCallTurn] = Field(default_factory=list)

    @model_validator(mode="after")
    def _not_empty(self) -> Turn:
        if self.text is None and not self.tool_calls:
            raise ValueError("a turn needs text or at least one tool call")
        return self


class Rule(SimModel):
    """Answers `reply` when the last message matches (all given conditions must hold)."""

    contains: str | None = None
    regex: str | None = None
    role: Literal["user", "assistant", "tool", "system"] | None = None
    reply: Turn


class Script(SimModel):
    """Rules are tried first; then `turns[i]` answers a conversation holding i assistant turns.

    Indexing by the conversation (not a server-side cursor) keeps scripts stateless: concurrent
    sessions and re-executed steps after a crash get the same turn for the same conversation.
    """

    rules: list[Rule] = Field(default_factory=list)
    turns: list[Turn] = Field(default_factory=list)


class ModelProfile(SimModel):
    persona: Persona = Persona.HONEST
    hallucination_rate: float = Field(default=0.3, ge=0, le=1)
    hallucination_mode: Literal["random", "consistent"] = Field(
        default="random",
        description="random: each sample may be wrong; consistent: a question is always wrong the same way.",
    )
    seed: int = 0
    latency_ms: float = Field(default=0.0, ge=0)
    latency_jitter_ms: float = Field(default=0.0, ge=0)
    fault_rate: float = Field(default=0.0, ge=0, le=1, description="Share of calls failing at random.")
    random_faults: list[FaultKind] = Field(
        default_factory=lambda: [FaultKind.RATE_LIMIT, FaultKind.SERVER_ERROR, FaultKind.UNAVAILABLE]
    )
    stream_chunk_chars: int = Field(default=8, gt=0)
    script: Script | None = None


def default_models() -> dict[str, ModelProfile]:
    return {
        "sim-honest*": ModelProfile(persona=Persona.HONEST),
        "sim-hallucinating*": ModelProfile(persona=Persona.HALLUCINATING, hallucination_rate=0.3),
        "sim-consistent-liar*": ModelProfile(
            persona=Persona.HALLUCINATING, hallucination_rate=0.3, hallucination_mode="consistent"
        ),
        "sim-compromised*": ModelProfile(persona=Persona.COMPROMISED),
        "sim-flaky*": ModelProfile(persona=Persona.FLAKY, fault_rate=0.3),
        "sim-coder*": ModelProfile(persona=Persona.CODER),
    }


class BatchProfile(SimModel):
    """How the simulated batch APIs (OpenAI Batch, Anthropic Message Batches, Gemini batch mode) behave."""

    completion_delay_s: float = Field(default=0.0, ge=0, description="A batch ends this long after it is created.")
    failure_rate: float = Field(default=0.0, ge=0, le=1, description=(
        "Share of a batch's requests that fail alone (a 500 in that request's result), drawn per request."))


class SimConfig(SimModel):
    models: dict[str, ModelProfile] = Field(default_factory=default_models)
    seed: int = 0
    batch: BatchProfile = Field(default_factory=BatchProfile)
    api_keys: list[str] | None = Field(
        default=None, description="If set, requests must carry one of these keys (else HTTP 401)."
    )

    @classmethod
    def from_file(cls, path: Path) -> SimConfig:
        """Load a JSON or YAML config; a clear `BadInputError` says what is wrong."""
        try:
            raw = path.read_text(encoding="utf-8")
            data = yaml.safe_load(raw) if path.suffix in (".yaml", ".yml") else json.loads(raw)
            return cls.model_validate(data)
        except OSError as exc:
            raise BadInputError(f"cannot read simulated-model config {path}: {exc.strerror}") from exc
        except (ValueError, yaml.YAMLError) as exc:
            detail = exc.errors()[0] if isinstance(exc, ValidationError) else None
            where = ".".join(str(p) for p in detail["loc"]) if detail else ""
            msg = detail["msg"] if detail else str(exc).splitlines()[0]
            raise BadInputError(f"invalid simulated-model config {path} {where}: {msg}") from exc
