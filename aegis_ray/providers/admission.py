"""Admission to one model endpoint: its rate limits, its circuit breaker and its counters.

`EndpointAuthority` holds them. An in-process `ModelEndpoint` uses one directly; a `ProviderActor`
holds the one authority of the cluster for its endpoint. Processes elsewhere do not send their
calls through the actor: a round trip per call (about 2.5 ms on this machine) would be most of the
harness's cost, and one process would carry the whole cluster's traffic to the model. Instead each
process holds a `LeasedAdmission` and calls the model itself:

- A **lease** is the authority's word that the breaker is healthy (closed, no failure since the
  last success) for the next `valid_s` seconds, plus up to `max_requests` requests (and their
  tokens) taken from its buckets, to be spent within that time. While a process holds one, its
  calls touch nobody but the model. Every permit comes out of the one shared bucket, so the
  cluster's combined rate never exceeds it.
- When anything is off (this process saw a failure, or the breaker is not healthy) the lease says
  so and each attempt is **claimed** from and **settled** with the authority, so the breaker's
  rules hold exactly as in-process: N consecutive failures open it; half-open admits one trial at
  a time. A healthy lease never outlives half the breaker's cool-down, so none is still alive when
  a half-open trial is claimed.
- Calls, usage and cost flow back in **reports**: with the next lease, claim or settle, or at most
  `report_s` after the call. A report also carries each call's `CallSample` (its time, latency,
  error, cost), which the authority adds to the endpoint's `CallWindow`: the cluster-wide
  measurements SLOs and drift are judged on (`aegis_ray.control.slo`), with no extra message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from aegis_ray.config import WindowPolicy
from aegis_ray.errors import AegisError
from aegis_ray.providers.endpoint_config import EndpointConfig
from aegis_ray.providers.resilience import (
    AttemptOutcome,
    BreakerSnapshot,
    CircuitBreaker,
    RateLimiter,
    attempt_outcome,
    settling,
)
from aegis_ray.providers.window import CallSample, CallWindow
from aegis_ray.types import Usage

logger = logging.getLogger(__name__)


MAX_SAMPLES = 4096
"""Most samples a report holds: an authority out of reach for long loses the oldest (counters are kept)."""


class CallReport(BaseModel):
    """Counters of some calls to one endpoint, to be added to its totals."""

    model_config = ConfigDict(frozen=True)

    calls: int = 0
    succeeded: int = 0
    failed: int = 0
    attempts: int = 0
    usage: Usage = Usage()
    cost_usd: float = 0.0
    samples: tuple[CallSample, ...] = Field(default=(), exclude=True, description=(
        "Each call's sample, for the endpoint's window; the newest `MAX_SAMPLES` when reports pile up."))

    def __add__(self, other: CallReport) -> CallReport:
        return CallReport(calls=self.calls + other.calls, succeeded=self.succeeded + other.succeeded,
                          failed=self.failed + other.failed, attempts=self.attempts + other.attempts,
                          usage=self.usage + other.usage, cost_usd=self.cost_usd + other.cost_usd,
                          samples=(self.samples + other.samples)[-MAX_SAMPLES:])

    @property
    def empty(self) -> bool:
        return self.calls == 0 and self.attempts == 0


class EndpointStats(CallReport):
    model: str
    rate_limit_wait_s: float = 0.0
    breaker: BreakerSnapshot | None = None


class LeaseRequest(BaseModel):
    requests: int = Field(ge=1, description="Requests wanted; the first is waited for, the rest only if free now.")
    tokens_each: int = Field(ge=0, description="Estimated tokens of each request.")
    report: CallReport = CallReport()


class Lease(BaseModel):
    requests: int | None = Field(description="Requests granted; None: the endpoint has no request or token limit.")
    tokens: int | None = Field(description="Tokens granted; None: no tokens/minute limit.")
    valid_s: float = Field(description="How long the permits (and `healthy`) hold, from when the lease was asked.")
    healthy: bool = Field(description="False: claim and settle each attempt with the authority.")


class Admission(Protocol):
    """What a `ModelEndpoint` needs: one call through the rate limits, one attempt through the
    breaker, the counters of a finished call, and the totals."""

    async def admit(self, tokens: int) -> None: ...
    def attempt(self) -> AbstractAsyncContextManager[None]: ...
    def record(self, report: CallReport) -> None: ...
    async def stats(self) -> EndpointStats: ...
    async def window(self) -> CallWindow: ...
    async def aclose(self) -> None: ...


class EndpointAuthority:
    """The limits, breaker and counters of one endpoint: an `Admission` for calls made here, and
    the `Authority` every `LeasedAdmission` leases from."""

    def __init__(self, config: EndpointConfig, window: WindowPolicy | None = None) -> None:
        self.model = config.ref.name
        self.breaker = CircuitBreaker(config.breaker, self.model)
        self.limiter = RateLimiter(config.rate_limit)
        self.lease_s = min(config.lease.valid_s, config.breaker.cooldown_s / 2)
        self._totals = CallReport()
        self._window = CallWindow(policy=window or WindowPolicy())

    async def admit(self, tokens: int) -> None:
        await self.limiter.acquire(tokens)

    def attempt(self) -> AbstractAsyncContextManager[None]:
        return self.breaker.guard()

    def record(self, report: CallReport) -> None:
        if report.samples:
            self._window.add(report.samples)
            report = report.model_copy(update={"samples": ()})
        self._totals += report

    async def stats(self) -> EndpointStats:
        return EndpointStats(model=self.model, **self._totals.model_dump(), breaker=self.breaker.snapshot(),
                             rate_limit_wait_s=self.limiter.waited_s)

    async def window(self) -> CallWindow:
        """The endpoint's calls by time, as reported so far."""
        return self._window

    async def aclose(self) -> None:
        """Nothing to hand back: the counters are here."""

    async def lease(self, request: LeaseRequest) -> Lease:
        self.record(request.report)
        if self.limiter.unlimited:
            return Lease(requests=None, tokens=None, valid_s=self.lease_s, healthy=self.breaker.healthy)
        await self.limiter.acquire(request.tokens_each)
        granted = 1
        while granted < request.requests and await self.limiter.try_acquire(request.tokens_each):
            granted += 1
        return Lease(requests=granted, tokens=granted * request.tokens_each if self.limiter.limits_tokens else None,
                     valid_s=self.lease_s, healthy=self.breaker.healthy)

    async def claim(self, report: CallReport) -> bool:
        self.record(report)
        return self.breaker.claim()

    async def settle(self, is_trial: bool, outcome: AttemptOutcome, report: CallReport) -> None:
        self.record(report)
        self.breaker.settle(is_trial, outcome)

    async def report(self, report: CallReport) -> None:
        self.record(report)


