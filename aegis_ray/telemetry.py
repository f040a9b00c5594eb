"""OpenTelemetry: GenAI semantic-convention spans and client metrics, and each process's exporters.

`configure_tracing` installs the exporters chosen by settings (none, console, OTLP over HTTP) once
per process, spans behind a bounded batch queue; every actor process calls it too (with the settings
its caller's trace context carries: `aegis_ray.tracing`). The spans: `chat {model}` on every model
call, `invoke_agent aegis` around an agent run, `execute_tool {tool}` around each of its tool calls;
each model call also records `gen_ai.client.operation.duration` and `gen_ai.client.token.usage`.
Attributes are names, ids, counts, models and error types: prompt, answer and tool-argument text
never go on a span.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, MetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode

from aegis_ray.config import TelemetrySettings
from aegis_ray.errors import ConfigError
from aegis_ray.types import Completion, ModelRequest, RunState, ToolResult

TRACER_NAME = "aegis"
AGENT_NAME = "aegis"
# The GenAI conventions' advised bucket boundaries for the two client histograms.
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)

_settings: TelemetrySettings | None = None


def configure_tracing(settings: TelemetrySettings) -> None:
    """Install the configured span and metric exporters; a no-op for `none`, after the first call,
    or where a tracer provider is already installed (a test's, an embedding application's)."""
    global _settings
    if _settings is not None or settings.exporter == "none" or isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    spans, measures = _exporters(settings)
    resource = Resource.create({"service.name": "aegis", "service.instance.id": f"{socket.gethostname()}:{os.getpid()}",
                                "process.pid": os.getpid(), "host.name": socket.gethostname()})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(spans, max_queue_size=settings.max_queue_size,
                                                   schedule_delay_millis=settings.span_delay_ms))
    trace.set_tracer_provider(provider)
    reader = PeriodicExportingMetricReader(measures, export_interval_millis=settings.metric_interval_s * 1000)
    metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=[reader]))
    _settings = settings


def _exporters(settings: TelemetrySettings) -> tuple[SpanExporter, MetricExporter]:
    if settings.exporter == "console":
        return ConsoleSpanExporter(), ConsoleMetricExporter()
    try:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError as exc:
        raise ConfigError("the OTLP exporter is not installed", hint='pip install "aegis-ray[otel]"') from exc
    return OTLPSpanExporter(endpoint=settings.otlp_endpoint), OTLPMetricExporter(endpoint=settings.metrics_endpoint)


def configured() -> TelemetrySettings | None:
    """The settings this process exports with, if `configure_tracing` installed exporters."""
    return _settings


def flush_telemetry(timeout_s: float = 5.0) -> None:
    """Export what this process holds now (blocking): before a process that may be killed hands back
    the end of its work."""
    for provider in (trace.get_tracer_provider(), metrics.get_meter_provider()):
        flush = getattr(provider, "force_flush", None)
        if flush is not None:
            flush(int(timeout_s * 1000))


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


class GenAIMetrics:
    """The GenAI client histograms, on one meter."""

    def __init__(self, meter: metrics.Meter) -> None:
        self.duration = meter.create_histogram(
            "gen_ai.client.operation.duration", unit="s", description="GenAI operation duration",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS)
        self.tokens = meter.create_histogram(
            "gen_ai.client.token.usage", unit="{token}", description="Number of input and output tokens used",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS)


_metrics: GenAIMetrics | None = None


def genai_metrics() -> GenAIMetrics:
    """The process's GenAI histograms (on the global meter provider, whenever it is installed)."""
    global _metrics
    if _metrics is None:
        _metrics = GenAIMetrics(metrics.get_meter(TRACER_NAME))
    return _metrics


@dataclass
class ModelCall:
    """One model call being observed: its span, and the attributes its metrics are recorded with."""

    span: Span
    attributes: dict[str, str] = field(default_factory=dict)
    error_type: str | None = None


