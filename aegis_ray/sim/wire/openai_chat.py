"""OpenAI chat completions (`POST /v1/chat/completions`), with tools, tool_choice, SSE and usage."""

from __future__ import annotations

from typing import Any

from aegis_ray.sim.models import ToolCallTurn
from aegis_ray.sim.wire.base import SimMessage, SimReply, SimRequest, args_of, sse, text_of


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

    def _usage(self, reply: SimReply) -> dict[str, int]:
        return {
            "prompt_tokens": reply.input_tokens,
            "completion_tokens": reply.output_tokens,
            "total_tokens": reply.input_tokens + reply.output_tokens,
        }

    def _envelope(self, reply: SimReply, request: SimRequest, obj: str) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{reply.reply_id}",
            "object": obj,
            "created": reply.created,
            "model": request.model,
            "system_fingerprint": "aegis-sim",
        }

    def response(self, reply: SimReply, request: SimRequest) -> dict[str, Any]:
        calls = [
            {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
            for cid, name, args in reply.tool_calls()
        ]
        message: dict[str, Any] = {"role": "assistant", "content": reply.turn.text, "refusal": None}
        if calls:
            message["tool_calls"] = calls
        return {
            **self._envelope(reply, request, "chat.completion"),
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if calls else "stop",
                    "logprobs": None,
                }
            ],
            "usage": self._usage(reply),
        }

    def stream(self, reply: SimReply, request: SimRequest, chunk_chars: int) -> list[str]:
        env = self._envelope(reply, request, "chat.completion.chunk")

        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
            return sse({**env, "choices": [choice]})

        frames = [chunk({"role": "assistant", "content": ""})]
        frames += [chunk({"content": piece}) for piece in reply.chunks(chunk_chars)]
        calls = list(reply.tool_calls())
        for i, (cid, name, args) in enumerate(calls):
            head = {"index": i, "id": cid, "type": "function", "function": {"name": name, "arguments": ""}}
            frames.append(chunk({"tool_calls": [head]}))
            frames.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": args}}]}))
        frames.append(chunk({}, "tool_calls" if calls else "stop"))
        if request.include_usage:
            frames.append(sse({**env, "choices": [], "usage": self._usage(reply)}))
        frames.append(sse("[DONE]"))
        return frames

    def error(self, status: int, message: str) -> dict[str, Any]:
        kind = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
                429: "rate_limit_error"}.get(status, "server_error")
        return {"error": {"message": message, "type": kind, "param": None, "code": kind}}
