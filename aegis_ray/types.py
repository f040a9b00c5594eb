"""Typed core: the pydantic models that cross every boundary in Aegis.

Messages and tool specs are provider-neutral; each adapter in `providers/` translates them to and
from one wire protocol. Run, step, plan and verification records are shared by the loop, the store,
the orchestrator and the HTTP API.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from aegis_ray.model_ref import ModelName


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


def utcnow() -> datetime:
    return datetime.now(UTC)


# --- model calls -----------------------------------------------------------------------------


class ToolCall(Frozen):
    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class Message(Frozen):
    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = Field(default=None, description="Tool name, on role=tool messages.")

    @classmethod
    def system(cls, content: str) -> Message:
        return cls(role="system", content=content)

    @classmethod
    def user(cls, content: str) -> Message:
        return cls(role="user", content=content)

    @classmethod
    def tool_result(cls, call: ToolCall, content: str) -> Message:
        return cls(role="tool", content=content, tool_call_id=call.id, name=call.name)


class ToolSpec(Frozen):
    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_\-]{0,63}$")]
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


ToolChoice = Literal["auto", "none", "required"] | str
"""`auto`, `none`, `required` (some tool), or the name of the one tool that must be called."""


class ToolResult(Frozen):
    """What a tool call produced; `ok=False` results carry the error type and a message for the model."""

    call_id: str
    name: str
    ok: bool
    content: str
    error_type: str | None = None


class ModelRequest(Frozen):
    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = "auto"
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int = Field(default=1024, gt=0)
    json_mode: bool = False

    @field_validator("messages")
    @classmethod
    def _not_empty(cls, messages: tuple[Message, ...]) -> tuple[Message, ...]:
        if not messages:
            raise ValueError("a model request needs at least one message")
        return messages

    @property
    def system_prompt(self) -> str | None:
        parts = [m.content for m in self.messages if m.role == "system"]
        return "\n\n".join(parts) if parts else None

    @property
    def conversation(self) -> tuple[Message, ...]:
        return tuple(m for m in self.messages if m.role != "system")


class Usage(Frozen):
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
        )


FinishReason = Literal["stop", "tool_calls", "length", "content_filter", "other"]


class Completion(Frozen):
    """One model answer, priced by the model that actually produced it."""

    model: str = Field(description="Model reference that answered, e.g. `openai:gpt-4o-mini`.")
    response_model: str = Field(description="Model name the endpoint reported.")
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: FinishReason = "stop"
    usage: Usage = Usage()
    cost_usd: float | None = Field(default=None, description="None when the price is unknown.")
    latency_s: float = 0.0
    simulated: bool = False
    attempts: int = Field(default=1, description="HTTP attempts this completion took (retries + 1).")


class TextDelta(Frozen):
    type: Literal["text"] = "text"
    text: str


class ToolCallEvent(Frozen):
    type: Literal["tool_call"] = "tool_call"
    tool_call: ToolCall


class StreamEnd(Frozen):
    type: Literal["end"] = "end"
    completion: Completion


StreamEvent = Annotated[TextDelta | ToolCallEvent | StreamEnd, Field(discriminator="type")]


# --- runs ------------------------------------------------------------------------------------


class RunStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting_approval"
    SUCCEEDED = "succeeded"
    ABSTAINED = "abstained"
    FAILED = "failed"
    STUCK = "stuck"
    BUDGET_EXCEEDED = "budget_exceeded"
    CANCELLED = "cancelled"


RESUMABLE = frozenset({RunStatus.PENDING, RunStatus.RUNNING, RunStatus.AWAITING_APPROVAL, RunStatus.CANCELLED})
"""The statuses a session run resumes from (at its last committed step); the others are final."""


class Budget(Frozen):
    max_steps: int = Field(default=20, gt=0)
    max_wall_s: float = Field(default=600.0, gt=0)
    max_tokens: int | None = Field(default=None, gt=0)
    max_usd: float | None = Field(default=None, gt=0)


class ContainsCheck(Frozen):
    kind: Literal["contains"] = "contains"
    text: str = Field(min_length=1)


class RegexCheck(Frozen):
    kind: Literal["regex"] = "regex"
    pattern: str = Field(min_length=1, description="RE2 syntax (linear time).")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        import re2

        try:
            re2.compile(pattern)
        except re2.error as exc:
            raise ValueError(f"not a valid RE2 pattern: {exc}") from exc
        return pattern


class EqualsCheck(Frozen):
    kind: Literal["equals"] = "equals"
    value: str
    normalise: bool = Field(default=True, description="Compare case- and whitespace-insensitively.")


class JsonSchemaCheck(Frozen):
    kind: Literal["json_schema"] = "json_schema"
    json_schema: dict[str, Any] = Field(alias="schema")


Check = Annotated[ContainsCheck | RegexCheck | EqualsCheck | JsonSchemaCheck, Field(discriminator="kind")]
"""A deterministic check a task declares on its final answer; a failed check abstains."""


def _has_text(task: str) -> str:
    if not task.strip():
        raise ValueError("the task is empty: say what the agent should do")
    return task.strip()


TaskText = Annotated[str, Field(min_length=1, max_length=100_000), AfterValidator(_has_text)]
"""A task as every entry point accepts it (CLI, HTTP, factory): some non-blank text, stripped."""


class Attachment(Frozen):
    """Content the user hands over with a task but did not write (a document, a pasted email): it
    is untrusted, so under the security layer the planner sees a reference to it, never its text."""

    name: str = Field(min_length=1, max_length=200)
    content: str = Field(max_length=1_000_000)


class RunSpec(Frozen):
    """What the user asked for. Validated at every entry point (CLI, HTTP, factory)."""

    task: TaskText
    model: ModelName | None = Field(default=None, description="Model reference; None = configured default.")
    fallback_models: tuple[ModelName, ...] = ()
    system_prompt: str | None = None
    budget: Budget = Budget()
    checks: tuple[Check, ...] = ()
    require_tool: str | None = Field(default=None, description="Force a call to this tool on the first turn.")
    attachments: tuple[Attachment, ...] = Field(default=(), max_length=20)
    tenant: str | None = Field(default=None, description=(
        "Whose run: set by the entry point from the caller's API key, never taken from the caller."))


class Step(Frozen):
    """One record of the run's append-only step log: which state ran and what it produced."""

    index: int = Field(ge=0)
    state: str
    detail: str = ""
    completion: Completion | None = None
    tool_results: tuple[ToolResult, ...] = ()
    at: datetime = Field(default_factory=utcnow)
    node: str | None = Field(default=None, description="The Ray node it ran on, where the loop ran on one.")


