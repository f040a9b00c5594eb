"""Events a running session streams to whoever drives it (CLI, HTTP): steps, approval asks, the
model's text as it is written, notices (an MCP server mounted or left out), the end."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from aegis_ray.tools.approval import ApprovalRequest
from aegis_ray.types import Frozen, RunResult, RunState, Step


class StepEvent(Frozen):
    type: Literal["step"] = "step"
    step: Step
    checkpoint: RunState | None = Field(default=None, description="The state committed with this step.")


class ApprovalEvent(Frozen):
    """The session waits until `decide(request_id, approved)` answers this."""

    type: Literal["approval"] = "approval"
    request_id: str
    request: ApprovalRequest


class TextEvent(Frozen):
    """A piece of the model's text, as it is written (only when the driver asks for a stream)."""

    type: Literal["text"] = "text"
    text: str


class NoticeEvent(Frozen):
    """One line for the user about the session itself (an MCP server mounted, or left out and why)."""

    type: Literal["notice"] = "notice"
    text: str


class ResultEvent(Frozen):
    type: Literal["result"] = "result"
    result: RunResult


SessionEvent = Annotated[StepEvent | ApprovalEvent | TextEvent | NoticeEvent | ResultEvent, Field(discriminator="type")]
SESSION_EVENT: TypeAdapter[SessionEvent] = TypeAdapter(SessionEvent)
