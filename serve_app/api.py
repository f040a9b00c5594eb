"""The FastAPI application: `/api/*`, the OpenAI-compatible `/v1/*`, and the dashboard at `/`.

Every body is validated by pydantic (422 names the field); bodies over 1 MiB get 413; Aegis errors
map to 4xx (bad input) or 502 (a model endpoint failed), never to a bare 500.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse

from aegis_ray.errors import AegisError, BadInputError, ProviderError
from aegis_ray.plan import Orchestration
from aegis_ray.types import Completion, Message, RunResult, StreamEnd, TextDelta
from serve_app.auth import tenant_for
from serve_app.models import (
    ChatRequest,
    ControlResponse,
    EnqueueRequest,
    EnqueueResponse,
    Frontier,
    HealthResponse,
    OrchestrateRequest,
    QueueResponse,
    RunRequest,
    RunSummary,
    VerifyRequest,
    VerifyResponse,
)
from serve_app.service import AegisService

MAX_BODY_BYTES = 1 << 20
PIPELINES = {"aegis": "the service's model chain, streamed as it writes",
             "aegis-verified": "answers verified claim by claim (evidence, consensus); abstains otherwise"}
STATIC = Path(__file__).parent / "static"


class Runtime:
    """What this replica serves with. Module-level because Ray Serve runs a copy of the FastAPI app
    object in each replica, while the route functions here are imported, so they see this."""

    service: AegisService | None = None
    keys: dict[str, str] = {}  # noqa: RUF012 - filled once per process by configure()


def configure(service: AegisService, keys: dict[str, str]) -> None:
    Runtime.service, Runtime.keys = service, keys


# Dependencies are `async def`: FastAPI runs a plain `def` one in a worker thread, two thread hops
# on every request for nothing that blocks.
async def service() -> AegisService:
    if Runtime.service is None:
        raise HTTPException(503, "the service is starting")
    return Runtime.service


async def authorised(request: Request) -> str | None:
    return tenant_for(request, Runtime.keys)


Svc = Annotated[AegisService, Depends(service)]
api = APIRouter(prefix="/api", dependencies=[Depends(authorised)])
openai_api = APIRouter(prefix="/v1", dependencies=[Depends(authorised)])


@api.post("/run")
async def run(body: RunRequest, svc: Svc) -> RunResult:
    return await svc.run(body.task, body.model)


@api.post("/orchestrate")
async def orchestrate(body: OrchestrateRequest, svc: Svc) -> Orchestration:
    """The model plans `goal` as a DAG; the Orchestrator runs ready steps in parallel on the cluster."""
    return await svc.orchestrate(body)


@api.post("/verify")
async def verify(body: VerifyRequest, svc: Svc) -> VerifyResponse:
    return await svc.verify(body)


@api.post("/enqueue")
async def enqueue(body: EnqueueRequest, svc: Svc) -> EnqueueResponse:
    return await svc.enqueue(body.tasks, body.model)


@api.get("/runs")
async def runs(svc: Svc, limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[RunSummary]:
    return await svc.runs(limit)


@api.get("/runs/{run_id}")
async def run_detail(run_id: str, svc: Svc) -> dict[str, Any]:
    return await svc.run_detail(run_id)


@api.get("/queue")
async def queue(svc: Svc) -> QueueResponse:
    return QueueResponse(counts=await (await svc.store()).queue_counts())


@api.get("/stream")
async def stream(svc: Svc, task: Annotated[str, Query(min_length=1, max_length=100_000)],
                 model: str | None = None) -> StreamingResponse:
    """Server-sent events: `text` deltas as the model writes, then `end` with the completion."""
    await svc.ensure_running()
    messages = (Message.user(task),)

    async def events() -> AsyncIterator[str]:
        try:
            async for event in svc.stream(messages, model):
                yield f"event: {event.type}\ndata: {event.model_dump_json()}\n\n"
        except AegisError as error:
            yield f"event: error\ndata: {json.dumps({'error': str(error)})}\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


@api.get("/health")
async def health(svc: Svc) -> HealthResponse:
    return await svc.health()


@api.post("/control/stop")
async def stop(svc: Svc) -> ControlResponse:
    return ControlResponse(kill_switch=await svc.set_kill_switch("stopped"))


@api.post("/control/resume")
async def resume(svc: Svc) -> ControlResponse:
    return ControlResponse(kill_switch=await svc.set_kill_switch("running"))


@api.get("/frontier")
async def frontier(svc: Svc) -> Frontier:
    return svc.frontier()


@openai_api.get("/models")
async def models() -> dict[str, Any]:
    return {"object": "list", "data": [{"id": name, "object": "model", "created": 0, "owned_by": "aegis",
                                        "description": description} for name, description in PIPELINES.items()]}


def _messages(body: ChatRequest) -> tuple[Message, ...]:
    def text(content: Any) -> str:
        if isinstance(content, list):
            return "\n".join(part.get("text", "") for part in content if isinstance(part, dict))
        return content or ""

    role = {"developer": "system"}
    return tuple(Message(role=role.get(m.role, m.role), content=text(m.content))  # type: ignore[arg-type]
                 for m in body.messages if m.role != "tool")


@openai_api.post("/chat/completions", response_model=None)
async def chat_completions(body: ChatRequest, svc: Svc) -> Any:
    if body.model not in PIPELINES:
        raise BadInputError(f"unknown model {body.model!r}; this server serves {', '.join(map(repr, PIPELINES))}")
    await svc.ensure_running()
    reply = ChatReply(model=body.model)
    messages = _messages(body)
    if body.model == "aegis-verified":
        # Nothing is streamed before verification ends: unverified text never leaves.
        completion, checked = await svc.verified_answer(messages)
        answer = checked.answer
        text = answer.text if not answer.abstained else f"I can't give a verified answer: {answer.reason}"
        extension = {**_provenance(completion), "abstained": answer.abstained, "reason": answer.reason,
                     "confidence": answer.confidence, "verdicts": [v.model_dump() for v in answer.verdicts],
                     "citations": [c.model_dump() for c in answer.citations], "verification_calls": checked.calls}
        if not body.stream:
            return reply.message(text, completion, extension)
        return StreamingResponse(reply.replay(text, extension), media_type="text/event-stream")
    if not body.stream:
        final = None
        async for event in svc.stream(messages, None):
            if isinstance(event, StreamEnd):
                final = event.completion
        assert final is not None
        return reply.message(final.text, final, {**_provenance(final), "abstained": False, "verdicts": []})

    async def chunks() -> AsyncIterator[str]:
        yield reply.chunk({"role": "assistant", "content": ""})
        async for event in svc.stream(messages, None):
            if isinstance(event, TextDelta):
                yield reply.chunk({"content": event.text})
            elif isinstance(event, StreamEnd):
                yield reply.chunk({}, "stop", aegis=_provenance(event.completion))
        yield "data: [DONE]\n\n"

    return StreamingResponse(chunks(), media_type="text/event-stream")


def _provenance(completion: Completion) -> dict[str, Any]:
    return {"answered_by": completion.model, "simulated": completion.simulated, "cost_usd": completion.cost_usd}


class ChatReply:
    """One chat.completion (or its chunks) in OpenAI's wire shape, with the `aegis` extension field."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.id, self.created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())

    def message(self, text: str, completion: Completion, aegis: dict[str, Any]) -> dict[str, Any]:
        usage = completion.usage
        return {"id": self.id, "object": "chat.completion", "created": self.created, "model": self.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": usage.input_tokens, "completion_tokens": usage.output_tokens,
                          "total_tokens": usage.total_tokens}, "aegis": aegis}

    def chunk(self, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        return "data: " + json.dumps({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                                      "model": self.model, "choices": [{"index": 0, "delta": delta,
                                                                        "finish_reason": finish}], **extra}) + "\n\n"

    async def replay(self, text: str, aegis: dict[str, Any]) -> AsyncIterator[str]:
        """A finished (verified) answer as a stream: role, the text, then stop with the extension."""
        yield self.chunk({"role": "assistant", "content": ""})
        yield self.chunk({"content": text})
        yield self.chunk({}, "stop", aegis=aegis)
        yield "data: [DONE]\n\n"


def create_app() -> FastAPI:
    # FastAPI's own limit refuses a declared length over it and a chunked body once it passes it.
    app = FastAPI(title="Aegis", version="0.1.0", description="A verifying agent harness on Ray.",
                  max_body_size=MAX_BODY_BYTES)

    @app.exception_handler(AegisError)
    async def aegis_error(_: Request, error: AegisError) -> JSONResponse:
        status = 400 if isinstance(error, BadInputError) else 502 if isinstance(error, ProviderError) else 500
        return JSONResponse({"detail": error.message, "hint": error.hint, "error": type(error).__name__}, status)

    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.include_router(api)
    app.include_router(openai_api)
    return app
