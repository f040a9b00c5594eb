"""OpenAI's Batch API over its Files API, as `client.files.create`, `client.batches.create/retrieve`
and `client.files.content` use it.

    POST /v1/files                 upload (multipart: file, purpose)
    GET  /v1/files/{id}            the file object
    GET  /v1/files/{id}/content    its bytes (a batch's input, output or error JSONL)
    POST /v1/batches               {input_file_id, endpoint, completion_window, metadata}
    GET  /v1/batches/{id}          the batch; once ended, its output and error files

Each input line is `{custom_id, method, url, body}`; each output line `{id, custom_id, response:
{status_code, request_id, body}, error}`, out of request order. A request that failed alone is a
line of the error file, with its status and the API's error body. A bad input file fails the batch
as a whole (`status: failed`, `errors.data` naming the line), as the real API does once it validates.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aegis_ray.sim.batch.book import BatchInputError, Outcome, SimBatch, SimFile
from aegis_ray.sim.batch.routes import guarded, json_body, reply
from aegis_ray.sim.wire.base import WireCodec
from aegis_ray.sim.wire.openai_chat import OpenAIChatCodec
from aegis_ray.sim.wire.openai_responses import OpenAIResponsesCodec

if TYPE_CHECKING:
    from aegis_ray.sim.server import SimState

CODECS: dict[str, WireCodec] = {"/v1/chat/completions": OpenAIChatCodec(), "/v1/responses": OpenAIResponsesCodec()}
_DAY_S = 24 * 3600


def _file(file: SimFile) -> dict[str, Any]:
    return {"id": file.id, "object": "file", "bytes": len(file.content), "created_at": file.created,
            "filename": file.filename, "purpose": file.purpose, "status": "processed",
            "expires_at": file.created + 30 * _DAY_S}


def _lines(content: bytes, endpoint: str) -> tuple[list[tuple[str, dict[str, Any]]], list[dict[str, Any]]]:
    """(custom id, body) of each request in an input file, and what is wrong with it (`errors.data`)."""
    requests: list[tuple[str, dict[str, Any]]] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, line in enumerate(content.decode("utf-8", "replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            custom_id, body = str(item["custom_id"]), item["body"]
            if item.get("method", "POST") != "POST" or item.get("url") != endpoint or not isinstance(body, dict):
                raise ValueError(f"each line must POST to {endpoint} with an object body")
        except (ValueError, KeyError, TypeError) as exc:
            errors.append({"code": "invalid_request", "line": number, "message": str(exc), "param": None})
            continue
        if custom_id in seen:
            errors.append({"code": "duplicate_custom_id", "line": number, "param": "custom_id",
                           "message": f"the custom_id {custom_id!r} is used more than once"})
        seen.add(custom_id)
        requests.append((custom_id, body))
    if not requests and not errors:
        errors.append({"code": "empty_file", "line": None, "message": "the input file has no requests", "param": None})
    return requests, errors


def _output_line(outcome: Outcome) -> str:
    return json.dumps({"id": f"batch_req_{uuid.uuid4().hex[:24]}", "custom_id": outcome.custom_id,
                       "response": {"status_code": outcome.status, "request_id": f"req_{uuid.uuid4().hex[:24]}",
                                    "body": outcome.body},
                       "error": None})


def _finalize(state: SimState, batch: SimBatch) -> None:
    """The output and error files of a batch that ended, made once."""
    if "output_file_id" in batch.extra:
        return
    book = state.batches
    ordered = book.shuffled(batch.outcomes)
    for key, keep in (("output_file_id", True), ("error_file_id", False)):
        lines = [_output_line(o) for o in ordered if o.ok is keep]
        batch.extra[key] = (book.add_file(f"{batch.id}_{key.split('_')[0]}.jsonl", "batch_output",
                                          ("\n".join(lines) + "\n").encode()).id if lines else None)


def _batch(state: SimState, batch: SimBatch) -> dict[str, Any]:
    created = int(batch.created)
    extra = batch.extra
    body: dict[str, Any] = {
        "id": batch.id, "object": "batch", "endpoint": extra["endpoint"], "input_file_id": extra["input_file_id"],
        "completion_window": "24h", "created_at": created, "expires_at": created + _DAY_S,
        "metadata": extra.get("metadata"), "model": batch.outcomes[0].model if batch.outcomes else None,
        "errors": None, "output_file_id": None, "error_file_id": None, "in_progress_at": created,
        "request_counts": {"total": len(batch.outcomes), "completed": 0, "failed": 0},
    }
    if extra["errors"]:
        return body | {"status": "failed", "failed_at": created, "in_progress_at": None,
                       "errors": {"object": "list", "data": extra["errors"]}}
    if not batch.ended:
        return body | {"status": "in_progress"}
    _finalize(state, batch)
    ended = int(batch.ends)
    return body | {"status": "completed", "finalizing_at": ended, "completed_at": ended,
                  "output_file_id": extra["output_file_id"], "error_file_id": extra["error_file_id"],
                  "request_counts": {"total": len(batch.outcomes), "completed": batch.succeeded,
                                     "failed": batch.failed}}


def routes(state: SimState) -> list[Route]:
    book, codec = state.batches, OpenAIChatCodec()

    def found_file(http: Request) -> SimFile:
        file = book.file(http.path_params["file_id"])
        if file is None:
            raise BatchInputError(404, f"No such File object: {http.path_params['file_id']}")
        return file

    async def upload(http: Request) -> Response:
        async with http.form() as form:
            upload, purpose = form.get("file"), form.get("purpose")
            if not isinstance(upload, UploadFile) or not isinstance(purpose, str):
                raise BatchInputError(400, "a file upload needs the fields 'file' and 'purpose'")
            file = book.add_file(upload.filename or "upload.jsonl", purpose, await upload.read())
        return reply(_file(file))

    async def file_info(http: Request) -> Response:
        return reply(_file(found_file(http)))

    async def file_content(http: Request) -> Response:
        from aegis_ray.sim.server import SIMULATED_HEADER

        return Response(found_file(http).content, 200, SIMULATED_HEADER, "application/octet-stream")

    async def create(http: Request) -> Response:
        body = await json_body(http)
        endpoint = body.get("endpoint")
        if endpoint not in CODECS:
            raise BatchInputError(400, f"the simulator batches {' and '.join(CODECS)}, not {endpoint!r}")
        if body.get("completion_window") != "24h":
            raise BatchInputError(400, "completion_window must be '24h'")
        file = book.file(str(body.get("input_file_id")))
        if file is None:
            raise BatchInputError(404, f"No such File object: {body.get('input_file_id')}")
        if file.purpose != "batch":
            raise BatchInputError(400, f"the file {file.id} was uploaded with purpose {file.purpose!r}, not 'batch'")
        requests, errors = _lines(file.content, endpoint)
        outcomes = [] if errors else [
            book.answer(state, state.record, CODECS[endpoint], "openai-batch", custom_id, request)
            for custom_id, request in requests]
        batch = book.open("batch_", outcomes, endpoint=endpoint, input_file_id=file.id,
                          metadata=body.get("metadata"), errors=errors)
        return reply(_batch(state, batch))

    async def retrieve(http: Request) -> Response:
        batch = book.get(http.path_params["batch_id"])
        if batch is None or "endpoint" not in batch.extra:
            raise BatchInputError(404, f"No batch found with id '{http.path_params['batch_id']}'")
        return reply(_batch(state, batch))

    def route(path: str, handler: Any, method: str) -> Route:
        return Route(path, guarded(state, codec, handler), methods=[method])

    return [
        route("/v1/files", upload, "POST"),
        route("/v1/files/{file_id}", file_info, "GET"),
        route("/v1/files/{file_id}/content", file_content, "GET"),
        route("/v1/batches", create, "POST"),
        route("/v1/batches/{batch_id}", retrieve, "GET"),
    ]

