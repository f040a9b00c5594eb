"""Context compaction: a scripted 300-turn conversation stays under its token budget and still
answers about its first turn (from the pinned note, or by reading a cut output again by its handle);
the checkpoint keeps the whole history; compaction is a span."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aegis_ray.config import CompactionSettings
from aegis_ray.loop import AgentLoop
from aegis_ray.loop.conversation import FollowUp, continue_with
from aegis_ray.memory.compaction import (
    COMPACTION_PROMPT,
    NOTE_NAME,
    RECALL_TOOL,
    context_view,
    cut,
    message_tokens,
    spec_tokens,
)
from aegis_ray.providers import FunctionInfo, FunctionModel, FunctionReply, Gateway
from aegis_ray.tools import Effect, ToolArgs, ToolContext, ToolRegistry, Workspace, tool
from aegis_ray.types import Message, RunSpec, RunState, RunStatus, ToolCall

pytestmark = pytest.mark.unit

SETTINGS = CompactionSettings(budget_tokens=3_000, keep_recent_tokens=800, tool_output_tokens=300, note_tokens=300)
FIRST = "My code word is PERIWINKLE-42. Please show me the launch log."
LAUNCH_CODE = "7341"


class _NoArgs(ToolArgs):
    pass


@tool(effect=Effect.READ)
async def show_log(args: _NoArgs, ctx: ToolContext) -> str:
    """Show the launch log."""
    lines = [f"line {i}: all systems nominal, pressure {1000 + i} hPa" for i in range(400)]
    lines[200] = f"line 200: the launch code is {LAUNCH_CODE}"
    return "\n".join(lines)


def context_model(seen: list[int]):
    """A model that knows only its context: it answers from what it is sent, reads a cut output
    again by its handle when that is what it has, and summarises by keeping the facts it sees."""

    def model(messages: tuple[Message, ...], info: FunctionInfo) -> FunctionReply | str:
        seen.append(sum(map(message_tokens, messages)) + spec_tokens(info.tools))
        text = "\n".join(m.content for m in messages)
        if messages[0].content == COMPACTION_PROMPT:
            facts = sorted(set(re.findall(r"item \d+ is \w+", text)))[-5:]
            return "The user is telling me items one by one. " + "; ".join(facts)
        last = messages[-1]
        if last.role == "tool":
            found = re.search(r"launch code is (\d+)", last.content)
            if "launch code in the log" in text and not found and last.name == RECALL_TOOL:
                more = re.search(r"read on from offset (\d+)", last.content)
                handle = re.match(r"\[(\S+) ", last.content)
                if more and handle:
                    return FunctionReply(tool_calls=[(RECALL_TOOL, {"handle": handle[1], "offset": int(more[1])})])
            return f"The launch code is {found[1]}." if found else "I have read the log."
        question = last.content
        if "show me the launch log" in question:
            return FunctionReply(tool_calls=[("show_log", {})])
        if "code word" in question:
            word = re.search(r"code word is ([\w-]+)", text)
            return f"Your code word is {word[1]}." if word else "I don't know."
        if "launch code" in question:
            found = re.search(r"launch code is (\d+)", text)
            if found:
                return f"The launch code is {found[1]}."
            handle = re.search(r"(\S+) \(show_log\)", text)
            if handle and RECALL_TOOL in {t.name for t in info.tools}:
                return FunctionReply(tool_calls=[(RECALL_TOOL, {"handle": handle[1]})])
            return "I don't know."
        item = re.search(r"item (\d+) is (\w+)", question)
        return f"Noted: item {item[1]} is {item[2]}." if item else "OK."

    return model


@pytest.fixture
def conversation(tmp_path: Path):
    seen: list[int] = []
    gateway = Gateway(lambda _: FunctionModel(context_model(seen), "sim:context"), ["sim:context"])
    loop = AgentLoop(gateway, ToolRegistry([show_log], policy="auto"), ToolContext(workspace=Workspace(tmp_path)),
                     compaction=SETTINGS)

    async def say(state: RunState | None, text: str) -> RunState:
        if state is None:
            return await loop.run(RunSpec(task=text))
        continue_with(state, FollowUp(text=text))
        return await loop.run(state.spec, state)

    return say, seen


async def test_300_turns_stay_under_the_budget_and_remember_the_first(conversation, spans) -> None:
    say, seen = conversation
    state = await say(None, FIRST)
    assert state.status is RunStatus.SUCCEEDED and state.answer.text == "I have read the log."
    for i in range(1, 298):
        state = await say(state, f"Turn {i}: please remember that item {i} is {'abcdefghij'[i % 10]}x{i}.")
        assert state.status is RunStatus.SUCCEEDED, state.steps[-1].detail
    state = await say(state, "What was the code word I gave you in my first message?")
    assert state.answer.text == "Your code word is PERIWINKLE-42."  # from the pinned note
    state = await say(state, "What was the launch code in the log you showed me first?")
    assert state.answer.text == f"The launch code is {LAUNCH_CODE}."  # by reading the cut output again
    assert any(m.role == "assistant" and any(c.name == RECALL_TOOL for c in m.tool_calls) for m in state.messages)

    assert max(seen) <= SETTINGS.budget_tokens  # every call, summaries included
    compactions = [s for s in state.steps if s.state == "compact"]
    assert len(compactions) >= 5 and all(s.completion is not None for s in compactions)
    assert sum(m.role == "user" for m in state.messages) == 300  # the checkpoint keeps the whole history
    assert state.messages[1] == Message.user(FIRST)
    assert sum(m.name == NOTE_NAME for m in state.messages) == len(compactions)
    restored = RunState.model_validate_json(state.model_dump_json())  # what the store holds
    assert context_view(restored.messages, (), SETTINGS) == context_view(state.messages, (), SETTINGS)
    compact_spans = [s for s in spans.get_finished_spans() if s.name == "compact"]
    assert len(compact_spans) == len(compactions)
    assert all(s.attributes["aegis.compaction.tokens_after"] < s.attributes["aegis.compaction.tokens_before"]
               for s in compact_spans)


def test_a_long_tool_output_is_cut_to_a_handle_and_short_ones_stay() -> None:
    call = ToolCall(id="call_1", name="show_log")
    long = Message.tool_result(call, "word " * 1000)
    shown = cut(long, 300)
    assert message_tokens(shown) < 400 and "Handle call_1" in shown.content and RECALL_TOOL in shown.content
    short = Message.tool_result(call, "word " * 10)
    assert cut(short, 300) is short


def test_compaction_settings_must_leave_room_for_the_note() -> None:
    with pytest.raises(ValueError, match="must stay under budget_tokens"):
        CompactionSettings(budget_tokens=2_000, keep_recent_tokens=1_500, note_tokens=300)
