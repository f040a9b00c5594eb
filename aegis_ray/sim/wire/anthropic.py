"""Anthropic messages (`POST /v1/messages`): content blocks, tool_use / tool_result, SSE events."""

from __future__ import annotations

import json
from typing import Any

from aegis_ray import sse
from aegis_ray.sim.models import ToolCallTurn
from aegis_ray.sim.wire.base import SimMessage, SimReply, SimRequest, args_of, text_of


def _tool_choice(raw: Any) -> str:
    if not isinstance(raw, dict):
        return "auto"
    return {"any": "required", "none": "none", "tool": str(raw.get("name"))}.get(raw.get("type", "auto"), "auto")


class AnthropicCodec:
    def parse(self, body: dict[str, Any], model: str | None) -> SimRequest:
        messages: list[SimMessage] = []
        if body.get("system"):
            messages.append(SimMessage("system", text_of(body["system"])))
        for m in body.get("messages", []):
            content = m.get("content")
            if isinstance(content, str):
                messages.append(SimMessage(m.get("role", "user"), content))
                continue
            texts, calls = [], []
            for block in content or []:
                kind = block.get("type")
                if kind == "tool_result":
                    messages.append(SimMessage("tool", text_of(block.get("content"))))
                elif kind == "tool_use":
                    calls.append(ToolCallTurn(name=block["name"], arguments=args_of(block.get("input"))))
                elif kind == "text":
                    texts.append(block.get("text", ""))
            if texts or calls:
                messages.append(SimMessage(m.get("role", "user"), "\n".join(texts), tuple(calls)))
        return SimRequest(
            model=body.get("model", model or ""),
            messages=tuple(messages),
            tools=tuple(t["name"] for t in body.get("tools") or []),
            tool_descriptions=tuple(t.get("description") or "" for t in body.get("tools") or []),
            tool_choice=_tool_choice(body.get("tool_choice")),
            stream=bool(body.get("stream")),
        )

    def _blocks(self, reply: SimReply) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        if reply.turn.text is not None:
            blocks.append({"type": "text", "text": reply.turn.text})
        for cid, name, args in reply.tool_calls():
            try:
                payload: Any = json.loads(args)
            except ValueError:
                payload = args  # malformed on purpose: the input is not an object
            blocks.append({"type": "tool_use", "id": f"toolu_{cid}", "name": name, "input": payload})
        return blocks

    def _message(self, reply: SimReply, request: SimRequest, content: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": f"msg_{reply.reply_id}",
            "type": "message",
            "role": "assistant",
            "model": request.model,
            "content": content,
            "stop_reason": "tool_use" if reply.turn.tool_calls else "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens},
        }

    def response(self, reply: SimReply, request: SimRequest) -> dict[str, Any]:
        return self._message(reply, request, self._blocks(reply))

    def stream(self, reply: SimReply, request: SimRequest, chunk_chars: int) -> list[str]:
        start = self._message(reply, request, [])
        start.update(stop_reason=None, usage={"input_tokens": reply.input_tokens, "output_tokens": 1})
        frames = [sse.frame({"type": "message_start", "message": start}, "message_start")]
        index = 0
        if reply.turn.text is not None:
            frames.append(sse.frame({"type": "content_block_start", "index": index,
                               "content_block": {"type": "text", "text": ""}}, "content_block_start"))
            for piece in reply.chunks(chunk_chars):
                frames.append(sse.frame({"type": "content_block_delta", "index": index,
                                   "delta": {"type": "text_delta", "text": piece}}, "content_block_delta"))
            frames.append(sse.frame({"type": "content_block_stop", "index": index}, "content_block_stop"))
            index += 1
        for cid, name, args in reply.tool_calls():
            block = {"type": "tool_use", "id": f"toolu_{cid}", "name": name, "input": {}}
            frames.append(sse.frame({"type": "content_block_start", "index": index, "content_block": block},
                              "content_block_start"))
            frames.append(sse.frame({"type": "content_block_delta", "index": index,
                               "delta": {"type": "input_json_delta", "partial_json": args}}, "content_block_delta"))
            frames.append(sse.frame({"type": "content_block_stop", "index": index}, "content_block_stop"))
            index += 1
        stop = "tool_use" if reply.turn.tool_calls else "end_turn"
        frames.append(sse.frame({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                           "usage": {"output_tokens": reply.output_tokens}}, "message_delta"))
        frames.append(sse.frame({"type": "message_stop"}, "message_stop"))
        return frames

    def error(self, status: int, message: str) -> dict[str, Any]:
        kind = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
                429: "rate_limit_error", 503: "overloaded_error"}.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}}
