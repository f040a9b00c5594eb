"""The request span: every HTTP request to the app runs under a SERVER span, as OpenTelemetry's HTTP
semantic conventions name it (`{method} {route template}`, e.g. `POST /api/run`), the child of the
caller's W3C `traceparent` when the request has one; the actor calls made while it is handled carry
its context (`aegis_ray.tracing.inject`), so a session, a run, a factory job or a verifier call made
for it is in its trace.

Its attributes are `http.request.method`, `http.route`, `http.response.status_code` and `url.path`:
no query string (`/api/stream` carries its task there), no header but the trace context's, no body.
A replica that exports nothing (`telemetry.configured()` is None) passes requests straight through.
"""

from __future__ import annotations

from opentelemetry.trace import Span, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aegis_ray.telemetry import configured
from aegis_ray.tracing import TraceCarrier, remote_span

METHODS = frozenset({"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY", "TRACE"})
TRACE_HEADERS = frozenset({b"traceparent", b"tracestate"})


class RequestSpans:
    """ASGI middleware: each HTTP request under its SERVER span (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or configured() is None:
            await self.app(scope, receive, send)
            return
        method = scope["method"] if scope["method"] in METHODS else "_OTHER"
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"] if k in TRACE_HEADERS}
        status: list[int] = []

        async def sent(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        name = "HTTP" if method == "_OTHER" else method
        with remote_span(TraceCarrier(headers), name, {"http.request.method": method, "url.path": scope["path"]}
                         ) as span:
            try:
                await self.app(scope, receive, sent)
            finally:
                _settle(span, name, scope, status[0] if status else None)


def _settle(span: Span, name: str, scope: Scope, status: int | None) -> None:
    """Name the span by the route the router chose (known only once it has run), and record the
    status: a 5xx is an error; a 4xx is the client's, not the server span's."""
    route = getattr(scope.get("route"), "path_format", None)
    if route:
        span.set_attribute("http.route", route)
        span.update_name(f"{name} {route}")
    if status is not None:
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_attribute("error.type", str(status))
            span.set_status(Status(StatusCode.ERROR))
