"""One model endpoint: admission (rate limit) → retries → breaker → adapter, then cost and counters.

The limits, breaker and counters sit behind an `Admission`: held here (in-process, the default) or
leased from the endpoint's `ProviderActor`, which shares them across the Ray cluster
(`providers/admission.py`). Either way the call itself goes from this process to the model.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from aegis_ray.errors import CapabilityError, ProviderError
from aegis_ray.model_ref import Capabilities
from aegis_ray.providers.adapters import Adapter, make_adapter
from aegis_ray.providers.admission import Admission, CallReport, EndpointAuthority, EndpointStats
from aegis_ray.providers.endpoint_config import EndpointConfig
from aegis_ray.providers.pricing import cost_usd
from aegis_ray.providers.resilience import retrying
from aegis_ray.providers.window import CallSample, CallWindow
from aegis_ray.types import Completion, ModelRequest, StreamEnd, StreamEvent


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
    """Calls one model through its admission: the authority here, or a lease from a `ProviderActor`."""

    def __init__(self, config: EndpointConfig, adapter: Adapter | None = None,
                 admission: Admission | None = None) -> None:
        self.config = config
        self.name = config.ref.name
        self.capabilities = config.ref.capabilities
        self._adapter = adapter or make_adapter(config)
        self.admission = admission or EndpointAuthority(config)

    def _finish(self, completion: Completion, started: float, attempts: int) -> Completion:
        cost = cost_usd(self.config.price(completion.response_model), completion.usage)
        latency = time.perf_counter() - started
        usage = completion.usage
        sample = CallSample(at=time.time(), latency_s=latency, cost_usd=cost or 0.0,
                            tokens=usage.input_tokens + usage.output_tokens,
                            refused=completion.finish_reason == "content_filter")
        self.admission.record(CallReport(calls=1, succeeded=1, attempts=attempts, usage=usage,
                                         cost_usd=cost or 0.0, samples=(sample,)))
        return completion.model_copy(update={
            "cost_usd": cost, "latency_s": latency, "attempts": attempts,
            "simulated": self.config.ref.simulated,
        })

    def _failed(self, attempts: int, started: float, error: ProviderError) -> None:
        sample = CallSample(at=time.time(), latency_s=time.perf_counter() - started, error=type(error).__name__)
        self.admission.record(CallReport(calls=1, failed=1, attempts=attempts, samples=(sample,)))

    async def _admit(self, request: ModelRequest, *, stream: bool) -> float:
        check_capabilities(self.name, self.capabilities, request, stream=stream)
        await self.admission.admit(estimate_tokens(request))
        return time.perf_counter()

    async def complete(self, request: ModelRequest) -> Completion:
        started = await self._admit(request, stream=False)
        attempts = 0
        try:
            async for attempt in retrying(self.config.retry):
                with attempt:
                    attempts += 1
                    async with self.admission.attempt():
                        completion = await self._adapter.complete(request)
        except ProviderError as error:
            self._failed(attempts, started, error)
            raise
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
                    async with self.admission.attempt():
                        async for event in self._adapter.stream(request):
                            if isinstance(event, StreamEnd):
                                event = StreamEnd(completion=self._finish(event.completion, started, attempts))
                            delivered = True
                            yield event
        except ProviderError as error:
            self._failed(attempts, started, error)
            raise

    async def stats(self) -> EndpointStats:
        return await self.admission.stats()

    async def window(self) -> CallWindow:
        """This endpoint's calls by time (cluster-wide when leased from a `ProviderActor`)."""
        return await self.admission.window()

    async def aclose(self) -> None:
        await self.admission.aclose()
        await self._adapter.aclose()
