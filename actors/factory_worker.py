"""`FactoryWorker`: a Ray actor that drains the factory queue (`aegis_ray.factory.drain`).

Each worker opens the store itself and answers jobs on leases from the cluster's shared `ProviderActor`s,
so a fleet of workers on many nodes shares each model's rate limit and breaker. `stop` ends a drain
early (Ctrl-C in the driver): it claims nothing more and hands back the jobs it holds.

`factory_fleet` places the workers on the cluster's work nodes in turn (`actors.placement`); a worker
started any other way is spread by Ray (`SPREAD`). Each worker's name, which the store keeps with
every job it finishes, starts with the id of its node. A worker whose node dies leaves its jobs to
lease expiry: the workers on the other nodes reclaim and finish them, each exactly once (fenced).

The budgets a worker enforces are the driver's (a `Governor`, handed in), not whatever settings the
worker's node would load: every worker of a fleet governs as the command that started it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ray

from actors.placement import NodeRing, claim_endpoints, this_node
from actors.registry import ClusterModels
from aegis_ray.agent_jobs import run_agent_job
from aegis_ray.control.budget import Governor
from aegis_ray.factory import DrainStats, WorkerOptions, drain
from aegis_ray.model_ref import ModelRef
from aegis_ray.providers import EndpointConfig, Gateway
from aegis_ray.providers.adapters import preload
from aegis_ray.runner import answer_task
from aegis_ray.store import Store, open_store
from aegis_ray.telemetry import flush_telemetry
from aegis_ray.tracing import TraceCarrier, remote_span
from aegis_ray.types import RunResult, RunSpec


async def drain_through_cluster(store: Store, configure: Callable[[ModelRef], EndpointConfig], worker: str,
                                options: WorkerOptions, stop: asyncio.Event | None = None,
                                governor: Governor | None = None) -> DrainStats:
    """`drain` (until `stop` is set), each job answered through the cluster's shared ProviderActors
    (or, for agent work, a session or a plan, run in this process: `aegis_ray.agent_jobs`), within the
    cost governor's limits for the job's tenant (`governor`: None, no limit)."""
    async with ClusterModels(configure) as models:
        def gateway(spec: RunSpec) -> Gateway:
            chain = models.gateway((spec.model, *spec.fallback_models) if spec.model else ())
            return chain.gated(governor.gate(store, spec.tenant) if governor is not None else None)

        async def answer(spec: RunSpec) -> RunResult:
            return await answer_task(gateway(spec), spec)

        async def agent_work(spec: RunSpec, payload: dict[str, Any]) -> RunResult:
            return await run_agent_job(spec, payload, gateway(spec))

        return await drain(store, answer, worker, options, stop, agents=agent_work)


@ray.remote(num_cpus=0, scheduling_strategy="SPREAD")
class FactoryWorker:
    def __init__(self, endpoints: dict[str, EndpointConfig], database_url: str | None, home: str,
                 governor: Governor | None = None) -> None:
        self._endpoints = endpoints
        self._governor = governor
        preload(endpoints.values())
        self._database_url = database_url
        self._home = Path(home)
        self._stop = asyncio.Event()

    async def drain(self, options: WorkerOptions, trace: TraceCarrier | None = None) -> DrainStats:
        """`trace`: the driver's trace context, which the drain's span joins (and its exporter); each
        job's span is in the trace its enqueuer's context names (`factory.drain`), linked to it."""
        store = await open_store(self._database_url, self._home)
        try:
            name = f"worker:{this_node()[:12]}:{ray.get_runtime_context().get_actor_id()[:12]}:{os.getpid()}"
            with remote_span(trace, "factory drain", {"aegis.worker": name}):
                return await drain_through_cluster(store, lambda ref: self._endpoints[ref.name], name, options,
                                                   self._stop, self._governor)
        finally:
            await store.close()
            if trace is not None:
                await asyncio.to_thread(flush_telemetry)

    async def stop(self) -> None:
        """End the drain now: it claims no more jobs and hands back those it holds, then returns."""
        self._stop.set()


def worker_node(worker: str) -> str | None:
    """The node id prefix in a `FactoryWorker`'s name (as the store records it with a job), else None."""
    parts = worker.split(":")
    return parts[1] if parts[0] == "worker" and len(parts) == 4 else None


def factory_fleet(endpoints: dict[str, EndpointConfig], database_url: str | None, home: str,
                  workers: int, governor: Governor | None = None) -> list[ray.actor.ActorHandle]:
    """`workers` FactoryWorkers on the cluster's work nodes in turn, within `governor`'s budgets."""
    claim_endpoints(endpoints.values())
    nodes = NodeRing()
    return [FactoryWorker.options(scheduling_strategy=nodes.next(soft=False)).remote(endpoints, database_url, home,
                                                                                     governor)
            for _ in range(workers)]
