"""Placement on purpose: which node each unit of Aegis work runs on, on a cluster of several.

Left to Ray, a zero-CPU task stays on the node that submits it (and the worker leased for one task
takes the next task of the same shape), so every plan step would run where the `Orchestrator` is.
Aegis places its units of work itself: plan steps, `VerifierActor`s (best-of-N candidates and
ensemble votes) and factory workers go to the alive nodes that offer CPUs, in turn (`NodeRing`). A
node started with no CPUs (a head kept for the control plane, see `clusters/`) gets none of this work.

- Tasks (plan steps) get a *soft* `NodeAffinitySchedulingStrategy`: if the node has died by the time
  Ray schedules the task, or dies while it runs and Ray retries it, the task goes to another node.
- Actors get a *hard* one: Ray 2.60 does not hold an actor to a soft affinity (measured here: actors
  placed softly on three nodes in turn landed on one or two of them). A pinned actor does not move
  when its node dies, so what holds actors replaces them: a factory worker's jobs are reclaimed by
  the others when their leases expire, and a `VerifierPool` starts a new actor on an alive node.
- Sessions, which must come back on another node after their node dies, are left to Ray's `SPREAD`
  (`SESSION_PLACEMENT`) where their workspace is on storage every node sees.

An endpoint only one node can reach (a loopback URL) keeps its `ProviderActor` pinned hard to that
node (`actors.registry`): `claim_endpoints` makes the actors from the process that configured the
endpoints, before work spreads to nodes that could not reach them.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from actors.registry import provider_actor
from aegis_ray.providers.endpoint_config import EndpointConfig


def this_node() -> str:
    """The id of the node this process runs on."""
    return ray.get_runtime_context().get_node_id()


def head_node() -> str | None:
    """The id of the head node (the one with the GCS), if it is alive."""
    return next((node["NodeID"] for node in ray.nodes()
                 if node["Alive"] and "node:__internal_head__" in node["Resources"]), None)


def work_nodes() -> list[str]:
    """The alive nodes that offer CPUs (all alive nodes if none does), by id."""
    alive = [node for node in ray.nodes() if node["Alive"]]
    working = [node for node in alive if node["Resources"].get("CPU", 0) > 0]
    return sorted(node["NodeID"] for node in working or alive)


def on_node(node_id: str, *, soft: bool = True) -> NodeAffinitySchedulingStrategy:
    """Run on `node_id`; if `soft`, elsewhere when that node is gone."""
    return NodeAffinitySchedulingStrategy(node_id=node_id, soft=soft)


class NodeRing:
    """The work nodes in turn, from a random one (so small batches do not all start on the same
    node): `next()` is the placement of the next unit of work."""

    def __init__(self, nodes: Iterable[str] | None = None, *, avoid: Iterable[str] = ()) -> None:
        """`nodes`: these (default: the work nodes now), less those to `avoid` (unless none is left)."""
        every = list(nodes) if nodes is not None else work_nodes()
        self.nodes = [node for node in every if node not in set(avoid)] or every
        if not self.nodes:
            raise RuntimeError("the cluster has no alive node")
        self._turn = random.randrange(len(self.nodes))

    def next_node(self) -> str:
        node = self.nodes[self._turn % len(self.nodes)]
        self._turn += 1
        return node

    def next(self, *, soft: bool = True) -> NodeAffinitySchedulingStrategy:
        """The next placement: soft for a task, hard (`soft=False`) for an actor (see above)."""
        return on_node(self.next_node(), soft=soft)


SESSION_PLACEMENT = "SPREAD"
"""How a session whose workspace every node can reach is placed: spread, and restartable anywhere."""


def claim_endpoints(endpoints: Iterable[EndpointConfig]) -> None:
    """Make the endpoints' `ProviderActor`s from this process (the one that configured them), so a
    loopback endpoint's actor is pinned to the node that can reach it, not to whichever node first
    used it."""
    for config in endpoints:
        provider_actor(config)