class RunState(BaseModel):
    """Mutable state of one run: enough to resume it; checkpointed after every step."""

    run_id: str = Field(default_factory=lambda: new_id("run"))
    spec: RunSpec
    status: RunStatus = RunStatus.PENDING
    state: str = "plan"
    messages: list[Message] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)
    usage: Usage = Usage()
    cost_usd: float = 0.0
    turns: int = 0
    elapsed_s: float = 0.0
    model: str | None = None
    simulated: bool = False
    answer: Answer | None = None
    tool_state: dict[str, Any] = Field(default_factory=dict, description=(
        "What the run's tools hold between steps (the quarantine's variables), from `ToolBox.checkpoint`."))


class PlanStep(Frozen):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]{1,64}$")]
    task: str = Field(min_length=1)
    depends_on: tuple[str, ...] = ()
    checks: tuple[Check, ...] = Field(default=(), description="Deterministic checks on this step's output.")


class Plan(Frozen):
    goal: str
    steps: tuple[PlanStep, ...]


# --- verification ----------------------------------------------------------------------------


class Evidence(Frozen):
    source: str = Field(description="Where the evidence came from: a file path, URL, tool or model.")
    span: str = Field(description="The exact text that supports or refutes the claim.")
    start: int | None = None
    end: int | None = None


class Claim(Frozen):
    text: str
    citations: tuple[Evidence, ...] = ()


class Verdict(Frozen):
    claim: Claim
    status: Literal["supported", "refuted", "unsupported"]
    method: str = Field(description="Which verifier decided: deterministic, evidence, ensemble, ...")
    confidence: float = Field(ge=0, le=1)
    evidence: tuple[Evidence, ...] = ()


class Answer(Frozen):
    text: str
    claims: tuple[Claim, ...] = ()
    citations: tuple[Evidence, ...] = ()
    verdicts: tuple[Verdict, ...] = ()
    confidence: float | None = Field(default=None, ge=0, le=1)
    abstained: bool = False
    reason: str | None = Field(default=None, description="Why the answer abstained, if it did.")


class RunResult(Frozen):
    """What `aegis run` prints (and `--json` emits): the answer and what it cost."""

    run_id: str
    task: str
    status: RunStatus
    answer: Answer
    model: str = Field(description="The model that answered (after any fallback).")
    simulated: bool
    usage: Usage
    cost_usd: float | None
    latency_s: float
    steps: tuple[Step, ...] = Field(default=(), description="The transcript: every state the run went through.")
    node: str | None = Field(default=None, description="The Ray node its last step ran on (a session's: where it "
                                                        "ended, after any resume on another node).")
