"""Anthropic's Message Batches through the official `anthropic` SDK: `messages.batches.create` with
`{custom_id, params}` requests, `retrieve` until `processing_status` is `ended`, then `results`
streamed back. Params and answers are the messages adapter's own (`AnthropicAdapter`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aegis_ray.providers.adapters.anthropic import AnthropicAdapter
from aegis_ray.providers.adapters.base import translated_errors
from aegis_ray.providers.batch.base import BatchItem, BatchStatus, ItemOutcome, failure, in_order, priced
from aegis_ray.providers.endpoint_config import EndpointConfig

_ERROR_STATUS = {"invalid_request_error": 400, "authentication_error": 401, "permission_error": 403,
                 "not_found_error": 404, "request_too_large": 413, "rate_limit_error": 429, "api_error": 500,
                 "overloaded_error": 529}


class AnthropicBatchClient(AnthropicAdapter):
    def __init__(self, config: EndpointConfig) -> None:
        super().__init__(config)
        self.config = config

    async def submit(self, items: Sequence[BatchItem]) -> str:
        requests: list[Any] = [{"custom_id": item.custom_id, "params": self._params(item.request)} for item in items]
        with translated_errors(self._ref.name, self._classify):
            batch = await self._client.messages.batches.create(requests=requests)
        return batch.id

    async def _batch(self, batch_id: str) -> Any:
        with translated_errors(self._ref.name, self._classify):
            return await self._client.messages.batches.retrieve(batch_id)

    async def status(self, batch_id: str) -> BatchStatus:
        batch = await self._batch(batch_id)
        counts = batch.request_counts
        failed = counts.errored + counts.canceled + counts.expired
        return BatchStatus(batch_id=batch_id, state=batch.processing_status, ended=batch.processing_status == "ended",
                           total=counts.processing + counts.succeeded + failed, succeeded=counts.succeeded,
                           failed=failed, seconds=_seconds(batch))

    async def results(self, batch_id: str, custom_ids: Sequence[str]) -> list[ItemOutcome]:
        seconds = _seconds(await self._batch(batch_id))
        found: dict[str, ItemOutcome] = {}
        with translated_errors(self._ref.name, self._classify):
            async for line in await self._client.messages.batches.results(batch_id):
                result = line.result
                if result.type == "succeeded":
                    completion = priced(self.config, self._completion(result.message), seconds)
                    found[line.custom_id] = ItemOutcome(custom_id=line.custom_id, completion=completion)
                elif result.type == "errored":
                    error = result.error.error
                    found[line.custom_id] = failure(line.custom_id, _ERROR_STATUS.get(error.type, 500), error.message,
                                                    self._ref.name)
                else:  # canceled, expired: never attempted
                    found[line.custom_id] = failure(line.custom_id, None, f"the request was {result.type}",
                                                    self._ref.name)
        return in_order(custom_ids, found, self._ref.name)


def _seconds(batch: Any) -> float | None:
    return (batch.ended_at - batch.created_at).total_seconds() if batch.ended_at else None
