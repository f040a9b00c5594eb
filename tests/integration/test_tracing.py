"""One `aegis run --code` is one connected trace across the processes it runs in, exported to an
OTLP/HTTP receiver in this test: the CLI, the SessionActor, its sandboxes and the ProviderActor."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from tests.helpers import aegis, clean_env

pytestmark = pytest.mark.integration

TASK = "Compute the 20th Fibonacci number"
ANSWER = "6765"


@dataclass(frozen=True)
class ReceivedSpan:
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    attributes: dict[str, str]
    process: str  # the exporting process: its resource's service.instance.id


def _text(value: AnyValue) -> str:
    kind = value.WhichOneof("value")
    return "" if kind is None else str(getattr(value, kind))


@dataclass
class Receiver:
    """What an OTLP/HTTP collector was sent: spans, and the names of the metrics."""

    url: str = ""
    spans: list[ReceivedSpan] = field(default_factory=list)
    metrics: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take_traces(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        with self.lock:
            for resource_spans in request.resource_spans:
                resource = {kv.key: _text(kv.value) for kv in resource_spans.resource.attributes}
                for scope in resource_spans.scope_spans:
                    self.spans.extend(ReceivedSpan(
                        trace_id=span.trace_id.hex(), span_id=span.span_id.hex(), parent_id=span.parent_span_id.hex(),
                        name=span.name, attributes={kv.key: _text(kv.value) for kv in span.attributes},
                        process=resource["service.instance.id"]) for span in scope.spans)

    def take_metrics(self, body: bytes) -> None:
        request = ExportMetricsServiceRequest.FromString(body)
        with self.lock:
            self.metrics.update(metric.name for resource in request.resource_metrics
                                for scope in resource.scope_metrics for metric in scope.metrics)

    def wait_for(self, done: Callable[[list[ReceivedSpan]], bool], timeout_s: float = 15.0) -> list[ReceivedSpan]:
        """The spans once `done` holds of them (or at the timeout: the test then says what is missing)."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self.lock:
                spans = list(self.spans)
            if done(spans) or time.monotonic() > deadline:
                return spans
            time.sleep(0.2)


@pytest.fixture
def otlp() -> Iterator[Receiver]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path == "/v1/traces":
                receiver.take_traces(body)
                reply = ExportTraceServiceResponse().SerializeToString()
            elif self.path == "/v1/metrics":
                receiver.take_metrics(body)
                reply = ExportMetricsServiceResponse().SerializeToString()
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


def _connected(spans: list[ReceivedSpan]) -> bool:
    ids = {s.span_id for s in spans}
    return len({s.process for s in spans}) >= 3 and all(s.parent_id in ids for s in spans if s.parent_id)


def _traced_command(otlp: Receiver, cluster_address: str, tmp_path: Path, *args: str) -> tuple[str, list[ReceivedSpan]]:
    """`aegis ARGS` exporting to the receiver: its output, and its spans once they form one tree
    across at least three processes (asserted)."""
    env = clean_env(RAY_ADDRESS=cluster_address, AEGIS_HOME=str(tmp_path / "home"),
                    AEGIS_TELEMETRY__EXPORTER="otlp", AEGIS_TELEMETRY__OTLP_ENDPOINT=f"{otlp.url}/v1/traces")
    result = aegis(*args, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    spans = otlp.wait_for(_connected)
    names = [s.name for s in spans]
    assert len({s.trace_id for s in spans}) == 1, names
    ids = {s.span_id for s in spans}
    roots = [s for s in spans if not s.parent_id]
    assert [r.name for r in roots] == [f"aegis {args[0]}"], names
    assert all(s.parent_id in ids for s in spans if s.parent_id), names  # one tree: every parent was exported
    by_process = {s.process: sorted({t.name for t in spans if t.process == s.process}) for s in spans}
    assert len(by_process) >= 3, by_process
    return result.stdout, spans


def test_run_code_is_one_connected_trace_across_processes(otlp: Receiver, cluster_address: str,
                                                          tmp_path: Path) -> None:
    stdout, spans = _traced_command(otlp, cluster_address, tmp_path, "run", "--code", TASK, "--model",
                                    "sim:sim-coder", "--approve", "auto", "--workspace", str(tmp_path / "ws"))
    assert stdout.strip() == ANSWER
    (root,) = [s for s in spans if not s.parent_id]

    (agent,) = [s for s in spans if s.name == "invoke_agent aegis"]
    assert agent.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert agent.attributes["gen_ai.request.model"] == "sim:sim-coder"
    assert agent.process != root.process  # the CLI, the session, its sandboxes, the provider actor
    tools = [s for s in spans if s.attributes.get("gen_ai.operation.name") == "execute_tool"]
    assert tools and all(s.name == f"execute_tool {s.attributes['gen_ai.tool.name']}" for s in tools)
    assert {"write_file", "run_command"} <= {s.attributes["gen_ai.tool.name"] for s in tools}
    assert any(s.name == "chat sim:sim-coder" and s.attributes["gen_ai.usage.output_tokens"] != "0" for s in spans)
    assert any(s.name == "sandbox run" for s in spans)
    assert any(s.name.startswith("provider ") for s in spans)

    for span in spans:  # names, ids, counts and models only: no prompt, answer or code
        assert not any(TASK in value or ANSWER in value or "fib" in value.lower()
                       for value in (span.name, *span.attributes.values())), span

    assert {"gen_ai.client.operation.duration", "gen_ai.client.token.usage"} <= otlp.metrics


def test_orchestrate_is_one_trace_over_its_plan_steps(otlp: Receiver, cluster_address: str, tmp_path: Path) -> None:
    _, spans = _traced_command(otlp, cluster_address, tmp_path, "orchestrate",
                               "Who wrote Dune, and what is the capital of Peru?")
    (orchestrator,) = [s for s in spans if s.name == "orchestrator run"]
    steps = [s for s in spans if s.name == "plan step"]
    assert sorted(s.attributes["aegis.plan.step"] for s in steps) == ["s1", "s2"]
    assert all(s.parent_id == orchestrator.span_id and s.process != orchestrator.process for s in steps)
    step_ids = {s.span_id for s in steps}
    assert sum(s.name.startswith("chat ") and s.parent_id in step_ids for s in spans) == 2  # each step's answer
    assert not any("Dune" in value for s in spans for value in (s.name, *s.attributes.values()))
