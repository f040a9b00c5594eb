"""The HTTP API's request and response models (they are the OpenAPI schema at /openapi.json)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from aegis_ray.control.budget import BudgetLine
from aegis_ray.control.canary import CanaryState
from aegis_ray.control.watch import ModelWatch
from aegis_ray.runner import RunKind
from aegis_ray.store import AuditEntry, AuditReport
from aegis_ray.types import Check, TaskText
from aegis_ray.verify import CHOSEN_LAYERS, Verification


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunRequest(ApiModel):
    task: TaskText
    model: str | None = Field(default=None, description="provider:model; default: the service's chain")


VerifyLayerName = Literal[CHOSEN_LAYERS]  # type: ignore[valid-type]  # the names, from the verify registry
ClaimsMode = Literal["detect", "repair"]
VERIFIED_MODE: ClaimsMode = "detect"
"""How `aegis-verified` decides: the answer as given, never a stripped rewrite."""


class VerifyRequest(ApiModel):
    """Deterministic `checks` on `answer`; with a `question`, also the verification `layers`
    (independent judge and voters, never the author). At least one of checks or question."""

    answer: str = Field(max_length=1_000_000)
    checks: list[Check] = Field(default_factory=list, max_length=100)
    question: TaskText | None = None
    layers: list[VerifyLayerName] = Field(default_factory=lambda: ["claims"], min_length=1, max_length=5)
    author: str | None = Field(default=None, description="The model that wrote the answer (never a verifier).")
    mode: ClaimsMode = Field(default="repair", description=(
        "The claims layer's mode. detect: judge the answer as given (any unsupported claim rejects it, the text "
        "is never rewritten); repair: strip unsupported claims, say so, and accept what remains if it still "
        "answers the question."))

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


class DecisionRequest(ApiModel):
    approved: bool = Field(description="Approve (true) or deny (false) every pending request of the run.")


class DecisionResponse(ApiModel):
    run_id: str
    decided: int = Field(description="Pending requests decided now (0: none was pending).")


class AuditResponse(ApiModel):
    entries: list[AuditEntry] = Field(description="Oldest first.")
    verified: AuditReport | None = Field(default=None, description="With ?verify=true: the whole chain checked.")


class HealthResponse(ApiModel):
    status: Literal["ok", "stopped", "degraded"]
    store: str
    kill_switch: str
    cluster: dict[str, Any]
    providers: list[dict[str, Any]] = Field(description="This replica's endpoints that have been called, with "
                                                        "their counters and circuit breaker.")
    chain: list[str] = Field(default_factory=list, description="The service's model chain, first choice first.")
    budgets: list[BudgetLine] = Field(default_factory=list, description=(
        "Each spending limit of this day and month that applies to the caller, with what was spent and is held."))
    models: list[ModelWatch] = Field(default_factory=list, description=(
        "Each model this replica called: its SLOs (multi-window burn rates, cluster-wide) and its drift."))
    canaries: list[CanaryState] = Field(default_factory=list, description="Each canary route and its decision.")


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


ToolPattern = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_*?\[\]!-]+$")]


class SessionRequest(ApiModel):
    """An agent session in a workspace of its own on the server (the server chooses where), with the
    file, shell and Python tools in a sandbox. It is the caller's tenant's run."""

    task: TaskText
    model: str | None = Field(default=None, description="provider:model; default: the service's chain (offline: "
                                                        "the simulated coder)")
    profile: str | None = Field(default=None, max_length=40, description="An agent profile (`coding`, `research`, "
                                "`sre`, or one in the server's profiles directory): tools, system prompt, budgets.")
    tools: list[ToolPattern] | None = Field(default=None, max_length=50, description=(
        "fnmatch patterns of the tools the model is offered (instead of the profile's); default: every tool."))
    approve: Literal["ask", "auto", "deny"] | None = Field(default=None, description=(
        "Writing and executing tools: `ask` parks the session until POST /api/sessions/{id}/approvals decides; "
        "default: the profile's, else the server's AEGIS_APPROVAL."))
    max_steps: int | None = Field(default=None, ge=1, le=200, description="Model turns at most per message.")


class SessionMessage(ApiModel):
    text: TaskText = Field(description="The user's next message; the session answers it with the whole "
                                       "conversation in view.")


class SessionTurn(ApiModel):
    """A turn the session is now working on: its events are at `events` (server-sent events)."""

    session_id: str = Field(description="The session's run id (GET /api/runs/{id} has its detail).")
    status: str
    after: int = Field(description="The index of the last step before this turn: `events?after=` streams this "
                                   "turn's events alone.")
    events: str = Field(description="Where this turn's events stream.")


class SessionDecision(ApiModel):
    session_id: str
    decided: int = Field(description="Pending requests decided now (0: none was pending).")
    turn: SessionTurn | None = Field(description="The session resumed with the decision, if it was parked.")


RoleSpec = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[a-z][a-z0-9_-]{0,39}(=\S+)?$")]


class SuperviseRequest(ApiModel):
    """A worker drafts, an acceptance gate with an independent critic judges, the worker revises."""

    task: TaskText
    model: str | None = Field(default=None, description="The worker (provider:model); default: the service's chain.")
    critic: str | None = Field(default=None, description="The critic, never the worker; default: the verification "
                                                         "judge (offline: the simulated one).")
    rounds: int = Field(default=3, ge=1, le=10, description="Drafts at most.")
    gate: Literal["verify", "critic", "checks"] = Field(default="verify", description=(
        "What accepts a draft: verify (claim by claim, the critic as judge and voter), critic (its JSON verdict), "
        "checks (the declared checks alone)."))
    checks: list[Check] = Field(default_factory=list, max_length=20, description="Declared checks every draft "
                                                                                 "must pass first.")
    profile: str | None = Field(default=None, max_length=40, description="An agent profile whose system prompt "
                                                                         "the worker follows.")


class TeamRequest(ApiModel):
    """Role agents debate on a shared board; a judge that is none of them decides."""

    task: TaskText
    roles: list[RoleSpec] = Field(default_factory=lambda: ["proposer", "skeptic", "fact-checker"], min_length=1,
                                  max_length=8, description="Each NAME or NAME=provider:model.")
    model: str | None = Field(default=None, description="The roles' model, for a role naming none.")
    judge: str | None = Field(default=None, description="The judge, none of the roles' models; default: the "
                                                        "verification judge (offline: the simulated one).")
    rounds: int = Field(default=2, ge=1, le=5, description="Debate rounds before the judge decides.")
    profile: str | None = Field(default=None, max_length=40, description="An agent profile whose system prompt "
                                                                         "every role follows.")
