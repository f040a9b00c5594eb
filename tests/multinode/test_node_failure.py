"""A worker node dies (SIGKILL to its raylet and its workers) while Aegis works across three nodes:
a factory drain, a plan, an agent session and Serve each carry on on the surviving nodes, and what
must happen once happens once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import ray
from pydantic import Field

from actors.factory_worker import factory_fleet, worker_node
from actors.local_nodes import LocalNodes
from actors.orchestrator import run_plan, start_orchestrator
from actors.placement import SESSION_PLACEMENT, claim_endpoints
from actors.session_actor import SessionActor, drive_session
from aegis_ray.config import Settings
from aegis_ray.factory import FactoryJob, WorkerOptions, job_payload
from aegis_ray.loop.events import SessionEvent, StepEvent
from aegis_ray.model_ref import as_model_ref
from aegis_ray.runner import endpoint_configurer
from aegis_ray.session import SessionConfig, SessionSpec
from aegis_ray.sim import ModelProfile, Script, SimConfig, SimServer, Turn
from aegis_ray.store import open_store
from aegis_ray.tools import Effect, ToolArgs, ToolContext, tool
from aegis_ray.types import Plan, PlanStep, RunSpec, RunStatus, new_id
from tests.helpers import free_port, postgres_schema, sim_endpoint
from tests.multinode.helpers import actor_node, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh PostgreSQL schema: the store every node reaches, as in production."""
    with postgres_schema() as url:
        yield url


# -- (a) a factory drain --------------------------------------------------------------------------

async def test_a_factory_drain_finishes_every_job_exactly_once_on_the_surviving_nodes(
        three_nodes: LocalNodes, slow_sim: SimServer, database: str, tmp_path: Path) -> None:
    endpoint = sim_endpoint(slow_sim, "sim-honest-slow")
    jobs = [FactoryJob(task=f"What is the capital of France? ({i})") for i in range(48)]
    store = await open_store(database, tmp_path)
    try:
        await store.enqueue([(j.job_id, job_payload(j, (endpoint.ref.name,))) for j in jobs])
        fleet = factory_fleet({endpoint.ref.name: endpoint}, database, str(tmp_path), workers=3)
        draining = [w.drain.remote(WorkerOptions(concurrency=4, lease_s=2)) for w in fleet]
        await wait_until(lambda: _done(store, 12))
        victim = three_nodes.workers[0]
        three_nodes.kill(victim)
        done_before = {job.job_id for job in await store.jobs("done")}
        outcomes = await asyncio.gather(*draining, return_exceptions=True)
        final = await store.jobs()
    finally:
        await store.close()
    dead = victim.node_id[:12]
    lost = [o for o in outcomes if isinstance(o, ray.exceptions.RayActorError)]
    survivors = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(lost) == 1 and len(survivors) == 2, outcomes
    assert len(final) == len(jobs) and all(job.status == "done" for job in final)
    by_dead = {job.job_id for job in final if worker_node(job.worker or "") == dead}
    assert by_dead <= done_before, "after the kill, only the surviving nodes finish jobs"
    assert sum(s.finished for s in survivors) + len(by_dead) == len(jobs), "each job is finished exactly once"


async def _done(store: object, count: int) -> bool:
    return len(await store.jobs("done")) >= count  # type: ignore[attr-defined]


# -- (c) a plan -----------------------------------------------------------------------------------

async def test_a_plan_runs_again_only_the_steps_that_were_unfinished_on_the_dead_node(
        three_nodes: LocalNodes, slow_sim: SimServer, tmp_path: Path) -> None:
    endpoint = sim_endpoint(slow_sim, "sim-honest-slow")
    first = [PlanStep(id=c.lower(), task=f"What is the capital of {c}?") for c in ("France", "Japan", "Kenya")]
    after = tuple(s.id for s in first)
    second = [PlanStep(id=f"then_{c.lower()}", task=f"What is the capital of {c}?", depends_on=after)
              for c in ("Peru", "Norway", "Chile")]
    orchestrator = start_orchestrator({endpoint.ref.name: endpoint}, (endpoint.ref.name,), None, str(tmp_path))
    running = asyncio.ensure_future(run_plan(orchestrator, Plan(goal="capitals", steps=(*first, *second)), "plan-k"))
    await wait_until(lambda: len(slow_sim.requests()) >= 6)  # the second wave is in its model calls
    await asyncio.sleep(0.3)
    victim = three_nodes.workers[0]
    killed_at = time.monotonic()
    three_nodes.kill(victim)
    outcome = await running
    assert outcome.succeeded and outcome.steps["kenya"].output == "Nairobi."
    assert {outcome.steps[s.id].node for s in first} == set(three_nodes.node_ids()) | {victim.node_id}
    again = [r for r in slow_sim.requests() if r.at > killed_at]
    assert len(again) == 1, "only the step that was running on the dead node ran again"
    assert len(slow_sim.requests()) == len(first) + len(second) + 1
    assert victim.node_id not in {outcome.steps[s.id].node for s in second}


# -- (b) a session --------------------------------------------------------------------------------

STEPS = 6
MODEL = "sim-honest-sixstep"
EFFECTS = [f"effect-{i}" for i in range(STEPS)]


class NodeEffectArgs(ToolArgs):
    entry: str = Field(min_length=1)


@tool(Effect.WRITE, transactional=True)
async def node_effect(args: NodeEffectArgs, ctx: ToolContext) -> str:
    """Log an entry with the node it ran on, then take a while before committing."""
    assert ctx.effect_writer is not None
    await ctx.effect_writer.log(f"{args.entry}@{ray.get_runtime_context().get_node_id()}")
    await asyncio.sleep(0.3)
    return f"logged {args.entry}"


