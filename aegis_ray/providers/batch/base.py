"""What every provider's batch client shares: the items sent, a batch's status, each item's outcome,
the client protocol, and pricing an answer at the batch price.

A batch client submits requests (each under a custom id) in one batch and returns the provider's
batch id; `status` says whether the batch has ended; `results` gives one `ItemOutcome` per custom id
submitted, in the order given: a `Completion` charged at the model's batch price, or the error that
request failed with alone (an item the provider returned nothing for is a failure too), so failed
items can be retried online or batched again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from pydantic import Field

from aegis_ray.errors import ProviderError, ProviderTimeoutError
from aegis_ray.providers.adapters.base import status_error
from aegis_ray.providers.endpoint_config import EndpointConfig
from aegis_ray.providers.pricing import batch_price, cost_usd
from aegis_ray.types import Completion, Frozen, ModelRequest

CUSTOM_ID = r"^[A-Za-z0-9_-]{1,64}$"
"""What every provider accepts as a custom id (Anthropic's rule is the strictest)."""


class BatchItem(Frozen):
    custom_id: str = Field(pattern=CUSTOM_ID)
    request: ModelRequest


class BatchStatus(Frozen):
    batch_id: str
    state: str = Field(description="The provider's own word: in_progress, completed, ended, JOB_STATE_RUNNING...")
    ended: bool
    total: int | None = None
    succeeded: int | None = None
    failed: int | None = None
    seconds: float | None = Field(default=None, description="From creation to its end, once ended.")


class ItemOutcome(Frozen):
    custom_id: str
    completion: Completion | None = None
    status: int | None = Field(default=None, description="The HTTP status a failed request got, if it had one.")
    error: str | None = Field(default=None, description="`ErrorType: message`, when the request failed.")

    @property
    def ok(self) -> bool:
        return self.completion is not None


class BatchClient(Protocol):
    config: EndpointConfig

    async def submit(self, items: Sequence[BatchItem]) -> str: ...
    async def status(self, batch_id: str) -> BatchStatus: ...
    async def results(self, batch_id: str, custom_ids: Sequence[str]) -> list[ItemOutcome]: ...
    async def aclose(self) -> None: ...


def priced(config: EndpointConfig, completion: Completion, seconds: float | None) -> Completion:
    """A batch's answer charged at its model's batch price, its latency the batch's turnaround."""
    cost = cost_usd(batch_price(config.price(completion.response_model)), completion.usage)
    return completion.model_copy(update={"cost_usd": cost, "latency_s": seconds or 0.0,
                                         "simulated": config.ref.simulated})


def failure(custom_id: str, status: int | None, message: str, model: str) -> ItemOutcome:
    """A request that failed inside a batch, typed as the same call online would have been."""
    error: ProviderError = (status_error(status, message, None, model) if status is not None
                            else ProviderError(f"{model}: {message}", model=model))
    return ItemOutcome(custom_id=custom_id, status=status, error=f"{type(error).__name__}: {error.message}")


def in_order(custom_ids: Sequence[str], found: dict[str, ItemOutcome], model: str) -> list[ItemOutcome]:
    """One outcome per id, in the order given; an id the provider returned nothing for is a failure."""
    return [found.get(i) or failure(i, None, "the batch returned no result for this request", model)
            for i in custom_ids]


async def wait_until_ended(client: BatchClient, batch_id: str, *, poll_s: float = 30.0, timeout_s: float | None = None,
                           on_status: Callable[[BatchStatus], None] | None = None) -> BatchStatus:
    """Poll `batch_id` every `poll_s` (each status to `on_status`) until it ends; past `timeout_s` a
    `ProviderTimeoutError`."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        status = await client.status(batch_id)
        if on_status is not None:
            on_status(status)
        if status.ended:
            return status
        if deadline is not None and time.monotonic() >= deadline:
            raise ProviderTimeoutError(f"batch {batch_id} of {client.config.ref.name} has not ended after "
                                       f"{timeout_s:g} s ({status.state})", model=client.config.ref.name)
        await asyncio.sleep(poll_s)
