"""OpenTelemetry tracing: GenAI semantic-convention spans on every model call.

`configure_tracing` installs the exporter chosen by settings (none, console, OTLP over HTTP) once
per process, behind a bounded batch queue. Prompt and completion text are never put on spans.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from aegis_ray.config import TelemetrySettings
from aegis_ray.errors import ConfigError
from aegis_ray.types import Completion, ModelRequest

TRACER_NAME = "aegis"
_configured = False


def configure_tracing(settings: TelemetrySettings) -> None:
    """Install the configured exporter; a no-op for `none` or when a provider is already set."""
    global _configured
    if _configured or settings.exporter == "none":
        return
    exporter: SpanExporter
    if settings.exporter == "console":
        exporter = ConsoleSpanExporter()
    else:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError as exc:
            raise ConfigError("the OTLP exporter is not installed", hint='pip install "aegis-ray[otel]"') from exc
        exporter = OTLPSpanExporter(endpoint=settings.otlp_endpoint)
    provider = TracerProvider(resource=Resource.create({"service.name": "aegis"}))
    provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=settings.max_queue_size))
    trace.set_tracer_provider(provider)
    _configured = True


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


@contextmanager
def model_call_span(model: str, provider: str, request: ModelRequest, operation: str = "chat") -> Iterator[Span]:
    """A CLIENT span named `{operation} {model}` with the GenAI request attributes; errors are
    recorded with `error.type` and re-raised."""
    attributes: dict[str, str | int | float] = {
        "gen_ai.operation.name": operation,
        "gen_ai.provider.name": provider,
        "gen_ai.system": provider,
        "gen_ai.request.model": model,
        "gen_ai.request.max_tokens": request.max_tokens,
    }
    if request.temperature is not None:
        attributes["gen_ai.request.temperature"] = request.temperature
    with tracer().start_as_current_span(f"{operation} {model}", kind=SpanKind.CLIENT, attributes=attributes,
                                        record_exception=False, set_status_on_exception=False) as span:
        try:
            yield span
        except BaseException as exc:
            record_error(span, exc)
            raise


def record_error(span: Span, error: BaseException) -> None:
    span.set_attribute("error.type", type(error).__name__)
    span.set_status(Status(StatusCode.ERROR, str(error)[:500]))


def record_completion(span: Span, completion: Completion) -> None:
    span.set_attributes({
        "gen_ai.response.model": completion.response_model,
        "gen_ai.response.finish_reasons": [completion.finish_reason],
        "gen_ai.usage.input_tokens": completion.usage.input_tokens,
        "gen_ai.usage.output_tokens": completion.usage.output_tokens,
        "aegis.model": completion.model,
        "aegis.simulated": completion.simulated,
        "aegis.attempts": completion.attempts,
    })
    if completion.cost_usd is not None:
        span.set_attribute("aegis.cost_usd", completion.cost_usd)
