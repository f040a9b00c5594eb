"""The FastAPI application: `/api/*`, the OpenAI-compatible `/v1/*`, and the dashboard at `/`.

Every body is validated by pydantic (422 names the field); bodies over 1 MiB get 413; Aegis errors
map to 4xx (bad input, 404 for what does not exist), 503 (the service refuses work) or 502 (a model
endpoint failed), never to a bare 500. Every error, HTTP-level ones too (401, 404 for an unknown
route, 405, 422), has one body, `ErrorBody` {detail, hint, error}. Streams are SSE (`aegis_ray.sse`);
`/v1` replies are the `openai` SDK's own types (`aegis_ray.openai_wire`). `/docs` and `/redoc` are
served with their assets from the `fastapi-offline` package: they work with no network.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import fastapi_offline
from fastapi import APIRouter, Depends, FastAPI, Query, Request, Security
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.utils import is_body_allowed_for_status_code
from starlette.exceptions import HTTPException

from aegis_ray import sse
from aegis_ray.control.budget import BudgetExhaustedError
from aegis_ray.errors import (
    AegisError,
    AllModelsFailedError,
    BadInputError,
    NotFoundError,
    ProviderError,
    ServiceUnavailableError,
)
from aegis_ray.evals.catalog import EvalSummary
from aegis_ray.evals.log import EvalLog
from aegis_ray.openai_wire import ChatReply, frame, usage, wire
from aegis_ray.plan.patterns import SynthesisedOrchestration
from aegis_ray.plan.supervise import Supervision
from aegis_ray.plan.team import TeamAnswer
from aegis_ray.types import Completion, Message, RunResult, StreamEnd, TextDelta
from serve_app.auth import Authenticator, ForbiddenError, Principal, StaticKey, UnauthorizedError
from serve_app.models import (
    VERIFIED_MODE,
    AuditResponse,
    ChatRequest,
    ControlResponse,
    DecisionRequest,
    DecisionResponse,
    EnqueueRequest,
    EnqueueResponse,
    ErrorBody,
    Frontier,
    HealthResponse,
    OrchestrateRequest,
    QueueResponse,
    RunDetail,
    RunRequest,
    RunSummary,
    SessionDecision,
    SessionMessage,
    SessionRequest,
    SessionTurn,
    SuperviseRequest,
    TeamRequest,
    VerifyRequest,
    VerifyResponse,
)
from serve_app.service import AegisService
from serve_app.tracing import RequestSpans

MAX_BODY_BYTES = 1 << 20
PIPELINES = {"aegis": "the service's model chain, streamed as it writes",
             "aegis-verified": "answers verified claim by claim (evidence, consensus) in detect mode, the answer as "
                               "given; abstains otherwise"}
STATIC = Path(__file__).parent / "static"
# Swagger UI and ReDoc, from a package rather than a CDN, so /docs and /redoc work offline.
DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"
DOCS_FILES = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
              "redoc.standalone.js": "text/javascript", "favicon.png": "image/png"}
# The docs pages may load from this app alone (ReDoc's footer would fetch its logo from a CDN).
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'")
# HTTP-level errors (no AegisError behind them): the type and hint their ErrorBody names.
HTTP_ERRORS: dict[int, tuple[str, str | None]] = {
    401: ("UnauthorizedError", None),
    403: ("ForbiddenError", None),
    404: ("NotFoundError", "no such route: the routes are listed at /docs"),
    405: ("MethodNotAllowedError", "each route's methods are listed at /docs"),
    413: ("PayloadTooLargeError", f"request bodies are limited to {MAX_BODY_BYTES >> 20} MiB"),
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": description} for code, description in (
        (400, "Bad input (BadInputError)"), (401, "Missing or invalid API key"),
        (402, "A spending limit would be passed; the call was not made (BudgetExhaustedError)"),
        (403, "The key is not an admin key (ForbiddenError)"),
        (404, "Not found (NotFoundError)"), (422, "A field failed validation: `detail` lists them"),
        (502, "A model endpoint failed (ProviderError), or every model of the chain (AllModelsFailedError)"),
        (503, "The service refuses work (kill switch)"))}
# The HTTP status of an Aegis error: the first class it is an instance of; anything else is 500.
STATUS: tuple[tuple[type[AegisError], int], ...] = (
    (BudgetExhaustedError, 402), (NotFoundError, 404), (BadInputError, 400), (ServiceUnavailableError, 503),
    (ProviderError, 502), (AllModelsFailedError, 502))


class Runtime:
    """What this replica serves with. Module-level because Ray Serve runs a copy of the FastAPI app
    object in each replica, while the route functions here are imported, so they see this."""

    service: AegisService | None = None
    auth: Authenticator = Authenticator([])


def configure(service: AegisService, keys: list[StaticKey]) -> None:
    """Serve with `service`; callers are known by `keys` and by the keys in the service's store."""
    Runtime.service, Runtime.auth = service, Authenticator(keys, service.store)


