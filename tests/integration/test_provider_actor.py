"""`ProviderActor` on a real Ray cluster: calls (on a lease, and relayed), streams, typed errors,
sharing, restarts."""

from __future__ import annotations

import asyncio
import os

import pytest
import ray

from actors.registry import ActorEndpoint, provider_actor
from aegis_ray.config import BreakerPolicy, RateLimitPolicy, RetryPolicy
from aegis_ray.errors import (
    CircuitOpenError,
    MalformedToolArgumentsError,
    ProviderConnectionError,
    ProviderServerError,
    UnknownModelError,
)
from aegis_ray.providers import EndpointCache, EndpointConfig, Gateway, ModelEndpoint
from aegis_ray.sim import Fault, FaultKind, SimServer
from aegis_ray.types import Message, ModelRequest, StreamEnd, TextDelta, ToolSpec
from tests.helpers import sim_endpoint

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("ray_cluster")]

QUESTION = ModelRequest(messages=(Message.user("What is the capital of Australia?"),))


def actor_gateway(config: EndpointConfig, *more: EndpointConfig, relay: bool | None = None) -> Gateway:
    configs = {c.ref.name: c for c in (config, *more)}
    return Gateway(EndpointCache(lambda model: ActorEndpoint(configs[model.name], relay=relay)), list(configs))


@pytest.mark.parametrize("relay", [False, True], ids=["leased", "relayed"])
async def test_complete_and_stream_through_the_actor(sim: SimServer, relay: bool) -> None:
    config = sim_endpoint(sim, "sim-honest", "anthropic")
    gateway = actor_gateway(config, relay=relay)
    completion = await gateway.complete(QUESTION)
    assert completion.text == "Canberra." and completion.cost_usd and completion.cost_usd > 0
    events = [e async for e in gateway.stream(QUESTION)]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Canberra."
    assert isinstance(events[-1], StreamEnd)
    stats = await ActorEndpoint(config).stats()  # both paths count at the one authority
    assert stats.succeeded >= 2 and stats.cost_usd >= 2 * completion.cost_usd


@pytest.mark.parametrize("relay", [False, True], ids=["leased", "relayed"])
async def test_errors_cross_the_actor_boundary_typed(sim: SimServer, relay: bool) -> None:
    with pytest.raises(UnknownModelError):
        await actor_gateway(sim_endpoint(sim, "no-such-model"), relay=relay).complete(QUESTION)
    sim.inject("sim-honest", FaultKind.MALFORMED_TOOL_ARGS)
    request = ModelRequest(messages=QUESTION.messages, tools=(ToolSpec(name="t"),), tool_choice="required")
    with pytest.raises(MalformedToolArgumentsError) as caught:
        await actor_gateway(sim_endpoint(sim, "sim-honest", "gemini"), relay=relay).complete(request)
    assert caught.value.model == "gemini:sim-honest"


async def test_one_actor_per_endpoint_config(sim: SimServer) -> None:
    config = sim_endpoint(sim, "sim-honest", "openai")
    first, second = ActorEndpoint(config), ActorEndpoint(config)
    assert first.handle._actor_id == second.handle._actor_id
    other = ActorEndpoint(config.model_copy(update={"timeout_s": 5.0}))
    assert other.handle._actor_id != first.handle._actor_id  # different policy, different actor
    before = (await first.stats()).succeeded
    await first.complete(QUESTION)
    await second.complete(QUESTION)
    assert (await first.stats()).succeeded == before + 2


async def test_breaker_in_the_actor_lets_exactly_one_trial_through(sim: SimServer) -> None:
    config = sim_endpoint(sim, "sim-honest-breaker", retry=RetryPolicy(max_attempts=1),
                          breaker=BreakerPolicy(failure_threshold=2, cooldown_s=0.5))
    endpoint = ActorEndpoint(config)
    sim.inject("sim-honest-breaker", FaultKind.SERVER_ERROR, times=2)
    for _ in range(2):
        with pytest.raises(ProviderServerError):
            await endpoint.complete(QUESTION)
    with pytest.raises(CircuitOpenError):
        await endpoint.complete(QUESTION)
    assert (await endpoint.stats()).breaker.state == "open"
    await asyncio.sleep(0.55)
    sim.inject("sim-honest-breaker", Fault(kind=FaultKind.TIMEOUT, delay_s=0.5))  # a slow trial
    results = await asyncio.gather(*(endpoint.complete(QUESTION) for _ in range(50)), return_exceptions=True)
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert sum(isinstance(r, CircuitOpenError) for r in results) == 49
    assert len(sim.requests("sim-honest-breaker")) == 3
    assert (await endpoint.stats()).breaker.state == "closed"


@ray.remote(num_cpus=0)
class SessionWorker:
    """Stands in for an agent session in its own worker process."""

    def __init__(self, config: EndpointConfig, shared: bool) -> None:
        make = ActorEndpoint if shared else ModelEndpoint
        self.gateway = Gateway(EndpointCache(lambda _: make(config)), [config.ref.name])

    async def warm(self) -> None:
        await self.gateway.complete(QUESTION)  # imports the SDK, opens the connection

    async def burst(self, calls: int) -> int:
        await asyncio.gather(*(self.gateway.complete(QUESTION) for _ in range(calls)))
        return os.getpid()


async def _combined_rate(sim: SimServer, model: str, shared: bool) -> tuple[float, set[int]]:
    config = sim_endpoint(sim, model, rate_limit=RateLimitPolicy(requests_per_s=20, burst=1))
    workers = [SessionWorker.remote(config, shared) for _ in range(2)]
    await asyncio.gather(*(w.warm.remote() for w in workers))  # so that both bursts overlap
    sim.reset()
    pids = set(await asyncio.gather(*(w.burst.remote(15) for w in workers)))
    arrivals = sorted(r.at for r in sim.requests(model))
    for worker in workers:
        ray.kill(worker)
    assert len(arrivals) == 30
    return (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]), pids


async def test_sessions_in_different_workers_share_one_rate_limit(sim: SimServer) -> None:
    rate, pids = await _combined_rate(sim, "sim-honest-shared", shared=True)
    assert len(pids) == 2 and os.getpid() not in pids
    assert rate <= 20 * 1.1, f"combined {rate:.1f} req/s through one ProviderActor, bucket is 20/s"
    # Baseline in the same run: a limiter per process lets the two sessions add up.
    unshared_rate, _ = await _combined_rate(sim, "sim-honest-unshared", shared=False)
    assert unshared_rate > 20 * 1.5, f"unshared limiters gave only {unshared_rate:.1f} req/s"


async def test_a_killed_provider_actor_is_restarted(sim: SimServer) -> None:
    config = sim_endpoint(sim, "sim-honest-restart")
    endpoint = ActorEndpoint(config)
    await endpoint.complete(QUESTION)
    assert (await endpoint.stats()).succeeded == 1
    ray.kill(provider_actor(config), no_restart=False)
    for _ in range(100):
        try:
            if (await endpoint.stats()).succeeded == 0:  # the restarted actor starts from its constructor
                break
        except ProviderConnectionError:  # Ray's ActorUnavailableError while it restarts, typed
            pass
        await asyncio.sleep(0.1)
    else:
        pytest.fail("the provider actor did not come back")
    assert (await endpoint.complete(QUESTION)).text == "Canberra."
