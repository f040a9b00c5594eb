"""`VerifierActor`s: the pool that verification fans out over.

Each actor holds a gateway over the cluster's `ProviderActor`s (so rate limits and breakers stay
shared) and serves two units of work: one model call (`complete`: best-of-N candidates, ensemble
votes and entailment checks each take one, so N of them run at once across the pool), and one
whole verification (`verify`: batch evaluation fans questions out across the pool).
`VerifierPool` speaks the engine's `Models` protocol, so every method runs unchanged on it.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import ray

from actors.registry import ActorEndpoint, actor_errors
from aegis_ray.providers.endpoint_config import EndpointConfig
from aegis_ray.providers.gateway import EndpointCache, Gateway
from aegis_ray.types import Completion, ModelRequest
from aegis_ray.verify import Verification, VerificationPolicy, verify

MAX_CONCURRENT_CALLS = 256


@ray.remote(num_cpus=0, max_concurrency=MAX_CONCURRENT_CALLS, max_restarts=-1, max_task_retries=0)
class VerifierActor:
    def __init__(self, endpoints: Mapping[str, EndpointConfig]) -> None:
        self._endpoints = dict(endpoints)
        self._gateway = Gateway(EndpointCache(lambda model: ActorEndpoint(self._endpoints[model.name])),
                                list(self._endpoints)[:1])

    async def complete(self, request: bytes, models: list[str]) -> bytes:
        completion = await self._gateway.complete(ModelRequest.model_validate_json(request), models)
        return completion.model_dump_json().encode()

    async def verify(self, policy: bytes, question: str, author: str, answer: str | None) -> bytes:
        checked = await verify(VerificationPolicy.model_validate_json(policy), question, self._gateway, author,
                               answer=answer)
        return checked.model_dump_json().encode()


class VerifierPool:
    """Round-robin over `size` VerifierActors that know `endpoints` (every model a policy names)."""

    def __init__(self, endpoints: Mapping[str, EndpointConfig], size: int = 2) -> None:
        self.actors = [VerifierActor.remote(dict(endpoints)) for _ in range(size)]
        self._next = itertools.cycle(self.actors)

    async def complete(self, request: ModelRequest, models: Sequence[str] | None = None) -> Completion:
        with actor_errors("verifier pool"):
            reply = await next(self._next).complete.remote(request.model_dump_json().encode(), list(models or ()))
        return Completion.model_validate_json(reply)

    async def verify(self, policy: VerificationPolicy, question: str, author: str,
                     answer: str | None = None) -> Verification:
        with actor_errors("verifier pool"):
            reply = await next(self._next).verify.remote(policy.model_dump_json().encode(), question, author, answer)
        return Verification.model_validate_json(reply)
