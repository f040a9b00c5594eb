"""One trace per run across processes: the trace context that travels with each actor call and task.

`inject()` captures the current W3C trace context (`traceparent`, `tracestate`) with the exporter
settings this process was configured with, as a `TraceCarrier`; the receiving process opens
`remote_span(carrier, name)` (or `extracted(carrier)`), which installs that exporter once
(`telemetry.configure_tracing`: a Ray worker inherits nothing from the driver's process, and a
shared actor may have been started by a process that traced nothing) and makes the caller's span the
parent of what runs inside. A carrier holds ids and settings only, never text. `traced` runs a
command's work under its root span.

A queued message (a factory job) carries only the W3C headers of the code that produced it (the
exporter is the consumer's own); `consumer_span` handles it under a CONSUMER span parented to that
producer and linked to the span of the batch that handles it (a drain), as OpenTelemetry's
messaging conventions advise.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from opentelemetry import context, trace
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from aegis_ray.config import TelemetrySettings
from aegis_ray.telemetry import configure_tracing, configured, span_of

T = TypeVar("T")

_PROPAGATOR = TraceContextTextMapPropagator()


@dataclass(frozen=True)
class TraceCarrier:
    """The caller's trace context as W3C headers, and where the callee should export its spans."""

    headers: dict[str, str] = field(default_factory=dict)
    telemetry: TelemetrySettings | None = None


def inject() -> TraceCarrier | None:
    """The current trace context and this process's exporter settings; None when there is neither."""
    headers: dict[str, str] = {}
    _PROPAGATOR.inject(headers)
    telemetry = configured()
    return TraceCarrier(headers, telemetry) if headers or telemetry else None


@contextmanager
def extracted(carrier: TraceCarrier | None) -> Iterator[None]:
    """Run the block in the caller's trace (a no-op without a carrier), exporting as the caller does."""
    if carrier is None:
        yield
        return
    if carrier.telemetry is not None:
        configure_tracing(carrier.telemetry)
    token = context.attach(_PROPAGATOR.extract(carrier.headers))
    try:
        yield
    finally:
        context.detach(token)


@contextmanager
def remote_span(carrier: TraceCarrier | None, name: str, attributes: dict[str, str | int] | None = None
                ) -> Iterator[Span]:
    """A SERVER span `name` in the caller's trace: where an actor call or task starts its work."""
    with extracted(carrier), span_of(name, attributes, SpanKind.SERVER) as span:
        yield span


@contextmanager
def consumer_span(headers: object, name: str, attributes: dict[str, str | int] | None = None) -> Iterator[Span]:
    """A CONSUMER span `name` for a message produced under `headers` (`inject()`'s W3C headers, as the
    message keeps them): the producer's child, linked to the span current here (the batch) when that
    is another; a message without a valid context (one queued before messages carried one) is the
    current span's child."""
    kept = {k: v for k, v in headers.items() if isinstance(k, str) and isinstance(v, str)} if isinstance(
        headers, Mapping) else {}
    producer = _PROPAGATOR.extract(kept)
    produced = trace.get_current_span(producer).get_span_context()
    batch = trace.get_current_span().get_span_context()
    apart = produced.is_valid and batch.is_valid and (batch.trace_id, batch.span_id) != (produced.trace_id,
                                                                                          produced.span_id)
    token = context.attach(producer) if produced.is_valid else None
    try:
        with span_of(name, attributes, SpanKind.CONSUMER, [Link(batch)] if apart else []) as span:
            yield span
    finally:
        if token is not None:
            context.detach(token)


async def traced(name: str, work: Awaitable[T], attributes: dict[str, str | int] | None = None) -> T:
    """`work` awaited under a new span `name`: a command's root span, whose context every actor call
    made inside carries."""
    with span_of(name, attributes):
        return await work
