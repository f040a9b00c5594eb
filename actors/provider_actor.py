"""`ProviderActor`: one model endpoint as a Ray actor.

One actor per configured endpoint means one rate limiter, one circuit breaker and one set of cost
counters for the whole cluster, however many sessions call the model. The actor is async
(calls interleave on one event loop, which is what makes the breaker's single half-open trial
hold) with a bounded `max_concurrency`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import ray
from pydantic import TypeAdapter

from aegis_ray.providers.endpoint import EndpointStats, ModelEndpoint
from aegis_ray.providers.endpoint_config import EndpointConfig
from aegis_ray.types import ModelRequest, StreamEvent

STREAM_EVENT: TypeAdapter[StreamEvent] = TypeAdapter(StreamEvent)

MAX_CONCURRENT_CALLS = 512


@ray.remote(num_cpus=0, max_concurrency=MAX_CONCURRENT_CALLS, max_restarts=-1)
class ProviderActor:
    def __init__(self, config: EndpointConfig) -> None:
        self._endpoint = ModelEndpoint(config)

    async def ready(self) -> str:
        return self._endpoint.name

    async def complete(self, request: bytes) -> bytes:
        completion = await self._endpoint.complete(ModelRequest.model_validate_json(request))
        return completion.model_dump_json().encode()

    async def stream(self, request: bytes) -> AsyncIterator[bytes]:
        async for event in self._endpoint.stream(ModelRequest.model_validate_json(request)):
            yield STREAM_EVENT.dump_json(event)

    async def stats(self) -> EndpointStats:
        return self._endpoint.stats()
