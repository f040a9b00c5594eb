"""Gemini generateContent through the official `google-genai` SDK.

The SDK is given our own httpx client: that keeps it off aiohttp and off its implicit
connection-error retries (1-10 s sleeps), so the gateway stays the one place that retries.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx

from aegis_ray.errors import MalformedToolArgumentsError, ProviderError
from aegis_ray.providers.adapters.base import (
    Classifier,
    parse_tool_arguments,
    status_error,
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

_MALFORMED_CALL = re.compile(r"(?:default_api\.)?([A-Za-z_][\w\-]*)\(")
_FINISH: dict[str, FinishReason] = {"STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter"}


class GeminiAdapter:
    def __init__(self, config: EndpointConfig) -> None:
        from google import genai
        from google.genai import errors, types

        self._types = types
        self._ref = config.ref
        self._http = httpx.AsyncClient(timeout=config.timeout_s)
        options = types.HttpOptions(base_url=config.base_url, httpx_async_client=self._http)
        self._client = genai.Client(api_key=config.api_key.get_secret_value(), http_options=options)
        self._classify = self._classifier(errors)

    def _classifier(self, errors: Any) -> Classifier:
        model = self._ref.name

        def classify(exc: BaseException) -> ProviderError | None:
            if isinstance(exc, errors.APIError):
                headers = getattr(exc.response, "headers", None)
                return status_error(exc.code, exc.message or exc.status or "", headers, model)
            return None

        return classify

    def _contents(self, request: ModelRequest) -> list[Any]:
        t = self._types
        contents: list[Any] = []
        for m in request.conversation:
            if m.role == "tool":
                role = "user"
                parts = [t.Part(function_response=t.FunctionResponse(
                    id=m.tool_call_id, name=m.name or "tool", response={"result": m.content}))]
            else:
                role = "model" if m.role == "assistant" else "user"
                parts = [t.Part(text=m.content)] if m.content else []
                parts += [t.Part(function_call=t.FunctionCall(id=c.id, name=c.name, args=c.arguments))
                          for c in m.tool_calls]
            if contents and contents[-1].role == role:
                contents[-1].parts.extend(parts)
            else:
                contents.append(t.Content(role=role, parts=parts))
        return contents

    def _config(self, request: ModelRequest) -> Any:
        t = self._types
        config: dict[str, Any] = {
            "max_output_tokens": request.max_tokens,
            "automatic_function_calling": t.AutomaticFunctionCallingConfig(disable=True),
        }
        if request.system_prompt:
            config["system_instruction"] = request.system_prompt
        if request.temperature is not None:
            config["temperature"] = request.temperature
        if request.json_mode:
            config["response_mime_type"] = "application/json"
        if request.tools:
            config["tools"] = [t.Tool(function_declarations=[
                t.FunctionDeclaration(name=s.name, description=s.description, parameters_json_schema=s.parameters)
                for s in request.tools])]
            choice = request.tool_choice
            mode = {"auto": "AUTO", "none": "NONE"}.get(choice, "ANY")
            allowed = [choice] if choice not in ("auto", "none", "required") else None
            config["tool_config"] = t.ToolConfig(function_calling_config=t.FunctionCallingConfig(
                mode=mode, allowed_function_names=allowed))
        return t.GenerateContentConfig(**config)

    def _read_parts(self, response: Any) -> tuple[list[str], list[ToolCall], str | None]:
        texts: list[str] = []
        calls: list[ToolCall] = []
        if not response.candidates:
            return texts, calls, None
        candidate = response.candidates[0]
        for i, part in enumerate(candidate.content.parts if candidate.content and candidate.content.parts else []):
            if part.function_call is not None:
                fc = part.function_call
                args = parse_tool_arguments(fc.args, name=fc.name or "", model=self._ref.name)
                calls.append(ToolCall(id=fc.id or f"call_{response.response_id or 'gemini'}_{i}",
                                      name=fc.name or "", arguments=args))
            elif part.text:
                texts.append(part.text)
        reason = candidate.finish_reason
        return texts, calls, (reason.value if hasattr(reason, "value") else reason)

    def _usage(self, response: Any) -> Usage:
        meta = response.usage_metadata
        if meta is None:
            return Usage()
        return Usage(input_tokens=meta.prompt_token_count or 0, output_tokens=meta.candidates_token_count or 0)

    def _parts(self, response: Any) -> tuple[list[str], list[ToolCall], str | None]:
        texts, calls, finish = self._read_parts(response)
        if finish == "MALFORMED_FUNCTION_CALL":
            message = getattr(response.candidates[0], "finish_message", None) or ""
            named = _MALFORMED_CALL.search(message)
            raise MalformedToolArgumentsError(
                f"{self._ref.name} emitted a malformed function call: {message[:200]!r}", model=self._ref.name,
                tool_name=named.group(1) if named else None, raw_arguments=message)
        return texts, calls, finish

    def _completion(self, response_model: str, texts: list[str], calls: list[ToolCall], finish: str | None,
                    usage: Usage) -> Completion:
        return Completion(
            model=self._ref.name, response_model=response_model, text="".join(texts), tool_calls=tuple(calls),
            finish_reason="tool_calls" if calls else _FINISH.get(finish or "", "other"), usage=usage,
        )

    def _whole(self, response: Any) -> Completion:
        """A whole `GenerateContentResponse` (a call's, or a batch's inlined response) as a `Completion`."""
        texts, calls, finish = self._parts(response)
        return self._completion(response.model_version or self._ref.model, texts, calls, finish, self._usage(response))

    async def complete(self, request: ModelRequest) -> Completion:
        with translated_errors(self._ref.name, self._classify):
            return self._whole(await self._client.aio.models.generate_content(
                model=self._ref.model, contents=self._contents(request), config=self._config(request)))

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        texts: list[str] = []
        calls: list[ToolCall] = []
        finish: str | None = None
        usage = Usage()
        response_model = self._ref.model
        with translated_errors(self._ref.name, self._classify):
            stream = await self._client.aio.models.generate_content_stream(
                model=self._ref.model, contents=self._contents(request), config=self._config(request))
        with translated_errors(self._ref.name, self._classify, mid_stream=True):
            async for chunk in stream:
                chunk_texts, chunk_calls, chunk_finish = self._parts(chunk)
                response_model = chunk.model_version or response_model
                finish = chunk_finish or finish
                usage = self._usage(chunk) if chunk.usage_metadata else usage
                for text in chunk_texts:
                    texts.append(text)
                    yield TextDelta(text=text)
                for call in chunk_calls:
                    calls.append(call)
                    yield ToolCallEvent(tool_call=call)
        if finish is None:
            raise stream_ended_early(self._ref.name)
        yield StreamEnd(completion=self._completion(response_model, texts, calls, finish, usage))

    async def aclose(self) -> None:
        await self._http.aclose()
