"""Everything needed to reach and govern one model endpoint, resolved from settings."""

from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from aegis_ray.config import BreakerPolicy, LeasePolicy, Price, RateLimitPolicy, RetryPolicy, Settings
from aegis_ray.errors import ConfigError
from aegis_ray.model_ref import ModelRef
from aegis_ray.providers.pricing import price_for

_NO_KEY_NEEDED = "not-needed"


class EndpointConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    ref: ModelRef
    api_key: SecretStr
    base_url: str | None = Field(default=None, description="None = the SDK's public default.")
    timeout_s: float = 60.0
    retry: RetryPolicy = RetryPolicy()
    breaker: BreakerPolicy = BreakerPolicy()
    rate_limit: RateLimitPolicy = RateLimitPolicy()
    lease: LeasePolicy = LeasePolicy()
    prices: dict[str, Price] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        """A short hash of everything here (credentials and policies included): two configs share
        an endpoint actor only if they would behave identically."""
        state = self.model_dump(mode="json") | {"api_key": self.api_key.get_secret_value()}
        return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]

    def price(self, response_model: str) -> Price | None:
        return price_for(response_model, self.prices) or price_for(self.ref.model, self.prices)


def resolve_endpoint(settings: Settings, ref: ModelRef, sim_url: str | None = None) -> EndpointConfig:
    """Where `ref` lives and with which key; a missing key or sim URL is a clear `ConfigError`."""
    common = dict(
        ref=ref, timeout_s=settings.request_timeout_s, retry=settings.retry, breaker=settings.breaker,
        rate_limit=settings.rate_limit, lease=settings.lease, prices=settings.prices,
    )
    if ref.provider == "sim":
        url = sim_url or settings.sim_url
        if not url:
            raise ConfigError(f"no simulated model server for {ref}",
                              hint="start one with `aegis sim serve` and set AEGIS_SIM_URL")
        return EndpointConfig(api_key=SecretStr("sim"), base_url=f"{url.rstrip('/')}/v1", **common)
    if ref.provider == "openai-compatible":
        key = settings.credentials("openai").api_key or SecretStr(_NO_KEY_NEEDED)
        return EndpointConfig(api_key=key, base_url=ref.base_url, **common)
    creds = settings.credentials(ref.provider)
    if creds.api_key is None:
        family = "openai" if ref.provider.startswith("openai") else ref.provider
        variable = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "gemini": "GEMINI_API_KEY"}[family]
        raise ConfigError(f"no API key for {ref}", hint=f"set {variable} (or AEGIS_{family.upper()}__API_KEY)")
    return EndpointConfig(api_key=creds.api_key, base_url=creds.base_url, **common)
