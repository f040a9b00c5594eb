"""`FactoryWorker`: a Ray actor that drains the factory queue (`aegis_ray.factory.drain`).

Each worker opens the store itself and answers jobs through the cluster's shared `ProviderActor`s,
so a fleet of workers on many nodes shares each model's rate limit and breaker.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import ray

from actors.registry import ActorEndpoint
from aegis_ray.factory import Answer, DrainStats, WorkerOptions, drain
from aegis_ray.providers import EndpointCache, EndpointConfig, Gateway
from aegis_ray.runner import answer_task
from aegis_ray.store import open_store
from aegis_ray.types import RunResult, RunSpec


def gateway_answer(configure: Callable[[str], EndpointConfig]) -> Answer:
    """Answer a job's spec through shared ProviderActors, one gateway per distinct model chain."""
    endpoints = EndpointCache(lambda model: ActorEndpoint(configure(model)))
    gateways: dict[tuple[str, ...], Gateway] = {}

    async def answer(spec: RunSpec) -> RunResult:
        chain = (spec.model or "", *spec.fallback_models)
        if chain not in gateways:
            gateways[chain] = Gateway(endpoints, chain)
        return await answer_task(gateways[chain], spec)

    return answer


@ray.remote(num_cpus=0)
class FactoryWorker:
    def __init__(self, endpoints: dict[str, EndpointConfig], database_url: str | None, home: str) -> None:
        self._endpoints = endpoints
        self._database_url = database_url
        self._home = Path(home)

    async def drain(self, options: WorkerOptions) -> DrainStats:
        store = await open_store(self._database_url, self._home)
        try:
            name = f"worker:{ray.get_runtime_context().get_actor_id()[:12]}:{os.getpid()}"
            return await drain(store, gateway_answer(self._endpoints.__getitem__), name, options)
        finally:
            await store.close()
