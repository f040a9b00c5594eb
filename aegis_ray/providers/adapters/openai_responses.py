"""OpenAI responses API through the official `openai` SDK."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aegis_ray.providers.adapters.base import (
    parse_tool_arguments,
    stainless_classifier,
    stream_ended_early,
    tool_call_payload,
    translated_errors,
)
from aegis_ray.providers.endpoint_config import EndpointConfig
from aegis_ray.types import Completion, ModelRequest, StreamEnd, StreamEvent, TextDelta, ToolCall, ToolCallEvent, Usage


def _input_items(request: ModelRequest) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for m in request.conversation:
        if m.role == "tool":
            items.append({"type": "function_call_output", "call_id": m.tool_call_id, "output": m.content})
            continue
        if m.content or not m.tool_calls:
            items.append({"role": m.role, "content": m.content})
        items.extend({"type": "function_call", "call_id": c.id, "name": c.name, "arguments": tool_call_payload(c)}
                     for c in m.tool_calls)
    return items


class OpenAIResponsesAdapter:
    def __init__(self, config: EndpointConfig) -> None:
        import openai

        self._ref = config.ref
        self._client = openai.AsyncOpenAI(
            api_key=config.api_key.get_secret_value(), base_url=config.base_url, max_retries=0,
            timeout=config.timeout_s, http_client=openai.DefaultAioHttpClient(timeout=config.timeout_s),
        )
        self._classify = stainless_classifier(openai, config.ref.name)

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        params: dict[str, Any] = {"model": self._ref.model, "input": _input_items(request),
                                  "max_output_tokens": request.max_tokens, "store": False}
        if request.system_prompt:
            params["instructions"] = request.system_prompt
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.json_mode:
            params["text"] = {"format": {"type": "json_object"}}
        if request.tools:
            params["tools"] = [{"type": "function", "name": t.name, "description": t.description,
                                "parameters": t.parameters, "strict": False} for t in request.tools]
            choice = request.tool_choice
            params["tool_choice"] = (choice if choice in ("auto", "none", "required")
                                     else {"type": "function", "name": choice})
        return params

    def _completion(self, response: Any) -> Completion:
        texts: list[str] = []
        calls: list[ToolCall] = []
        for item in response.output or []:
            if item.type == "message":
                texts.extend(part.text for part in item.content if getattr(part, "type", "") == "output_text")
            elif item.type == "function_call":
                args = parse_tool_arguments(item.arguments, name=item.name, model=self._ref.name)
                calls.append(ToolCall(id=item.call_id, name=item.name, arguments=args))
        usage = response.usage
        return Completion(
            model=self._ref.name, response_model=response.model or self._ref.model, text="".join(texts),
            tool_calls=tuple(calls), finish_reason="tool_calls" if calls else "stop",
            usage=Usage(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens) if usage else Usage(),
        )

    async def complete(self, request: ModelRequest) -> Completion:
        with translated_errors(self._ref.name, self._classify):
            return self._completion(await self._client.responses.create(**self._params(request)))

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        final: Completion | None = None
        with translated_errors(self._ref.name, self._classify):
            stream = await self._client.responses.create(**self._params(request), stream=True)
        with translated_errors(self._ref.name, self._classify, mid_stream=True):
            async for event in stream:
                if event.type == "response.output_text.delta":
                    yield TextDelta(text=event.delta)
                elif event.type == "response.completed":
                    final = self._completion(event.response)
        if final is None:
            raise stream_ended_early(self._ref.name)
        for call in final.tool_calls:
            yield ToolCallEvent(tool_call=call)
        yield StreamEnd(completion=final)

    async def aclose(self) -> None:
        await self._client.close()
