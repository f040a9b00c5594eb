"""Get-or-create `ProviderActor`s by endpoint, and use them as gateway endpoints
(`EndpointCache(lambda model: ActorEndpoint(configure(model)))`) that call the model on a lease.

Actors are named `provider:<model>:<key>` in the `aegis` namespace, where the key hashes the model,
base URL and credentials: every process in the cluster that configures the same endpoint gets the
same actor (and so the same limits), and a changed key or URL gets a fresh one. They are detached,
so they outlive the driver that created them and keep serving the rest of the cluster; the actors
of a server that dies with its command (the CLI's own simulator, on a cluster it joined) are let go
at its end (`release_provider_actors`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import urlparse

import ray
from ray.exceptions import RayActorError, RayTaskError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from actors.cluster import NAMESPACE
from actors.provider_actor import STREAM_EVENT, ProviderActor
from aegis_ray.errors import AegisError, ProviderConnectionError
from aegis_ray.model_ref import ModelRef, as_model_ref
from aegis_ray.providers.admission import CallReport, EndpointStats, Lease, LeasedAdmission, LeaseRequest
from aegis_ray.providers.endpoint import ModelEndpoint
from aegis_ray.providers.endpoint_config import EndpointConfig
from aegis_ray.providers.gateway import EndpointCache, Gateway
from aegis_ray.providers.resilience import AttemptOutcome
from aegis_ray.providers.window import CallWindow
from aegis_ray.tracing import inject
from aegis_ray.types import Completion, ModelRequest, StreamEvent


def _is_loopback(url: str | None) -> bool:
    host = urlparse(url or "").hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def actor_name(config: EndpointConfig) -> str:
    return f"provider:{config.ref.name}:{config.key}"


def provider_actor(config: EndpointConfig) -> ray.actor.ActorHandle:
    """The cluster's one actor for this endpoint, created on first use."""
    options: dict[str, object] = {
        "name": actor_name(config), "namespace": NAMESPACE,
        "get_if_exists": True, "lifetime": "detached",
    }
    if _is_loopback(config.base_url):
        # A loopback endpoint (the simulated server, a local llama.cpp) exists only on this node.
        options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(
            node_id=ray.get_runtime_context().get_node_id(), soft=False)
    return ProviderActor.options(**options).remote(config)


def release_provider_actors(base_url: str, configure: Callable[[ModelRef], EndpointConfig]) -> list[str]:
    """Stop the `ProviderActor`s of the endpoints under `base_url` as `configure` resolves them:
    for a server that dies with the command that started it (its own simulator), so that a
    long-running cluster does not keep one detached actor per command. The names stopped."""
    prefix = base_url.rstrip("/")
    stopped = []
    for entry in ray.util.list_named_actors(all_namespaces=True):
        name = entry["name"]
        if entry.get("namespace") != NAMESPACE or not name.startswith("provider:"):
            continue
        model = name[len("provider:"):name.rfind(":")]
        try:
            config = configure(as_model_ref(model))
        except (AegisError, ValueError):
            continue
        if actor_name(config) != name or not (config.base_url or "").startswith(prefix):
            continue
        with contextlib.suppress(ValueError, RayActorError):
            handle = ray.get_actor(name, namespace=NAMESPACE)
            with contextlib.suppress(ray.exceptions.GetTimeoutError, RayActorError, AttributeError):
                ray.get(handle.flush_telemetry.remote(), timeout=2)  # its spans of this command's calls
            ray.kill(handle, no_restart=True)
            stopped.append(name)
    return stopped


def provider_windows(timeout_s: float = 5.0) -> dict[str, CallWindow]:
    """Every `ProviderActor`'s record of calls by time, by model (an endpoint configured two ways
    counts as one model), for `aegis status`; an actor that does not answer in time is left out."""
    found: dict[str, CallWindow] = {}
    for entry in ray.util.list_named_actors(all_namespaces=True):
        name = entry["name"]
        if entry.get("namespace") != NAMESPACE or not name.startswith("provider:"):
            continue
        try:
            window = ray.get(ray.get_actor(name, namespace=NAMESPACE).window.remote(), timeout=timeout_s)
        except (ValueError, RayActorError, RayTaskError, ray.exceptions.GetTimeoutError):
            continue
        model = name[len("provider:"):name.rfind(":")]
        if model in found:
            found[model].merge(window)
        else:
            found[model] = window
    return found


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


class ActorAuthority:
    """A `ProviderActor` as the `Authority` a `LeasedAdmission` leases from, its errors typed."""

    def __init__(self, handle: ray.actor.ActorHandle, model: str) -> None:
        self.handle = handle
        self.model = model

    async def lease(self, request: LeaseRequest) -> Lease:
        with actor_errors(self.model):
            return await self.handle.lease.remote(request, inject())

    async def claim(self, report: CallReport) -> bool:
        with actor_errors(self.model):
            return await self.handle.claim.remote(report, inject())

    async def settle(self, is_trial: bool, outcome: AttemptOutcome, report: CallReport) -> None:
        with actor_errors(self.model):
            await self.handle.settle.remote(is_trial, outcome, report, inject())

    async def report(self, report: CallReport) -> None:
        with actor_errors(self.model):
            await self.handle.report.remote(report)

    async def stats(self) -> EndpointStats:
        with actor_errors(self.model):
            return await self.handle.stats.remote()

    async def window(self) -> CallWindow:
        with actor_errors(self.model):
            return await self.handle.window.remote()


