"""OpenAI chat completions (`POST /v1/chat/completions`), with tools, tool_choice, SSE and usage."""

from __future__ import annotations

from typing import Any

from aegis_ray.openai_wire import ChatReply, usage, wire
from aegis_ray.sim.models import ToolCallTurn
from aegis_ray.sim.wire.base import SimMessage, SimReply, SimRequest, args_of, text_of


def _tool_choice(raw: Any) -> str:
    if isinstance(raw, dict):
        return str(raw.get("function", {}).get("name", "required"))
    return str(raw or "auto")


class OpenAIChatCodec:
    def parse(self, body: dict[str, Any], model: str | None) -> SimRequest:
        messages = []
        for m in body.get("messages", []):
            role = "system" if m.get("role") == "developer" else m.get("role", "user")
            calls = tuple(
                ToolCallTurn(name=c["function"]["name"], arguments=args_of(c["function"].get("arguments")))
                for c in m.get("tool_calls") or []
            )
            messages.append(SimMessage(role, text_of(m.get("content")), calls))
        return SimRequest(
            model=body.get("model", model or ""),
            messages=tuple(messages),
            tools=tuple(t["function"]["name"] for t in body.get("tools") or []),
            tool_descriptions=tuple(t["function"].get("description") or "" for t in body.get("tools") or []),
            tool_choice=_tool_choice(body.get("tool_choice")),
            stream=bool(body.get("stream")),
            include_usage=bool((body.get("stream_options") or {}).get("include_usage")),
        )

    def _reply(self, reply: SimReply, request: SimRequest) -> ChatReply:
        return ChatReply(request.model, f"chatcmpl-{reply.reply_id}", reply.created, "aegis-sim")

    def response(self, reply: SimReply, request: SimRequest) -> dict[str, Any]:
        completion = self._reply(reply, request).completion(
            reply.turn.text, tool_calls=reply.tool_calls(), usage=usage(reply.input_tokens, reply.output_tokens))
        return wire(completion)

    def stream(self, reply: SimReply, request: SimRequest, chunk_chars: int) -> list[str]:
        counted = usage(reply.input_tokens, reply.output_tokens) if request.include_usage else None
        return self._reply(reply, request).frames(reply.chunks(chunk_chars), tool_calls=reply.tool_calls(),
                                                  usage=counted)

    def error(self, status: int, message: str) -> dict[str, Any]:
        kind = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
                429: "rate_limit_error"}.get(status, "server_error")
        return {"error": {"message": message, "type": kind, "param": None, "code": kind}}
