"""OpenAI responses (`POST /v1/responses`): input items, function calls, typed SSE events."""

from __future__ import annotations

from typing import Any

from aegis_ray import sse
from aegis_ray.sim.models import ToolCallTurn
from aegis_ray.sim.wire.base import SimMessage, SimReply, SimRequest, args_of, text_of


class OpenAIResponsesCodec:
    def parse(self, body: dict[str, Any], model: str | None) -> SimRequest:
        messages: list[SimMessage] = []
        if body.get("instructions"):
            messages.append(SimMessage("system", str(body["instructions"])))
        items = body.get("input")
        for item in [{"role": "user", "content": items}] if isinstance(items, str) else items or []:
            kind = item.get("type", "message")
            if kind == "function_call":
                call = ToolCallTurn(name=item["name"], arguments=args_of(item.get("arguments")))
                messages.append(SimMessage("assistant", "", (call,)))
            elif kind == "function_call_output":
                messages.append(SimMessage("tool", text_of(item.get("output"))))
            else:
                role = "system" if item.get("role") == "developer" else item.get("role", "user")
                messages.append(SimMessage(role, text_of(item.get("content"))))
        choice = body.get("tool_choice") or "auto"
        return SimRequest(
            model=body.get("model", model or ""),
            messages=tuple(messages),
            tools=tuple(t["name"] for t in body.get("tools") or [] if t.get("type") == "function"),
            tool_descriptions=tuple(t.get("description") or "" for t in body.get("tools") or []
                                    if t.get("type") == "function"),
            tool_choice=str(choice.get("name", "required")) if isinstance(choice, dict) else str(choice),
            stream=bool(body.get("stream")),
        )

    def _items(self, reply: SimReply) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        if reply.turn.text is not None:
            items.append({
                "type": "message",
                "id": f"msg_{reply.reply_id}",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": reply.turn.text, "annotations": []}],
            })
        for cid, name, args in reply.tool_calls():
            items.append({"type": "function_call", "id": f"fc_{cid}", "call_id": cid, "name": name,
                          "arguments": args, "status": "completed"})
        return items

    def response(self, reply: SimReply, request: SimRequest, status: str = "completed") -> dict[str, Any]:
        return {
            "id": f"resp_{reply.reply_id}",
            "object": "response",
            "created_at": reply.created,
            "model": request.model,
            "status": status,
            "output": self._items(reply) if status == "completed" else [],
            "parallel_tool_calls": True,
            "tool_choice": request.tool_choice,
            "tools": [],
            "usage": {
                "input_tokens": reply.input_tokens,
                "output_tokens": reply.output_tokens,
                "total_tokens": reply.input_tokens + reply.output_tokens,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": 0},
            },
        }

    def stream(self, reply: SimReply, request: SimRequest, chunk_chars: int) -> list[str]:
        seq = iter(range(1_000_000))

        def event(kind: str, **fields: Any) -> str:
            return sse.frame({"type": kind, "sequence_number": next(seq), **fields}, event=kind)

        frames = [event("response.created", response=self.response(reply, request, "in_progress"))]
        for index, item in enumerate(self._items(reply)):
            if item["type"] == "message":
                frames.append(event("response.output_item.added", output_index=index,
                                    item={**item, "status": "in_progress", "content": []}))
                part = {"type": "output_text", "text": "", "annotations": []}
                frames.append(event("response.content_part.added", item_id=item["id"], output_index=index,
                                    content_index=0, part=part))
                for piece in reply.chunks(chunk_chars):
                    frames.append(event("response.output_text.delta", item_id=item["id"], output_index=index,
                                        content_index=0, delta=piece, logprobs=[]))
                frames.append(event("response.output_text.done", item_id=item["id"], output_index=index,
                                    content_index=0, text=reply.turn.text, logprobs=[]))
            else:
                frames.append(event("response.output_item.added", output_index=index,
                                    item={**item, "arguments": "", "status": "in_progress"}))
                frames.append(event("response.function_call_arguments.delta", item_id=item["id"],
                                    output_index=index, delta=item["arguments"]))
                frames.append(event("response.function_call_arguments.done", item_id=item["id"],
                                    output_index=index, arguments=item["arguments"], name=item["name"]))
            frames.append(event("response.output_item.done", output_index=index, item=item))
        frames.append(event("response.completed", response=self.response(reply, request)))
        return frames

    def error(self, status: int, message: str) -> dict[str, Any]:
        kind = "rate_limit_error" if status == 429 else "server_error" if status >= 500 else "invalid_request_error"
        return {"error": {"message": message, "type": kind, "param": None, "code": kind}}
