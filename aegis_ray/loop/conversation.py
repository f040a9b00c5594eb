"""A conversation: one session run that the user continues with a next message.

The run's `RunState` is the whole conversation (every message, every step, durable in the store),
so a conversation resumes after an exit or a crash, and on any machine of the cluster. The user's
next message (`FollowUp`) reopens a finished, cancelled or interrupted run (`continue_with`): a
tool call a cancelled turn left unanswered gets a result saying so, the message is appended with a
`user` step, and the loop goes on from `act`. The step and wall-clock budgets count per message
(`message_turns`, and the clock restarts); tokens and USD count for the whole conversation.

A follow-up carries an id, recorded in its step, so delivering it twice (a driver that retries
after the session actor was restarted) appends it once (`received`).
"""

from __future__ import annotations

from pydantic import Field

from aegis_ray.types import Frozen, Message, RunState, RunStatus, Step, TaskText, new_id

USER_STEP = "user"
UNANSWERED = "not run: the user cancelled this turn before the call finished; it may or may not have taken effect"


class FollowUp(Frozen):
    """The user's next message in a conversation."""

    id: str = Field(default_factory=lambda: new_id("msg"))
    text: TaskText


def _last_user_step(state: RunState) -> int | None:
    return next((s.index for s in reversed(state.steps) if s.state == USER_STEP), None)


def received(state: RunState, message: FollowUp) -> bool:
    """Whether `message` is in the conversation already."""
    return any(s.state == USER_STEP and s.detail.startswith(f"{message.id}:") for s in state.steps)


def continue_with(state: RunState, message: FollowUp) -> Step:
    """Reopen `state` for `message` (see the module docstring); the `user` step it appended, for
    the caller to commit."""
    answered = {m.tool_call_id for m in state.messages if m.role == "tool"}
    last_calls = next((m.tool_calls for m in reversed(state.messages) if m.role == "assistant"), ())
    state.messages.extend(Message.tool_result(c, UNANSWERED) for c in last_calls if c.id not in answered)
    state.messages.append(Message.user(message.text))
    state.state, state.status, state.answer, state.elapsed_s = "act", RunStatus.RUNNING, None, 0.0
    step = Step(index=len(state.steps), state=USER_STEP, detail=f"{message.id}: {message.text[:200]}")
    state.steps.append(step)
    return step


def message_turns(state: RunState) -> int:
    """Model turns since the user's latest message (all of a run's turns before any follow-up)."""
    last = _last_user_step(state)
    if last is None:
        return state.turns
    return sum(s.state == "act" and s.completion is not None for s in state.steps[last + 1:])


def current_message(state: RunState) -> RunState:
    """`state` as a verifier judges the latest answer: the user's latest message as the task, and
    only the steps since (an earlier message's program proves nothing about this one)."""
    last = _last_user_step(state)
    if last is None:
        return state
    latest = next(m.content for m in reversed(state.messages) if m.role == "user")
    return state.model_copy(update={"steps": state.steps[last + 1:],
                                    "spec": state.spec.model_copy(update={"task": latest})})
