"""The HTTP API's request and response models (they are the OpenAPI schema at /openapi.json)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from aegis_ray.types import Check, TaskText


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunRequest(ApiModel):
    task: TaskText
    model: str | None = Field(default=None, description="provider:model; default: the service's chain")


class VerifyRequest(ApiModel):
    answer: str = Field(max_length=1_000_000)
    checks: list[Check] = Field(min_length=1, max_length=100)


class CheckResult(ApiModel):
    check: str
    passed: bool
    reason: str


class VerifyResponse(ApiModel):
    passed: bool
    results: list[CheckResult]


class EnqueueRequest(ApiModel):
    tasks: list[TaskText] = Field(min_length=1, max_length=10_000)
    model: str | None = None


class EnqueueResponse(ApiModel):
    job_ids: list[str]
    added: int


class RunSummary(ApiModel):
    run_id: str
    status: str
    task: str
    steps: int
    updated: float


class QueueResponse(ApiModel):
    counts: dict[str, int]


class ControlResponse(ApiModel):
    kill_switch: Literal["running", "stopped"]


class HealthResponse(ApiModel):
    status: Literal["ok", "stopped", "degraded"]
    store: str
    kill_switch: str
    cluster: dict[str, Any]
    providers: list[dict[str, Any]]


class ScoreItem(ApiModel):
    property: str
    value: Any
    source: str


class Frontier(ApiModel):
    items: list[ScoreItem]


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    """The OpenAI chat-completions request; unknown fields are accepted and ignored, as OpenAI does."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, gt=0)
