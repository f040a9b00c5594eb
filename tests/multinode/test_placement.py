"""Placement on purpose across three nodes: plan steps, verifier calls and factory workers go to every
node in turn (`actors.placement`), and each result records the node it ran on."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from actors.factory_worker import factory_fleet, worker_node
from actors.local_nodes import LocalNodes
from actors.orchestrator import run_plan, start_orchestrator
from actors.verifier_actor import VerifierPool
from aegis_ray.factory import FactoryJob, WorkerOptions, job_payload
from aegis_ray.sim import SimServer
from aegis_ray.store import open_store
from aegis_ray.types import Message, ModelRequest, Plan, PlanStep
from tests.helpers import sim_endpoint

pytestmark = pytest.mark.integration
COUNTRIES = ["France", "Japan", "Kenya", "Peru", "Norway", "Chile"]


async def test_plan_steps_run_on_every_node_and_record_it(three_nodes: LocalNodes, slow_sim: SimServer,
                                                          tmp_path: Path) -> None:
    endpoint = sim_endpoint(slow_sim, "sim-honest-quick")
    steps = [PlanStep(id=c.lower(), task=f"What is the capital of {c}?") for c in COUNTRIES]
    steps.append(PlanStep(id="last", task="What is the capital of Italy?", depends_on=tuple(s.id for s in steps)))
    orchestrator = start_orchestrator({endpoint.ref.name: endpoint}, (endpoint.ref.name,), None, str(tmp_path))
    outcome = await run_plan(orchestrator, Plan(goal="capitals", steps=tuple(steps)), "plan-placed")
    assert outcome.succeeded and outcome.steps["kenya"].output == "Nairobi."
    placed = Counter(outcome.steps[s.id].node for s in steps[:-1])
    assert set(placed) == set(three_nodes.node_ids()) and set(placed.values()) == {2}, placed


async def test_verifier_calls_fan_out_over_every_node(three_nodes: LocalNodes, slow_sim: SimServer) -> None:
    endpoint = sim_endpoint(slow_sim, "sim-honest-quick")
    pool = VerifierPool({endpoint.ref.name: endpoint}, size=3)
    request = ModelRequest(messages=(Message.user("What is the capital of Peru?"),))
    answers = await asyncio.gather(*(pool.complete(request, [endpoint.ref.name]) for _ in range(9)))
    assert {a.text for a in answers} == {"Lima."}
    assert set(pool.calls_by_node) == set(three_nodes.node_ids()) and set(pool.calls_by_node.values()) == {3}


async def test_factory_workers_spread_and_jobs_record_their_node(three_nodes: LocalNodes, slow_sim: SimServer,
                                                                 tmp_path: Path) -> None:
    endpoint = sim_endpoint(slow_sim, "sim-honest-quick")
    chain = (endpoint.ref.name,)
    jobs = [FactoryJob(task=f"What is the capital of {c}? ({i})") for i in range(5) for c in COUNTRIES]
    store = await open_store(None, tmp_path)
    try:
        await store.enqueue([(j.job_id, job_payload(j, chain)) for j in jobs])
        fleet = factory_fleet({endpoint.ref.name: endpoint}, None, str(tmp_path), workers=3)
        stats = await asyncio.gather(*(w.drain.remote(WorkerOptions(concurrency=4, lease_s=10)) for w in fleet))
        assert sum(s.finished for s in stats) == len(jobs)
        done = await store.jobs("done")
    finally:
        await store.close()
    assert len(done) == len(jobs)
    nodes = {worker_node(job.worker or "") for job in done}
    assert nodes == {node[:12] for node in three_nodes.node_ids()}
