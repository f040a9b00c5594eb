"""A team on the cluster: `RoleAgent` actors spread over the nodes, one per model chain the roles use
(roles on the same models share one), each calling its models on leases from the shared
`ProviderActor`s; the debate and the judge's decision are the engine's
(`aegis_ray.plan.team.debate`), run from the caller's process."""

from __future__ import annotations

from collections.abc import Sequence

import ray

from actors.placement import claim_endpoints
from actors.registry import ClusterModels
from aegis_ray.model_ref import ModelRef
from aegis_ray.plan.team import Role, TeamAnswer, debate
from aegis_ray.providers import EndpointConfig
from aegis_ray.types import Completion, ModelRequest


@ray.remote(num_cpus=0)
class RoleAgent:
    """One role of a team, answering its turns with its own model chain."""

    def __init__(self, endpoints: dict[str, EndpointConfig], chain: tuple[ModelRef, ...]) -> None:
        self._models = ClusterModels(lambda ref: endpoints[ref.name])
        self._chain = chain

    async def turn(self, request: ModelRequest) -> Completion:
        return await self._models.gateway(self._chain).complete(request)


async def run_team(task: str, roles: Sequence[tuple[Role, tuple[ModelRef, ...]]], judge: tuple[ModelRef, ...],
                   endpoints: dict[str, EndpointConfig], rounds: int = 2, *,
                   system_prompt: str | None = None) -> TeamAnswer:
    """Debate `task`, each role on the actor of its model chain, then `judge` decides."""
    claim_endpoints(endpoints.values())  # a loopback endpoint's actor stays on the node that reaches it
    agents = {chain: RoleAgent.options(scheduling_strategy="SPREAD").remote(endpoints, chain)
              for chain in dict.fromkeys(chain for _, chain in roles)}
    chains = {role.name: chain for role, chain in roles}

    async def run_role(role: Role, request: ModelRequest) -> Completion:
        return await agents[chains[role.name]].turn.remote(request)

    try:
        async with ClusterModels(lambda ref: endpoints[ref.name]) as models:
            return await debate(task, [role for role, _ in roles], run_role, models.gateway(judge), rounds=rounds,
                                system_prompt=system_prompt)
    finally:
        for agent in agents.values():
            ray.kill(agent)
