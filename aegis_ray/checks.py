"""The checks a task declares on its final answer, and what a verifier is.

Neutral ground between the agent loop and the verification layers: the loop's default verifier
(`declared_checks`) runs the task's declared checks, and every verifier in `aegis_ray.verify`
has the `Verifier` shape, so both `aegis_ray.loop` and `aegis_ray.verify` import this module and
neither imports the other. Checks: contains, equals (normalised), an RE2 pattern (linear time on
hostile text), a JSON schema.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import jsonschema
import re2

from aegis_ray.types import Answer, Check, ContainsCheck, EqualsCheck, Frozen, JsonSchemaCheck, RegexCheck, RunState

Verifier = Callable[[RunState, str], Awaitable[Answer]]
"""Decides on the final answer text: an `Answer` (with claims and citations), or an abstention."""


class CheckOutcome(Frozen):
    check: str
    passed: bool
    reason: str


def _normalise(text: str) -> str:
    return " ".join(text.casefold().split()).rstrip(".")


def run_check(check: Check, answer: str) -> CheckOutcome:
    label = check.model_dump_json(by_alias=True)
    if isinstance(check, ContainsCheck):
        passed = check.text in answer
        reason = f"answer {'contains' if passed else 'lacks'} {check.text!r}"
    elif isinstance(check, EqualsCheck):
        passed = (_normalise(answer) == _normalise(check.value)) if check.normalise else answer == check.value
        reason = f"answer {'equals' if passed else 'differs from'} {check.value!r}"
    elif isinstance(check, RegexCheck):
        passed = re2.search(check.pattern, answer) is not None
        reason = f"answer {'matches' if passed else 'does not match'} /{check.pattern}/"
    else:
        assert isinstance(check, JsonSchemaCheck)
        try:
            jsonschema.validate(json.loads(answer), check.json_schema)
            passed, reason = True, "answer is JSON valid against the schema"
        except (ValueError, jsonschema.ValidationError) as exc:
            passed, reason = False, f"answer is not JSON valid against the schema: {str(exc).splitlines()[0]}"
    return CheckOutcome(check=label, passed=passed, reason=reason)


def run_checks(checks: tuple[Check, ...], answer: str) -> list[CheckOutcome]:
    return [run_check(c, answer) for c in checks]


async def declared_checks(state: RunState, answer: str) -> Answer:
    """The default verifier: every deterministic check the task declared must pass."""
    if not answer.strip():
        return Answer(text="", abstained=True, reason="the model gave an empty answer")
    failed = [o.reason for o in run_checks(state.spec.checks, answer) if not o.passed]
    if failed:
        return Answer(text="", abstained=True, reason="; ".join(failed))
    return Answer(text=answer)