@dataclass
class _Shared:
    endpoint: ModelEndpoint
    users: int = 0


# One leased endpoint per endpoint per event loop of this process, however many gateways use it:
# one connection pool, one lease, one report. Keyed by loop because the SDKs' HTTP clients are;
# closed when its last user closes.
_SHARED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Shared]] = weakref.WeakKeyDictionary()


def _shared_key(config: EndpointConfig) -> str:
    return f"{config.ref.name}:{config.key}"


def acquire_leased(config: EndpointConfig, handle: ray.actor.ActorHandle) -> ModelEndpoint:
    shared = _SHARED.setdefault(asyncio.get_running_loop(), {})
    key = _shared_key(config)
    if key not in shared:
        admission = LeasedAdmission(ActorAuthority(handle, config.ref.name), config)
        shared[key] = _Shared(ModelEndpoint(config, admission=admission))
    shared[key].users += 1
    return shared[key].endpoint


async def release_leased(config: EndpointConfig) -> None:
    shared = _SHARED.get(asyncio.get_running_loop(), {})
    entry = shared.get(_shared_key(config))
    if entry is None:
        return
    entry.users -= 1
    if entry.users == 0:
        del shared[_shared_key(config)]
        await entry.endpoint.aclose()


class ActorEndpoint:
    """An endpoint governed by its `ProviderActor`, seen through the gateway's `Endpoint` protocol:
    calls go from this process to the model on a lease, or, when this process cannot reach a
    loopback endpoint on another node, through the actor."""

    def __init__(self, config: EndpointConfig, *, relay: bool | None = None) -> None:
        """`relay`: True sends every call through the actor; None (the default) does so only when
        the endpoint is a loopback address on another node."""
        self.name = config.ref.name
        self.config = config
        self.handle = provider_actor(config)
        self._reachable = None if relay is None and _is_loopback(config.base_url) else not relay
        self._locating: asyncio.Future[None] | None = None
        self._endpoint: ModelEndpoint | None = None

    async def _locate(self) -> None:
        with actor_errors(self.name):
            self._reachable = await self.handle.node.remote() == ray.get_runtime_context().get_node_id()

    async def _leased(self) -> ModelEndpoint | None:
        """This process's leased endpoint, or None when calls must be relayed by the actor."""
        if self._reachable is None:  # one question to the actor, however many calls start at once
            if self._locating is None or self._locating.done():
                self._locating = asyncio.ensure_future(self._locate())
            await asyncio.shield(self._locating)
        if self._reachable and self._endpoint is None:
            self._endpoint = acquire_leased(self.config, self.handle)
        return self._endpoint

    async def complete(self, request: ModelRequest) -> Completion:
        endpoint = await self._leased()
        if endpoint is not None:
            return await endpoint.complete(request)
        with actor_errors(self.name):
            return Completion.model_validate_json(await self.handle.complete.remote(request.model_dump_json(),
                                                                                    inject()))

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        endpoint = await self._leased()
        if endpoint is not None:
            async for event in endpoint.stream(request):
                yield event
            return
        with actor_errors(self.name):
            async for ref in self.handle.stream.remote(request.model_dump_json(), inject()):
                yield STREAM_EVENT.validate_json(await ref)

    async def stats(self) -> EndpointStats:
        """The cluster-wide totals, after this process's pending report is in."""
        endpoint = await self._leased()
        if endpoint is not None:
            return await endpoint.stats()
        with actor_errors(self.name):
            return await self.handle.stats.remote()

    async def window(self) -> CallWindow:
        """The cluster-wide record of calls by time, after this process's pending report is in."""
        endpoint = await self._leased()
        if endpoint is not None:
            return await endpoint.window()
        with actor_errors(self.name):
            return await self.handle.window.remote()

    async def aclose(self) -> None:
        """Let go of this process's leased endpoint (closed, its report handed in, with its last user)."""
        if self._endpoint is not None:
            self._endpoint = None
            await release_leased(self.config)


class ClusterModels:
    """Gateways over the cluster's `ProviderActor`s for one piece of work (a CLI command, a plan
    step, a factory drain), one per model chain; `async with` lets their endpoints go at the end."""

    def __init__(self, configure: Callable[[ModelRef], EndpointConfig], *, relay: bool | None = None) -> None:
        """`relay=True` sends every call through the endpoint's actor: for a short-lived process
        (one CLI answer), whose actor on a long-running cluster already holds a warm SDK client,
        where a call of its own would first import the SDK and open a connection pool."""
        self._endpoints = EndpointCache(lambda model: ActorEndpoint(configure(model), relay=relay))
        self._gateways: dict[tuple[ModelRef, ...], Gateway] = {}

    def gateway(self, chain: Sequence[ModelRef | str]) -> Gateway:
        key = tuple(map(as_model_ref, chain))
        if key not in self._gateways:
            self._gateways[key] = Gateway(self._endpoints, key)
        return self._gateways[key]

    async def __aenter__(self) -> ClusterModels:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._endpoints.aclose()
