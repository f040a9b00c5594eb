"""Resilience for one model endpoint: circuit breaker, token-bucket limits, retry policy.

The breaker is written here because the maintained libraries do not fit an asyncio actor:
pybreaker serialises every call under one lock and has no asyncio support, aiobreaker has been
unmaintained since 2021; neither can govern an attempt made in another process. It runs on one
event loop (a Ray async actor), so the check-and-claim of the half-open trial has no await between
them and needs no lock: exactly one caller gets it. A trial whose caller vanishes is given up after
`trial_timeout_s`, so a dead process cannot hold the breaker half-open for ever.
Rate limits use aiolimiter; retries use tenacity.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Literal

from aiolimiter import AsyncLimiter
from pydantic import BaseModel
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from aegis_ray.config import BreakerPolicy, RateLimitPolicy, RetryPolicy
from aegis_ray.errors import (
    CircuitOpenError,
    MalformedResponseError,
    ProviderConnectionError,
    ProviderError,
    ProviderServerError,
    ProviderTimeoutError,
    RateLimitedError,
    StreamInterruptedError,
)

BreakerState = Literal["closed", "open", "half_open"]

# Failures that say the endpoint is unhealthy. 429 (it is pacing us) and 4xx (our request) do not.
_UNHEALTHY = (ProviderServerError, ProviderTimeoutError, ProviderConnectionError, MalformedResponseError,
              StreamInterruptedError)


class BreakerSnapshot(BaseModel):
    state: BreakerState
    consecutive_failures: int
    retry_in_s: float
    opened_total: int


AttemptOutcome = Literal["ok", "unhealthy", "other"]


def attempt_outcome(error: BaseException | None) -> AttemptOutcome:
    """What one attempt says about the endpoint: "other" is a failure that is not the endpoint's
    sickness (our bad request, its pacing, the caller cancelling)."""
    if error is None:
        return "ok"
    return "unhealthy" if isinstance(error, _UNHEALTHY) else "other"


@asynccontextmanager
async def settling(settle: Callable[[AttemptOutcome], Awaitable[None]]) -> AsyncIterator[None]:
    """Run one attempt and hand its outcome to `settle` whatever happens (a cancel is "other")."""
    outcome: AttemptOutcome = "other"
    try:
        yield
        outcome = "ok"
    except BaseException as error:
        outcome = attempt_outcome(error)
        raise
    finally:
        await settle(outcome)


class CircuitBreaker:
    """An attempt is claimed (`claim`), made, then settled with its outcome (`settle`); `guard` does
    all three around a block. Claim and settle are separate so that an attempt made in another
    process can be governed by the breaker held here."""

    def __init__(self, policy: BreakerPolicy, model: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self.model = model
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_since: float | None = None
        self._opened_total = 0

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.policy.cooldown_s:
            return "half_open"
        return "open"

    @property
    def healthy(self) -> bool:
        """Closed with no failure since the last success."""
        return self._opened_at is None and self._failures == 0

    def _retry_in(self) -> float:
        if self._opened_at is None:
            return 0.0
        return max(0.0, self.policy.cooldown_s - (self._clock() - self._opened_at))

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._opened_total += 1

    def _trial_running(self) -> bool:
        return self._trial_since is not None and self._clock() - self._trial_since < self.policy.trial_timeout_s

    def claim(self) -> bool:
        """Admit one attempt, or raise `CircuitOpenError`; True when it is the half-open trial. The
        check and the claim have no await between them, so on one event loop exactly one caller
        gets the trial."""
        state = self.state
        if state == "open" or (state == "half_open" and self._trial_running()):
            raise CircuitOpenError(
                f"circuit breaker for {self.model} is open after {self._failures} consecutive failures",
                model=self.model, retry_in_s=self._retry_in(),
            )
        if state == "half_open":
            self._trial_since = self._clock()
            return True
        return False

    def settle(self, is_trial: bool, outcome: AttemptOutcome) -> None:
        if outcome == "unhealthy":
            self._failures += 1
            if is_trial or self._failures >= self.policy.failure_threshold:
                self._open()
        elif outcome == "ok":
            self._failures = 0
            self._opened_at = None
        if is_trial:
            self._trial_since = None

    @asynccontextmanager
    async def guard(self) -> AsyncIterator[None]:
        is_trial = self.claim()

        async def settle(outcome: AttemptOutcome) -> None:
            self.settle(is_trial, outcome)

        async with settling(settle):
            yield

    def snapshot(self) -> BreakerSnapshot:
        return BreakerSnapshot(state=self.state, consecutive_failures=self._failures,
                               retry_in_s=self._retry_in(), opened_total=self._opened_total)


class RateLimiter:
    """Requests/s with a burst, and tokens/minute; both token buckets (aiolimiter)."""

    def __init__(self, policy: RateLimitPolicy) -> None:
        self.policy = policy
        self._requests = (AsyncLimiter(policy.burst, policy.burst / policy.requests_per_s)
                          if policy.requests_per_s else None)
        self._tokens = AsyncLimiter(policy.tokens_per_minute, 60) if policy.tokens_per_minute else None
        self.waited_s = 0.0

    @property
    def limits_tokens(self) -> bool:
        return self._tokens is not None

    @property
    def unlimited(self) -> bool:
        return self._requests is None and self._tokens is None

    def _token_amount(self, tokens: int) -> float:
        assert self._tokens is not None
        return min(tokens, self._tokens.max_rate)

    async def acquire(self, tokens: int) -> None:
        started = time.monotonic()
        if self._requests is not None:
            await self._requests.acquire()
        if self._tokens is not None:
            await self._tokens.acquire(self._token_amount(tokens))
        self.waited_s += time.monotonic() - started

    async def try_acquire(self, tokens: int) -> bool:
        """Take one request (and `tokens`) only if the buckets hold them now; never waits."""
        if self._requests is not None and not self._requests.has_capacity():
            return False
        if self._tokens is not None and not self._tokens.has_capacity(self._token_amount(tokens)):
            return False
        await self.acquire(tokens)  # has capacity: returns without suspending
        return True


def retrying(policy: RetryPolicy, allowed: Callable[[], bool] = lambda: True) -> AsyncRetrying:
    """Retry retryable provider errors; wait what a 429 states, else exponential backoff + jitter.
    A stated delay beyond `max_retry_after_s` is not waited for: the caller fails over instead."""
    backoff = wait_exponential_jitter(initial=policy.initial_backoff_s, max=policy.max_backoff_s,
                                      jitter=policy.jitter_s)

    def should_retry(exc: BaseException) -> bool:
        if not (isinstance(exc, ProviderError) and exc.retryable and allowed()):
            return False
        stated = exc.retry_after_s if isinstance(exc, RateLimitedError) else None
        return stated is None or stated <= policy.max_retry_after_s

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimitedError) and exc.retry_after_s is not None:
            return exc.retry_after_s
        return backoff(state)

    return AsyncRetrying(stop=stop_after_attempt(policy.max_attempts), wait=wait,
                         retry=retry_if_exception(should_retry), reraise=True)
