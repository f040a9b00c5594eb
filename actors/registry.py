"""Get-or-create `ProviderActor`s by endpoint, and use them as gateway endpoints
(`EndpointCache(lambda model: ActorEndpoint(configure(model)))`).

Actors are named `provider:<model>:<key>` in the `aegis` namespace, where the key hashes the model,
base URL and credentials: every process in the cluster that configures the same endpoint gets the
same actor (and so the same limits), and a changed key or URL gets a fresh one. They are detached,
so they outlive the driver that created them and keep serving the rest of the cluster.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlparse

import ray
from ray.exceptions import RayActorError, RayTaskError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from actors.cluster import NAMESPACE
from actors.provider_actor import STREAM_EVENT, ProviderActor
from aegis_ray.errors import AegisError, ProviderConnectionError
from aegis_ray.providers.endpoint import EndpointStats
from aegis_ray.providers.endpoint_config import EndpointConfig
from aegis_ray.types import Completion, ModelRequest, StreamEvent


def _is_loopback(url: str | None) -> bool:
    host = urlparse(url or "").hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def provider_actor(config: EndpointConfig) -> ray.actor.ActorHandle:
    """The cluster's one actor for this endpoint, created on first use."""
    options: dict[str, object] = {
        "name": f"provider:{config.ref.name}:{config.key}", "namespace": NAMESPACE,
        "get_if_exists": True, "lifetime": "detached",
    }
    if _is_loopback(config.base_url):
        # A loopback endpoint (the simulated server, a local llama.cpp) exists only on this node.
        options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(
            node_id=ray.get_runtime_context().get_node_id(), soft=False)
    return ProviderActor.options(**options).remote(config)


@contextlib.contextmanager
def actor_errors(model: str) -> Iterator[None]:
    """Raise the Aegis error an actor raised, rather than Ray's wrapper around it; a dead or
    restarting actor is a (retryable, fail-over-able) connection error."""
    try:
        yield
    except RayTaskError as error:
        raise (error.cause if isinstance(error.cause, AegisError) else error) from None
    except RayActorError as error:
        raise ProviderConnectionError(f"the provider actor for {model} is unavailable: {error}", model=model) from None


class ActorEndpoint:
    """A `ProviderActor` seen through the gateway's `Endpoint` protocol."""

    def __init__(self, config: EndpointConfig) -> None:
        self.name = config.ref.name
        self.handle = provider_actor(config)

    async def complete(self, request: ModelRequest) -> Completion:
        with actor_errors(self.name):
            return Completion.model_validate_json(await self.handle.complete.remote(request.model_dump_json()))

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        with actor_errors(self.name):
            async for ref in self.handle.stream.remote(request.model_dump_json()):
                yield STREAM_EVENT.validate_json(await ref)

    async def stats(self) -> EndpointStats:
        with actor_errors(self.name):
            return await self.handle.stats.remote()
