"""OpenAI chat completions on the wire, built from the `openai` SDK's own typed models.

The simulator (`aegis_ray/sim/wire/openai_chat.py`) and the service's `/v1/chat/completions`
(`serve_app/api.py`) both answer with these. Replies are written the way the SDK writes its own
models (`exclude_unset`): a field is on the wire exactly when it was set here, so the `null`s
OpenAI sends (`finish_reason` of a chunk, `logprobs`, `refusal`) are kept and no others appear.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from openai import BaseModel
from openai.types import CompletionUsage
from openai.types.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionMessage
from openai.types.chat.chat_completion import Choice
from openai.types.chat.chat_completion_chunk import Choice as ChunkChoice
from openai.types.chat.chat_completion_chunk import ChoiceDelta, ChoiceDeltaToolCall, ChoiceDeltaToolCallFunction
from openai.types.chat.chat_completion_message_function_tool_call import (
    ChatCompletionMessageFunctionToolCall,
    Function,
)

from aegis_ray import sse

ToolCall = tuple[str, str, str]  # (call id, function name, arguments as JSON text)
FinishReason = Literal["stop", "tool_calls"]


def usage(prompt_tokens: int, completion_tokens: int) -> CompletionUsage:
    return CompletionUsage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                           total_tokens=prompt_tokens + completion_tokens)


def wire(model: BaseModel) -> dict[str, Any]:
    """A reply as the JSON object sent."""
    return model.model_dump(mode="json", exclude_unset=True)


def frame(chunk: ChatCompletionChunk) -> str:
    """A chunk as its SSE frame."""
    return sse.frame(chunk.model_dump_json(exclude_unset=True))


@dataclass(frozen=True)
class ChatReply:
    """One assistant reply, whole (`completion`) or as a stream's chunks. Keyword `extension`
    fields (the service's `aegis`) are extra top-level keys, which the SDK keeps in `model_extra`."""

    model: str
    id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex[:24]}")
    created: int = field(default_factory=lambda: int(time.time()))
    system_fingerprint: str | None = None

    def _envelope(self, **extension: Any) -> dict[str, Any]:
        fingerprint = {"system_fingerprint": self.system_fingerprint} if self.system_fingerprint else {}
        return {"id": self.id, "created": self.created, "model": self.model, **fingerprint, **extension}

    def completion(self, text: str | None, *, tool_calls: Iterable[ToolCall] = (),
                   usage: CompletionUsage | None = None, **extension: Any) -> ChatCompletion:
        calls = [ChatCompletionMessageFunctionToolCall(id=cid, type="function",
                                                       function=Function(name=name, arguments=args))
                 for cid, name, args in tool_calls]
        message = ChatCompletionMessage(role="assistant", content=text, refusal=None,
                                        **({"tool_calls": calls} if calls else {}))
        choice = Choice(index=0, message=message, finish_reason="tool_calls" if calls else "stop", logprobs=None)
        return ChatCompletion(object="chat.completion", choices=[choice], **({"usage": usage} if usage else {}),
                              **self._envelope(**extension))

    def chunk(self, delta: ChoiceDelta, finish: FinishReason | None = None, **extension: Any) -> ChatCompletionChunk:
        choice = ChunkChoice(index=0, delta=delta, finish_reason=finish, logprobs=None)
        return ChatCompletionChunk(object="chat.completion.chunk", choices=[choice], **self._envelope(**extension))

    def opening(self) -> ChatCompletionChunk:
        return self.chunk(ChoiceDelta(role="assistant", content=""))

    def text(self, piece: str) -> ChatCompletionChunk:
        return self.chunk(ChoiceDelta(content=piece))

    def tool_call(self, index: int, call: ToolCall) -> list[ChatCompletionChunk]:
        """A call streamed as OpenAI does: its id and name, then its arguments."""
        cid, name, args = call
        head = ChoiceDeltaToolCall(index=index, id=cid, type="function",
                                   function=ChoiceDeltaToolCallFunction(name=name, arguments=""))
        body = ChoiceDeltaToolCall(index=index, function=ChoiceDeltaToolCallFunction(arguments=args))
        return [self.chunk(ChoiceDelta(tool_calls=[head])), self.chunk(ChoiceDelta(tool_calls=[body]))]

    def closing(self, finish: FinishReason = "stop", **extension: Any) -> ChatCompletionChunk:
        return self.chunk(ChoiceDelta(), finish, **extension)

    def usage_chunk(self, usage: CompletionUsage) -> ChatCompletionChunk:
        """The extra last chunk `stream_options.include_usage` asks for: no choices, the usage."""
        return ChatCompletionChunk(object="chat.completion.chunk", choices=[], usage=usage, **self._envelope())

    def frames(self, pieces: Iterable[str], *, tool_calls: Iterable[ToolCall] = (),
               usage: CompletionUsage | None = None, **extension: Any) -> list[str]:
        """A finished reply as a whole stream: role, text pieces, tool calls, finish (carrying the
        extension), the usage chunk when given, then `[DONE]`."""
        calls = list(tool_calls)
        chunks = [self.opening(), *map(self.text, pieces)]
        chunks += [chunk for i, call in enumerate(calls) for chunk in self.tool_call(i, call)]
        chunks.append(self.closing("tool_calls" if calls else "stop", **extension))
        if usage is not None:
            chunks.append(self.usage_chunk(usage))
        return [*map(frame, chunks), sse.DONE]
