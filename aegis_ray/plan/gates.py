"""Acceptance gates for the evaluator-optimizer (`aegis supervise`): what decides that a draft is done.

A gate reads the task and a draft (the completion, so it knows its author) and gives a `Critique`:
accepted, or rejected with feedback the worker revises from. Three kinds, combined with `all_of`
(the first rejection wins, so cheap deterministic checks go first):

- `checks_gate`: the task's declared checks (contains, equals, regex, JSON schema);
- `critic_gate`: an independent critic model's JSON verdict (unparseable: a rejection, fail closed);
- `verification_gate`: Aegis's verification layers (claim by claim, with the critic as the judge
  and voter), the draft's author never among its checkers; rejected with the reason it did not hold.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Literal

from pydantic import ValidationError

from aegis_ray.checks import run_checks
from aegis_ray.errors import BadInputError
from aegis_ray.providers.gateway import Gateway
from aegis_ray.types import Check, Completion, Frozen, Message, ModelRequest
from aegis_ray.verify.base import Models, model_identity

if TYPE_CHECKING:
    from aegis_ray.verify.policy import VerificationPolicy

GateKind = Literal["critic", "verify", "checks"]
CRITIC_PROMPT = (
    'You review a draft answer. Reply with JSON only: {"accept": true|false, "feedback": "what to fix"}.'
)


class Critique(Frozen):
    accept: bool
    feedback: str = ""


Gate = Callable[[str, Completion], Awaitable[Critique]]
"""Decides on a draft of the task: accepted, or rejected with what to fix."""


class NotIndependentError(BadInputError, ValueError):
    """The checker would be the author: a model never checks its own work."""


def require_independent(author: Sequence[object], checker: Sequence[object]) -> None:
    """Refuse a checker chain that shares a model with the author's chain."""
    shared = {model_identity(m) for m in author} & {model_identity(m) for m in checker}
    if shared:
        raise NotIndependentError(f"the critic must be a different model from the generator ({', '.join(shared)})",
                                  hint="choose a critic (--critic) that is not the worker's model")


def parse_critique(text: str) -> Critique:
    """The critic's verdict; anything unparseable is a rejection (fail closed)."""
    start, end = text.find("{"), text.rfind("}")
    try:
        return Critique.model_validate(json.loads(text[start:end + 1]))
    except (ValueError, ValidationError):
        return Critique(accept=False, feedback=f"the critic's reply was not a verdict: {text[:200]}")


def checks_gate(checks: Sequence[Check]) -> Gate:
    async def gate(_: str, draft: Completion) -> Critique:
        failed = [o.reason for o in run_checks(tuple(checks), draft.text) if not o.passed]
        return Critique(accept=not failed, feedback="; ".join(failed))

    return gate


def critic_gate(critic: Gateway) -> Gate:
    async def gate(task: str, draft: Completion) -> Critique:
        review = ModelRequest(messages=(Message.system(CRITIC_PROMPT),
                                        Message.user(f"Task: {task}\n\nDraft answer: {draft.text}")), json_mode=True)
        return parse_critique((await critic.complete(review)).text)

    return gate


def verification_gate(policy: VerificationPolicy, models: Models) -> Gate:
    from aegis_ray.verify.policy import verify  # numpy and scipy: only for a gate that verifies

    async def gate(task: str, draft: Completion) -> Critique:
        checked = await verify(policy, task, models, draft.model, answer=draft.text)
        answer = checked.answer
        if answer.abstained:
            return Critique(accept=False, feedback=f"verification did not accept it: {answer.reason}")
        return Critique(accept=True, feedback=answer.reason or "verified")

    return gate


def all_of(gates: Sequence[Gate]) -> Gate:
    """Every gate must accept; the first rejection is the verdict."""

    async def gate(task: str, draft: Completion) -> Critique:
        verdict = Critique(accept=True)
        for one in gates:
            verdict = await one(task, draft)
            if not verdict.accept:
                return verdict
        return verdict

    return gate
