"""Anthropic messages through the official `anthropic` SDK."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aegis_ray.providers.adapters.base import (
    parse_tool_arguments,
    stainless_classifier,
    stream_ended_early,
    translated_errors,
)
from aegis_ray.providers.endpoint_config import EndpointConfig
from aegis_ray.types import (
    Completion,
    FinishReason,
    ModelRequest,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    Usage,
)

_FINISH: dict[str | None, FinishReason] = {
    "end_turn": "stop", "stop_sequence": "stop", "tool_use": "tool_calls", "max_tokens": "length",
    "refusal": "content_filter",
}


def _messages(request: ModelRequest) -> list[dict[str, Any]]:
    """Anthropic wants alternating roles, with tool results as user content blocks: merge runs."""
    out: list[dict[str, Any]] = []
    for m in request.conversation:
        if m.role == "tool":
            role = "user"
            blocks = [{"type": "tool_result", "tool_use_id": m.tool_call_id, "content": m.content}]
        else:
            role = m.role
            blocks = [{"type": "text", "text": m.content}] if m.content else []
            blocks += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments} for c in m.tool_calls]
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    return out


class AnthropicAdapter:
    def __init__(self, config: EndpointConfig) -> None:
        import anthropic

        self._ref = config.ref
        self._client = anthropic.AsyncAnthropic(
            api_key=config.api_key.get_secret_value(), base_url=config.base_url, max_retries=0,
            timeout=config.timeout_s, http_client=anthropic.DefaultAioHttpClient(timeout=config.timeout_s),
        )
        self._classify = stainless_classifier(anthropic, config.ref.name)

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        params: dict[str, Any] = {"model": self._ref.model, "messages": _messages(request),
                                  "max_tokens": request.max_tokens}
        if request.system_prompt:
            params["system"] = request.system_prompt
        if request.temperature is not None:
            params["temperature"] = min(request.temperature, 1.0)  # Anthropic's range is [0, 1]
        if request.tools:
            params["tools"] = [{"name": t.name, "description": t.description, "input_schema": t.parameters}
                               for t in request.tools]
            choice = request.tool_choice
            params["tool_choice"] = {"auto": {"type": "auto"}, "required": {"type": "any"},
                                     "none": {"type": "none"}}.get(choice, {"type": "tool", "name": choice})
        return params

    def _tool_call(self, call_id: str, name: str, raw: Any) -> ToolCall:
        return ToolCall(id=call_id, name=name, arguments=parse_tool_arguments(raw, name=name, model=self._ref.name))

    def _completion(self, message: Any) -> Completion:
        """A `Message` (a call's, or a batch's succeeded result) as a `Completion`."""
        texts = [b.text for b in message.content if b.type == "text"]
        calls = tuple(self._tool_call(b.id, b.name, b.input) for b in message.content if b.type == "tool_use")
        return Completion(
            model=self._ref.name, response_model=message.model or self._ref.model, text="".join(texts),
            tool_calls=calls, finish_reason=_FINISH.get(message.stop_reason, "other"),
            usage=Usage(input_tokens=message.usage.input_tokens, output_tokens=message.usage.output_tokens),
        )

    async def complete(self, request: ModelRequest) -> Completion:
        with translated_errors(self._ref.name, self._classify):
            return self._completion(await self._client.messages.create(**self._params(request)))

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        texts: list[str] = []
        calls: list[ToolCall] = []
        open_tool: dict[str, Any] | None = None
        stop: str | None = None
        finished = False
        input_tokens = output_tokens = 0
        response_model = self._ref.model
        with translated_errors(self._ref.name, self._classify):
            stream = await self._client.messages.create(**self._params(request), stream=True)
        with translated_errors(self._ref.name, self._classify, mid_stream=True):
            async for event in stream:
                if event.type == "message_start":
                    response_model = event.message.model or response_model
                    input_tokens = event.message.usage.input_tokens
                elif event.type == "content_block_start" and event.content_block.type == "tool_use":
                    block = event.content_block
                    open_tool = {"id": block.id, "name": block.name, "json": ""}
                elif event.type == "content_block_delta":
                    if event.delta.type == "text_delta":
                        texts.append(event.delta.text)
                        yield TextDelta(text=event.delta.text)
                    elif event.delta.type == "input_json_delta" and open_tool is not None:
                        open_tool["json"] += event.delta.partial_json
                elif event.type == "content_block_stop" and open_tool is not None:
                    call = self._tool_call(open_tool["id"], open_tool["name"], open_tool["json"] or "{}")
                    calls.append(call)
                    open_tool = None
                    yield ToolCallEvent(tool_call=call)
                elif event.type == "message_delta":
                    stop = event.delta.stop_reason or stop
                    output_tokens = event.usage.output_tokens
                elif event.type == "message_stop":
                    finished = True
        if not finished:
            raise stream_ended_early(self._ref.name)
        yield StreamEnd(completion=Completion(
            model=self._ref.name, response_model=response_model, text="".join(texts), tool_calls=tuple(calls),
            finish_reason=_FINISH.get(stop, "other"),
            usage=Usage(input_tokens=input_tokens, output_tokens=output_tokens),
        ))

    async def aclose(self) -> None:
        await self._client.close()

