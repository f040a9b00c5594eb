"""Every model call through the gateway emits a span with the OpenTelemetry GenAI attributes."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from aegis_ray.providers import Gateway
from aegis_ray.runner import answer_task
from aegis_ray.sim import FaultKind
from aegis_ray.sim.inprocess import InProcessSim
from aegis_ray.types import RunSpec
from tests.helpers import FAST_RETRY, local_models

pytestmark = pytest.mark.unit


async def test_a_run_carries_genai_attributes(local_sim: InProcessSim, spans: InMemorySpanExporter) -> None:
    cache = local_models(local_sim)
    result = await answer_task(Gateway(cache, ["sim:sim-honest"]), RunSpec(task="What is the capital of Australia?"))
    await cache.aclose()
    (span,) = spans.get_finished_spans()
    attrs = span.attributes
    assert span.name == "chat sim:sim-honest" and span.kind is SpanKind.CLIENT
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "aegis.sim"
    assert attrs["gen_ai.request.model"] == "sim:sim-honest"
    assert attrs["gen_ai.response.model"] == "sim-honest"
    assert attrs["gen_ai.usage.input_tokens"] == result.usage.input_tokens > 0
    assert attrs["gen_ai.usage.output_tokens"] == result.usage.output_tokens > 0
    assert attrs["aegis.cost_usd"] == pytest.approx(result.cost_usd)
    assert attrs["aegis.simulated"] is True
    assert "Australia" not in str(dict(attrs))  # prompt text is never put on spans


async def test_failed_calls_record_the_error_type(local_sim: InProcessSim, spans: InMemorySpanExporter) -> None:
    local_sim.inject("sim-hallucinating", FaultKind.SERVER_ERROR, times=FAST_RETRY.max_attempts)
    cache = local_models(local_sim)
    await answer_task(Gateway(cache, ["sim:sim-hallucinating", "sim:sim-honest"]), RunSpec(task="capital of Peru?"))
    await cache.aclose()
    failed, answered = spans.get_finished_spans()
    assert failed.attributes["error.type"] == "ProviderServerError"
    assert failed.status.status_code is StatusCode.ERROR
    assert answered.attributes["gen_ai.request.model"] == "sim:sim-honest"
    assert "error.type" not in answered.attributes
