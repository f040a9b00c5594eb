"""One model endpoint: rate limit → retries → circuit breaker → adapter, then cost and counters.

A `ProviderActor` holds exactly one of these, so its limits, breaker and counters are shared by
every caller in the cluster. It is plain asyncio and runs just as well in-process.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from pydantic import BaseModel

from aegis_ray.errors import CapabilityError, ProviderError
from aegis_ray.providers.adapters import Adapter, make_adapter
from aegis_ray.providers.endpoint_config import EndpointConfig
from aegis_ray.providers.pricing import cost_usd
from aegis_ray.providers.resilience import BreakerSnapshot, CircuitBreaker, RateLimiter, retrying
from aegis_ray.providers.routing import Capabilities
from aegis_ray.types import Completion, ModelRequest, StreamEnd, StreamEvent, Usage


class EndpointStats(BaseModel):
    model: str
    calls: int = 0
    succeeded: int = 0
    failed: int = 0
    attempts: int = 0
    usage: Usage = Usage()
    cost_usd: float = 0.0
    rate_limit_wait_s: float = 0.0
    breaker: BreakerSnapshot | None = None


def estimate_tokens(request: ModelRequest) -> int:
    """Tokens a request may consume, for the tokens/minute bucket (about 4 characters a token)."""
    return sum(len(m.content) for m in request.messages) // 4 + request.max_tokens


def check_capabilities(model: str, capabilities: Capabilities, request: ModelRequest, *, stream: bool) -> None:
    needs = {"tools": bool(request.tools), "json_mode": request.json_mode, "streaming": stream}
    missing = [name for name, needed in needs.items() if needed and not getattr(capabilities, name)]
    if missing:
        raise CapabilityError(f"{model} does not support {', '.join(missing)}", model=model,
                              hint="choose a model with that capability, or drop it from the request")


class ModelEndpoint:
    def __init__(self, config: EndpointConfig, adapter: Adapter | None = None) -> None:
        self.config = config
        self.name = config.ref.name
        self.capabilities = config.ref.capabilities
        self._adapter = adapter or make_adapter(config)
        self.breaker = CircuitBreaker(config.breaker, self.name)
        self.limiter = RateLimiter(config.rate_limit)
        self._stats = EndpointStats(model=self.name)

    def _finish(self, completion: Completion, started: float, attempts: int) -> Completion:
        price = self.config.price(completion.response_model)
        cost = cost_usd(price, completion.usage)
        s = self._stats
        s.succeeded += 1
        s.usage = s.usage + completion.usage
        s.cost_usd += cost or 0.0
        return completion.model_copy(update={
            "cost_usd": cost, "latency_s": time.perf_counter() - started, "attempts": attempts,
            "simulated": self.config.ref.simulated,
        })

    async def _admit(self, request: ModelRequest, *, stream: bool) -> float:
        check_capabilities(self.name, self.capabilities, request, stream=stream)
        self._stats.calls += 1
        await self.limiter.acquire(estimate_tokens(request))
        return time.perf_counter()

    async def complete(self, request: ModelRequest) -> Completion:
        started = await self._admit(request, stream=False)
        attempts = 0
        try:
            async for attempt in retrying(self.config.retry):
                with attempt:
                    attempts += 1
                    async with self.breaker.guard():
                        completion = await self._adapter.complete(request)
        except ProviderError:
            self._stats.failed += 1
            raise
        finally:
            self._stats.attempts += attempts
        return self._finish(completion, started, attempts)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        """Retries only until the first event reaches the caller: a retry after that would repeat
        output already delivered, so a later break surfaces as `StreamInterruptedError`."""
        started = await self._admit(request, stream=True)
        attempts = 0
        delivered = False

        def may_retry() -> bool:  # read at retry time, after the attempt that failed
            return not delivered

        try:
            async for attempt in retrying(self.config.retry, allowed=may_retry):
                with attempt:
                    attempts += 1
                    async with self.breaker.guard():
                        async for event in self._adapter.stream(request):
                            if isinstance(event, StreamEnd):
                                event = StreamEnd(completion=self._finish(event.completion, started, attempts))
                            delivered = True
                            yield event
        except ProviderError:
            self._stats.failed += 1
            raise
        finally:
            self._stats.attempts += attempts

    def stats(self) -> EndpointStats:
        return self._stats.model_copy(update={"breaker": self.breaker.snapshot(),
                                              "rate_limit_wait_s": self.limiter.waited_s})

    async def aclose(self) -> None:
        await self._adapter.aclose()
