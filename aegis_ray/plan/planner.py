"""The model writes the plan: a goal in, a validated DAG out (or a `PlanError` saying why not)."""

from __future__ import annotations

import json

from pydantic import ValidationError

from aegis_ray.plan.dag import PlanError, validate
from aegis_ray.providers.gateway import Gateway
from aegis_ray.types import Message, ModelRequest, Plan

PLANNER_PROMPT = (
    "Break the user's goal into a small plan of steps. Reply with JSON only, in this shape: "
    '{"goal": "...", "steps": [{"id": "a", "task": "...", "depends_on": []}]}. Step ids are short '
    "identifiers; a step lists the ids of the steps whose results it needs. Independent steps have no "
    "dependencies, so they can run in parallel."
)


def parse_plan(text: str) -> Plan:
    start, end = text.find("{"), text.rfind("}")
    try:
        plan = Plan.model_validate(json.loads(text[start:end + 1] if start >= 0 else text))
    except (ValueError, ValidationError) as exc:
        raise PlanError(f"the model's plan is not valid JSON of the plan shape: {str(exc).splitlines()[0]}") from exc
    return validate(plan)


async def make_plan(gateway: Gateway, goal: str) -> Plan:
    completion = await gateway.complete(ModelRequest(
        messages=(Message.system(PLANNER_PROMPT), Message.user(goal)), json_mode=True, temperature=0))
    return parse_plan(completion.text)