class Authority(Protocol):
    """An `EndpointAuthority` as a leaseholder reaches it: directly, or through a `ProviderActor`."""

    async def lease(self, request: LeaseRequest) -> Lease: ...
    async def claim(self, report: CallReport) -> bool: ...
    async def settle(self, is_trial: bool, outcome: AttemptOutcome, report: CallReport) -> None: ...
    async def report(self, report: CallReport) -> None: ...
    async def stats(self) -> EndpointStats: ...
    async def window(self) -> CallWindow: ...


class LeasedAdmission:
    """Admission on a lease from a remote authority (see the module docstring)."""

    def __init__(self, authority: Authority, config: EndpointConfig,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._authority = authority
        self._model = config.ref.name
        self._policy = config.lease
        self._clock = clock
        self._until = 0.0
        self._requests: int | None = 0
        self._tokens: int | None = 0
        self._healthy = False
        self._used = 0  # requests admitted on the current lease: the next one asks for twice as many
        self._renewal: asyncio.Future[None] | None = None
        self._pending = CallReport()
        self._flush_scheduled = False
        self._flushes: set[asyncio.Task[None]] = set()

    def _take(self, tokens: int) -> bool:
        if self._clock() >= self._until:
            return False
        if (self._requests is not None and self._requests < 1) or (self._tokens is not None and self._tokens < tokens):
            return False
        if self._requests is not None:
            self._requests -= 1
        if self._tokens is not None:
            self._tokens -= tokens
        self._used += 1
        return True

    async def admit(self, tokens: int) -> None:
        while not self._take(tokens):
            # Judged by done(), not cleared by a done-callback: a caller arriving before that callback
            # ran would await a finished future, which never yields, and spin for ever.
            if self._renewal is None or self._renewal.done():
                self._renewal = asyncio.ensure_future(self._renew(tokens))
            await asyncio.shield(self._renewal)

    async def _renew(self, tokens: int) -> None:
        asked = self._clock()
        wanted = min(self._policy.max_requests, max(1, 2 * self._used))
        report = self._drain()
        try:
            lease = await self._authority.lease(LeaseRequest(requests=wanted, tokens_each=tokens, report=report))
        except BaseException:
            self._pending = report + self._pending
            raise
        self._until = asked + lease.valid_s
        self._requests, self._tokens, self._healthy, self._used = lease.requests, lease.tokens, lease.healthy, 0

    @asynccontextmanager
    async def attempt(self) -> AsyncIterator[None]:
        if self._healthy and self._clock() < self._until:
            try:
                yield
            except BaseException as error:
                if attempt_outcome(error) == "unhealthy":
                    self._healthy = False  # claim every attempt until a lease says the breaker is healthy again
                    await asyncio.shield(self._authority.settle(False, "unhealthy", self._drain()))
                raise
            return
        is_trial = await self._authority.claim(self._drain())

        async def settle(outcome: AttemptOutcome) -> None:
            # Shielded: a caller cancelled mid-trial must still hand the trial back.
            await asyncio.shield(self._authority.settle(is_trial, outcome, self._drain()))

        async with settling(settle):
            yield

    def _drain(self) -> CallReport:
        report, self._pending = self._pending, CallReport()
        return report

    def record(self, report: CallReport) -> None:
        self._pending += report
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_later(self._policy.report_s, self._start_flush)

    def _start_flush(self) -> None:
        self._flush_scheduled = False
        task = asyncio.ensure_future(self._flush_later())
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _flush_later(self) -> None:
        try:
            await self.flush()
        except Exception:  # the authority is restarting: the report stays pending for the next try
            self.record(CallReport())

    async def flush(self) -> None:
        """Send what is pending now; if the authority cannot be reached it stays pending."""
        report = self._drain()
        if report.empty:
            return
        try:
            await self._authority.report(report)
        except Exception:
            self._pending = report + self._pending
            raise

    async def stats(self) -> EndpointStats:
        await self.flush()
        return await self._authority.stats()

    async def window(self) -> CallWindow:
        await self.flush()
        return await self._authority.window()

    async def aclose(self) -> None:
        """Hand in what is pending; an unreachable authority loses it (and says so in the log)."""
        try:
            await self.flush()
        except AegisError as error:
            logger.warning("lost the last call report for %s: %s", self._model, error)
