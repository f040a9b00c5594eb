"""The batch APIs' routes for the server, and what every one of them shares: the API key check, a
refused request answered in its protocol's error shape, JSON with the simulated header."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aegis_ray.sim.batch.book import BatchInputError
from aegis_ray.sim.wire.base import WireCodec

if TYPE_CHECKING:
    from aegis_ray.sim.server import SimState

Handler = Callable[[Request], Awaitable[Response]]


def reply(data: Any, status: int = 200) -> JSONResponse:
    from aegis_ray.sim.server import SIMULATED_HEADER

    return JSONResponse(data, status, SIMULATED_HEADER)


def guarded(state: SimState, codec: WireCodec, handler: Handler) -> Handler:
    """`handler` behind the API key check; a `BatchInputError` or a body that is not JSON answered
    with the protocol's error."""
    async def handle(http: Request) -> Response:
        if not state.allows(http):
            return reply(codec.error(401, "invalid API key"), 401)
        try:
            return await handler(http)
        except BatchInputError as exc:
            return reply(codec.error(exc.status, str(exc)), exc.status)
        except ValueError as exc:  # a body that is not JSON
            return reply(codec.error(400, f"malformed request: {exc}"), 400)
    return handle


async def json_body(http: Request) -> dict[str, Any]:
    body = await http.json()
    if not isinstance(body, dict):
        raise BatchInputError(400, "the request body must be a JSON object")
    return body


def rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def batch_routes(state: SimState) -> list[Route]:
    """Every protocol's routes. Two that share a path (`GET /v1/batches/{id}`: OpenAI's, and Gemini's
    under API version v1) become one, answered by the first protocol that knows the id."""
    from aegis_ray.sim.batch import anthropic, gemini, openai

    grouped: dict[tuple[str, frozenset[str]], list[Route]] = {}
    for route in (*openai.routes(state), *anthropic.routes(state), *gemini.routes(state)):
        grouped.setdefault((route.path, frozenset(route.methods or ())), []).append(route)
    return [same[0] if len(same) == 1 else Route(path, _first_known([r.endpoint for r in same]), methods=list(methods))
            for (path, methods), same in grouped.items()]


def _first_known(handlers: list[Handler]) -> Handler:
    async def handle(http: Request) -> Response:
        for handler in handlers:
            response = await handler(http)
            if response.status_code != 404:
                break
        return response
    return handle
