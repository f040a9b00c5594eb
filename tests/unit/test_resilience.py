"""Circuit breaker, retry policy and rate limiter, in isolation (a fake clock where time matters)."""

from __future__ import annotations

import asyncio
import itertools
import pickle
import time

import pytest

from aegis_ray.config import BreakerPolicy, RateLimitPolicy, RetryPolicy
from aegis_ray.errors import (
    CircuitOpenError,
    ProviderRequestError,
    ProviderServerError,
    RateLimitedError,
)
from aegis_ray.providers.adapters.base import retry_after_seconds
from aegis_ray.providers.resilience import CircuitBreaker, RateLimiter, retrying

pytestmark = pytest.mark.unit


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def fail(breaker: CircuitBreaker, error: Exception) -> None:
    with pytest.raises(type(error)):
        async with breaker.guard():
            raise error


async def test_breaker_counts_only_unhealthy_failures() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(BreakerPolicy(failure_threshold=2, cooldown_s=10), "m", clock)
    await fail(breaker, ProviderRequestError("400", model="m"))  # our fault, not the endpoint's
    await fail(breaker, RateLimitedError("429", model="m"))  # pacing, not sickness
    assert breaker.state == "closed"
    await fail(breaker, ProviderServerError("500", model="m", status=500))
    await fail(breaker, ProviderServerError("500", model="m", status=500))
    assert breaker.state == "open"
    clock.now = 9.9
    with pytest.raises(CircuitOpenError) as caught:
        async with breaker.guard():
            pass
    assert caught.value.retry_in_s == pytest.approx(0.1)
    clock.now = 10
    assert breaker.state == "half_open"
    async with breaker.guard():
        pass
    assert breaker.state == "closed" and breaker.snapshot().consecutive_failures == 0


async def test_success_resets_the_consecutive_count() -> None:
    breaker = CircuitBreaker(BreakerPolicy(failure_threshold=2, cooldown_s=10), "m", FakeClock())
    await fail(breaker, ProviderServerError("500", model="m", status=500))
    async with breaker.guard():
        pass
    await fail(breaker, ProviderServerError("500", model="m", status=500))
    assert breaker.state == "closed"


async def test_half_open_admits_one_trial_among_concurrent_callers() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(BreakerPolicy(failure_threshold=1, cooldown_s=1), "m", clock)
    await fail(breaker, ProviderServerError("500", model="m", status=500))
    clock.now = 1
    entered = 0

    async def call() -> None:
        nonlocal entered
        async with breaker.guard():
            entered += 1
            await asyncio.sleep(0.05)

    results = await asyncio.gather(*(call() for _ in range(50)), return_exceptions=True)
    assert entered == 1
    assert sum(isinstance(r, CircuitOpenError) for r in results) == 49


async def test_retry_waits_the_stated_delay_then_gives_up() -> None:
    attempts: list[float] = []
    with pytest.raises(RateLimitedError):
        async for attempt in retrying(RetryPolicy(max_attempts=3, initial_backoff_s=0)):
            with attempt:
                attempts.append(time.monotonic())
                raise RateLimitedError("429", model="m", retry_after_s=0.1)
    assert len(attempts) == 3
    assert all(b - a >= 0.1 for a, b in itertools.pairwise(attempts))


async def test_non_retryable_errors_are_not_retried() -> None:
    calls = 0
    with pytest.raises(ProviderRequestError):
        async for attempt in retrying(RetryPolicy(max_attempts=5)):
            with attempt:
                calls += 1
                raise ProviderRequestError("400", model="m")
    assert calls == 1


def test_retry_after_header_forms() -> None:
    assert retry_after_seconds({"retry-after": "2"}) == 2.0
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # in the past
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None


async def test_rate_limiter_paces_requests() -> None:
    limiter = RateLimiter(RateLimitPolicy(requests_per_s=20, burst=1))
    started = time.monotonic()
    for _ in range(11):
        await limiter.acquire(tokens=1)
    assert time.monotonic() - started >= 0.45  # 10 intervals of 50 ms after the first


def test_errors_survive_pickling_with_their_fields() -> None:
    error = RateLimitedError("slow down", model="sim:x", retry_after_s=1.5)
    copy = pickle.loads(pickle.dumps(error))
    assert isinstance(copy, RateLimitedError)
    assert (copy.model, copy.retry_after_s, str(copy)) == ("sim:x", 1.5, "slow down")
