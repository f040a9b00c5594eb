"""OpenAI's Batch API through the official `openai` SDK: the requests uploaded as a JSONL file
(`files.create`, purpose `batch`), `batches.create` on `/v1/chat/completions`, `batches.retrieve`,
then the output and error files read back (`files.content`). Request bodies and answers are the chat
completions adapter's own (`OpenAIChatAdapter`), so a batch asks and reads exactly what a call does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from aegis_ray.providers.adapters.base import translated_errors
from aegis_ray.providers.adapters.openai_chat import OpenAIChatAdapter
from aegis_ray.providers.batch.base import BatchItem, BatchStatus, ItemOutcome, failure, in_order, priced
from aegis_ray.providers.endpoint_config import EndpointConfig

_ENDPOINT = "/v1/chat/completions"
_ENDED = ("completed", "failed", "expired", "cancelled")


class OpenAIBatchClient(OpenAIChatAdapter):
    def __init__(self, config: EndpointConfig) -> None:
        super().__init__(config)
        self.config = config

    async def submit(self, items: Sequence[BatchItem]) -> str:
        lines = "".join(json.dumps({"custom_id": item.custom_id, "method": "POST", "url": _ENDPOINT,
                                    "body": self._params(item.request)}) + "\n" for item in items)
        with translated_errors(self._ref.name, self._classify):
            upload = await self._client.files.create(file=("aegis-batch.jsonl", lines.encode()), purpose="batch")
            batch = await self._client.batches.create(input_file_id=upload.id, endpoint=_ENDPOINT,
                                                      completion_window="24h", metadata={"client": "aegis"})
        return batch.id

    async def _batch(self, batch_id: str) -> Any:
        with translated_errors(self._ref.name, self._classify):
            return await self._client.batches.retrieve(batch_id)

    async def status(self, batch_id: str) -> BatchStatus:
        batch = await self._batch(batch_id)
        counts = batch.request_counts
        ended_at = batch.completed_at or batch.failed_at or batch.expired_at or batch.cancelled_at
        return BatchStatus(batch_id=batch_id, state=batch.status, ended=batch.status in _ENDED,
                           total=counts.total if counts else None, succeeded=counts.completed if counts else None,
                           failed=counts.failed if counts else None,
                           seconds=ended_at - batch.created_at if ended_at else None)

    async def _lines(self, file_id: str | None) -> list[dict[str, Any]]:
        if not file_id:
            return []
        with translated_errors(self._ref.name, self._classify):
            content = await self._client.files.content(file_id)
        return [json.loads(line) for line in content.text.splitlines() if line.strip()]

    async def results(self, batch_id: str, custom_ids: Sequence[str]) -> list[ItemOutcome]:
        batch = await self._batch(batch_id)
        seconds = (batch.completed_at - batch.created_at) if batch.completed_at else None
        found: dict[str, ItemOutcome] = {}
        for line in [*await self._lines(batch.output_file_id), *await self._lines(batch.error_file_id)]:
            found[line["custom_id"]] = self._outcome(line, seconds)
        return in_order(custom_ids, found, self._ref.name)

    def _outcome(self, line: dict[str, Any], seconds: float | None) -> ItemOutcome:
        import openai

        custom_id, response, error = line["custom_id"], line.get("response"), line.get("error")
        if response is None or response.get("status_code") != 200:
            status = response.get("status_code") if response else None
            detail = ((response or {}).get("body") or {}).get("error") or error or {}
            return failure(custom_id, status, detail.get("message") or json.dumps(detail), self._ref.name)
        with translated_errors(self._ref.name, self._classify):
            completion = self._completion(openai.types.chat.ChatCompletion.model_validate(response["body"]))
        return ItemOutcome(custom_id=custom_id, completion=priced(self.config, completion, seconds))
