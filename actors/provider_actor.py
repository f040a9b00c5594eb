"""`ProviderActor`: the one authority of the cluster for one model endpoint.

It holds the endpoint's rate limits, circuit breaker and counters (`EndpointAuthority`) and leases
them to the processes that call the model (`aegis_ray/providers/admission.py`): calls go from each
process straight to the model, and only leases, claims, settlements and reports come here. The
reports carry each call's sample, kept in the endpoint's time-bucketed `CallWindow` (`window`). The
actor is async (its methods interleave on one event loop, which is what makes the breaker's single
half-open trial hold) with a bounded `max_concurrency`.

A process that cannot reach the endpoint itself (a loopback endpoint on another node) sends the
whole call here instead (`complete`, `stream`): the actor relays it, admitted by the same authority.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager

import ray
from pydantic import TypeAdapter

from aegis_ray.config import WindowPolicy
from aegis_ray.providers.admission import CallReport, EndpointAuthority, EndpointStats, Lease, LeaseRequest
from aegis_ray.providers.endpoint import ModelEndpoint
from aegis_ray.providers.endpoint_config import EndpointConfig
from aegis_ray.providers.resilience import AttemptOutcome
from aegis_ray.providers.window import CallWindow
from aegis_ray.telemetry import flush_telemetry
from aegis_ray.tracing import TraceCarrier, remote_span
from aegis_ray.types import ModelRequest, StreamEvent

STREAM_EVENT: TypeAdapter[StreamEvent] = TypeAdapter(StreamEvent)

MAX_CONCURRENT_CALLS = 512


@ray.remote(num_cpus=0, max_concurrency=MAX_CONCURRENT_CALLS, max_restarts=-1)
class ProviderActor:
    def __init__(self, config: EndpointConfig, window: WindowPolicy | None = None) -> None:
        self._config = config
        self._authority = EndpointAuthority(config, window)
        self._relay: ModelEndpoint | None = None

    async def node(self) -> str:
        return ray.get_runtime_context().get_node_id()

    def _traced(self, trace: TraceCarrier | None, method: str) -> AbstractContextManager[object]:
        """A span in the caller's trace (each call that admits a model call carries its context)."""
        return remote_span(trace, f"provider {method}", {"aegis.model": self._config.ref.name})

    async def lease(self, request: LeaseRequest, trace: TraceCarrier | None = None) -> Lease:
        with self._traced(trace, "lease"):
            return await self._authority.lease(request)

    async def claim(self, report: CallReport, trace: TraceCarrier | None = None) -> bool:
        with self._traced(trace, "claim"):
            return await self._authority.claim(report)

    async def settle(self, is_trial: bool, outcome: AttemptOutcome, report: CallReport,
                     trace: TraceCarrier | None = None) -> None:
        with self._traced(trace, "settle"):
            await self._authority.settle(is_trial, outcome, report)

    async def report(self, report: CallReport) -> None:
        await self._authority.report(report)

    async def stats(self) -> EndpointStats:
        return await self._authority.stats()

    async def window(self) -> CallWindow:
        """Every process's calls to this endpoint by time (SLOs and drift are judged on it)."""
        return await self._authority.window()

    async def flush_telemetry(self) -> None:
        """Export the spans this actor holds now (before it is let go)."""
        await asyncio.to_thread(flush_telemetry)

    def _relayed(self) -> ModelEndpoint:
        """The endpoint relayed calls go through, made on the first one (most actors never relay)."""
        if self._relay is None:
            self._relay = ModelEndpoint(self._config, admission=self._authority)
        return self._relay

    async def complete(self, request: bytes, trace: TraceCarrier | None = None) -> bytes:
        with self._traced(trace, "relay"):
            completion = await self._relayed().complete(ModelRequest.model_validate_json(request))
        return completion.model_dump_json().encode()

    async def stream(self, request: bytes, trace: TraceCarrier | None = None) -> AsyncIterator[bytes]:
        with self._traced(trace, "relay"):
            async for event in self._relayed().stream(ModelRequest.model_validate_json(request)):
                yield STREAM_EVENT.dump_json(event)
