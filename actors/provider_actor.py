"""`ProviderActor`: the one authority of the cluster for one model endpoint.

It holds the endpoint's rate limits, circuit breaker and counters (`EndpointAuthority`) and leases
them to the processes that call the model (`aegis_ray/providers/admission.py`): calls go from each
process straight to the model, and only leases, claims, settlements and reports come here. The
actor is async (its methods interleave on one event loop, which is what makes the breaker's single
half-open trial hold) with a bounded `max_concurrency`.

A process that cannot reach the endpoint itself (a loopback endpoint on another node) sends the
whole call here instead (`complete`, `stream`): the actor relays it, admitted by the same authority.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import ray
from pydantic import TypeAdapter

from aegis_ray.providers.admission import CallReport, EndpointAuthority, EndpointStats, Lease, LeaseRequest
from aegis_ray.providers.endpoint import ModelEndpoint
from aegis_ray.providers.endpoint_config import EndpointConfig
from aegis_ray.providers.resilience import AttemptOutcome
from aegis_ray.types import ModelRequest, StreamEvent

STREAM_EVENT: TypeAdapter[StreamEvent] = TypeAdapter(StreamEvent)

MAX_CONCURRENT_CALLS = 512


@ray.remote(num_cpus=0, max_concurrency=MAX_CONCURRENT_CALLS, max_restarts=-1)
class ProviderActor:
    def __init__(self, config: EndpointConfig) -> None:
        self._config = config
        self._authority = EndpointAuthority(config)
        self._relay: ModelEndpoint | None = None

    async def node(self) -> str:
        return ray.get_runtime_context().get_node_id()

    async def lease(self, request: LeaseRequest) -> Lease:
        return await self._authority.lease(request)

    async def claim(self, report: CallReport) -> bool:
        return await self._authority.claim(report)

    async def settle(self, is_trial: bool, outcome: AttemptOutcome, report: CallReport) -> None:
        await self._authority.settle(is_trial, outcome, report)

    async def report(self, report: CallReport) -> None:
        await self._authority.report(report)

    async def stats(self) -> EndpointStats:
        return await self._authority.stats()

    def _relayed(self) -> ModelEndpoint:
        """The endpoint relayed calls go through, made on the first one (most actors never relay)."""
        if self._relay is None:
            self._relay = ModelEndpoint(self._config, admission=self._authority)
        return self._relay

    async def complete(self, request: bytes) -> bytes:
        completion = await self._relayed().complete(ModelRequest.model_validate_json(request))
        return completion.model_dump_json().encode()

    async def stream(self, request: bytes) -> AsyncIterator[bytes]:
        async for event in self._relayed().stream(ModelRequest.model_validate_json(request)):
            yield STREAM_EVENT.dump_json(event)
