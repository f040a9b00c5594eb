"""Cost in USD from a price table, charged at the price of the model that actually answered (at its
batch price for an answer from a provider's batch API)."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources

from aegis_ray.config import Price
from aegis_ray.types import Usage


@cache
def shipped_prices() -> dict[str, Price]:
    text = resources.files("aegis_ray.providers").joinpath("data/prices.toml").read_text(encoding="utf-8")
    return {name: Price.model_validate(row) for name, row in tomllib.loads(text).items()}


def price_for(model: str, overrides: Mapping[str, Price] | None = None) -> Price | None:
    """Exact name first, then the longest listed prefix; overrides win over the shipped table."""
    table = {**shipped_prices(), **(overrides or {})}
    if model in table:
        return table[model]
    prefixes = [name for name in table if model.startswith(name)]
    return table[max(prefixes, key=len)] if prefixes else None


def cost_usd(price: Price | None, usage: Usage) -> float | None:
    if price is None:
        return None
    return (usage.input_tokens * price.input_per_mtok + usage.output_tokens * price.output_per_mtok) / 1e6


BATCH_DISCOUNT = 0.5
"""What OpenAI's Batch API, Anthropic's Message Batches and Gemini's batch mode charge, as a share of the
online price, where a price row states no batch price of its own."""


def batch_price(price: Price | None) -> Price | None:
    """`price` at its batch rates: the row's own `batch_*_per_mtok`, else `BATCH_DISCOUNT` of the online rates."""
    if price is None:
        return None
    batch_in, batch_out = price.batch_input_per_mtok, price.batch_output_per_mtok
    return Price(input_per_mtok=price.input_per_mtok * BATCH_DISCOUNT if batch_in is None else batch_in,
                 output_per_mtok=price.output_per_mtok * BATCH_DISCOUNT if batch_out is None else batch_out)
