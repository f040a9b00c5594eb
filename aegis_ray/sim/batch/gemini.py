"""Gemini's batch mode with inlined requests, as `client.batches.create(model, src=[...])` and
`client.batches.get(name)` of `google-genai` use it.

    POST /v1beta/models/{model}:batchGenerateContent  {batch: {displayName, inputConfig: {requests:
                                                       {requests: [{request, metadata}]}}}}
    GET  /v1beta/batches/{id}                          the batch as a long-running operation

Both answer an operation whose `metadata` is the batch (`state` BATCH_STATE_RUNNING, then
BATCH_STATE_SUCCEEDED with `output.inlinedResponses` in request order: `{response, metadata}` or
`{error: {code, message}, metadata}` for a request that failed alone) and `batchStats`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aegis_ray.sim.batch.book import BatchInputError, Outcome, SimBatch
from aegis_ray.sim.batch.routes import guarded, json_body, reply, rfc3339
from aegis_ray.sim.wire.gemini import GeminiCodec

if TYPE_CHECKING:
    from aegis_ray.sim.server import SimState

_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main."


def _inlined(outcome: Outcome, metadata: dict[str, Any] | None) -> dict[str, Any]:
    item: dict[str, Any] = ({"response": outcome.body} if outcome.ok else
                            {"error": {"code": outcome.status, "message": outcome.body["error"]["message"]}})
    return item | ({"metadata": metadata} if metadata else {})


def _operation(batch: SimBatch) -> dict[str, Any]:
    ended, n = batch.ended, len(batch.outcomes)
    stats = {"requestCount": str(n), "successfulRequestCount": str(batch.succeeded if ended else 0),
             "failedRequestCount": str(batch.failed if ended else 0), "pendingRequestCount": str(0 if ended else n)}
    metadata: dict[str, Any] = {
        "@type": _TYPE + "GenerateContentBatch", "name": batch.id, "model": batch.extra["model"],
        "displayName": batch.extra["display_name"], "createTime": rfc3339(batch.created),
        "updateTime": rfc3339(batch.ends if ended else batch.created), "batchStats": stats,
        "state": "BATCH_STATE_SUCCEEDED" if ended else "BATCH_STATE_RUNNING",
    }
    operation: dict[str, Any] = {"name": batch.id, "metadata": metadata}
    if ended:
        responses = {"inlinedResponses": [_inlined(o, m) for o, m in zip(batch.outcomes, batch.extra["metadata"],
                                                                         strict=True)]}
        metadata |= {"endTime": rfc3339(batch.ends), "output": {"inlinedResponses": responses}}
        operation |= {"done": True, "response": {"@type": _TYPE + "GenerateContentBatchOutput",
                                                 "inlinedResponses": responses}}
    return operation


def routes(state: SimState) -> list[Route]:
    book, codec = state.batches, GeminiCodec()

    async def create(http: Request) -> Response:
        model = http.path_params["model"].removeprefix("models/")
        batch = (await json_body(http)).get("batch") or {}
        source = batch.get("inputConfig") or {}
        if "fileName" in source:
            raise BatchInputError(400, "the simulator takes inlined requests only, not an uploaded file")
        requests = (source.get("requests") or {}).get("requests")
        if not isinstance(requests, list) or not requests:
            raise BatchInputError(400, "batch.inputConfig.requests.requests: a non-empty list is required")
        outcomes, metadata = [], []
        for i, item in enumerate(requests):
            request = item.get("request") if isinstance(item, dict) else None
            if not isinstance(request, dict):
                raise BatchInputError(400, f"batch.inputConfig.requests.requests[{i}]: a request is required")
            meta = item.get("metadata") or None
            key = str((meta or {}).get("key", i))
            own_model = str(request.get("model") or model).removeprefix("models/")
            outcomes.append(book.answer(state, state.record, codec, "gemini-batch", key, request, own_model))
            metadata.append(meta)
        opened = book.open("batches/", outcomes, model=f"models/{model}", metadata=metadata,
                           display_name=batch.get("displayName") or "aegis-batch")
        return reply(_operation(opened))

    async def get(http: Request) -> Response:
        batch = book.get(f"batches/{http.path_params['batch_id']}")
        if batch is None:
            raise BatchInputError(404, f"batches/{http.path_params['batch_id']} not found")
        return reply(_operation(batch))

    return [route for version in ("v1beta", "v1") for route in (
        Route(f"/{version}/models/{{model}}:batchGenerateContent", guarded(state, codec, create), methods=["POST"]),
        Route(f"/{version}/batches/{{batch_id}}", guarded(state, codec, get), methods=["GET"]),
    )]
