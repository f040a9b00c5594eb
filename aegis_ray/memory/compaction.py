"""Context compaction: a long session's context kept under a token budget.

Before each model turn the loop asks what context to send (`context_view`): the system prompt, the
latest compaction note, and the conversation since that note, with every tool output longer than
`tool_output_tokens` cut to its head and tail and a handle (its tool call's id) by which the model
reads it again (`read_output`, answered from the full history by `recall`). When that view still
passes `budget_tokens`, the loop compacts (`compact`): the older turns become one note, inserted
into the history as a system message named `aegis-compaction` where they end. The note is pinned
by code with what must survive (the first user message verbatim, the current request if it is
folded too, the files touched, the handles of cut outputs) and summarised by the model (task,
decisions, facts, open questions), in chunks that each fit the budget. The history keeps every
message, so the checkpoint holds the whole conversation, and a resumed run sees the same context.
Each compaction is an OpenTelemetry span.

Tokens are counted offline, approximately (no tokenizer data, no network): words and punctuation
marks (`approx_tokens`, the estimate `FunctionModel` reports as usage), 4 more per message for its
framing, and the tool specs as JSON. A BPE tokenizer counts English prose within about a third of
that, code a little higher: leave headroom between `budget_tokens` and the model's window.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from aegis_ray.config import CompactionSettings
from aegis_ray.providers.function import approx_tokens
from aegis_ray.telemetry import tracer
from aegis_ray.types import Completion, Message, ModelRequest, ToolCall, ToolResult, ToolSpec

NOTE_NAME = "aegis-compaction"
RECALL_TOOL = "read_output"
MESSAGE_OVERHEAD = 4
SUMMARY_HEADING = "Summary:"
_TOKEN = re.compile(r"\w+|[^\w\s]")

COMPACTION_PROMPT = (
    "You compact an agent's conversation so that it can go on from a short note. Write the note for the agent "
    "itself, in plain sentences: the user's task and every later request; decisions made and why; facts "
    "learned (numbers, names, answers already given); files touched and what they hold; open questions and what "
    "was about to happen next. Keep exact values. Leave out pleasantries and anything already settled and "
    "irrelevant. Reply with the note only.")

Complete = Callable[[ModelRequest], Awaitable[Completion]]


class ReadOutputArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    handle: str = Field(min_length=1, max_length=200, description="The handle the cut output names.")
    offset: int = Field(default=0, ge=0, description="The character to start reading at.")


RECALL_SPEC = ToolSpec(name=RECALL_TOOL, description=(
    "Read again, a page at a time, a tool output that was cut short (or summarised away) in your context, by the "
    "handle it names."), parameters={k: v for k, v in ReadOutputArgs.model_json_schema().items() if k != "title"})


def message_tokens(message: Message) -> int:
    calls = sum(approx_tokens(call.name) + approx_tokens(json.dumps(call.arguments)) for call in message.tool_calls)
    return approx_tokens(message.content) + calls + MESSAGE_OVERHEAD


def spec_tokens(specs: Sequence[ToolSpec]) -> int:
    return sum(approx_tokens(f"{s.name} {s.description} {json.dumps(s.parameters)}") for s in specs)


def is_note(message: Message) -> bool:
    return message.role == "system" and message.name == NOTE_NAME


def _offset_after(text: str, tokens: int) -> int:
    """The character offset where the first `tokens` tokens of `text` end."""
    if tokens <= 0:
        return 0
    for count, match in enumerate(_TOKEN.finditer(text), start=1):
        if count == tokens:
            return match.end()
    return len(text)


def _offset_before(text: str, tokens: int) -> int:
    """The character offset where the last `tokens` tokens of `text` begin."""
    starts = [m.start() for m in _TOKEN.finditer(text)]
    return starts[-tokens] if 0 < tokens <= len(starts) else len(text)


def cut(message: Message, limit: int) -> Message:
    """A tool output over `limit` tokens as its head and tail around a pointer to the rest; others as they are."""
    if message.role != "tool" or message.name == RECALL_TOOL or not message.tool_call_id:
        return message
    total = approx_tokens(message.content)
    if total <= limit:
        return message
    text = message.content
    head = _offset_after(text, limit * 2 // 3)
    tail = max(head, _offset_before(text, limit // 4))
    marker = (f"\n[... {total - approx_tokens(text[:head]) - approx_tokens(text[tail:])} of {total} tokens cut here. "
              f"Handle {message.tool_call_id}: call {RECALL_TOOL} with this handle and offset {head} to read on.]\n")
    return message.model_copy(update={"content": text[:head] + marker + text[tail:]})


@dataclass(frozen=True)
class View:
    """What a model call is sent: `messages`, about `tokens` with the tool specs; `recall` when a
    cut output or a note is in it (so `read_output` is offered); `start`, the history index of the
    first message after the latest note (where a compaction would begin)."""

    messages: tuple[Message, ...]
    tokens: int
    recall: bool
    start: int


def context_view(history: Sequence[Message], specs: Sequence[ToolSpec], settings: CompactionSettings) -> View:
    notes = [i for i, m in enumerate(history) if is_note(m)]
    head = [history[0]] if history and history[0].role == "system" and not is_note(history[0]) else []
    start = notes[-1] + 1 if notes else len(head)
    shown = [cut(m, settings.tool_output_tokens) for m in history[start:]]
    note = [history[notes[-1]]] if notes else []
    messages = (*head, *note, *shown)
    recall = bool(notes) or any(s is not m for s, m in zip(shown, history[start:], strict=True))
    tokens = sum(map(message_tokens, messages)) + spec_tokens([*specs, *([RECALL_SPEC] if recall else [])])
    return View(messages=messages, tokens=tokens, recall=recall, start=start)


@dataclass(frozen=True)
class CompactionPlan:
    """Summarise `history[start:end]` into a note inserted at `end`; the messages from `end` on stay."""

    start: int
    end: int


def plan_compaction(history: Sequence[Message], view: View, settings: CompactionSettings, *,
                    force: bool = False) -> CompactionPlan | None:
    """What to summarise when `view` passes the budget, or None (under it, or nothing older to
    fold). The kept part starts at a user or assistant message (a tool result stays with its call),
    as late as `keep_recent_tokens` requires, and always keeps the latest such message. With
    `force`, everything before the user's latest message is folded, whatever the size."""
    if view.tokens <= settings.budget_tokens and not force:
        return None
    boundaries = [i for i in range(view.start + 1, len(history)) if history[i].role in ("user", "assistant")]
    if not boundaries:
        return None
    if force:
        asked = [i for i in boundaries if history[i].role == "user"]
        return CompactionPlan(start=view.start, end=(asked or boundaries)[-1])
    end, kept = boundaries[-1], 0
    for i in range(len(history) - 1, view.start, -1):
        kept += message_tokens(cut(history[i], settings.tool_output_tokens))
        if kept > settings.keep_recent_tokens:
            break
        if i in boundaries:
            end = i
    return CompactionPlan(start=view.start, end=end)


