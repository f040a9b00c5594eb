"""`VerifierActor`s: the pool that verification fans out over.

Each actor holds a gateway over the cluster's `ProviderActor`s (so rate limits and breakers stay
shared) and serves two units of work: one model call (`complete`: best-of-N candidates, ensemble
votes and entailment checks each take one, so N of them run at once across the pool), and one
whole verification (`verify`: batch evaluation fans questions out across the pool).
`VerifierPool` speaks the engine's `Models` protocol, so every method runs unchanged on it.

The pool's actors are pinned to the cluster's work nodes in turn (`actors.placement`), so the N
calls of a best-of-N or an ensemble spread over the nodes; `calls_by_node` counts where each call
ran. An actor lost with its node is replaced by one on another node, and the call tried once more.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence

import ray
from ray.exceptions import RayActorError

from actors.placement import NodeRing, claim_endpoints, on_node, this_node
from actors.registry import ActorEndpoint, actor_errors
from aegis_ray.providers.endpoint_config import EndpointConfig
from aegis_ray.providers.gateway import EndpointCache, Gateway
from aegis_ray.telemetry import flush_telemetry
from aegis_ray.tracing import TraceCarrier, inject, remote_span
from aegis_ray.types import Completion, ModelRequest
from aegis_ray.verify import Verification, VerificationPolicy, verify

MAX_CONCURRENT_CALLS = 256


@ray.remote(num_cpus=0, max_concurrency=MAX_CONCURRENT_CALLS, max_restarts=-1, max_task_retries=0)
class VerifierActor:
    def __init__(self, endpoints: Mapping[str, EndpointConfig]) -> None:
        self._endpoints = dict(endpoints)
        self._gateway = Gateway(EndpointCache(lambda model: ActorEndpoint(self._endpoints[model.name])),
                                list(self._endpoints)[:1])

    async def complete(self, request: bytes, models: list[str], trace: TraceCarrier | None = None
                       ) -> tuple[bytes, str]:
        """One model call: the completion (JSON) and the node it ran on."""
        with remote_span(trace, "verifier complete"):
            completion = await self._gateway.complete(ModelRequest.model_validate_json(request), models)
        return completion.model_dump_json().encode(), this_node()

    async def verify(self, policy: bytes, question: str, author: str, answer: str | None,
                     trace: TraceCarrier | None = None) -> tuple[bytes, str]:
        """One whole verification: the `Verification` (JSON) and the node it ran on."""
        with remote_span(trace, "verifier verify"):
            checked = await verify(VerificationPolicy.model_validate_json(policy), question, self._gateway, author,
                                   answer=answer)
        if trace is not None:
            await asyncio.to_thread(flush_telemetry)
        return checked.model_dump_json().encode(), this_node()


class VerifierPool:
    """Round-robin over `size` VerifierActors that know `endpoints` (every model a policy names),
    pinned to the cluster's work nodes in turn."""

    def __init__(self, endpoints: Mapping[str, EndpointConfig], size: int = 2) -> None:
        claim_endpoints(endpoints.values())
        self._endpoints = dict(endpoints)
        nodes = NodeRing()
        self.nodes = [nodes.next_node() for _ in range(size)]
        self.actors = [self._start(node) for node in self.nodes]
        self._turn = 0
        self.calls_by_node: Counter[str] = Counter()

    def _start(self, node: str) -> ray.actor.ActorHandle:
        return VerifierActor.options(scheduling_strategy=on_node(node, soft=False)).remote(self._endpoints)

    async def _call(self, method: str, *args: object) -> bytes:
        """`method` on the next actor: its reply, with the node it ran on counted. An actor that is
        gone (its node died) is replaced on another node, and the call made there."""
        index = self._turn % len(self.actors)
        self._turn += 1
        with actor_errors("verifier pool"):
            try:
                reply, node = await getattr(self.actors[index], method).remote(*args, inject())
            except RayActorError:
                self.nodes[index] = NodeRing(avoid=[self.nodes[index]]).next_node()
                self.actors[index] = self._start(self.nodes[index])
                reply, node = await getattr(self.actors[index], method).remote(*args, inject())
        self.calls_by_node[node] += 1
        return bytes(reply)

    async def complete(self, request: ModelRequest, models: Sequence[str] | None = None) -> Completion:
        reply = await self._call("complete", request.model_dump_json().encode(), list(models or ()))
        return Completion.model_validate_json(reply)

    async def verify(self, policy: VerificationPolicy, question: str, author: str,
                     answer: str | None = None) -> Verification:
        reply = await self._call("verify", policy.model_dump_json().encode(), question, author, answer)
        return Verification.model_validate_json(reply)
