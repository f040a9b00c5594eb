"""A team on the cluster: `RoleAgent` actors spread over the nodes, one per model chain the roles use
(roles on the same models share one) and one for the judge's, each calling its models on leases
from the shared `ProviderActor`s; the debate and the judge's decision are the engine's
(`aegis_ray.plan.team.debate`), run from the caller's process, every model call on an agent.

Budgets: each agent gets the caller's `Governor` (`Governor.of(settings)`; None: no limit is
configured) and the tenant the team works for, opens the store every process shares and gates each
call of its role (or the judge's) with them (`Governor.gate`), as a `VerifierActor` does. A refused
call raises `BudgetExhaustedError`, is audited and never sent; the team stops with it."""

from __future__ import annotations

from collections.abc import Sequence

import ray

from actors.placement import claim_endpoints
from actors.registry import ClusterModels, actor_errors
from aegis_ray.control.budget import GovernedProcess, Governor
from aegis_ray.model_ref import ModelRef
from aegis_ray.plan.team import Role, TeamAnswer, debate
from aegis_ray.providers import EndpointConfig, Gateway
from aegis_ray.types import Completion, ModelRequest


@ray.remote(num_cpus=0)
class RoleAgent:
    """One role of a team (or its judge), answering its turns with its own model chain, within
    `governor`'s limits for `tenant`."""

    def __init__(self, endpoints: dict[str, EndpointConfig], chain: tuple[ModelRef, ...],
                 governor: Governor | None = None, tenant: str | None = None) -> None:
        self._models = ClusterModels(lambda ref: endpoints[ref.name])
        self._chain = chain
        self._governed, self._tenant = GovernedProcess(governor), tenant

    async def _gateway(self) -> Gateway:
        return self._models.gateway(self._chain).gated(await self._governed.gate(self._tenant))

    async def turn(self, request: ModelRequest) -> Completion:
        return await (await self._gateway()).complete(request)


class OnAgent:
    """A `RoleAgent`'s turns as a gateway's `complete` (the judge's), its errors the Aegis ones."""

    def __init__(self, agent: ray.actor.ActorHandle, name: str) -> None:
        self.agent, self.name = agent, name

    async def complete(self, request: ModelRequest) -> Completion:
        with actor_errors(self.name):
            return await self.agent.turn.remote(request)


async def run_team(task: str, roles: Sequence[tuple[Role, tuple[ModelRef, ...]]], judge: tuple[ModelRef, ...],
                   endpoints: dict[str, EndpointConfig], rounds: int = 2, *, system_prompt: str | None = None,
                   governor: Governor | None = None, tenant: str | None = None) -> TeamAnswer:
    """Debate `task`, each role on the agent of its model chain, then `judge` decides on its own;
    every call within `governor`'s limits for `tenant` (None: only the global ones)."""
    claim_endpoints(endpoints.values())  # a loopback endpoint's actor stays on the node that reaches it

    def start(chain: tuple[ModelRef, ...]) -> OnAgent:
        agent = RoleAgent.options(scheduling_strategy="SPREAD").remote(endpoints, chain, governor, tenant)
        return OnAgent(agent, chain[0].name)

    agents = {chain: start(chain) for chain in dict.fromkeys((*(chain for _, chain in roles), judge))}
    chains = {role.name: chain for role, chain in roles}

    async def run_role(role: Role, request: ModelRequest) -> Completion:
        return await agents[chains[role.name]].complete(request)

    try:
        return await debate(task, [role for role, _ in roles], run_role, agents[judge], rounds=rounds,
                            system_prompt=system_prompt)
    finally:
        for agent in agents.values():
            ray.kill(agent.agent)
