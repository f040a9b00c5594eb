"""Fault matrix through the gateway, over real HTTP to the simulated server, on every protocol."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator

import pytest

from aegis_ray.config import BreakerPolicy, RetryPolicy
from aegis_ray.errors import (
    AllModelsFailedError,
    AuthenticationError,
    CircuitOpenError,
    MalformedResponseError,
    MalformedToolArgumentsError,
    ProviderServerError,
    ProviderTimeoutError,
    StreamInterruptedError,
    UnknownModelError,
)
from aegis_ray.providers import EndpointCache, Gateway, ModelEndpoint
from aegis_ray.providers.pricing import cost_usd, price_for
from aegis_ray.sim import Fault, FaultKind, SimConfig, SimServer
from aegis_ray.types import Message, ModelRequest, StreamEnd, TextDelta, ToolSpec
from tests.helpers import FAST_RETRY, PROVIDERS, sim_endpoint

pytestmark = pytest.mark.unit

QUESTION = ModelRequest(messages=(Message.user("What is the capital of Australia?"),))
WITH_TOOL = ModelRequest(messages=(Message.user("write the file"),),
                         tools=(ToolSpec(name="write_file", parameters={"type": "object"}),), tool_choice="required")


# Frames each protocol sends before its first text delta has been delivered.
FIRST_TEXT_FRAME = {"openai": 2, "openai-responses": 4, "anthropic": 3, "gemini": 1}
_caches: list[EndpointCache] = []


@pytest.fixture(autouse=True)
async def _close_endpoints() -> AsyncIterator[None]:
    yield
    while _caches:
        await _caches.pop().aclose()


def gateway(sim: SimServer, *models: str, provider: str = "sim", **policy: object) -> Gateway:
    """A gateway over in-process endpoints for `provider:model` on the simulator."""
    cache = EndpointCache(lambda ref: ModelEndpoint(sim_endpoint(sim, ref.model, provider, **policy)))
    _caches.append(cache)
    return Gateway(cache, [f"{provider}:{m}" for m in models])


async def test_429_is_retried_after_the_stated_delay(sim: SimServer) -> None:
    sim.inject("sim-honest", Fault(kind=FaultKind.RATE_LIMIT, retry_after_s=0.3), times=2)
    completion = await gateway(sim, "sim-honest").complete(QUESTION)
    assert completion.text == "Canberra." and completion.attempts == 3
    arrivals = [r.at for r in sim.requests("sim-honest")]
    assert [r.status for r in sim.requests("sim-honest")] == [429, 429, 200]
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert all(gap >= 0.3 for gap in gaps), gaps


async def test_retry_after_beyond_the_limit_fails_over_without_waiting(sim: SimServer) -> None:
    sim.inject("sim-hallucinating", Fault(kind=FaultKind.RATE_LIMIT, retry_after_s=3600))
    started = time.monotonic()
    completion = await gateway(sim, "sim-hallucinating", "sim-honest").complete(QUESTION)
    assert completion.model == "sim:sim-honest"
    assert time.monotonic() - started < 5


async def test_5xx_is_retried_then_fails_over_and_is_charged_at_the_answering_price(sim: SimServer) -> None:
    sim.inject("sim-hallucinating", FaultKind.SERVER_ERROR, times=FAST_RETRY.max_attempts)
    completion = await gateway(sim, "sim-hallucinating", "sim-honest").complete(QUESTION)
    assert [r.status for r in sim.requests("sim-hallucinating")] == [500] * FAST_RETRY.max_attempts
    assert completion.model == "sim:sim-honest" and completion.text == "Canberra."
    honest, liar = price_for("sim-honest"), price_for("sim-hallucinating")
    assert honest != liar
    assert completion.cost_usd == pytest.approx(cost_usd(honest, completion.usage))


async def test_5xx_recovers_within_the_retry_budget(sim: SimServer) -> None:
    sim.inject("sim-honest", FaultKind.UNAVAILABLE, times=FAST_RETRY.max_attempts - 1)
    completion = await gateway(sim, "sim-honest").complete(QUESTION)
    assert completion.attempts == FAST_RETRY.max_attempts


async def test_every_model_failing_names_each_failure(sim: SimServer) -> None:
    sim.inject("sim-*", FaultKind.SERVER_ERROR, times=2 * FAST_RETRY.max_attempts)
    with pytest.raises(AllModelsFailedError) as caught:
        await gateway(sim, "sim-hallucinating", "sim-honest").complete(QUESTION)
    assert set(caught.value.errors) == {"sim:sim-hallucinating", "sim:sim-honest"}
    assert all(isinstance(e, ProviderServerError) for e in caught.value.errors.values())
    assert caught.value.exit_code == 1


async def test_breaker_opens_rejects_fast_and_half_opens_for_exactly_one_trial(sim: SimServer) -> None:
    policy = BreakerPolicy(failure_threshold=3, cooldown_s=0.5)
    endpoint = ModelEndpoint(sim_endpoint(sim, "sim-honest", retry=RetryPolicy(max_attempts=1), breaker=policy))
    sim.inject("sim-honest", FaultKind.SERVER_ERROR, times=3)
    for _ in range(3):
        with pytest.raises(ProviderServerError):
            await endpoint.complete(QUESTION)
    assert (await endpoint.stats()).breaker.state == "open"

    started = time.monotonic()
    with pytest.raises(CircuitOpenError):
        await endpoint.complete(QUESTION)
    assert time.monotonic() - started < 0.05
    assert len(sim.requests("sim-honest")) == 3  # the rejected call never reached the endpoint

    await asyncio.sleep(0.55)
    assert (await endpoint.stats()).breaker.state == "half_open"
    # The trial is slow, so all 50 callers arrive while it is in flight.
    sim.inject("sim-honest", Fault(kind=FaultKind.TIMEOUT, delay_s=0.3))
    results = await asyncio.gather(*(endpoint.complete(QUESTION) for _ in range(50)), return_exceptions=True)
    succeeded = [r for r in results if not isinstance(r, BaseException)]
    rejected = [r for r in results if isinstance(r, CircuitOpenError)]
    assert len(succeeded) == 1 and len(rejected) == 49
    assert len(sim.requests("sim-honest")) == 4
    assert (await endpoint.stats()).breaker.state == "closed"


async def test_failed_trial_reopens_the_breaker(sim: SimServer) -> None:
    policy = BreakerPolicy(failure_threshold=1, cooldown_s=0.2)
    endpoint = ModelEndpoint(sim_endpoint(sim, "sim-honest", retry=RetryPolicy(max_attempts=1), breaker=policy))
    sim.inject("sim-honest", FaultKind.SERVER_ERROR, times=2)
    with pytest.raises(ProviderServerError):
        await endpoint.complete(QUESTION)
    await asyncio.sleep(0.25)
    with pytest.raises(ProviderServerError):
        await endpoint.complete(QUESTION)
    assert (await endpoint.stats()).breaker.state == "open"
    assert (await endpoint.stats()).breaker.opened_total == 2


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_stream_dropped_after_output_surfaces_a_typed_error(sim: SimServer, provider: str) -> None:
    sim.inject("sim-honest", Fault(kind=FaultKind.DROP_STREAM, after_chunks=FIRST_TEXT_FRAME[provider]))
    events = []
    with pytest.raises(StreamInterruptedError):
        async for event in gateway(sim, "sim-honest", provider=provider).stream(QUESTION):
            events.append(event)
    assert any(isinstance(e, TextDelta) for e in events)
    assert not any(isinstance(e, StreamEnd) for e in events)
    assert len(sim.requests("sim-honest")) == 1  # output had been delivered: no retry


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_stream_dropped_before_output_is_retried(sim: SimServer, provider: str) -> None:
    sim.inject("sim-honest", Fault(kind=FaultKind.DROP_STREAM, after_chunks=FIRST_TEXT_FRAME[provider] - 1))
    events = [e async for e in gateway(sim, "sim-honest", provider=provider).stream(QUESTION)]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Canberra."
    assert isinstance(events[-1], StreamEnd) and events[-1].completion.attempts == 2


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_streams_deliver_text_incrementally(sim: SimServer, provider: str) -> None:
    events = [e async for e in gateway(sim, "sim-honest", provider=provider).stream(QUESTION)]
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert "".join(deltas) == "Canberra." and len(deltas) >= 2
    assert isinstance(events[-1], StreamEnd) and events[-1].completion.cost_usd is not None


async def test_dropped_connection_before_output_is_retried(sim: SimServer) -> None:
    sim.inject("sim-honest", Fault(kind=FaultKind.DROP_STREAM))  # non-streamed: the body is cut
    completion = await gateway(sim, "sim-honest").complete(QUESTION)
    assert completion.text == "Canberra." and completion.attempts == 2


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("streamed", [False, True])
async def test_malformed_tool_arguments_surface_a_typed_error(sim: SimServer, provider: str, streamed: bool) -> None:
    sim.inject("sim-honest", FaultKind.MALFORMED_TOOL_ARGS)
    gw = gateway(sim, "sim-honest", "sim-hallucinating", provider=provider)
    with pytest.raises(MalformedToolArgumentsError) as caught:
        if streamed:
            _ = [e async for e in gw.stream(WITH_TOOL)]
        else:
            await gw.complete(WITH_TOOL)
    # Gemini's API says only MALFORMED_FUNCTION_CALL (its SDK drops the message naming the tool).
    assert caught.value.tool_name == (None if provider == "gemini" else "write_file")
    assert sim.requests("sim-hallucinating") == []  # surfaced, not failed over


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_malformed_json_is_retried_then_typed(sim: SimServer, provider: str) -> None:
    sim.inject("sim-honest", FaultKind.MALFORMED_JSON, times=FAST_RETRY.max_attempts)
    with pytest.raises(MalformedResponseError):
        await gateway(sim, "sim-honest", provider=provider).complete(QUESTION)
    assert len(sim.requests("sim-honest")) == FAST_RETRY.max_attempts


async def test_read_timeout_is_typed(sim: SimServer) -> None:
    sim.inject("sim-honest", Fault(kind=FaultKind.TIMEOUT, delay_s=1.0), times=FAST_RETRY.max_attempts)
    with pytest.raises(ProviderTimeoutError):
        await gateway(sim, "sim-honest", timeout_s=0.2).complete(QUESTION)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_unknown_model_is_typed_bad_input(sim: SimServer, provider: str) -> None:
    with pytest.raises(UnknownModelError) as caught:
        await gateway(sim, "no-such-model", provider=provider).complete(QUESTION)
    assert caught.value.exit_code == 2
    assert len(sim.requests("no-such-model")) == 1  # a 404 is not retried


async def test_bad_key_is_typed_and_not_retried() -> None:
    with SimServer(SimConfig(api_keys=["right"])) as locked:
        for provider in PROVIDERS:
            with pytest.raises(AuthenticationError):
                await gateway(locked, "sim-honest", provider=provider, api_key="wrong").complete(QUESTION)
        assert len(locked.requests()) == len(PROVIDERS)
        right = await gateway(locked, "sim-honest", provider="anthropic", api_key="right").complete(QUESTION)
        assert right.text == "Canberra."
