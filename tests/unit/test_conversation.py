"""A conversation: a finished run continued by the user's next message, once however often it is
delivered; a cancelled turn's unanswered calls answered; budgets per message; the verifier judging
only the latest message's turn."""

from __future__ import annotations

import pytest

from aegis_ray.loop.conversation import UNANSWERED, FollowUp, continue_with, current_message, received
from aegis_ray.loop.guards import turn_breach
from aegis_ray.types import Budget, Completion, Message, RunSpec, RunState, RunStatus, Step, ToolCall

pytestmark = pytest.mark.unit


def finished(turns: int) -> RunState:
    state = RunState(spec=RunSpec(task="first"), status=RunStatus.SUCCEEDED, state="stop", turns=turns,
                     messages=[Message.system("s"), Message.user("first"), Message(role="assistant", content="a")])
    completion = Completion(model="sim:x", response_model="x", text="a")
    state.steps = [Step(index=i, state="act", completion=completion) for i in range(turns)]
    return state


def test_a_follow_up_reopens_the_run_once() -> None:
    state = finished(turns=3)
    message = FollowUp(text="and then?")
    step = continue_with(state, message)
    assert step.state == "user" and state.messages[-1] == Message.user("and then?")
    assert (state.state, state.status, state.answer, state.elapsed_s) == ("act", RunStatus.RUNNING, None, 0.0)
    assert received(state, message) and not received(state, FollowUp(text="and then?"))


def test_calls_a_cancelled_turn_left_unanswered_get_a_result() -> None:
    state = finished(turns=1)
    calls = (ToolCall(id="c1", name="run_command"), ToolCall(id="c2", name="write_file"))
    state.messages += [Message(role="assistant", tool_calls=calls), Message.tool_result(calls[0], "done")]
    state.status = RunStatus.CANCELLED
    continue_with(state, FollowUp(text="never mind"))
    assert [(m.role, m.tool_call_id, m.content) for m in state.messages[-3:]] == [
        ("tool", "c1", "done"), ("tool", "c2", UNANSWERED), ("user", None, "never mind")]


def test_the_step_budget_counts_per_message() -> None:
    state = finished(turns=5)
    assert turn_breach(Budget(max_steps=5), state) is not None
    continue_with(state, FollowUp(text="next"))
    assert turn_breach(Budget(max_steps=5), state) is None  # a fresh budget for the new message


def test_the_verifier_sees_the_latest_message_as_the_task() -> None:
    state = finished(turns=2)
    continue_with(state, FollowUp(text="what now?"))
    judged = current_message(state)
    assert judged.spec.task == "what now?" and judged.steps == []
    assert current_message(finished(turns=2)).spec.task == "first"
