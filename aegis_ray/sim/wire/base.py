"""The neutral shape every wire protocol is parsed into and rendered from.

A codec turns one protocol's request JSON into a `SimRequest`, and a `SimReply` (a turn plus
usage) into that protocol's response JSON or its SSE frames (`aegis_ray.sse`). Personas and
scripts only ever see the neutral shape, so each behaves identically on every protocol.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from aegis_ray.sim.models import ToolCallTurn, Turn


@dataclass(frozen=True)
class SimMessage:
    role: str  # system | user | assistant | tool
    text: str
    tool_calls: tuple[ToolCallTurn, ...] = ()


@dataclass(frozen=True)
class SimRequest:
    model: str
    messages: tuple[SimMessage, ...]
    tools: tuple[str, ...] = ()
    tool_descriptions: tuple[str, ...] = ()
    tool_choice: str = "auto"  # auto | none | required | <tool name>
    stream: bool = False
    include_usage: bool = False

    @property
    def last(self) -> SimMessage:
        return self.messages[-1] if self.messages else SimMessage("user", "")

    @property
    def assistant_turns(self) -> int:
        return sum(1 for m in self.messages if m.role == "assistant")


@dataclass(frozen=True)
class SimReply:
    turn: Turn
    input_tokens: int
    output_tokens: int
    malformed_tool_args: bool = False
    reply_id: str = field(default_factory=lambda: uuid.uuid4().hex[:24])
    created: int = field(default_factory=lambda: int(time.time()))

    def tool_calls(self) -> Iterator[tuple[str, str, str]]:
        """(call id, name, arguments as JSON text) for each tool call, broken if asked to be."""
        for i, call in enumerate(self.turn.tool_calls):
            args = call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
            if self.malformed_tool_args:
                args = args[: max(1, len(args) // 2)]  # a truncated JSON object is never valid
            yield f"call_{self.reply_id[:12]}_{i}", call.name, args

    def chunks(self, size: int) -> list[str]:
        text = self.turn.text or ""
        return [text[i : i + size] for i in range(0, len(text), size)]


class WireCodec(Protocol):
    def parse(self, body: dict[str, Any], model: str | None) -> SimRequest: ...
    def response(self, reply: SimReply, request: SimRequest) -> dict[str, Any]: ...
    def stream(self, reply: SimReply, request: SimRequest, chunk_chars: int) -> list[str]: ...
    def error(self, status: int, message: str) -> dict[str, Any]: ...


def approx_tokens(text: str) -> int:
    """Token count estimate (words and punctuation): the simulator reports usage, not a real BPE."""
    return len(re.findall(r"\w+|[^\w\s]", text))


def text_of(content: Any) -> str:
    """Flatten a content field that is a string or a list of typed parts into plain text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(text_of(part.get("text", part.get("content")) if isinstance(part, dict) else part)
                         for part in content)
    if isinstance(content, dict):
        return text_of(content.get("text", content.get("content", json.dumps(content))))
    return str(content)


def args_of(raw: Any) -> dict[str, Any] | str:
    if isinstance(raw, dict):
        return raw
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else {}
    except ValueError:
        return str(raw)
    return parsed if isinstance(parsed, dict) else str(raw)
