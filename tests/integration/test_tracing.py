"""One `aegis run --code` is one connected trace across the processes it runs in, exported to an
OTLP/HTTP receiver in this test: the CLI, the SessionActor, its sandboxes and the ProviderActor. A
factory job is traced as its enqueuer's wherever it is drained, and a Serve request is a server span
in its caller's trace, with the work it caused."""

from __future__ import annotations

import gzip
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
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
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from opentelemetry.trace import SpanContext

from aegis_ray.config import Settings, TelemetrySettings
from aegis_ray.factory import TRACE_KEY, FactoryJob, WorkerOptions, job_payload
from aegis_ray.sim import SimServer
from aegis_ray.store import open_store
from aegis_ray.telemetry import span_of
from aegis_ray.tracing import TraceCarrier
from aegis_ray.types import RunSpec
from tests.helpers import SERVE_KEY, aegis, clean_env, deploy_aegis, sim_endpoint

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
    kind: str = "SPAN_KIND_INTERNAL"
    links: tuple[tuple[str, str], ...] = ()  # (trace id, span id) of each span it links to


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
                        process=resource["service.instance.id"], kind=Span.SpanKind.Name(span.kind),
                        links=tuple((link.trace_id.hex(), link.span_id.hex()) for link in span.links))
                        for span in scope.spans)

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


def test_factory_jobs_join_the_trace_of_the_command_that_enqueued_them(otlp: Receiver, cluster_address: str,
                                                                      tmp_path: Path) -> None:
    """`aegis factory --no-drain` enqueues under its root span; an `aegis worker` (another process,
    later) drains: each job's span is a child of the enqueuing command's span, in its trace."""
    env = clean_env(RAY_ADDRESS=cluster_address, AEGIS_HOME=str(tmp_path / "home"),
                    AEGIS_TELEMETRY__EXPORTER="otlp", AEGIS_TELEMETRY__OTLP_ENDPOINT=f"{otlp.url}/v1/traces")
    questions = ["What is the capital of Peru?", "Who wrote Dune?"]
    enqueued = aegis("factory", *questions, "--no-drain", env=env, cwd=tmp_path)
    assert enqueued.returncode == 0, enqueued.stderr
    (root,) = [s for s in otlp.wait_for(lambda spans: any(s.name == "aegis factory" for s in spans))
               if s.name == "aegis factory"]
    drained = aegis("worker", env=env, cwd=tmp_path)
    assert drained.returncode == 0 and "2 finished" in drained.stderr, drained.stderr
    spans = otlp.wait_for(lambda spans: sum(s.name == "factory job" for s in spans) == 2
                          and sum(s.name.startswith("chat ") for s in spans) == 2)
    jobs = [s for s in spans if s.name == "factory job"]
    assert len(jobs) == 2 and all(job.trace_id == root.trace_id and job.parent_id == root.span_id for job in jobs)
    assert all(job.kind == "SPAN_KIND_CONSUMER" and job.process != root.process for job in jobs)
    job_ids = {job.span_id for job in jobs}
    assert sum(s.name.startswith("chat ") and s.parent_id in job_ids for s in spans) == 2  # each job's model call
    assert not any(q in value for s in spans for q in questions for value in (s.name, *s.attributes.values()))


def _exporting(otlp: Receiver) -> TelemetrySettings:
    return TelemetrySettings(exporter="otlp", otlp_endpoint=f"{otlp.url}/v1/traces", span_delay_ms=50)


def _hex(span: ReceivedSpan | SpanContext) -> tuple[str, str]:
    if isinstance(span, ReceivedSpan):
        return span.trace_id, span.span_id
    return format(span.trace_id, "032x"), format(span.span_id, "016x")


JOB_TASK = "What is the capital of Chile? (traced job)"
OLD_TASK = "What is the capital of Peru? (a job queued before jobs kept a trace)"


