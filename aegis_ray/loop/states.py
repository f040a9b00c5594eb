"""The loop's states and its legal transitions, as data.

    plan → act → observe → reflect → act ...      (the model calls tools)
                act → verify → stop | abstained    (the model answers)
    plan/act → budget_exceeded;  reflect → stuck;  observe ⇄ awaiting_approval;  any → failed
    act → compact → act                            (the context passed its token budget)
"""

from __future__ import annotations

from enum import StrEnum

from aegis_ray.types import RunStatus


class LoopState(StrEnum):
    PLAN = "plan"
    ACT = "act"
    COMPACT = "compact"
    OBSERVE = "observe"
    REFLECT = "reflect"
    VERIFY = "verify"
    STOP = "stop"
    FAILED = "failed"
    ABSTAINED = "abstained"
    STUCK = "stuck"
    BUDGET_EXCEEDED = "budget_exceeded"
    AWAITING_APPROVAL = "awaiting_approval"


S = LoopState
TRANSITIONS: dict[LoopState, frozenset[LoopState]] = {
    S.PLAN: frozenset({S.ACT, S.FAILED, S.BUDGET_EXCEEDED}),
    S.ACT: frozenset({S.OBSERVE, S.VERIFY, S.COMPACT, S.FAILED, S.BUDGET_EXCEEDED}),
    S.COMPACT: frozenset({S.ACT, S.FAILED}),
    S.OBSERVE: frozenset({S.REFLECT, S.AWAITING_APPROVAL, S.FAILED}),
    S.AWAITING_APPROVAL: frozenset({S.OBSERVE, S.FAILED}),
    S.REFLECT: frozenset({S.ACT, S.STUCK, S.FAILED}),
    S.VERIFY: frozenset({S.STOP, S.ABSTAINED, S.FAILED}),
}
TERMINAL: dict[LoopState, RunStatus] = {
    S.STOP: RunStatus.SUCCEEDED,
    S.FAILED: RunStatus.FAILED,
    S.ABSTAINED: RunStatus.ABSTAINED,
    S.STUCK: RunStatus.STUCK,
    S.BUDGET_EXCEEDED: RunStatus.BUDGET_EXCEEDED,
}


class IllegalTransitionError(RuntimeError):
    """A bug in the loop, never user input: it tried a transition the table does not allow."""


def check_transition(current: LoopState, target: LoopState) -> LoopState:
    if target not in TRANSITIONS.get(current, frozenset()):
        raise IllegalTransitionError(f"{current} → {target} is not a legal transition")
    return target
