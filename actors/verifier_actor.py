"""`VerifierActor`s: the pool that verification fans out over.

Each actor holds a gateway over the cluster's `ProviderActor`s (so rate limits and breakers stay
shared) and serves two units of work: one model call (`complete`: best-of-N candidates, ensemble
votes and entailment checks each take one, so N of them run at once across the pool), and one
whole verification (`verify`: batch evaluation fans questions out across the pool).
`VerifierPool` speaks the engine's `Models` protocol, so every method runs unchanged on it.

The pool's actors are pinned to the cluster's work nodes in turn (`actors.placement`), so the N
calls of a best-of-N or an ensemble spread over the nodes; `calls_by_node` counts where each call
ran. An actor lost with its node is replaced by one on another node, and the call tried once more.

Budgets: a pool made with a `Governor` (`Governor.of(settings)`; None: no limit is configured)
gates every model call its actors make, through the store every process shares, exactly as any
other call is (`spend_gate`: the worst case held, then settled). The tenant travels with each call:
`pool.for_tenant(tenant)` is a view of the same actors whose calls count against `tenant`'s
limits (the pool itself: the global limits only), so one pool serves every tenant (a Serve
replica's). A refused call raises `BudgetExhaustedError`, is audited, and is never sent.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
from collections import Counter
from collections.abc import Mapping, Sequence

import ray
from ray.exceptions import RayActorError

from actors.placement import NodeRing, claim_endpoints, on_node, this_node
from actors.registry import ActorEndpoint, actor_errors
from aegis_ray.control.budget import GovernedProcess, Governor
from aegis_ray.providers.endpoint_config import EndpointConfig
from aegis_ray.providers.gateway import EndpointCache, Gateway
from aegis_ray.telemetry import flush_telemetry
from aegis_ray.tracing import TraceCarrier, inject, remote_span
from aegis_ray.types import Completion, ModelRequest
from aegis_ray.verify import Verification, VerificationPolicy, verify

MAX_CONCURRENT_CALLS = 256


@ray.remote(num_cpus=0, max_concurrency=MAX_CONCURRENT_CALLS, max_restarts=-1, max_task_retries=0)
class VerifierActor:
    def __init__(self, endpoints: Mapping[str, EndpointConfig], governor: Governor | None = None) -> None:
        self._endpoints = dict(endpoints)
        self._gateway = Gateway(EndpointCache(lambda model: ActorEndpoint(self._endpoints[model.name])),
                                list(self._endpoints)[:1])
        self._governed = GovernedProcess(governor)

    async def _gated(self, tenant: str | None) -> Gateway:
        """The gateway, every call within the cost governor's limits for `tenant`."""
        return self._gateway.gated(await self._governed.gate(tenant))

    async def complete(self, request: bytes, models: list[str], tenant: str | None = None,
                       trace: TraceCarrier | None = None) -> tuple[bytes, str]:
        """One model call for `tenant`: the completion (JSON) and the node it ran on."""
        with remote_span(trace, "verifier complete"):
            gateway = await self._gated(tenant)
            completion = await gateway.complete(ModelRequest.model_validate_json(request), models)
        return completion.model_dump_json().encode(), this_node()

    async def verify(self, policy: bytes, question: str, author: str, answer: str | None, tenant: str | None = None,
                     trace: TraceCarrier | None = None) -> tuple[bytes, str]:
        """One whole verification for `tenant`: the `Verification` (JSON) and the node it ran on."""
        with remote_span(trace, "verifier verify"):
            checked = await verify(VerificationPolicy.model_validate_json(policy), question,
                                   await self._gated(tenant), author, answer=answer)
        if trace is not None:
            await asyncio.to_thread(flush_telemetry)
        return checked.model_dump_json().encode(), this_node()


class VerifierPool:
    """Round-robin over `size` VerifierActors that know `endpoints` (every model a policy names),
    pinned to the cluster's work nodes in turn; with `governor`, every call within its limits."""

    tenant: str | None = None

    def __init__(self, endpoints: Mapping[str, EndpointConfig], size: int = 2,
                 governor: Governor | None = None) -> None:
        claim_endpoints(endpoints.values())
        self._endpoints = dict(endpoints)
        self._governor = governor
        nodes = NodeRing()
        self.nodes = [nodes.next_node() for _ in range(size)]
        self.actors = [self._start(node) for node in self.nodes]
        self._turns = itertools.count()
        self.calls_by_node: Counter[str] = Counter()

    def for_tenant(self, tenant: str | None) -> VerifierPool:
        """The same actors (and turns, and counts), each call counted against `tenant`'s limits."""
        view = copy.copy(self)
        view.tenant = tenant
        return view

    def _start(self, node: str) -> ray.actor.ActorHandle:
        return VerifierActor.options(scheduling_strategy=on_node(node, soft=False)).remote(self._endpoints,
                                                                                            self._governor)

    async def _call(self, method: str, *args: object) -> bytes:
        """`method` on the next actor: its reply, with the node it ran on counted. An actor that is
        gone (its node died) is replaced on another node, and the call made there."""
        index = next(self._turns) % len(self.actors)
        with actor_errors("verifier pool"):
            try:
                reply, node = await getattr(self.actors[index], method).remote(*args, self.tenant, inject())
            except RayActorError:
                self.nodes[index] = NodeRing(avoid=[self.nodes[index]]).next_node()
                self.actors[index] = self._start(self.nodes[index])
                reply, node = await getattr(self.actors[index], method).remote(*args, self.tenant, inject())
        self.calls_by_node[node] += 1
        return bytes(reply)

    async def complete(self, request: ModelRequest, models: Sequence[str] | None = None) -> Completion:
        reply = await self._call("complete", request.model_dump_json().encode(), list(models or ()))
        return Completion.model_validate_json(reply)

    async def verify(self, policy: VerificationPolicy, question: str, author: str,
                     answer: str | None = None) -> Verification:
        reply = await self._call("verify", policy.model_dump_json().encode(), question, author, answer)
        return Verification.model_validate_json(reply)