# Dependencies are `async def`: FastAPI runs a plain `def` one in a worker thread, two thread hops
# on every request for nothing that blocks.
async def service() -> AegisService:
    if Runtime.service is None:
        raise ServiceUnavailableError("the service is starting")
    return Runtime.service


# Declared so the schema (and /docs' "Authorize") knows the scheme; `Authenticator` does the checking.
bearer = HTTPBearer(auto_error=False, description="An API key (AEGIS_API_KEY, a keys file's, or `aegis keys "
                                                  "create`'s), when the server has any.")


async def authorised(request: Request,
                     _: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]) -> Principal:
    return await Runtime.auth.principal(request)


Svc = Annotated[AegisService, Depends(service)]
Caller = Annotated[Principal, Depends(authorised)]  # the same call as the router's: FastAPI runs it once
api = APIRouter(prefix="/api", dependencies=[Depends(authorised)], responses=ERROR_RESPONSES)
openai_api = APIRouter(prefix="/v1", dependencies=[Depends(authorised)], responses=ERROR_RESPONSES)


@api.post("/run")
async def run(body: RunRequest, svc: Svc, caller: Caller) -> RunResult:
    return await svc.run(body.task, body.model, caller.tenant)


@api.post("/orchestrate")
async def orchestrate(body: OrchestrateRequest, svc: Svc, caller: Caller) -> SynthesisedOrchestration:
    """The model plans `goal` as a DAG; the Orchestrator runs ready steps in parallel on the cluster;
    one answer is synthesised from their results (spotlighted as data), carrying their taint. The
    planning, every step's and the synthesis's calls within the caller's budgets (a step refused
    fails, as the outcome says; a refused planning or synthesis is 402)."""
    return await svc.orchestrate(body, caller.tenant)


@api.post("/supervise")
async def supervise(body: SuperviseRequest, svc: Svc, caller: Caller) -> Supervision:
    """Evaluator-optimizer: the worker drafts and revises until the gate (with an independent
    critic) accepts, or the rounds run out (`accepted` false: the last draft). The worker's and the
    critic's calls within the caller's budgets."""
    return await svc.supervise(body, caller.tenant)


@api.post("/team")
async def team(body: TeamRequest, svc: Svc, caller: Caller) -> TeamAnswer:
    """Role agents (an actor each) debate on a shared board; the judge decides. The answer carries
    the taint of the whole board. The roles' and the judge's calls within the caller's budgets."""
    return await svc.team(body, caller.tenant)


@api.post("/verify")
async def verify(body: VerifyRequest, svc: Svc, caller: Caller) -> VerifyResponse:
    return await svc.verify(body, caller.tenant)


@api.post("/enqueue")
async def enqueue(body: EnqueueRequest, svc: Svc, caller: Caller) -> EnqueueResponse:
    return await svc.enqueue(body.tasks, body.model, caller.tenant)


