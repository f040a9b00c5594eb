"""How a simulated persona answers the planner prompt (`aegis_ray.plan.planner`): one independent
step per fact the goal asks about (so they run in parallel), else the goal as a single step."""

from __future__ import annotations

import json

from aegis_ray.sim.facts import fact_table
from aegis_ray.sim.models import Turn


def plan_turn(goal: str) -> Turn:
    facts = fact_table().named(goal)
    steps = [{"id": f"s{i}", "task": fact.question, "depends_on": []} for i, fact in enumerate(facts, start=1)]
    return Turn(text=json.dumps({"goal": goal, "steps": steps or [{"id": "s1", "task": goal, "depends_on": []}]}))
