"""The red team against a simulator URL."""

from __future__ import annotations

from aegis_ray.config import load_settings
from aegis_ray.security.redteam.runner import Report, red_team


async def run_red_team(sim_url: str, limit: int | None = None, secret: str | None = None) -> Report:
    """The red team with in-process endpoints on the simulated server at `sim_url`."""
    from aegis_ray.providers import EndpointCache, ModelEndpoint
    from aegis_ray.runner import endpoint_configurer

    configure = endpoint_configurer(load_settings(), sim_url)
    endpoints = EndpointCache(lambda model: ModelEndpoint(configure(model)))
    try:
        return await red_team(endpoints, limit=limit, secret=secret)
    finally:
        await endpoints.aclose()