@api.get("/runs")
async def runs(svc: Svc, caller: Caller, limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[RunSummary]:
    """The newest runs: the caller's tenant's, or every one for an admin."""
    return await svc.runs(limit, caller.scope)


@api.get("/runs/{run_id}")
async def run_detail(run_id: str, svc: Svc, caller: Caller) -> RunDetail:
    """One run: its answer with verdicts and citations, its steps with tool calls, its approvals.
    Another tenant's run is 404, as if it did not exist."""
    return await svc.run_detail(run_id, caller.scope)


@api.post("/runs/{run_id}/approvals")
async def decide(run_id: str, body: DecisionRequest, svc: Svc, caller: Caller) -> DecisionResponse:
    """Approve or deny the run's pending approval requests (the run's own tenant, or an admin);
    recorded in the audit log. `aegis resume RUN` (or its session) then goes on from its last step."""
    return DecisionResponse(run_id=run_id, decided=await svc.decide(run_id, body.approved, caller))


@api.get("/evals")
async def evals(svc: Svc, caller: Caller, limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[EvalSummary]:
    """The newest eval logs (`aegis eval run` writes them to AEGIS_EVAL_LOG_DIR, else HOME/evals):
    the caller's tenant's, or every one for an admin."""
    return await svc.evals(limit, caller.scope)


@api.get("/evals/{eval_id}")
async def eval_log(eval_id: str, svc: Svc, caller: Caller) -> EvalLog:
    """One eval's whole log: its spec, every result with scores, cost and latency, its metrics."""
    return await svc.eval_log(eval_id, caller.scope)


@api.get("/evals/{eval_id}/report", response_class=HTMLResponse)
async def eval_report(eval_id: str, svc: Svc, caller: Caller) -> HTMLResponse:
    """The eval's report as one static HTML page with plots (what `aegis eval view --html` writes)."""
    from aegis_ray.evals.html_report import render_html

    log = await svc.eval_log(eval_id, caller.scope)
    return HTMLResponse(await asyncio.to_thread(render_html, log))


@api.get("/queue")
async def queue(svc: Svc, caller: Caller) -> QueueResponse:
    """Jobs by status: the caller's tenant's, or every one for an admin."""
    return QueueResponse(counts=await (await svc.store()).queue_counts(caller.scope))


SESSION_EVENTS = {200: {"description": (
    "Server-sent events, each `event: TYPE` and one JSON `data:` line: `step` (a committed step: state, detail, "
    "completion, tool results), `text` (the model's text as it is written), `notice`, `approval` (a pending "
    "request: decide it with POST /api/sessions/{id}/approvals), `error`, and last `result` (the turn's "
    "RunResult; status `awaiting_approval` while approvals are pending)."),
    "content": {"text/event-stream": {"schema": {"type": "string"}}}}}


@api.post("/sessions")
async def start_session(body: SessionRequest, svc: Svc, caller: Caller) -> SessionTurn:
    """Start an agent session (file, shell and Python tools in a sandboxed workspace of its own) on
    `task`, as the caller's tenant's run; its events stream from GET /api/sessions/{id}/events."""
    return await svc.sessions.start(body, caller)


@api.get("/sessions/{session_id}/events", response_class=StreamingResponse, responses=SESSION_EVENTS)
async def session_events(session_id: str, svc: Svc, caller: Caller,
                         after: Annotated[int, Query(ge=-1, description="Only the events after this step index "
                                                                       "(a turn's `after`).")] = -1
                         ) -> StreamingResponse:
    """The session's events after step `after`, live while a turn runs, ending with its result."""
    return sse.response(await svc.sessions.events(session_id, after, caller.scope))


@api.post("/sessions/{session_id}/messages")
async def session_message(session_id: str, body: SessionMessage, svc: Svc, caller: Caller) -> SessionTurn:
    """Continue the conversation with the user's next message (the session must not be answering,
    or waiting for approvals)."""
    return await svc.sessions.message(session_id, body.text, caller)


@api.post("/sessions/{session_id}/approvals")
async def session_approvals(session_id: str, body: DecisionRequest, svc: Svc, caller: Caller) -> SessionDecision:
    """Approve or deny the session's pending requests (audited); a session parked on them resumes
    from its last committed step, its events at the returned turn's `events`."""
    return await svc.sessions.decide(session_id, body.approved, caller)


@api.get("/stream")
async def stream(svc: Svc, caller: Caller, task: Annotated[str, Query(min_length=1, max_length=100_000)],
                 model: str | None = None) -> StreamingResponse:
    """Server-sent events: `text` deltas as the model writes, then `end` with the completion (within
    the caller's budgets: a refused call is 402 before the stream starts)."""
    await svc.ensure_running()
    answer = await svc.started(svc.stream((Message.user(task),), model, caller.tenant))

    async def events() -> AsyncIterator[str]:
        try:
            async for event in answer:
                yield sse.frame(event.model_dump_json(), event.type)
        except AegisError as error:
            yield sse.frame({"error": str(error)}, "error")

    return sse.response(events())


@api.get("/health")
async def health(svc: Svc, caller: Caller) -> HealthResponse:
    return await svc.health(caller.scope)


@api.post("/control/stop")
async def stop(svc: Svc, caller: Caller) -> ControlResponse:
    """Flip the kill switch to stopped (admin keys only): new work halts cluster-wide within a second."""
    if not caller.admin:
        raise ForbiddenError("flipping the kill switch")
    return ControlResponse(kill_switch=await svc.set_kill_switch("stopped", caller.actor))


@api.post("/control/resume")
async def resume(svc: Svc, caller: Caller) -> ControlResponse:
    if not caller.admin:
        raise ForbiddenError("flipping the kill switch")
    return ControlResponse(kill_switch=await svc.set_kill_switch("running", caller.actor))


@api.get("/audit")
async def audit(svc: Svc, caller: Caller, limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
                verify: bool = False) -> AuditResponse:
    """The latest audit entries (admin keys only), and with `verify` whether the hash chain holds."""
    if not caller.admin:
        raise ForbiddenError("reading the audit log")
    store = await svc.store()
    return AuditResponse(entries=await store.audit_entries(limit, latest=True),
                         verified=await store.verify_audit() if verify else None)


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
async def chat_completions(body: ChatRequest, svc: Svc, caller: Caller) -> Any:
    """Within the cost governor's limits for the caller's tenant, as `/api/run`: a refused call is
    402 (`BudgetExhaustedError`), before any reply starts."""
    if body.model not in PIPELINES:
        raise BadInputError(f"unknown model {body.model!r}; this server serves {', '.join(map(repr, PIPELINES))}")
    await svc.ensure_running()
    reply = ChatReply(model=body.model)
    messages = _messages(body)
    if body.model == "aegis-verified":
        # Nothing is streamed before verification ends: unverified text never leaves.
        completion, checked = await svc.verified_answer(messages, caller.tenant)
        answer = checked.answer
        text = answer.text if not answer.abstained else f"I can't give a verified answer: {answer.reason}"
        extension = {**_provenance(completion), "mode": VERIFIED_MODE, "abstained": answer.abstained,
                     "reason": answer.reason,
                     "confidence": answer.confidence, "verdicts": [v.model_dump() for v in answer.verdicts],
                     "citations": [c.model_dump() for c in answer.citations], "verification_calls": checked.calls}
        if not body.stream:
            return _whole(reply, text, completion, extension)
        return sse.response(reply.frames([text], aegis=extension))  # the finished answer, replayed
    if not body.stream:
        final = None
        async for event in svc.stream(messages, None, caller.tenant):
            if isinstance(event, StreamEnd):
                final = event.completion
        assert final is not None
        return _whole(reply, final.text, final, {**_provenance(final), "abstained": False, "verdicts": []})

    events = await svc.started(svc.stream(messages, None, caller.tenant))  # refused: 402, not a broken stream

    async def chunks() -> AsyncIterator[str]:
        yield frame(reply.opening())
        async for event in events:
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


def _validation_hint(errors: list[dict[str, Any]]) -> str | None:
    """`body.task: Field required`, for the first failed field (and how many more there are)."""
    if not errors:
        return None
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ())) or "the request"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{where}: {message}{more}; the schema is at /docs"


