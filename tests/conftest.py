"""Shared fixtures: one simulated model server, one Ray cluster and one span exporter per session;
an in-process simulator per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from aegis_ray.sim import SimServer
from aegis_ray.sim.inprocess import InProcessSim


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The multi-node tier (`tests/multinode`) runs last: this process leaves the suite's single-node
    Ray cluster for the tier's cluster of several nodes (a process joins one cluster at a time), so
    every test that uses the shared cluster runs before it."""
    items.sort(key=lambda item: "multinode" in item.path.parts)


@pytest.fixture(scope="session")
def sim_server() -> Iterator[SimServer]:
    with SimServer() as server:
        yield server


@pytest.fixture
def sim(sim_server: SimServer) -> Iterator[SimServer]:
    """The session's simulated server with no queued faults and an empty request log."""
    sim_server.reset()
    yield sim_server
    sim_server.reset()


@pytest.fixture
def local_sim() -> InProcessSim:
    """The default personas in-process (fresh random streams, no faults queued): answers without a server."""
    return InProcessSim()


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    import ray

    from actors.cluster import connect

    connect(num_cpus=2, object_store_memory=256 * 2**20)
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def cluster_address(ray_cluster: None) -> str:
    """Where subprocesses (the CLI) join the test session's Ray cluster."""
    import ray

    return ray.get_runtime_context().gcs_address


@pytest.fixture(scope="session")
def service(sim_server: SimServer, ray_cluster: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    """The Aegis Serve app on a free loopback port, answering from the simulator, with an API key."""
    from ray import serve

    from aegis_ray.config import Settings
    from tests.helpers import SERVE_KEY, deploy_aegis, free_port

    port = free_port()
    settings = Settings(home=tmp_path_factory.mktemp("serve-home"), sim_url=sim_server.base_url, api_key=SERVE_KEY)
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    deploy_aegis(settings)
    yield f"http://127.0.0.1:{port}", settings
    serve.shutdown()


_EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="session", autouse=True)
def _tracer_provider() -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
    trace.set_tracer_provider(provider)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()