async def test_a_factory_job_is_traced_as_its_enqueuers_and_linked_to_the_drain(
        otlp: Receiver, sim: SimServer, ray_cluster: None, tmp_path: Path) -> None:
    import ray

    from actors.factory_worker import FactoryWorker

    endpoint = sim_endpoint(sim)
    job = FactoryJob(task=JOB_TASK)
    with span_of("enqueue") as enqueuer:  # this process's span: the producer
        payload = job_payload(job, (endpoint.ref.name,))
    plain = job_payload(job, (endpoint.ref.name,))
    assert TRACE_KEY not in plain and payload == {**plain, TRACE_KEY: payload[TRACE_KEY]}
    assert set(payload[TRACE_KEY]) <= {"traceparent", "tracestate"}  # ids only
    old = {"spec": RunSpec(task=OLD_TASK, model=endpoint.ref.name).model_dump(mode="json")}
    store = await open_store(None, tmp_path)
    worker = FactoryWorker.remote({endpoint.ref.name: endpoint}, None, str(tmp_path))
    try:
        assert await store.enqueue([(job.job_id, payload), ("job-old", old)]) == 2
        assert await store.enqueue([(job.job_id, plain)]) == 0  # the trace is no part of the job's id
        # The drain in a trace of its own (the worker exports to the receiver): not the enqueuer's.
        stats = await worker.drain.remote(WorkerOptions(concurrency=2), TraceCarrier(telemetry=_exporting(otlp)))
        assert (stats.finished, stats.failed) == (2, 0)
    finally:
        ray.kill(worker)
        await store.close()
    spans = otlp.wait_for(lambda spans: sum(s.name.startswith("chat ") for s in spans) >= 2
                          and any(s.name == "factory drain" for s in spans))
    (drain,) = [s for s in spans if s.name == "factory drain"]
    jobs = {s.attributes["aegis.job.id"]: s for s in spans if s.name == "factory job"}
    traced, older = jobs[job.job_id], jobs["job-old"]
    assert (traced.trace_id, traced.parent_id) == _hex(enqueuer.get_span_context())
    assert traced.kind == "SPAN_KIND_CONSUMER" and traced.links == (_hex(drain),)
    assert traced.process == drain.process and traced.attributes["aegis.job.kind"] == "answer"
    assert (older.trace_id, older.parent_id, older.links) == (drain.trace_id, drain.span_id, ())
    chats = [s for s in spans if s.name.startswith("chat ")]
    assert sorted((c.trace_id, c.parent_id) for c in chats) == sorted([_hex(traced), _hex(older)])
    assert not any(text in value for s in spans for value in (s.name, *s.attributes.values())
                   for text in ("Chile", "Peru"))


RUN_TASK = "What is the capital of Australia? (a traced request)"
ENQUEUED_TASK = "What is the capital of Kenya? (a traced request)"


def test_a_serve_request_is_a_server_span_in_its_callers_trace_with_the_work_it_caused(
        otlp: Receiver, service: tuple[str, Settings]) -> None:
    import asyncio

    url, settings = service
    deploy_aegis(settings.model_copy(update={"telemetry": _exporting(otlp)}))
    try:
        trace_id, caller = secrets.token_hex(16), secrets.token_hex(8)
        headers = {"Authorization": f"Bearer {SERVE_KEY}", "traceparent": f"00-{trace_id}-{caller}-01"}
        answered = httpx.post(f"{url}/api/run?verbose=secret", json={"task": RUN_TASK}, headers=headers, timeout=60)
        assert answered.status_code == 200, answered.text
        enqueued = httpx.post(f"{url}/api/enqueue", json={"tasks": [ENQUEUED_TASK]}, headers=headers, timeout=60)
        assert enqueued.status_code == 200, enqueued.text
        spans = otlp.wait_for(lambda spans: {"POST /api/run", "POST /api/enqueue"} <= {s.name for s in spans}
                              and any(s.name.startswith("chat ") for s in spans))
    finally:
        deploy_aegis(settings)
    servers = {s.name: s for s in spans if s.kind == "SPAN_KIND_SERVER" and s.parent_id == caller}
    run, enqueue = servers["POST /api/run"], servers["POST /api/enqueue"]
    assert run.trace_id == enqueue.trace_id == trace_id
    assert run.attributes == {"http.request.method": "POST", "http.route": "/api/run", "url.path": "/api/run",
                              "http.response.status_code": "200"}
    by_id = {s.span_id: s for s in spans}

    def ancestors(span: ReceivedSpan) -> list[str]:
        found = []
        while span.parent_id in by_id:
            span = by_id[span.parent_id]
            found.append(span.span_id)
        return found

    (chat,) = [s for s in spans if s.name.startswith("chat ")]
    assert chat.trace_id == trace_id and run.span_id in ancestors(chat), chat  # the model call it made
    (job_id,) = enqueued.json()["job_ids"]

    async def queued() -> dict:
        store = await open_store(settings.database_dsn, settings.home)
        try:
            return (await store.jobs_by_id([job_id]))[job_id].payload
        finally:
            await store.close()

    # The job it queued keeps its context: whoever drains it, the job's span joins this trace.
    assert asyncio.run(queued())[TRACE_KEY]["traceparent"].split("-")[1:3] == [trace_id, enqueue.span_id]
    assert not any(text in value for s in spans for value in (s.name, *s.attributes.values())
                   for text in ("Australia", "Kenya", "secret", SERVE_KEY))