@contextmanager
def model_call_span(model: str, provider: str, request: ModelRequest, operation: str = "chat") -> Iterator[ModelCall]:
    """A CLIENT span named `{operation} {model}` with the GenAI request attributes, and the call's
    duration recorded when it ends; errors are recorded with `error.type` and re-raised."""
    measured = {"gen_ai.operation.name": operation, "gen_ai.provider.name": provider, "gen_ai.request.model": model}
    attributes: dict[str, str | int | float] = {**measured, "gen_ai.system": provider,
                                                "gen_ai.request.max_tokens": request.max_tokens}
    if request.temperature is not None:
        attributes["gen_ai.request.temperature"] = request.temperature
    started = time.perf_counter()
    with tracer().start_as_current_span(f"{operation} {model}", kind=SpanKind.CLIENT, attributes=attributes,
                                        record_exception=False, set_status_on_exception=False) as span:
        call = ModelCall(span, measured)
        try:
            yield call
        except BaseException as exc:
            record_error(call, exc)
            raise
        finally:
            error = {"error.type": call.error_type} if call.error_type else {}
            genai_metrics().duration.record(time.perf_counter() - started, {**call.attributes, **error})


def record_error(call: ModelCall, error: BaseException) -> None:
    call.error_type = type(error).__name__
    call.span.set_attribute("error.type", call.error_type)
    call.span.set_status(Status(StatusCode.ERROR, str(error)[:500]))


def record_completion(call: ModelCall, completion: Completion) -> None:
    call.span.set_attributes({
        "gen_ai.response.model": completion.response_model,
        "gen_ai.response.finish_reasons": [completion.finish_reason],
        "gen_ai.usage.input_tokens": completion.usage.input_tokens,
        "gen_ai.usage.output_tokens": completion.usage.output_tokens,
        "aegis.model": completion.model,
        "aegis.simulated": completion.simulated,
        "aegis.attempts": completion.attempts,
    })
    if completion.cost_usd is not None:
        call.span.set_attribute("aegis.cost_usd", completion.cost_usd)
    call.attributes["gen_ai.response.model"] = completion.response_model
    tokens = genai_metrics().tokens
    tokens.record(completion.usage.input_tokens, {**call.attributes, "gen_ai.token.type": "input"})
    tokens.record(completion.usage.output_tokens, {**call.attributes, "gen_ai.token.type": "output"})


@contextmanager
def span_of(name: str, attributes: dict[str, str | int] | None = None,
            kind: SpanKind = SpanKind.INTERNAL, links: Sequence[Link] = ()) -> Iterator[Span]:
    """A span `name`, current while the block runs; an exception leaves only its type on it
    (`error.type`): its message may quote what must not be recorded."""
    with tracer().start_as_current_span(name, kind=kind, attributes=attributes, links=links,
                                        record_exception=False, set_status_on_exception=False) as span:
        try:
            yield span
        except BaseException as exc:
            span.set_attribute("error.type", type(exc).__name__)
            span.set_status(Status(StatusCode.ERROR))
            raise


@contextmanager
def agent_span(model: str, conversation_id: str, agent: str = AGENT_NAME) -> Iterator[Span]:
    """The INTERNAL span `invoke_agent {agent}` around one agent run (or one turn of a conversation)."""
    attributes = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": agent,
                  "gen_ai.request.model": model, "gen_ai.conversation.id": conversation_id}
    with span_of(f"invoke_agent {agent}", attributes) as span:
        yield span


def record_agent_run(span: Span, state: RunState) -> None:
    span.set_attributes({"aegis.run.status": state.status.value, "aegis.turns": state.turns,
                         "gen_ai.usage.input_tokens": state.usage.input_tokens,
                         "gen_ai.usage.output_tokens": state.usage.output_tokens})
    if state.model:
        span.set_attribute("gen_ai.response.model", state.model)


@contextmanager
def tool_span(tool: str, call_id: str) -> Iterator[Span]:
    """The INTERNAL span `execute_tool {tool}` around one tool call."""
    attributes = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool,
                  "gen_ai.tool.call.id": call_id, "gen_ai.tool.type": "function"}
    with span_of(f"execute_tool {tool}", attributes) as span:
        yield span


def record_tool_result(span: Span, result: ToolResult) -> None:
    """A failed call's error type (never its message: it may quote the arguments or the output)."""
    if not result.ok:
        span.set_attribute("error.type", result.error_type or "ToolError")
        span.set_status(Status(StatusCode.ERROR))
