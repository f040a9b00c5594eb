"""Gemini's batch mode through the official `google-genai` SDK: `batches.create(model, src=[inlined
requests])` and `batches.get(name)` until the job is done; the inlined responses come back in request
order. Contents, config and answers are the Gemini adapter's own (`GeminiAdapter`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aegis_ray.providers.adapters.base import translated_errors
from aegis_ray.providers.adapters.gemini import GeminiAdapter
from aegis_ray.providers.batch.base import BatchItem, BatchStatus, ItemOutcome, failure, in_order, priced
from aegis_ray.providers.endpoint_config import EndpointConfig


class GeminiBatchClient(GeminiAdapter):
    def __init__(self, config: EndpointConfig) -> None:
        super().__init__(config)
        self.config = config

    async def submit(self, items: Sequence[BatchItem]) -> str:
        t = self._types
        src = [t.InlinedRequest(contents=self._contents(item.request), config=self._config(item.request),
                                metadata={"key": item.custom_id}) for item in items]
        with translated_errors(self._ref.name, self._classify):
            job = await self._client.aio.batches.create(model=self._ref.model, src=src,
                                                        config=t.CreateBatchJobConfig(display_name="aegis"))
        return str(job.name)

    async def _job(self, batch_id: str) -> Any:
        with translated_errors(self._ref.name, self._classify):
            return await self._client.aio.batches.get(name=batch_id)

    async def status(self, batch_id: str) -> BatchStatus:
        job = await self._job(batch_id)
        stats = job.completion_stats
        state = job.state.value if job.state is not None else "JOB_STATE_UNSPECIFIED"
        return BatchStatus(batch_id=batch_id, state=state, ended=job.done, seconds=_seconds(job),
                           succeeded=getattr(stats, "successful_count", None),
                           failed=getattr(stats, "failed_count", None))

    async def results(self, batch_id: str, custom_ids: Sequence[str]) -> list[ItemOutcome]:
        job = await self._job(batch_id)
        seconds = _seconds(job)
        inlined = (job.dest.inlined_responses if job.dest else None) or []
        found: dict[str, ItemOutcome] = {}
        for position, item in enumerate(inlined):
            # Responses come in request order; the key is used when the service echoes it.
            key = (item.metadata or {}).get("key") or (custom_ids[position] if position < len(custom_ids) else None)
            if key is None:
                continue
            if item.error is not None or item.response is None:
                code = item.error.code if item.error is not None else None
                message = (item.error.message if item.error is not None else None) or "no response"
                found[key] = failure(key, code, message, self._ref.name)
                continue
            with translated_errors(self._ref.name, self._classify):
                completion = priced(self.config, self._whole(item.response), seconds)
            found[key] = ItemOutcome(custom_id=key, completion=completion)
        return in_order(custom_ids, found, self._ref.name)


def _seconds(job: Any) -> float | None:
    if job.end_time is None or job.create_time is None:
        return None
    return (job.end_time - job.create_time).total_seconds()
