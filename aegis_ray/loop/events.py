"""Events a running session streams to whoever drives it (CLI, HTTP): steps, approval asks, the end."""

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


class ResultEvent(Frozen):
    type: Literal["result"] = "result"
    result: RunResult


SessionEvent = Annotated[StepEvent | ApprovalEvent | ResultEvent, Field(discriminator="type")]
SESSION_EVENT: TypeAdapter[SessionEvent] = TypeAdapter(SessionEvent)
