"""Leased admission against an in-process authority: what a `ProviderActor` does, without Ray.

Each `LeasedAdmission` stands for one process of the cluster; the `EndpointAuthority` they share
stands for the endpoint's actor. The model is the simulated server over real HTTP.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from aegis_ray.config import BreakerPolicy, LeasePolicy, RateLimitPolicy, RetryPolicy
from aegis_ray.errors import CircuitOpenError, ProviderServerError
from aegis_ray.providers import EndpointConfig, ModelEndpoint
from aegis_ray.providers.admission import (
    CallReport,
    EndpointAuthority,
    EndpointStats,
    Lease,
    LeasedAdmission,
    LeaseRequest,
)
from aegis_ray.providers.resilience import AttemptOutcome, CircuitBreaker
from aegis_ray.sim import Fault, FaultKind, SimServer
from aegis_ray.types import Message, ModelRequest
from tests.helpers import sim_endpoint

pytestmark = pytest.mark.unit

QUESTION = ModelRequest(messages=(Message.user("What is the capital of Australia?"),))


class CountingAuthority:
    """An authority that counts the messages it gets, as a `ProviderActor` would see them."""

    def __init__(self, authority: EndpointAuthority) -> None:
        self.inner = authority
        self.messages: list[str] = []

    async def lease(self, request: LeaseRequest) -> Lease:
        self.messages.append("lease")
        return await self.inner.lease(request)

    async def claim(self, report: CallReport) -> bool:
        self.messages.append("claim")
        return await self.inner.claim(report)

    async def settle(self, is_trial: bool, outcome: AttemptOutcome, report: CallReport) -> None:
        self.messages.append("settle")
        await self.inner.settle(is_trial, outcome, report)

    async def report(self, report: CallReport) -> None:
        self.messages.append("report")
        await self.inner.report(report)

    async def stats(self) -> EndpointStats:
        return await self.inner.stats()


_endpoints: list[ModelEndpoint] = []


@pytest.fixture(autouse=True)
async def _close_endpoints() -> AsyncIterator[None]:
    yield
    while _endpoints:
        await _endpoints.pop().aclose()


def processes(config: EndpointConfig, count: int) -> tuple[EndpointAuthority, list[CountingAuthority],
                                                             list[ModelEndpoint]]:
    """One authority and `count` leaseholding endpoints (one per simulated process)."""
    authority = EndpointAuthority(config)
    wires = [CountingAuthority(authority) for _ in range(count)]
    endpoints = [ModelEndpoint(config, admission=LeasedAdmission(wire, config)) for wire in wires]
    _endpoints.extend(endpoints)
    return authority, wires, endpoints


async def test_a_healthy_lease_lets_calls_go_straight_to_the_model(sim: SimServer) -> None:
    _, [wire], [endpoint] = processes(sim_endpoint(sim), 1)
    for _ in range(20):
        assert (await endpoint.complete(QUESTION)).text == "Canberra."
    assert wire.messages == ["lease"]  # one lease for 20 calls, no claim, no settle
    stats = await endpoint.stats()  # flushes this process's pending report first
    assert wire.messages[-1] == "report"
    assert (stats.calls, stats.succeeded, stats.attempts) == (20, 20, 20)
    assert stats.usage.input_tokens > 0 and stats.cost_usd > 0


async def test_reports_reach_the_authority_without_being_asked(sim: SimServer) -> None:
    config = sim_endpoint(sim).model_copy(update={"lease": LeasePolicy(report_s=0.05)})
    authority, _, [endpoint] = processes(config, 1)
    await endpoint.complete(QUESTION)
    assert (await authority.stats()).succeeded == 0  # not yet: reports are batched
    await asyncio.sleep(0.15)
    assert (await authority.stats()).succeeded == 1


async def test_failures_open_the_shared_breaker_and_a_half_open_trial_is_one_across_processes(
        sim: SimServer) -> None:
    config = sim_endpoint(sim, retry=RetryPolicy(max_attempts=1),
                          breaker=BreakerPolicy(failure_threshold=2, cooldown_s=0.4))
    authority, wires, endpoints = processes(config, 2)
    sim.inject("sim-honest", FaultKind.SERVER_ERROR, times=2)
    for endpoint in endpoints:  # one failure in each process: two consecutive at the authority
        with pytest.raises(ProviderServerError):
            await endpoint.complete(QUESTION)
    assert authority.breaker.state == "open"
    for endpoint in endpoints:  # both processes now claim each attempt, and are rejected fast
        with pytest.raises(CircuitOpenError):
            await endpoint.complete(QUESTION)
    assert len(sim.requests("sim-honest")) == 2

    await asyncio.sleep(0.45)
    sim.inject("sim-honest", Fault(kind=FaultKind.TIMEOUT, delay_s=0.3))  # a slow trial
    results = await asyncio.gather(*(endpoints[i % 2].complete(QUESTION) for i in range(50)),
                                   return_exceptions=True)
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert sum(isinstance(r, CircuitOpenError) for r in results) == 49
    assert len(sim.requests("sim-honest")) == 3
    assert authority.breaker.state == "closed"
    assert {"claim", "settle"} <= set(wires[0].messages) and {"claim", "settle"} <= set(wires[1].messages)


def test_a_healthy_lease_ends_before_a_half_open_trial_can_start(sim: SimServer) -> None:
    config = sim_endpoint(sim, breaker=BreakerPolicy(cooldown_s=0.5))
    assert EndpointAuthority(config).lease_s == 0.25  # LeasePolicy.valid_s is 1 s: capped at half the cool-down


async def test_a_lease_takes_only_what_the_shared_bucket_holds_now(sim: SimServer) -> None:
    config = sim_endpoint(sim, rate_limit=RateLimitPolicy(requests_per_s=10, burst=3))
    authority = EndpointAuthority(config)
    first = await authority.lease(LeaseRequest(requests=8, tokens_each=10))
    assert first.requests == 3 and first.tokens is None and first.healthy
    started = time.monotonic()
    second = await authority.lease(LeaseRequest(requests=8, tokens_each=10))
    assert second.requests == 1  # waited for one, took no more than the bucket had
    assert time.monotonic() - started >= 0.08


async def test_leaseholders_together_stay_under_the_shared_rate(sim: SimServer) -> None:
    config = sim_endpoint(sim, rate_limit=RateLimitPolicy(requests_per_s=40, burst=4))
    _, _, endpoints = processes(config, 3)
    await asyncio.gather(*(endpoints[i % 3].complete(QUESTION) for i in range(30)))
    arrivals = sorted(r.at for r in sim.requests("sim-honest"))
    rate = (len(arrivals) - 4) / (arrivals[-1] - arrivals[0])  # the first burst of 4 is free
    assert len(arrivals) == 30 and rate <= 40 * 1.1, f"{rate:.1f} req/s from 3 leaseholders, bucket is 40/s"


def test_a_trial_whose_caller_vanished_is_given_up() -> None:
    now = [0.0]
    breaker = CircuitBreaker(BreakerPolicy(failure_threshold=1, cooldown_s=1, trial_timeout_s=5), "m",
                             lambda: now[0])
    breaker.claim()
    breaker.settle(False, "unhealthy")
    now[0] = 1.0
    assert breaker.claim() is True  # the trial; its process dies without settling
    with pytest.raises(CircuitOpenError):
        breaker.claim()
    now[0] = 6.0
    assert breaker.claim() is True  # a new trial, not a breaker stuck half-open for ever
