"""The FastAPI application: `/api/*`, the OpenAI-compatible `/v1/*`, and the dashboard at `/`.

Every body is validated by pydantic (422 names the field); bodies over 1 MiB get 413; Aegis errors
map to 4xx (bad input, 404 for what does not exist), 503 (the service refuses work) or 502 (a model
endpoint failed), never to a bare 500, with one body (`ErrorBody`). Streams are SSE (`aegis_ray.sse`);
`/v1` replies are the `openai` SDK's own types (`aegis_ray.openai_wire`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse

from aegis_ray import sse
from aegis_ray.errors import (
    AegisError,
    BadInputError,
    NotFoundError,
    ProviderError,
    ServiceUnavailableError,
)
from aegis_ray.openai_wire import ChatReply, frame, usage, wire
from aegis_ray.plan import Orchestration
from aegis_ray.types import Completion, Message, RunResult, StreamEnd, TextDelta
from serve_app.auth import tenant_for
from serve_app.models import (
    ChatRequest,
    ControlResponse,
    EnqueueRequest,
    EnqueueResponse,
    ErrorBody,
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
# The HTTP status of an Aegis error: the first class it is an instance of; anything else is 500.
STATUS: tuple[tuple[type[AegisError], int], ...] = (
    (NotFoundError, 404), (BadInputError, 400), (ServiceUnavailableError, 503), (ProviderError, 502))


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
        raise ServiceUnavailableError("the service is starting")
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
                yield sse.frame(event.model_dump_json(), event.type)
        except AegisError as error:
            yield sse.frame({"error": str(error)}, "error")

    return sse.response(events())


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
            return _whole(reply, text, completion, extension)
        return sse.response(reply.frames([text], aegis=extension))  # the finished answer, replayed
    if not body.stream:
        final = None
        async for event in svc.stream(messages, None):
            if isinstance(event, StreamEnd):
                final = event.completion
        assert final is not None
        return _whole(reply, final.text, final, {**_provenance(final), "abstained": False, "verdicts": []})

    async def chunks() -> AsyncIterator[str]:
        yield frame(reply.opening())
        async for event in svc.stream(messages, None):
            if isinstance(event, TextDelta):
                yield frame(reply.text(event.text))
            elif isinstance(event, StreamEnd):
                yield frame(reply.closing(aegis=_provenance(event.completion)))
        yield sse.DONE

    return sse.response(chunks())


def _whole(reply: ChatReply, text: str, completion: Completion, aegis: dict[str, Any]) -> dict[str, Any]:
    counted = usage(completion.usage.input_tokens, completion.usage.output_tokens)
    return wire(reply.completion(text, usage=counted, aegis=aegis))


def _provenance(completion: Completion) -> dict[str, Any]:
    return {"answered_by": completion.model, "simulated": completion.simulated, "cost_usd": completion.cost_usd}


def create_app() -> FastAPI:
    # FastAPI's own limit refuses a declared length over it and a chunked body once it passes it.
    app = FastAPI(title="Aegis", version="0.1.0", description="A verifying agent harness on Ray.",
                  max_body_size=MAX_BODY_BYTES)

    @app.exception_handler(AegisError)
    async def aegis_error(_: Request, error: AegisError) -> JSONResponse:
        status = next((code for kind, code in STATUS if isinstance(error, kind)), 500)
        body = ErrorBody(detail=error.message, hint=error.hint, error=type(error).__name__)
        return JSONResponse(body.model_dump(), status)

    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.include_router(api)
    app.include_router(openai_api)
    return app
