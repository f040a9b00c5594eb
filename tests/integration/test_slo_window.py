"""The cluster-wide call window a `ProviderActor` keeps, read back as `aegis status` and Serve do."""

from __future__ import annotations

import pytest

from actors.registry import ActorEndpoint, provider_windows
from aegis_ray.config import SloSettings
from aegis_ray.control.watch import watch
from aegis_ray.providers import EndpointCache, Gateway
from aegis_ray.sim import SimServer
from aegis_ray.types import Message, ModelRequest
from tests.helpers import sim_endpoint

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("ray_cluster")]

QUESTION = ModelRequest(messages=(Message.user("What is the capital of Australia?"),))


@pytest.mark.parametrize("relay", [False, True], ids=["leased", "relayed"])
async def test_calls_from_a_process_reach_the_actors_window(sim: SimServer, relay: bool) -> None:
    config = sim_endpoint(sim, f"sim-honest-window-{relay}")
    endpoints = EndpointCache(lambda model: ActorEndpoint(config, relay=relay))
    gateway = Gateway(endpoints, [config.ref])
    for _ in range(12):
        await gateway.complete(QUESTION)
    seen = (await ActorEndpoint(config).window()).last(60)
    assert seen.calls >= 12 and seen.errors == 0 and seen.cost_usd > 0
    (watched,) = await watch(endpoints.endpoints, SloSettings())
    assert watched.model == config.ref.name and watched.slo.status == "ok" and watched.slo.calls >= 12
    assert provider_windows()[config.ref.name].last(60).calls >= 12
    await endpoints.aclose()
