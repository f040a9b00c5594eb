"""Provider batch APIs (about half the online price), one client per provider over its official SDK:
OpenAI's Batch API, Anthropic's Message Batches, Gemini's batch mode. See `base.py` for what they share.

`batch_client(config)` gives the client for an endpoint; a model whose provider has no batch API
(`openai-compatible` servers, the responses API) is refused with a hint. The simulator (`sim:`
models, and any provider pointed at it) implements all three.
"""

from __future__ import annotations

import importlib

from aegis_ray.errors import BadInputError
from aegis_ray.model_ref import ModelRef
from aegis_ray.providers.batch.base import (
    BatchClient,
    BatchItem,
    BatchStatus,
    ItemOutcome,
    wait_until_ended,
)
from aegis_ray.providers.endpoint_config import EndpointConfig

_CLIENTS = {  # provider: (module here, client class)
    "openai": ("openai", "OpenAIBatchClient"),
    "sim": ("openai", "OpenAIBatchClient"),
    "anthropic": ("anthropic", "AnthropicBatchClient"),
    "gemini": ("gemini", "GeminiBatchClient"),
}


def check_batchable(ref: ModelRef) -> None:
    """Refuse, with a hint, a model whose provider has no batch API here."""
    if ref.provider not in _CLIENTS:
        raise BadInputError(f"{ref} has no batch API (batches go to openai:, anthropic:, gemini: or sim: models)",
                            hint="drop --batch, or put a model of one of those providers first in the chain")


def batch_client(config: EndpointConfig) -> BatchClient:
    """The batch client of `config`'s provider (close it with `aclose`)."""
    check_batchable(config.ref)
    module, name = _CLIENTS[config.ref.provider]
    client: BatchClient = getattr(importlib.import_module(f"{__name__}.{module}"), name)(config)
    return client


__all__ = ["BatchClient", "BatchItem", "BatchStatus", "ItemOutcome", "batch_client", "check_batchable",
           "wait_until_ended"]
