"""`supervise`: a worker drafts, an acceptance gate judges, the worker revises (`patterns.optimize`).

The gate is chosen by kind: `verify` (default: the draft verified claim by claim, the critic as the
judge and voter), `critic` (the critic's JSON verdict) or `checks` (the declared checks alone); any
declared checks run first whatever the kind. The critic is never the worker: the verification
panel refuses a judge that is the author, and the critic gate a critic chain sharing a model with
the worker's. What the CLI (`aegis supervise`) and the API (`POST /api/supervise`) both run.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from aegis_ray.config import Settings
from aegis_ray.errors import BadInputError
from aegis_ray.model_ref import ModelRef
from aegis_ray.plan.gates import (
    Gate,
    GateKind,
    all_of,
    checks_gate,
    critic_gate,
    require_independent,
    verification_gate,
)
from aegis_ray.plan.patterns import Round, optimize
from aegis_ray.providers.gateway import Gateway
from aegis_ray.types import Check, Frozen


class Supervision(Frozen):
    task: str
    answer: str
    accepted: bool = Field(description="Whether the gate accepted the answer; false: the last draft, not accepted.")
    gate: GateKind
    worker: str
    critic: str
    rounds: tuple[Round, ...]


def critic_model(settings: Settings, worker: ModelRef, critic: ModelRef | str | None) -> ModelRef:
    """The critic: the one given, else the verification judge the settings name (the simulated judge
    for a simulated worker); never the worker."""
    from aegis_ray.verify import plan_panel

    return plan_panel(settings, worker, judge=critic).judge


def choose_gate(kind: GateKind, settings: Settings, worker: Gateway, critic: Gateway, checks: Sequence[Check]) -> Gate:
    gates = [checks_gate(checks)] if checks else []
    if kind == "checks" and not checks:
        raise BadInputError("the checks gate needs declared checks",
                            hint="add --check KIND:VALUE (contains, equals, regex), or choose --gate verify or critic")
    if kind == "critic":
        require_independent(worker.chain, critic.chain)
        gates.append(critic_gate(critic))
    elif kind == "verify":
        from aegis_ray.verify import ClaimsLayer, VerificationPolicy, plan_panel

        panel = plan_panel(settings, worker.chain[0], judge=critic.chain[0], voters=critic.chain)
        policy = VerificationPolicy(layers=(ClaimsLayer(mode="detect"),), judge=panel.judge, voters=panel.voters,
                                    calibration=settings.verification.calibration)
        gates.append(verification_gate(policy, critic))
    return all_of(gates)


async def supervise(worker: Gateway, critic: Gateway, task: str, settings: Settings, *, gate: GateKind = "verify",
                    checks: Sequence[Check] = (), rounds: int = 3, system_prompt: str | None = None) -> Supervision:
    chosen = choose_gate(gate, settings, worker, critic, checks)
    result = await optimize(worker, chosen, task, max_rounds=rounds, system_prompt=system_prompt)
    return Supervision(task=task, answer=result.answer, accepted=result.accepted, gate=gate,
                       worker=worker.chain[0].name, critic=critic.chain[0].name, rounds=result.rounds)
