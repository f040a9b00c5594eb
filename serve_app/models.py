"""The HTTP API's request and response models (they are the OpenAPI schema at /openapi.json)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from aegis_ray.runner import RunKind
from aegis_ray.types import Check, TaskText
from aegis_ray.verify import CHOSEN_LAYERS, Verification


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunRequest(ApiModel):
    task: TaskText
    model: str | None = Field(default=None, description="provider:model; default: the service's chain")


VerifyLayerName = Literal[CHOSEN_LAYERS]  # type: ignore[valid-type]  # the names, from the verify registry


class VerifyRequest(ApiModel):
    """Deterministic `checks` on `answer`; with a `question`, also the verification `layers`
    (independent judge and voters, never the author). At least one of checks or question."""

    answer: str = Field(max_length=1_000_000)
    checks: list[Check] = Field(default_factory=list, max_length=100)
    question: TaskText | None = None
    layers: list[VerifyLayerName] = Field(default_factory=lambda: ["claims"], min_length=1, max_length=5)
    author: str | None = Field(default=None, description="The model that wrote the answer (never a verifier).")

    @model_validator(mode="after")
    def _something_to_check(self) -> VerifyRequest:
        if not self.checks and self.question is None:
            raise ValueError("give checks, a question, or both")
        return self


class CheckResult(ApiModel):
    check: str
    passed: bool
    reason: str


class VerifyResponse(ApiModel):
    passed: bool
    results: list[CheckResult]
    verification: Verification | None = Field(default=None, description="The layers' decisions, with a question.")


class OrchestrateRequest(ApiModel):
    goal: TaskText
    model: str | None = Field(default=None, description="provider:model for planning and steps")
    retries: int = Field(default=1, ge=0, le=5, description="Retries per failed step.")


class EnqueueRequest(ApiModel):
    tasks: list[TaskText] = Field(min_length=1, max_length=10_000)
    model: str | None = None


class EnqueueResponse(ApiModel):
    job_ids: list[str]
    added: int


class RunSummary(ApiModel):
    run_id: str
    status: str
    kind: RunKind = Field(description="answer: one model answer; verified: an answer verified claim by claim; "
                                      "session: an agent session with tools.")
    task: str
    steps: int
    updated: float


class ApprovalRecord(ApiModel):
    request_id: str
    request: dict[str, Any] = Field(description="The tool, its effect and its arguments.")
    approved: bool | None = Field(description="None while pending.")
    created: float
    decided: float | None


class RunDetail(ApiModel):
    """One run as the store holds it: the answer (with its verdicts and citations), every step (with
    its completion, tool calls and tool results), and the approvals it asked for."""

    run_id: str
    kind: RunKind
    status: str
    task: str
    spec: dict[str, Any]
    model: str | None
    simulated: bool
    usage: dict[str, int]
    cost_usd: float
    elapsed_s: float
    updated: float
    answer: dict[str, Any] | None
    steps: list[dict[str, Any]]
    approvals: list[ApprovalRecord]


class QueueResponse(ApiModel):
    counts: dict[str, int]


class ControlResponse(ApiModel):
    kill_switch: Literal["running", "stopped"]


class HealthResponse(ApiModel):
    status: Literal["ok", "stopped", "degraded"]
    store: str
    kill_switch: str
    cluster: dict[str, Any]
    providers: list[dict[str, Any]] = Field(description="This replica's endpoints that have been called, with "
                                                        "their counters and circuit breaker.")
    chain: list[str] = Field(default_factory=list, description="The service's model chain, first choice first.")


class ScoreItem(ApiModel):
    property: str
    value: Any
    source: str


class Frontier(ApiModel):
    items: list[ScoreItem]


class ErrorBody(ApiModel):
    """What every error answers with: what was wrong, what to do about it, and its type."""

    detail: str | list[dict[str, Any]] = Field(description="The message; for a 422, pydantic's list of the "
                                                           "fields that failed (each with its `loc` and `msg`).")
    hint: str | None
    error: str = Field(description="The error's type: an AegisError class (BadInputError, NotFoundError, ...), "
                                   "ValidationError (422), UnauthorizedError (401), MethodNotAllowedError (405), "
                                   "PayloadTooLargeError (413) or HTTPError.")


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
