"""The simulated model server: a real loopback HTTP server speaking four wire protocols.

It stands in for real models in tests, benchmarks and the offline demo, and it is always labelled
simulated (header `x-aegis-simulated: true`, system fingerprint `aegis-sim`). Routes:

    POST /v1/chat/completions                      OpenAI chat completions
    POST /v1/responses                             OpenAI responses
    POST /v1/messages                              Anthropic messages
    POST /v1beta/models/{model}:generateContent    Gemini (and :streamGenerateContent?alt=sse)
    GET  /v1/models                                model patterns served
    batch APIs (`aegis_ray.sim.batch`): /v1/files, /v1/batches (OpenAI), /v1/messages/batches
    (Anthropic), /v1beta/models/{model}:batchGenerateContent and /v1beta/batches (Gemini)
    POST /_sim/faults   GET /_sim/log   POST /_sim/reset   GET /_sim/health   (test control)

What the models say, and the faults they fail with, is `aegis_ray.sim.world`'s (shared with the
in-process `aegis_ray.sim.inprocess`); this module adds the transport and the request log. Faults
come from a queue filled on demand (`SimServer.inject` or `POST /_sim/faults`), else at random with
the profile's `fault_rate`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import uvicorn
from pydantic import BaseModel, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from aegis_ray import sse
from aegis_ray.sim.batch.book import BatchBook
from aegis_ray.sim.models import Fault, FaultKind, SimConfig
from aegis_ray.sim.wire.anthropic import AnthropicCodec
from aegis_ray.sim.wire.base import SimRequest, WireCodec
from aegis_ray.sim.wire.gemini import GeminiCodec
from aegis_ray.sim.wire.openai_chat import OpenAIChatCodec
from aegis_ray.sim.wire.openai_responses import OpenAIResponsesCodec
from aegis_ray.sim.world import FAULT_STATUS, SimWorld, delay_s

SIMULATED_HEADER = {"x-aegis-simulated": "true"}
_LOG_LIMIT = 100_000


class SimulatedDropError(Exception):
    """Raised inside a response body on purpose, so the server cuts the connection mid-way."""


class _QuietDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, SimulatedDropError)


@dataclass(frozen=True)
class RequestRecord:
    model: str
    protocol: str
    stream: bool
    status: int
    fault: str | None
    at: float  # time.monotonic() when the request arrived


class FaultOrder(BaseModel):
    model: str = Field(description="fnmatch pattern of the model names the fault applies to")
    fault: Fault
    times: int = Field(default=1, ge=1)


class SimState(SimWorld):
    """Everything a running server knows: the simulated models (`SimWorld`) and the request log."""

    def __init__(self, config: SimConfig) -> None:
        super().__init__(config)
        self.log: deque[RequestRecord] = deque(maxlen=_LOG_LIMIT)
        self.batches = BatchBook(self.config)

    def record(self, model: str, protocol: str, status: int, fault: Fault | None) -> None:
        """Log a request that was not streamed (a batch's requests, one by one)."""
        self.log.append(RequestRecord(model, protocol, False, status, fault.kind.value if fault else None,
                                      time.monotonic()))

    def allows(self, http: Request) -> bool:
        """Whether the request carries an accepted API key (any, when the config lists none)."""
        return self.config.api_keys is None or _api_key(http) in self.config.api_keys

    def place(self, order: FaultOrder) -> None:
        """Queue the faults of a validated `FaultOrder` (`POST /_sim/faults`, `SimServer.inject`)."""
        self.inject(order.model, order.fault, order.times)

    def reset(self) -> None:
        super().reset()
        self.log.clear()
        self.batches.reset()


async def _frames(frames: list[str], cut_after: int | None) -> AsyncIterator[str]:
    for i, frame in enumerate(frames):
        if cut_after is not None and i >= cut_after:
            raise SimulatedDropError("simulated dropped connection")
        yield frame
        await asyncio.sleep(0)


def _handler(state: SimState, codec: WireCodec, protocol: str,
             model_from_path: Callable[[Request], tuple[str | None, bool]]) -> Callable:
    async def handle(http: Request) -> Response:
        model, stream_by_path = model_from_path(http)
        try:
            body = await http.json()
            request = codec.parse(body, model)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return JSONResponse(codec.error(400, f"malformed request: {exc}"), 400, SIMULATED_HEADER)
        stream = request.stream or stream_by_path
        keys = state.config.api_keys
        if keys is not None and _api_key(http) not in keys:
            return _error(state, codec, request, protocol, stream, 401, "invalid API key")
        found = state.profile(request.model)
        if found is None:
            return _error(state, codec, request, protocol, stream, 404,
                          f"the model '{request.model}' does not exist on this simulated server")
        pattern, profile = found
        fault = state.take_fault(request.model, pattern, profile)
        status = FAULT_STATUS.get(fault.kind, 200) if fault else 200
        state.log.append(RequestRecord(request.model, protocol, stream, status,
                                       fault.kind.value if fault else None, time.monotonic()))
        delay = delay_s(profile, fault)
        if delay:
            await asyncio.sleep(delay)
        if status != 200:
            headers = dict(SIMULATED_HEADER)
            if status == 429:
                headers["retry-after"] = f"{fault.retry_after_s:g}"  # type: ignore[union-attr]
            return JSONResponse(codec.error(status, f"simulated {fault.kind.value}"), status, headers)  # type: ignore[union-attr]
        if fault and fault.kind is FaultKind.MALFORMED_JSON:
            return Response('{"id": "broken", "choices": [{', 200, SIMULATED_HEADER, "application/json")
        reply = state.reply(request, pattern, profile, fault)
        cut = fault.after_chunks if fault and fault.kind is FaultKind.DROP_STREAM else None
        if stream:
            frames = codec.stream(reply, request, profile.stream_chunk_chars)
            return sse.response(_frames(frames, cut), 200, SIMULATED_HEADER)
        text = json.dumps(codec.response(reply, request))
        if cut is not None:
            half = [text[: len(text) // 2], text[len(text) // 2:]]
            return StreamingResponse(_frames(half, 1), 200, SIMULATED_HEADER, "application/json")
        return Response(text, 200, SIMULATED_HEADER, "application/json")

    return handle


def _api_key(http: Request) -> str | None:
    auth = http.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:]
    return http.headers.get("x-api-key") or http.headers.get("x-goog-api-key") or http.query_params.get("key")


def _error(state: SimState, codec: WireCodec, request: SimRequest, protocol: str, stream: bool,
           status: int, message: str) -> Response:
    state.log.append(RequestRecord(request.model, protocol, stream, status, None, time.monotonic()))
    return JSONResponse(codec.error(status, message), status, SIMULATED_HEADER)


def _no_model(_: Request) -> tuple[str | None, bool]:
    return None, False


def _gemini_model(http: Request) -> tuple[str | None, bool]:
    model, _, action = http.path_params["target"].rpartition(":")
    return model.removeprefix("models/"), action == "streamGenerateContent"


def build_app(state: SimState) -> Starlette:
    from aegis_ray.sim.batch.routes import batch_routes

    gemini = _handler(state, GeminiCodec(), "gemini", _gemini_model)

    async def models(_: Request) -> Response:
        data = [{"id": p, "object": "model", "owned_by": "aegis-sim"} for p in state.config.models]
        return JSONResponse({"object": "list", "data": data}, headers=SIMULATED_HEADER)

    async def inject(http: Request) -> Response:
        try:
            order = FaultOrder.model_validate(await http.json())
        except (ValueError, ValidationError) as exc:
            return JSONResponse({"error": str(exc)}, 400)
        state.place(order)
        return JSONResponse({"queued": order.times})

    async def log(_: Request) -> Response:
        return JSONResponse([r.__dict__ for r in state.log])

    async def reset(_: Request) -> Response:
        state.reset()
        return JSONResponse({"reset": True})

    async def health(_: Request) -> Response:
        return JSONResponse({"ok": True, "simulated": True}, headers=SIMULATED_HEADER)

    return Starlette(routes=[
        *batch_routes(state),  # first: Gemini's `{model}:batchGenerateContent` is under the generic model route
        Route("/v1/chat/completions", _handler(state, OpenAIChatCodec(), "openai-chat", _no_model),
              methods=["POST"]),
        Route("/v1/responses", _handler(state, OpenAIResponsesCodec(), "openai-responses", _no_model),
              methods=["POST"]),
        Route("/v1/messages", _handler(state, AnthropicCodec(), "anthropic", _no_model), methods=["POST"]),
        Route("/v1beta/models/{target:path}", gemini, methods=["POST"]),
        Route("/v1/models/{target:path}", gemini, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/_sim/faults", inject, methods=["POST"]),
        Route("/_sim/log", log, methods=["GET"]),
        Route("/_sim/reset", reset, methods=["POST"]),
        Route("/_sim/health", health, methods=["GET"]),
    ])


def _uvicorn_config(state: SimState, log_level: str) -> uvicorn.Config:
    logging.getLogger("uvicorn.error").addFilter(_QuietDrops())
    return uvicorn.Config(build_app(state), log_level=log_level, access_log=False, lifespan="off",
                          timeout_graceful_shutdown=1)


class SimServer:
    """Runs the simulated server on a background thread (tests, benchmarks, `aegis run`)."""

    def __init__(self, config: SimConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = SimState(config or SimConfig())
        self._socket = socket.create_server((host, port))
        self.host, self.port = self._socket.getsockname()[:2]
        self._server = uvicorn.Server(_uvicorn_config(self.state, "warning"))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name="aegis-sim", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> SimServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the simulated model server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
        with contextlib.suppress(OSError):
            self._socket.close()

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def inject(self, model: str, fault: Fault | FaultKind, times: int = 1) -> None:
        fault = fault if isinstance(fault, Fault) else Fault(kind=fault)
        self.state.place(FaultOrder(model=model, fault=fault, times=times))

    def requests(self, model: str | None = None) -> list[RequestRecord]:
        return [r for r in list(self.state.log) if model is None or r.model == model]

    def reset(self) -> None:
        self.state.reset()


def serve_forever(config: SimConfig, host: str, port: int) -> None:
    """Blocking server for `aegis sim serve`."""
    uvicorn.Server(_uvicorn_config(SimState(config), "info")).run(
        sockets=[socket.create_server((host, port))])
