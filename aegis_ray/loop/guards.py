"""Guards the loop checks every turn: budgets (steps, wall clock, tokens, USD) and stuck detection.

Both are pure functions of the `RunState`, so they hold across a resume from a checkpoint.
"""

from __future__ import annotations

import json
from collections import Counter

from aegis_ray.loop.conversation import message_turns
from aegis_ray.types import Budget, RunState


def turn_breach(budget: Budget, state: RunState) -> str | None:
    """Why another model turn may not start (steps, wall clock: per user message in a conversation), or None."""
    turns = message_turns(state)
    if turns >= budget.max_steps:
        return f"step budget spent: {turns} of {budget.max_steps} model turns"
    if state.elapsed_s >= budget.max_wall_s:
        return f"wall-clock budget spent: {state.elapsed_s:.1f} s of {budget.max_wall_s} s"
    return None


def spend_breach(budget: Budget, state: RunState, *, unpriced_model: str | None = None) -> str | None:
    """Why spending must stop (tokens, USD), or None. A USD budget with a model that has no known
    price fails closed: the budget could not be enforced."""
    if budget.max_tokens is not None and state.usage.total_tokens >= budget.max_tokens:
        return f"token budget spent: {state.usage.total_tokens} of {budget.max_tokens} tokens"
    if budget.max_usd is not None:
        if unpriced_model is not None:
            return f"USD budget cannot be enforced: no price is known for {unpriced_model}"
        if state.cost_usd >= budget.max_usd:
            return f"USD budget spent: ${state.cost_usd:.6f} of ${budget.max_usd}"
    return None


def stuck_reason(state: RunState, repeats: int) -> str | None:
    """The same tool with the same arguments got the same result `repeats` times: the model is going
    round in circles and no new information is coming in."""
    calls = {c.id: c for m in state.messages for c in m.tool_calls}
    seen: Counter[tuple[str, str, str]] = Counter()
    for message in state.messages:
        call = calls.get(message.tool_call_id or "") if message.role == "tool" else None
        if call is None:
            continue
        key = (call.name, json.dumps(call.arguments, sort_keys=True, default=str), message.content)
        seen[key] += 1
        if seen[key] >= repeats:
            return f"{call.name} was called {seen[key]} times with the same arguments and got the same result"
    return None
