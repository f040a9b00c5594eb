"""Every model call through the gateway emits a span with the OpenTelemetry GenAI attributes and
records the GenAI client metrics; an agent run is an `invoke_agent` span over `execute_tool` spans;
a trace carrier continues the caller's trace. No prompt, answer or argument text goes on a span."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from aegis_ray import telemetry
from aegis_ray.config import TelemetrySettings
from aegis_ray.loop import AgentLoop
from aegis_ray.providers import Gateway
from aegis_ray.runner import answer_task
from aegis_ray.sim import FaultKind, ModelProfile, Script, SimConfig, Turn
from aegis_ray.sim.inprocess import InProcessSim
from aegis_ray.tools import BUILTIN_TOOLS, ToolContext, ToolRegistry, Workspace
from aegis_ray.tracing import inject, remote_span
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


async def test_model_calls_record_the_genai_client_metrics(local_sim: InProcessSim,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    reader = InMemoryMetricReader()
    monkeypatch.setattr(telemetry, "_metrics", telemetry.GenAIMetrics(MeterProvider([reader]).get_meter("aegis")))
    cache = local_models(local_sim)
    result = await answer_task(Gateway(cache, ["sim:sim-honest"]), RunSpec(task="What is the capital of Peru?"))
    await cache.aclose()
    (resource,) = reader.get_metrics_data().resource_metrics
    found = {metric.name: metric for scope in resource.scope_metrics for metric in scope.metrics}
    duration = found["gen_ai.client.operation.duration"]
    (point,) = duration.data.data_points
    assert duration.unit == "s" and point.count == 1 and 0 < point.sum < 10
    assert point.attributes == {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "aegis.sim",
                                "gen_ai.request.model": "sim:sim-honest", "gen_ai.response.model": "sim-honest"}
    usage = found["gen_ai.client.token.usage"]
    by_type = {p.attributes["gen_ai.token.type"]: p.sum for p in usage.data.data_points}
    assert usage.unit == "{token}"
    assert by_type == {"input": result.usage.input_tokens, "output": result.usage.output_tokens}


def _call(name: str, **arguments: object) -> dict:
    return {"name": name, "arguments": arguments}


async def test_an_agent_run_is_an_invoke_agent_span_over_its_tool_calls(tmp_path: Path,
                                                                      spans: InMemorySpanExporter) -> None:
    script = Script(turns=[Turn(tool_calls=[_call("write_file", path="notes.txt", content="the secret plan"),
                                            _call("no_such_tool")]),
                           Turn(text="All written down.")])
    cache = local_models(InProcessSim(SimConfig(models={"sim-honest-notes": ModelProfile(script=script)})))
    loop = AgentLoop(Gateway(cache, ["sim:sim-honest-notes"]), ToolRegistry(BUILTIN_TOOLS, policy="auto"),
                     ToolContext(workspace=Workspace(tmp_path)))
    state = await loop.run(RunSpec(task="Write down the secret plan"))
    await cache.aclose()
    finished = spans.get_finished_spans()
    (agent,) = [s for s in finished if s.name == "invoke_agent aegis"]
    assert agent.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert agent.attributes["gen_ai.agent.name"] == "aegis"
    assert agent.attributes["gen_ai.request.model"] == "sim:sim-honest-notes"
    assert agent.attributes["gen_ai.conversation.id"] == state.run_id
    assert agent.attributes["gen_ai.usage.output_tokens"] == state.usage.output_tokens > 0
    children = [s for s in finished if s.parent is not None and s.parent.span_id == agent.context.span_id]
    assert sorted(s.name for s in children) == ["chat sim:sim-honest-notes", "chat sim:sim-honest-notes",
                                                "execute_tool no_such_tool", "execute_tool write_file"]
    tools = {s.attributes["gen_ai.tool.name"]: s for s in children if s.name.startswith("execute_tool")}
    assert tools["write_file"].attributes["gen_ai.operation.name"] == "execute_tool"
    assert tools["write_file"].attributes["gen_ai.tool.call.id"]
    assert "error.type" not in tools["write_file"].attributes
    assert tools["no_such_tool"].attributes["error.type"] == "UnknownTool"
    assert tools["no_such_tool"].status.status_code is StatusCode.ERROR
    recorded = str([(s.name, dict(s.attributes), s.status.description) for s in finished])
    assert "secret" not in recorded and "written down" not in recorded  # no task, argument or answer text


def test_a_carrier_continues_the_callers_trace(spans: InMemorySpanExporter) -> None:
    assert inject() is None  # no span, and this process exports with no configured settings
    with telemetry.tracer().start_as_current_span("caller") as caller:
        carrier = inject()
    assert carrier is not None and carrier.telemetry is None
    assert list(carrier.headers) == ["traceparent"]
    with remote_span(carrier, "callee", {"aegis.model": "m"}) as callee:
        assert callee.get_span_context().trace_id == caller.get_span_context().trace_id
    (received,) = [s for s in spans.get_finished_spans() if s.name == "callee"]
    assert received.parent.span_id == caller.get_span_context().span_id and received.kind is SpanKind.SERVER


def test_configure_tracing_leaves_an_installed_provider_alone() -> None:
    telemetry.configure_tracing(TelemetrySettings(exporter="console"))
    assert telemetry.configured() is None
    assert TelemetrySettings().metrics_endpoint == "http://127.0.0.1:4318/v1/metrics"