def _line(message: Message, limit: int) -> str:
    shown = cut(message, limit)
    if shown.role == "tool":
        return f"tool {shown.name} (handle {shown.tool_call_id}) returned: {shown.content}"
    calls = "".join(f"\n  called {c.name}({json.dumps(c.arguments)[:400]})" for c in shown.tool_calls)
    text = shown.content if not is_note(shown) else _summary(shown.content)
    return f"{shown.role}: {text}{calls}"


def _chunks(lines: list[str], limit: int) -> list[str]:
    """`lines` joined into transcripts of at most about `limit` tokens (a longer line is cut)."""
    chunks: list[list[str]] = [[]]
    used = 0
    for line in lines:
        tokens = approx_tokens(line)
        if tokens > limit:
            line, tokens = line[:_offset_after(line, limit)] + " [...]", limit
        if used + tokens > limit and chunks[-1]:
            chunks.append([])
            used = 0
        chunks[-1].append(line)
        used += tokens
    return ["\n".join(chunk) for chunk in chunks if chunk]


def _summary(note: str) -> str:
    """The model's part of a note (what the next compaction folds on)."""
    return note.split(f"\n{SUMMARY_HEADING}\n", 1)[-1]


def _pinned(history: Sequence[Message], end: int, settings: CompactionSettings) -> str:
    """What code keeps of `history[:end]`, whatever the model's summary says."""
    def verbatim(text: str) -> str:
        return text[:_offset_after(text, settings.note_tokens // 3)]

    users = [m.content for m in history[:end] if m.role == "user"]
    calls: dict[str, ToolCall] = {c.id: c for m in history[:end] for c in m.tool_calls}
    files = dict.fromkeys(f"{c.arguments['path']} ({c.name})" for c in calls.values()
                          if isinstance(c.arguments.get("path"), str))
    handles = [f"{m.tool_call_id} ({m.name})" for m in history[:end]
               if m.role == "tool" and m.name != RECALL_TOOL and cut(m, settings.tool_output_tokens) is not m]
    lines = [f"[Earlier conversation, compacted: {sum(not is_note(m) for m in history[1:end])} messages are "
             "summarised here; the run's checkpoint keeps them whole.]",
             f"First user message (verbatim): {verbatim(users[0] if users else '')}"]
    if len(users) > 1 and not any(m.role == "user" for m in history[end:]):
        lines.append(f"The user's current request (verbatim): {verbatim(users[-1])}")
    if files:
        lines.append(f"Files touched: {', '.join(list(files)[-30:])}")
    if handles:
        lines.append(f"Cut tool outputs, readable with {RECALL_TOOL}: {', '.join(handles[-20:])}")
    return "\n".join(lines)


@dataclass(frozen=True)
class Compaction:
    """A compaction done: the note's index in the history, tokens before and after, the model's calls."""

    note_index: int
    summarised: int
    tokens_before: int
    tokens_after: int
    completions: tuple[Completion, ...]


async def compact(history: list[Message], specs: Sequence[ToolSpec], settings: CompactionSettings,
                  complete: Complete, *, force: bool = False) -> Compaction | None:
    """Fold the older turns of `history` into a note (in place, inserted where they end), if its
    view passes the budget (or `force`) and something can be folded; None otherwise."""
    before = context_view(history, specs, settings)
    plan = plan_compaction(history, before, settings, force=force)
    if plan is None:
        return None
    attributes = {"gen_ai.operation.name": "compact", "aegis.compaction.messages": plan.end - plan.start,
                  "aegis.compaction.tokens_before": before.tokens, "aegis.compaction.budget": settings.budget_tokens}
    with tracer().start_as_current_span("compact", attributes=attributes) as span:
        previous = [_line(history[plan.start - 1], settings.tool_output_tokens)] if plan.start > 1 else []
        lines = [*previous, *(_line(m, settings.tool_output_tokens) for m in history[plan.start:plan.end])]
        room = settings.budget_tokens - 2 * settings.note_tokens - approx_tokens(COMPACTION_PROMPT) - 50
        summary, completions = "", []
        for transcript in _chunks(lines, room):
            so_far = f"The note so far:\n{summary}\n\n" if summary else ""
            request = ModelRequest(messages=(Message.system(COMPACTION_PROMPT), Message.user(
                f"{so_far}The conversation to fold into the note:\n{transcript}")), tool_choice="none",
                max_tokens=settings.note_tokens)
            completion = await complete(request)
            completions.append(completion)
            text = completion.text.strip()
            summary = text[:_offset_after(text, settings.note_tokens)]
        note = f"{_pinned(history, plan.end, settings)}\n{SUMMARY_HEADING}\n{summary}"
        history.insert(plan.end, Message(role="system", content=note, name=NOTE_NAME))
        after = context_view(history, specs, settings)
        span.set_attributes({"aegis.compaction.tokens_after": after.tokens,
                             "aegis.compaction.model_calls": len(completions)})
    return Compaction(note_index=plan.end, summarised=plan.end - plan.start, tokens_before=before.tokens,
                      tokens_after=after.tokens, completions=tuple(completions))


def recall(history: Sequence[Message], call: ToolCall, settings: CompactionSettings) -> ToolResult:
    """A `read_output` call, answered from the full history: a page of the output `handle` names."""
    def result(ok: bool, content: str) -> ToolResult:
        return ToolResult(call_id=call.id, name=call.name, ok=ok, content=content,
                          error_type=None if ok else "ToolArgumentsError")

    try:
        args = ReadOutputArgs.model_validate(call.arguments)
    except ValueError as exc:
        return result(False, f"invalid arguments for {RECALL_TOOL}: {str(exc).splitlines()[0]}")
    found = next((m for m in history if m.role == "tool" and m.tool_call_id == args.handle), None)
    if found is None:
        return result(False, f"no tool output has the handle {args.handle!r}: use a handle a cut output names")
    text = found.content
    start = min(args.offset, len(text))
    end = start + _offset_after(text[start:], settings.tool_output_tokens)  # a page is never cut itself
    more = f"; read on from offset {end}" if end < len(text) else "; that is the end"
    return result(True, f"[{args.handle} ({found.name}): characters {start}-{end} of {len(text)}{more}]\n"
                        f"{text[start:end]}")
