"""Gemini `models/{model}:generateContent` and `:streamGenerateContent?alt=sse`."""

from __future__ import annotations

import json
from typing import Any

from aegis_ray import sse
from aegis_ray.sim.models import ToolCallTurn
from aegis_ray.sim.wire.base import SimMessage, SimReply, SimRequest, args_of, text_of


def _get(d: dict[str, Any], camel: str, snake: str) -> Any:
    return d.get(camel, d.get(snake))


class GeminiCodec:
    def parse(self, body: dict[str, Any], model: str | None) -> SimRequest:
        messages: list[SimMessage] = []
        system = _get(body, "systemInstruction", "system_instruction")
        if system:
            messages.append(SimMessage("system", text_of(system.get("parts"))))
        for content in body.get("contents", []):
            role = "assistant" if content.get("role") == "model" else "user"
            texts, calls = [], []
            for part in content.get("parts", []):
                call = _get(part, "functionCall", "function_call")
                result = _get(part, "functionResponse", "function_response")
                if call:
                    calls.append(ToolCallTurn(name=call["name"], arguments=args_of(call.get("args"))))
                elif result:
                    messages.append(SimMessage("tool", text_of(json.dumps(result.get("response")))))
                elif "text" in part:
                    texts.append(part["text"])
            if texts or calls:
                messages.append(SimMessage(role, "\n".join(texts), tuple(calls)))
        declarations = [decl for tool in body.get("tools") or []
                        for decl in _get(tool, "functionDeclarations", "function_declarations") or []]
        tools = [decl["name"] for decl in declarations]
        calling = _get(_get(body, "toolConfig", "tool_config") or {}, "functionCallingConfig",
                       "function_calling_config") or {}
        mode = str(calling.get("mode", "AUTO")).upper()
        allowed = _get(calling, "allowedFunctionNames", "allowed_function_names") or []
        choice = {"ANY": "required", "NONE": "none"}.get(mode, "auto")
        if mode == "ANY" and len(allowed) == 1:
            choice = allowed[0]
        return SimRequest(model=model or "", messages=tuple(messages), tools=tuple(tools), tool_choice=choice,
                          tool_descriptions=tuple(decl.get("description") or "" for decl in declarations))

    def _usage(self, reply: SimReply) -> dict[str, int]:
        return {
            "promptTokenCount": reply.input_tokens,
            "candidatesTokenCount": reply.output_tokens,
            "totalTokenCount": reply.input_tokens + reply.output_tokens,
        }

    def _chunk(self, reply: SimReply, request: SimRequest, parts: list[dict[str, Any]],
               final: bool) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        chunk: dict[str, Any] = {"candidates": [candidate], "modelVersion": request.model,
                                 "responseId": reply.reply_id}
        if final:
            candidate["finishReason"] = "STOP"
            chunk["usageMetadata"] = self._usage(reply)
            if reply.malformed_tool_args:
                # How Gemini reports a call it could not form: no functionCall part, a finish reason.
                _, name, args = next(reply.tool_calls())
                candidate["finishReason"] = "MALFORMED_FUNCTION_CALL"
                candidate["finishMessage"] = f"Malformed function call: default_api.{name}({args}"
        return chunk

    def _call_parts(self, reply: SimReply) -> list[dict[str, Any]]:
        if reply.malformed_tool_args:
            return []
        return [{"functionCall": {"id": cid, "name": name, "args": json.loads(args)}}
                for cid, name, args in reply.tool_calls()]

    def response(self, reply: SimReply, request: SimRequest) -> dict[str, Any]:
        parts = [{"text": reply.turn.text}] if reply.turn.text is not None else []
        return self._chunk(reply, request, parts + self._call_parts(reply), final=True)

    def stream(self, reply: SimReply, request: SimRequest, chunk_chars: int) -> list[str]:
        frames = [sse.frame(self._chunk(reply, request, [{"text": piece}], final=False))
                  for piece in reply.chunks(chunk_chars)]
        frames.append(sse.frame(self._chunk(reply, request, self._call_parts(reply), final=True)))
        return frames

    def error(self, status: int, message: str) -> dict[str, Any]:
        name = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED",
                503: "UNAVAILABLE"}.get(status, "INTERNAL")
        return {"error": {"code": status, "message": message, "status": name}}