def add_docs(app: FastAPI) -> None:
    """`/docs` (Swagger UI) and `/redoc`, their scripts and styles served here, not from a CDN."""

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} API",
            swagger_js_url=f"{root}/docs-assets/swagger-ui-bundle.js",
            swagger_css_url=f"{root}/docs-assets/swagger-ui.css", swagger_favicon_url=f"{root}/docs-assets/favicon.png",
            oauth2_redirect_url=None, swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True})
        page.headers["Content-Security-Policy"] = DOCS_CSP
        return page

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_redoc_html(openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} API",
                              redoc_js_url=f"{root}/docs-assets/redoc.standalone.js",
                              redoc_favicon_url=f"{root}/docs-assets/favicon.png", with_google_fonts=False)
        page.headers["Content-Security-Policy"] = DOCS_CSP
        return page

    @app.get("/docs-assets/{name}", include_in_schema=False)
    async def docs_asset(name: str) -> FileResponse:
        if name not in DOCS_FILES:
            raise NotFoundError(f"no docs asset {name!r}")
        return FileResponse(DOCS_ASSETS / name, media_type=DOCS_FILES[name],
                            headers={"Cache-Control": "public, max-age=86400"})


def create_app() -> FastAPI:
    # FastAPI's own limit refuses a declared length over it and a chunked body once it passes it.
    # Its native request spans are off: they record the query string (`/api/stream`'s task) and log
    # exception messages; `RequestSpans` is the request's span.
    app = FastAPI(title="Aegis", version="0.1.0", description="A verifying agent harness on Ray.",
                  max_body_size=MAX_BODY_BYTES, docs_url=None, redoc_url=None,
                  telemetry={"tracing": False, "logs": False})
    app.add_middleware(RequestSpans)

    @app.exception_handler(AegisError)
    async def aegis_error(_: Request, error: AegisError) -> JSONResponse:
        status = next((code for kind, code in STATUS if isinstance(error, kind)), 500)
        body = ErrorBody(detail=error.message, hint=error.hint, error=type(error).__name__)
        return JSONResponse(body.model_dump(), status)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, error: HTTPException) -> Response:
        if not is_body_allowed_for_status_code(error.status_code):
            return Response(status_code=error.status_code, headers=error.headers)
        name, hint = HTTP_ERRORS.get(error.status_code, ("HTTPError", None))
        if isinstance(error, UnauthorizedError | ForbiddenError):
            hint = error.hint
        body = ErrorBody(detail=str(error.detail), hint=hint, error=name)
        return JSONResponse(body.model_dump(), error.status_code, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        errors = jsonable_encoder(error.errors())
        body = ErrorBody(detail=errors, hint=_validation_hint(errors), error="ValidationError")
        return JSONResponse(body.model_dump(), 422)

    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    add_docs(app)

    app.include_router(api)
    app.include_router(openai_api)
    return app
