"""The multi-node tier: one Ray cluster of a head and two worker nodes on this machine (each with its
own raylet, object store and two logical CPUs: `actors.local_nodes`), shared by every test here.

A process joins one Ray cluster at a time, so this tier runs last (`tests/conftest.py` orders it):
its fixture leaves the suite's single-node cluster (stopping Serve there first) and joins its own.
The cluster stays up until pytest ends (`config.add_cleanup`), after every session fixture's
teardown, so a teardown that still talks to Ray (`serve.shutdown`) finds a live cluster. A test that
kills a worker node leaves it dead; `three_nodes` adds a fresh one before the next test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from actors.local_nodes import LocalNodes
from aegis_ray.sim import ModelProfile, SimConfig, SimServer

WORKERS = 2

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def nodes(request: pytest.FixtureRequest) -> LocalNodes:
    import ray
    from ray import serve

    if ray.is_initialized():  # the suite's single-node cluster: every test that uses it has run
        serve.shutdown()
        ray.shutdown()
    cluster = LocalNodes(workers=WORKERS, cpus=2)
    request.config.add_cleanup(cluster.stop)
    return cluster.start()


@pytest.fixture
def three_nodes(nodes: LocalNodes) -> LocalNodes:
    """The tier's cluster with both worker nodes alive (one an earlier test killed is replaced)."""
    while len(nodes.workers) < WORKERS:
        nodes.add_worker()
    return nodes


@pytest.fixture
def slow_sim() -> Iterator[SimServer]:
    """A simulator whose `sim-honest-slow` takes 1.5 s an answer and `sim-honest-quick` 50 ms."""
    config = SimConfig(models={"sim-honest-slow": ModelProfile(latency_ms=1500),
                               "sim-honest-quick": ModelProfile(latency_ms=50)})
    with SimServer(config) as server:
        yield server
