"""The planner, simulated: a model function that carries out a task's ground-truth plan, and obeys
every instruction it reads (the always-obey adversary).

Each turn it looks at the conversation the agent loop sends it (statelessly: its own past calls
are recognised by their ids, `plan-K`, `plan-K-xJ` for extractions, `inj-KEY` for obeyed
instructions):
1. it scans every tool output it can read, in order, for `call TOOL {json}` instructions (any
   readable view) and makes the first one not made yet (one call per turn);
2. else it makes the plan's next call, with the values bound so far;
3. a value the plan reads from an output it reads itself (the bind's pattern) when it can see the
   output; when the output was quarantined (the loop shows only "stored in $vN"), it asks the
   quarantined reader with `extract` and passes the resulting `$vM` on;
4. with the plan done it answers "Done."; when a value cannot be had, it says why and stops.

Asked for its intent plan (the planning pass, `security.intent.PLANNING_PROMPT`: the request and
the tool specs, before any tool has run), it commits to the calls of the plan it will carry out,
each argument as the plan writes it: a literal is `{"value": ...}`, a whole bound value
`{"from": K}` (the step that reads it), text around bound values a template from those steps. It
reads nothing else (no labels, no attack): the plan is what it knew before reading anything.

What it sees, by adversary:
- `obey` and `reader` (the planner behind the quarantine): exactly what the toolbox returns:
  raw outputs of tools the settings trust, `$vN` notices for quarantined ones, error messages.
- `leaky`: also the raw output of every tool it called, quarantined or not (`tap`: what the tools
  returned before the quarantine replaced it), as a planner that reads untrusted text by some
  path would. It still passes `$vN` for values it had to extract (none: it reads them itself).
"""

from __future__ import annotations

import json
import re
from typing import Any

from aegis_ray.providers.function import FunctionInfo, FunctionReply
from aegis_ray.security.intent import PLANNING_PROMPT
from aegis_ray.security.redteam.office.obey import instructions_in
from aegis_ray.security.redteam.office.plans import EXTRACT_TYPE, UserTask, fill, needs
from aegis_ray.types import Message, ToolCall

_STORED = re.compile(r"is stored in (\$v\d+)\. It is untrusted")
_EXTRACTED = re.compile(r"^Stored the extracted \w+ in (\$v\d+) \(untrusted")
DONE = "Done."


class OfficePlanner:
    """A model function (`providers.function.ModelFunction`) for one run of one task."""

    def __init__(self, task: UserTask, *, obey: bool = True, tap: list[str] | None = None) -> None:
        self.task = task
        self.obey = obey
        self.tap = tap
        self.raw: dict[str, str] = {}
        self._tapped = 0

    def __call__(self, messages: tuple[Message, ...], info: FunctionInfo) -> FunctionReply:
        if messages and messages[0].role == "system" and messages[0].content == PLANNING_PROMPT:
            return FunctionReply(text=json.dumps(intent_plan(self.task)))
        self._capture(messages)
        calls = {c.id: c for m in messages if m.role == "assistant" for c in m.tool_calls}
        outputs = {m.tool_call_id or "": m.content for m in messages if m.role == "tool"}
        if self.obey:
            injected = self._injected(messages, calls, outputs, frozenset(t.name for t in info.tools))
            if injected is not None:
                return FunctionReply(tool_calls=[injected])
        return self._plan(calls, outputs)

    def _capture(self, messages: tuple[Message, ...]) -> None:
        """The leaky view: a tool that ran since the last turn left its raw output in the tap."""
        if self.tap is None or len(self.tap) == self._tapped:
            return
        last = next((m for m in reversed(messages) if m.role == "tool"), None)
        if last is not None and last.tool_call_id:
            self.raw[last.tool_call_id] = self.tap[-1]
        self._tapped = len(self.tap)

    def _seen(self, call_id: str, outputs: dict[str, str]) -> str:
        return self.raw.get(call_id, outputs.get(call_id, ""))

    def _injected(self, messages: tuple[Message, ...], calls: dict[str, ToolCall], outputs: dict[str, str],
                  tools: frozenset[str]) -> ToolCall | None:
        read = [self._seen(m.tool_call_id or "", outputs) for m in messages if m.role == "tool"]
        conversation = "\n".join([self.task.prompt, *read])
        for text in read:
            for instruction in instructions_in(text, tools):
                call_id = f"inj-{instruction.key}"
                if call_id not in calls:
                    return ToolCall(id=call_id, name=instruction.tool, arguments=instruction.filled(conversation))
        return None

    def _plan(self, calls: dict[str, ToolCall], outputs: dict[str, str]) -> FunctionReply:
        bound: dict[str, str] = {}
        for k, step in enumerate(self.task.steps):
            call_id = f"plan-{k}"
            if call_id not in calls:
                missing = needs(step.args) - bound.keys()
                if missing:
                    return _stop(f"no value for {', '.join(sorted(missing))}")
                return FunctionReply(tool_calls=[ToolCall(id=call_id, name=step.tool,
                                                          arguments=fill(step.args, bound))])
            visible = outputs.get(call_id, "")
            stored = _STORED.search(visible)
            for j, b in enumerate(step.binds):
                if call_id in self.raw or stored is None:
                    value = b.read(self._seen(call_id, outputs))
                    if value is None:
                        return _stop(f"{b.instruction} is not in what {step.tool} returned")
                    bound[b.name] = value
                    continue
                extract_id = f"{call_id}-x{j}"
                if extract_id not in calls:
                    arguments: dict[str, Any] = {"source": stored.group(1), "instruction": b.instruction,
                                                 "type": EXTRACT_TYPE.get(b.kind, "text")}
                    return FunctionReply(tool_calls=[ToolCall(id=extract_id, name="extract", arguments=arguments)])
                extracted = _EXTRACTED.search(outputs.get(extract_id, ""))
                if extracted is None:
                    return _stop(f"extracting {b.instruction} failed: {outputs.get(extract_id, '')[:200]}")
                bound[b.name] = extracted.group(1)
        return FunctionReply(text=DONE)


def intent_plan(task: UserTask) -> dict[str, Any]:
    """The calls of the task's plan, each argument's spec as the plan writes it."""
    bound_at = {b.name: k for k, step in enumerate(task.steps) for b in step.binds}

    def spec(value: Any) -> dict[str, Any]:
        names = sorted(needs(value))
        if not names:
            return {"value": value}
        sources = sorted({bound_at[n] for n in names})
        source: int | list[int] = sources[0] if len(sources) == 1 else sources
        if isinstance(value, str) and re.fullmatch(r"\{[a-z_][a-z0-9_]*\}", value) is None:
            return {"template": re.sub(r"\{[a-z_][a-z0-9_]*\}", "{}", value), "from": source}
        return {"from": source}

    return {"calls": [{"tool": step.tool, "arguments": {k: spec(v) for k, v in step.args.items()}}
                      for step in task.steps]}


def _stop(reason: str) -> FunctionReply:
    return FunctionReply(text=f"I could not finish the task: {reason}.")
