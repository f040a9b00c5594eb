"""Anthropic's Message Batches, as `client.messages.batches.create/retrieve/results` use them.

    POST /v1/messages/batches               {requests: [{custom_id, params}]}
    GET  /v1/messages/batches/{id}          processing_status in_progress, then ended with results_url
    GET  /v1/messages/batches/{id}/results  JSONL: {custom_id, result: {type: succeeded, message} |
                                            {type: errored, error: {type: error, error, request_id}}}

Results come out of request order; duplicate custom ids are refused with a 400, as the API does.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aegis_ray.sim.batch.book import BatchInputError, Outcome, SimBatch
from aegis_ray.sim.batch.routes import guarded, json_body, reply, rfc3339
from aegis_ray.sim.wire.anthropic import AnthropicCodec

if TYPE_CHECKING:
    from aegis_ray.sim.server import SimState

_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_DAY_S = 24 * 3600


def _requests(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        raise BatchInputError(400, "requests: a non-empty list of {custom_id, params} is required")
    seen: set[str] = set()
    out = []
    for i, item in enumerate(requests):
        custom_id = item.get("custom_id") if isinstance(item, dict) else None
        params = item.get("params") if isinstance(item, dict) else None
        if not isinstance(custom_id, str) or not _CUSTOM_ID.match(custom_id) or not isinstance(params, dict):
            raise BatchInputError(400, f"requests.{i}: needs a custom_id matching {_CUSTOM_ID.pattern} and params")
        if custom_id in seen:
            raise BatchInputError(400, f"requests.{i}.custom_id: {custom_id!r} is used more than once")
        seen.add(custom_id)
        out.append((custom_id, params))
    return out


def _batch(http: Request, batch: SimBatch) -> dict[str, Any]:
    ended = batch.ended
    counts = {"processing": 0 if ended else len(batch.outcomes), "succeeded": batch.succeeded if ended else 0,
              "errored": batch.failed if ended else 0, "canceled": 0, "expired": 0}
    results_url = str(http.url_for("anthropic_batch_results", batch_id=batch.id)) if ended else None
    return {"id": batch.id, "type": "message_batch", "processing_status": "ended" if ended else "in_progress",
            "request_counts": counts, "created_at": rfc3339(batch.created),
            "expires_at": rfc3339(batch.created + _DAY_S), "ended_at": rfc3339(batch.ends) if ended else None,
            "archived_at": None, "cancel_initiated_at": None, "results_url": results_url}


def _result(outcome: Outcome) -> dict[str, Any]:
    if outcome.ok:
        result: dict[str, Any] = {"type": "succeeded", "message": outcome.body}
    else:
        result = {"type": "errored", "error": outcome.body | {"request_id": f"req_{uuid.uuid4().hex[:24]}"}}
    return {"custom_id": outcome.custom_id, "result": result}


def routes(state: SimState) -> list[Route]:
    book, codec = state.batches, AnthropicCodec()

    def found(http: Request) -> SimBatch:
        batch = book.get(http.path_params["batch_id"])
        if batch is None or not batch.id.startswith("msgbatch_"):
            raise BatchInputError(404, f"no message batch {http.path_params['batch_id']!r}")
        return batch

    async def create(http: Request) -> Response:
        outcomes = [book.answer(state, state.record, codec, "anthropic-batch", custom_id, params)
                    for custom_id, params in _requests(await json_body(http))]
        return reply(_batch(http, book.open("msgbatch_", outcomes)))

    async def retrieve(http: Request) -> Response:
        return reply(_batch(http, found(http)))

    async def results(http: Request) -> Response:
        from aegis_ray.sim.server import SIMULATED_HEADER

        batch = found(http)
        if not batch.ended:
            raise BatchInputError(400, f"the message batch {batch.id} is still in progress; its results come once "
                                       "processing_status is 'ended'")
        lines = "".join(json.dumps(_result(o)) + "\n" for o in book.shuffled(batch.outcomes))
        return Response(lines, 200, SIMULATED_HEADER, "application/x-jsonl")

    return [
        Route("/v1/messages/batches", guarded(state, codec, create), methods=["POST"]),
        Route("/v1/messages/batches/{batch_id}", guarded(state, codec, retrieve), methods=["GET"]),
        Route("/v1/messages/batches/{batch_id}/results", guarded(state, codec, results), methods=["GET"],
              name="anthropic_batch_results"),
    ]