@pytest.fixture
def scripted() -> Iterator[SimServer]:
    turns = [Turn(tool_calls=[{"name": "node_effect", "arguments": {"entry": e}}]) for e in EFFECTS]
    with SimServer(SimConfig(models={MODEL: ModelProfile(script=Script(turns=[*turns, Turn(text="done")]))})) as sim:
        yield sim


async def session_on_a_worker(config: SessionConfig, nodes: LocalNodes) -> tuple[ray.actor.ActorHandle, str]:
    """A SessionActor placed as sessions on shared storage are (`SESSION_PLACEMENT`), started again
    until one lands on a worker node (the test kills that node)."""
    workers = {str(node.node_id) for node in nodes.workers}
    while True:
        session = SessionActor.options(scheduling_strategy=SESSION_PLACEMENT).remote(config)
        await session.pid.remote()
        node = actor_node(session)
        if node in workers:
            return session, node
        ray.kill(session, no_restart=True)


async def test_a_session_resumes_on_another_node_from_its_last_committed_step(
        three_nodes: LocalNodes, scripted: SimServer, database: str, tmp_path: Path) -> None:
    spec = SessionSpec(workspace=str(tmp_path / "ws"), chain=(f"sim:{MODEL}",), approval="auto",
                       sandbox_backend="bubblewrap", extra_tools=(f"{__name__}:node_effect",))
    config = SessionConfig(spec=spec, endpoints={f"sim:{MODEL}": sim_endpoint(scripted, MODEL)},
                           database_url=database, home=str(tmp_path / "home"))
    claim_endpoints(config.endpoints.values())
    session, first_node = await session_on_a_worker(config, three_nodes)
    victim = next(node for node in three_nodes.workers if node.node_id == first_node)
    observed: list[int] = []  # the steps whose tool call (an effect) is committed

    async def on_event(event: SessionEvent) -> None:
        if isinstance(event, StepEvent) and event.step.tool_results:
            observed.append(event.step.index)
            if len(observed) == 3:  # effects 0-2 are committed: the session's node dies
                three_nodes.kill(victim)

    run_id = new_id("run")
    result = await drive_session(session, RunSpec(task="log six effects"), run_id, on_event, approver=None)
    assert len(observed) >= 3 and result.status is RunStatus.SUCCEEDED and result.answer.text == "done"
    store = await open_store(database, tmp_path)
    try:
        log = await store.effect_log(run_id)
    finally:
        await store.close()
    entries = [line.split("@") for line in log]
    assert [entry for entry, _ in entries] == EFFECTS, "each effect exactly once, in order"
    assert {node for _, node in entries[:3]} == {first_node}
    assert first_node not in {node for _, node in entries[3:]}, "resumed on another node"
    assert actor_node(session) != first_node
    tool_steps = [step for step in result.steps if step.tool_results]
    assert {step.node for step in tool_steps[:3]} == {first_node}, "each step records the node it ran on"
    assert result.node == actor_node(session) and tool_steps[-1].node == result.node
    ray.kill(session, no_restart=True)


# -- (d) Serve ------------------------------------------------------------------------------------

async def test_serve_keeps_answering_when_a_replicas_node_dies(three_nodes: LocalNodes, slow_sim: SimServer,
                                                               database: str, tmp_path: Path) -> None:
    from ray import serve

    from serve_app.deployment import QUIET, AegisIngress

    settings = Settings(home=tmp_path / "home", sim_url=slow_sim.base_url, database_url=database)
    # Migrated once before the replicas start: three replicas migrating one PostgreSQL schema at
    # once race on CREATE TABLE (a deployment migrates first, as here).
    await (await open_store(database, tmp_path)).close()
    claim_endpoints([endpoint_configurer(settings, None)(as_model_ref("sim:sim-honest-quick"))])
    port = free_port()
    serve.start(proxy_location="HeadOnly", http_options={"host": "127.0.0.1", "port": port}, logging_config=QUIET)
    app = AegisIngress.options(num_replicas=3, max_replicas_per_node=1, max_ongoing_requests=32).bind(settings, None)
    serve.run(app, name="aegis", route_prefix="/", logging_config=QUIET)
    try:
        answered, failed = await _load_through_a_kill(f"http://127.0.0.1:{port}", three_nodes)
    finally:
        serve.shutdown()
    total = answered[0] + answered[1] + failed[0] + failed[1]
    assert answered[0] >= 20 and failed[0] == 0, (answered, failed)
    assert answered[1] >= 40, "requests kept being answered after the kill"
    assert failed[1] <= max(8, total // 10), f"errors during failover: {failed[1]} of {total}"


async def _load_through_a_kill(url: str, nodes: LocalNodes, clients: int = 8,
                               after_s: float = 8.0) -> tuple[list[int], list[int]]:
    """Requests from `clients` loops: once 20 are answered a worker node is killed, and the loops go
    on for `after_s`. Answered and failed counts, before and after the kill."""
    answered, failed = [0, 0], [0, 0]
    phase = 0
    stop = asyncio.Event()
    body = {"task": "What is the capital of France?", "model": "sim:sim-honest-quick"}

    async def client(http: httpx.AsyncClient) -> None:
        while not stop.is_set():
            try:
                reply = await http.post(f"{url}/api/run", json=body)
                ok = reply.status_code == 200 and "Paris" in reply.text
            except httpx.HTTPError:
                ok = False
            (answered if ok else failed)[phase] += 1

    async with httpx.AsyncClient(timeout=30) as http:
        loops = [asyncio.ensure_future(client(http)) for _ in range(clients)]
        try:
            await wait_until(lambda: answered[0] >= 20, timeout_s=120)
            phase = 1
            nodes.kill(nodes.workers[0])
            await asyncio.sleep(after_s)
        finally:
            stop.set()
            await asyncio.gather(*loops)
    return answered, failed
