"""OpenAI chat completions through the official `openai` SDK (also vLLM, Ollama, llama.cpp, sim)."""

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
from aegis_ray.types import (
    Completion,
    FinishReason,
    Message,
    ModelRequest,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    Usage,
)

_FINISH: dict[str | None, FinishReason] = {
    "stop": "stop", "tool_calls": "tool_calls", "function_call": "tool_calls", "length": "length",
    "content_filter": "content_filter",
}


def _message(m: Message) -> dict[str, Any]:
    if m.role == "tool":
        return {"role": "tool", "tool_call_id": m.tool_call_id, "content": m.content}
    out: dict[str, Any] = {"role": m.role, "content": m.content}
    if m.tool_calls:
        out["content"] = m.content or None
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": tool_call_payload(c)}}
            for c in m.tool_calls
        ]
    return out


class OpenAIChatAdapter:
    def __init__(self, config: EndpointConfig) -> None:
        import openai

        self._sdk = openai
        self._ref = config.ref
        self._client = openai.AsyncOpenAI(
            api_key=config.api_key.get_secret_value(), base_url=config.base_url, max_retries=0,
            timeout=config.timeout_s, http_client=openai.DefaultAioHttpClient(timeout=config.timeout_s),
        )
        self._classify = stainless_classifier(openai, config.ref.name)

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        params: dict[str, Any] = {"model": self._ref.model, "messages": [_message(m) for m in request.messages]}
        # OpenAI's own API wants max_completion_tokens; compatible servers know max_tokens.
        params["max_completion_tokens" if self._ref.provider == "openai" else "max_tokens"] = request.max_tokens
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.json_mode:
            params["response_format"] = {"type": "json_object"}
        if request.tools:
            params["tools"] = [
                {"type": "function", "function": {"name": t.name, "description": t.description,
                                                  "parameters": t.parameters}}
                for t in request.tools
            ]
            choice = request.tool_choice
            params["tool_choice"] = (
                choice if choice in ("auto", "none", "required")
                else {"type": "function", "function": {"name": choice}}
            )
        return params

    def _tool_call(self, call_id: str, name: str, arguments: Any) -> ToolCall:
        return ToolCall(id=call_id, name=name,
                        arguments=parse_tool_arguments(arguments, name=name, model=self._ref.name))

    def _completion(self, response: Any) -> Completion:
        """A `ChatCompletion` (a call's, or a line of a batch's output) as a `Completion`."""
        choice = response.choices[0]
        calls = tuple(self._tool_call(c.id, c.function.name, c.function.arguments)
                      for c in choice.message.tool_calls or [])
        usage = response.usage
        return Completion(
            model=self._ref.name, response_model=response.model or self._ref.model,
            text=choice.message.content or "", tool_calls=calls,
            finish_reason=_FINISH.get(choice.finish_reason, "other"),
            usage=Usage(input_tokens=usage.prompt_tokens, output_tokens=usage.completion_tokens)
            if usage else Usage(),
        )

    async def complete(self, request: ModelRequest) -> Completion:
        with translated_errors(self._ref.name, self._classify):
            return self._completion(await self._client.chat.completions.create(**self._params(request)))

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        text: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        finish: str | None = None
        usage = Usage()
        response_model = self._ref.model
        with translated_errors(self._ref.name, self._classify):
            stream = await self._client.chat.completions.create(
                **self._params(request), stream=True, stream_options={"include_usage": True})
        with translated_errors(self._ref.name, self._classify, mid_stream=True):
            async for chunk in stream:
                response_model = chunk.model or response_model
                if chunk.usage:
                    usage = Usage(input_tokens=chunk.usage.prompt_tokens,
                                  output_tokens=chunk.usage.completion_tokens)
                for choice in chunk.choices:
                    finish = choice.finish_reason or finish
                    if choice.delta.content:
                        text.append(choice.delta.content)
                        yield TextDelta(text=choice.delta.content)
                    for delta in choice.delta.tool_calls or []:
                        slot = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                        slot["id"] = delta.id or slot["id"]
                        if delta.function:
                            slot["name"] = delta.function.name or slot["name"]
                            slot["arguments"] += delta.function.arguments or ""
        if finish is None:
            raise stream_ended_early(self._ref.name)
        tool_calls = tuple(self._tool_call(c["id"], c["name"], c["arguments"]) for _, c in sorted(calls.items()))
        for call in tool_calls:
            yield ToolCallEvent(tool_call=call)
        yield StreamEnd(completion=Completion(
            model=self._ref.name, response_model=response_model, text="".join(text), tool_calls=tool_calls,
            finish_reason=_FINISH.get(finish, "other"), usage=usage,
        ))

    async def aclose(self) -> None:
        await self._client.close()
