"""A plan is a DAG of steps; this validates one and orders it into waves.

Rejected, with a message naming the problem: duplicate step ids, dependencies on unknown steps,
self-dependencies, cycles (the cycle is spelled out).
"""

from __future__ import annotations

from aegis_ray.errors import BadInputError
from aegis_ray.types import Plan


class PlanError(BadInputError):
    """The plan is not a valid DAG."""


def _find_cycle(plan: Plan) -> list[str] | None:
    deps = {s.id: s.depends_on for s in plan.steps}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in deps[node]:
            if state.get(dep) == 1:
                return [*path[path.index(dep):], dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for step in plan.steps:
        if step.id not in state and (cycle := visit(step.id)):
            return cycle
    return None


def validate(plan: Plan) -> Plan:
    ids = [s.id for s in plan.steps]
    if not ids:
        raise PlanError("the plan has no steps")
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise PlanError(f"duplicate step ids: {', '.join(duplicates)}")
    known = set(ids)
    for step in plan.steps:
        unknown = [d for d in step.depends_on if d not in known]
        if unknown:
            raise PlanError(f"step {step.id!r} depends on unknown step(s): {', '.join(unknown)}")
    cycle = _find_cycle(plan)
    if cycle:
        raise PlanError(f"the plan has a cycle: {' → '.join(cycle)}",
                        hint="a step cannot depend, directly or through others, on itself")
    return plan


def waves(plan: Plan) -> list[list[str]]:
    """Kahn levels: each wave's steps depend only on earlier waves."""
    remaining = {s.id: set(s.depends_on) for s in validate(plan).steps}
    done: set[str] = set()
    levels = []
    while remaining:
        ready = sorted(i for i, deps in remaining.items() if deps <= done)
        levels.append(ready)
        done |= set(ready)
        for step_id in ready:
            del remaining[step_id]
    return levels
