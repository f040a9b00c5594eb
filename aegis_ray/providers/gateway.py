"""The provider gateway: one interface over every model, with a fallback chain and tracing.

The gateway tries the models of a chain in order. A model that fails with a provider error
(after its own endpoint's retries) hands over to the next; errors that the next model cannot fix
(a malformed request, malformed tool arguments from the model) surface at once. Each model tried
gets a GenAI span. Endpoints come from a resolver, so the same gateway runs over in-process
`ModelEndpoint`s or over `ProviderActor`s shared across a Ray cluster.

Two hooks govern calls: a `Gate` checks each model call before it is sent and accounts for it after
(the cost governor), and a `Router` chooses the models a call tries when it names none (canary
routing puts the candidate first for its share of calls) and hears how each model tried fared.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Protocol

from aegis_ray.errors import (
    AegisError,
    AllModelsFailedError,
    BadInputError,
    MalformedToolArgumentsError,
    ProviderError,
    ProviderRequestError,
)
from aegis_ray.model_ref import ModelRef, as_model_ref
from aegis_ray.telemetry import model_call_span, record_completion, record_error
from aegis_ray.types import Completion, ModelRequest, StreamEnd, StreamEvent


class Endpoint(Protocol):
    """What the gateway needs of a model endpoint (a `ModelEndpoint` or an actor proxy)."""

    async def complete(self, request: ModelRequest) -> Completion: ...
    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]: ...


EndpointResolver = Callable[[ModelRef], Endpoint]


class Gate(Protocol):
    """Checks a call before it is sent and accounts for it after (the cost governor:
    `aegis_ray.control.budget.SpendGate`); `reserve` raises to refuse the call."""

    async def reserve(self, ref: ModelRef, request: ModelRequest) -> Any: ...
    async def settle(self, hold: Any, completion: Completion | None) -> None: ...


class Router(Protocol):
    """Chooses the models of a call that names none, and hears how each model tried fared
    (`aegis_ray.control.canary.CanaryRouter`). `route` runs on every such call: no I/O."""

    def route(self, chain: tuple[ModelRef, ...], request: ModelRequest) -> tuple[ModelRef, ...]: ...
    async def observe(self, ref: ModelRef, latency_s: float, error: ProviderError | None) -> None: ...


def _hands_over(error: ProviderError) -> bool:
    return not isinstance(error, ProviderRequestError | MalformedToolArgumentsError)


def _give_up(errors: dict[str, AegisError]) -> AegisError:
    return next(iter(errors.values())) if len(errors) == 1 else AllModelsFailedError(errors)


class Gateway:
    def __init__(self, resolve: EndpointResolver, chain: Sequence[ModelRef | str], gate: Gate | None = None,
                 router: Router | None = None) -> None:
        if not chain:
            raise BadInputError("the gateway needs at least one model", hint="pass --model or set AEGIS_MODEL")
        self._resolve = resolve
        self.chain: tuple[ModelRef, ...] = tuple(map(as_model_ref, chain))
        self.gate = gate
        self.router = router

    def gated(self, gate: Gate | None) -> Gateway:
        """The same gateway with every call checked by `gate` (a budget)."""
        return Gateway(self._resolve, self.chain, gate, self.router)

    def routed(self, router: Router | None) -> Gateway:
        """The same gateway with the models of calls that name none chosen by `router` (a canary)."""
        return Gateway(self._resolve, self.chain, self.gate, router)

    def _models(self, models: Sequence[ModelRef | str] | None, request: ModelRequest | None = None
                ) -> tuple[ModelRef, ...]:
        """The models to try: `models` (validated up front), or the chain as the router routes it."""
        if models:
            return tuple(map(as_model_ref, models))
        return self.router.route(self.chain, request) if self.router and request is not None else self.chain

    async def _observe(self, ref: ModelRef, started: float, error: ProviderError | None) -> None:
        if self.router:
            await self.router.observe(ref, time.perf_counter() - started, error)

    async def complete(self, request: ModelRequest, models: Sequence[ModelRef | str] | None = None) -> Completion:
        errors: dict[str, AegisError] = {}
        for ref in self._models(models, request):
            with model_call_span(ref.name, ref.otel_provider, request) as span:
                hold = await self.gate.reserve(ref, request) if self.gate else None
                completion = None
                started = time.perf_counter()
                try:
                    completion = await self._resolve(ref).complete(request)
                except ProviderError as error:
                    record_error(span, error)
                    await self._observe(ref, started, error)
                    if not _hands_over(error):
                        raise
                    errors[ref.name] = error
                    continue
                finally:
                    if self.gate:
                        await self.gate.settle(hold, completion)
                record_completion(span, completion)
                await self._observe(ref, started, None)
                return completion
        raise _give_up(errors)

    async def stream(self, request: ModelRequest,
                     models: Sequence[ModelRef | str] | None = None) -> AsyncIterator[StreamEvent]:
        """Stream from the first model that starts answering; hand over only before any output."""
        errors: dict[str, AegisError] = {}
        for ref in self._models(models, request):
            delivered = False
            with model_call_span(ref.name, ref.otel_provider, request) as span:
                hold = await self.gate.reserve(ref, request) if self.gate else None
                completion = None
                started = time.perf_counter()
                try:
                    async for event in self._resolve(ref).stream(request):
                        if isinstance(event, StreamEnd):
                            completion = event.completion
                            record_completion(span, event.completion)
                            await self._observe(ref, started, None)
                        delivered = True
                        yield event
                    return
                except ProviderError as error:
                    record_error(span, error)
                    await self._observe(ref, started, error)
                    if delivered or not _hands_over(error):
                        raise
                    errors[ref.name] = error
                finally:
                    if self.gate:
                        await self.gate.settle(hold, completion)
        raise _give_up(errors)


class EndpointCache:
    """A resolver that makes one endpoint per model on first use and keeps it.

    `EndpointCache(lambda m: ModelEndpoint(configure(m)))` runs in-process (notebooks, unit
    tests); `EndpointCache(lambda m: ActorEndpoint(configure(m)))` shares each endpoint's limits and
    breaker across the Ray cluster.
    """

    def __init__(self, make: Callable[[ModelRef], Endpoint]) -> None:
        self._make = make
        self.endpoints: dict[ModelRef, Endpoint] = {}

    def __call__(self, ref: ModelRef) -> Endpoint:
        if ref not in self.endpoints:
            self.endpoints[ref] = self._make(ref)
        return self.endpoints[ref]

    async def aclose(self) -> None:
        for endpoint in self.endpoints.values():
            close = getattr(endpoint, "aclose", None)
            if close is not None:
                await close()
        self.endpoints.clear()
