"""Intent-scoped capabilities: before any untrusted data is read, the planner commits to the calls
the task needs, and to where each argument's value comes from (CaMeL's idea, kept checkable).

The planning pass is one model call that sees only the user's request and the tool specs (no tool
has run yet, so no untrusted text can steer it). It answers an `IntentPlan`: the calls, in order,
each with a spec per argument:
- `{"value": V}`: this literal (for a list: each item is one of V); the planner writes it from the
  request, e.g. the recipient the user named;
- `{"from": K}` (or a list of Ks): a value found in the output of planned call K: the source the
  user delegated it to ("pay the bill in bill.txt" endorses the IBAN read from bill.txt, for that
  argument of that call only);
- `{"template": "Paid {} EUR", "from": K}`: literal text whose `{}` slots are filled from K's output;
- `{"free": true}`: text the planner composes itself (still under the rules, DLP and egress).

`PlanTracker` enforces it during the run: each call is matched to an unused planned call of the
same tool whose every argument meets its spec (an argument the plan does not name fails); the
matched call's output becomes that slot's source. A source the injection detector flagged endorses
nothing without a person's approval. What falls outside the plan is the caller's to block or
ask about (`QuarantinedTools`); planned values are judged by what they are, not by their labels,
so a planner that read untrusted text by a path taint tracking cannot see still stays in the plan.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from pydantic import Field, ValidationError

from aegis_ray.security.policy import elements, normalise, occurs
from aegis_ray.types import Frozen, Message, ModelRequest, ToolSpec
from aegis_ray.verify.base import Models

PLANNING_PROMPT = (
    "Intent planning. Before any tool runs, commit to the tool calls this request needs. Reply with JSON only: "
    '{"calls": [{"tool": NAME, "arguments": {ARG: SPEC}}]} in the order you will make them, where SPEC is '
    '{"value": V} for a literal from the request or of your own, {"from": K} for a value read from the output of '
    'call K (0-based; a list of Ks for several), {"template": "text with {} slots", "from": K} for text with '
    'values from call K, or {"free": true} for text you compose. Only sources the user named may supply a '
    "recipient, an account, an address or a link. Do not plan calls the user did not ask for.")


class ArgSpec(Frozen):
    model_config = Frozen.model_config | {"populate_by_name": True}

    value: Any = None
    source: int | list[int] | None = Field(default=None, alias="from")
    template: str | None = None
    free: bool = False

    @property
    def sources(self) -> list[int]:
        return [] if self.source is None else elements(self.source)


class PlannedCall(Frozen):
    tool: str
    arguments: dict[str, ArgSpec] = Field(default_factory=dict)


class IntentPlan(Frozen):
    calls: tuple[PlannedCall, ...] = ()

    @property
    def tools(self) -> frozenset[str]:
        return frozenset(c.tool for c in self.calls)


async def plan_intent(models: Models, planner: str, request: str, specs: Sequence[ToolSpec]) -> IntentPlan | str:
    """The planner's committed plan for `request`, or why there is none (an invalid reply: the
    caller fails closed)."""
    catalogue = "\n".join(f"- {s.name}: {s.description.splitlines()[0] if s.description else ''} "
                          f"{json.dumps(s.parameters.get('properties', {}), sort_keys=True)}" for s in specs)
    ask = ModelRequest(messages=(Message.system(PLANNING_PROMPT),
                                 Message.user(f"Request: {request}\n\nTools:\n{catalogue}")),
                       tools=(), tool_choice="none")
    reply = (await models.complete(ask, [planner])).text
    match = re.search(r"\{[\s\S]*\}", reply)
    try:
        return IntentPlan.model_validate_json(match.group(0) if match else reply)
    except ValidationError as exc:
        return f"the planning pass gave no valid plan: {str(exc).splitlines()[0]}"


class Fit(Frozen):
    slot: int | None = None
    reason: str = ""
    flagged_sources: tuple[int, ...] = ()
    endorsed: tuple[str, ...] = Field(default=(), description="Arguments whose value a source supplied.")


class PlanTracker:
    """Which planned calls have been made, and what each one's output was."""

    def __init__(self, plan: IntentPlan) -> None:
        self.plan = plan
        self.used: dict[int, str] = {}
        self.outputs: dict[int, str] = {}
        self.flagged: set[int] = set()

    def checkpoint(self) -> dict[str, Any]:
        return {"plan": self.plan.model_dump(mode="json", by_alias=True), "used": self.used,
                "outputs": self.outputs, "flagged": sorted(self.flagged)}

    @classmethod
    def restore(cls, saved: dict[str, Any]) -> PlanTracker:
        tracker = cls(IntentPlan.model_validate(saved["plan"]))
        tracker.used = {int(k): v for k, v in saved["used"].items()}
        tracker.outputs = {int(k): v for k, v in saved["outputs"].items()}
        tracker.flagged = set(saved["flagged"])
        return tracker

    def fit(self, tool: str, arguments: dict[str, Any]) -> Fit:
        """The first unused planned call `tool` with these arguments fits, or why none does."""
        reasons = []
        for k, planned in enumerate(self.plan.calls):
            if planned.tool != tool or k in self.used:
                continue
            failed, flagged, endorsed = self._check(planned, arguments)
            if failed is None:
                return Fit(slot=k, flagged_sources=tuple(sorted(flagged)), endorsed=tuple(endorsed))
            reasons.append(f"planned call {k}: {failed}")
        if not reasons:
            planned_tools = [c.tool for c in self.plan.calls]
            why = "the plan has no further call of it" if tool in planned_tools else "the task's plan does not use it"
            return Fit(reason=f"{tool}: {why}")
        return Fit(reason=f"{tool} does not fit the plan ({'; '.join(reasons)})")

    def commit(self, slot: int, call_id: str) -> None:
        self.used[slot] = call_id

    def observe(self, call_id: str, output: str, flagged: bool) -> None:
        for slot, used_by in self.used.items():
            if used_by == call_id:
                self.outputs[slot] = output
                if flagged:
                    self.flagged.add(slot)

    def _check(self, planned: PlannedCall, arguments: dict[str, Any]) -> tuple[str | None, set[int], list[str]]:
        flagged: set[int] = set()
        endorsed: list[str] = []
        for name, value in arguments.items():
            spec = planned.arguments.get(name)
            if spec is None:
                if value in (None, "", [], False):
                    continue
                return f"argument {name} is not in the plan", flagged, endorsed
            failed = self._meets(spec, value)
            if failed:
                return f"{name}: {failed}", flagged, endorsed
            if spec.sources:
                endorsed.append(name)
                flagged |= {k for k in spec.sources if k in self.flagged}
        return None, flagged, endorsed

    def _meets(self, spec: ArgSpec, value: Any) -> str | None:
        if spec.free:
            return None
        if spec.template is not None:
            return self._template(spec, value)
        if spec.sources:
            outputs = [self.outputs[k] for k in spec.sources if k in self.outputs]
            if not outputs:
                return f"its source (call {spec.sources}) has not run"
            missing = [v for v in elements(value) if not any(occurs(v, o) for o in outputs)]
            return f"{len(missing)} value(s) are not in the source the plan named" if missing else None
        allowed = elements(spec.value)
        missing = [v for v in elements(value) if not any(_same(v, a) for a in allowed)]
        return f"{len(missing)} value(s) differ from the plan's" if missing else None

    def _template(self, spec: ArgSpec, value: Any) -> str | None:
        parts = [re.escape(p) for p in normalise(spec.template or "").split("{}")]
        match = re.fullmatch("(.+?)".join(parts), normalise(str(value)), re.DOTALL)
        if match is None:
            return "the text does not follow the plan's template"
        outputs = [self.outputs[k] for k in spec.sources if k in self.outputs]
        missing = [g for g in match.groups() if not any(occurs(g, o) for o in outputs)]
        return f"{len(missing)} filled slot(s) are not in the source the plan named" if missing else None


def _same(value: Any, planned: Any) -> bool:
    if isinstance(value, int | float) or isinstance(planned, int | float):
        try:
            return float(value) == float(planned)
        except (TypeError, ValueError):
            return False
    return normalise(str(value)) == normalise(str(planned))
