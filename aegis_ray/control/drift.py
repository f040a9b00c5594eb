"""Per-model drift: abstention rate, refusal rate and cost per call, now against a baseline.

The last `current_s` of a model's record is compared with the `baseline_s` before it (`[slo.drift]`;
an hour against the six before it by default). A rate drifts when it rose by more than its allowed
increase, the cost per call when it grew past `cost_ratio` times the baseline's; a metric with too
few samples on either side is not judged.

Calls, cost and provider refusals (a content filter) come from the endpoint's `CallWindow`, kept
cluster-wide by its `ProviderActor`. Abstentions are known only where an answer is verified: that
code calls the hook `OutcomeLog.record_outcome(model, abstained=..., refused=...)` (the Serve
service does, for `aegis-verified` answers and `/api/verify`). An `OutcomeLog` is this process's
(a Serve replica's), kept in the same bounded buckets; `combined` joins it with the call window.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Literal

from pydantic import BaseModel, Field

from aegis_ray.config import DriftSettings, WindowPolicy
from aegis_ray.providers.window import CallWindow, WindowBucket

OutcomeListener = Callable[[str, bool, bool], Awaitable[None]]
"""Told of every outcome recorded: `(model, abstained, refused)` (a canary router is one)."""


class OutcomeLog:
    """Verification outcomes by model and time, in this process: the hook verified answers report to."""

    def __init__(self, policy: WindowPolicy | None = None, listeners: tuple[OutcomeListener, ...] = ()) -> None:
        self.policy = policy or WindowPolicy()
        self.listeners = listeners
        self.windows: dict[str, CallWindow] = {}

    async def record_outcome(self, model: str, *, abstained: bool, refused: bool = False,
                             at: float | None = None) -> None:
        """One answer of `model` was verified: `abstained` if verification abstained on it,
        `refused` if the model declined to answer."""
        window = self.windows.setdefault(model, CallWindow(policy=self.policy))
        window.record_verdict(abstained=abstained, refused=refused, at=at)
        for listener in self.listeners:
            await listener(model, abstained, refused)

    def window(self, model: str) -> CallWindow:
        return self.windows.get(model) or CallWindow(policy=self.policy)


class DriftMetric(BaseModel):
    name: Literal["abstention_rate", "refusal_rate", "cost_per_call"]
    baseline: float | None
    current: float | None
    limit: float = Field(description="The allowed increase (rates) or growth factor (cost).")
    drifted: bool


class DriftReport(BaseModel):
    model: str
    status: Literal["ok", "drift", "no_data"] = Field(description="no_data: no metric had enough samples.")
    current_samples: int
    baseline_samples: int
    metrics: list[DriftMetric]


def _judged(current: WindowBucket, baseline: WindowBucket, settings: DriftSettings) -> list[DriftMetric]:
    enough = settings.min_samples
    metrics = []
    if current.verified >= enough and baseline.verified >= enough:
        now, before = current.abstention_rate, baseline.abstention_rate
        assert now is not None and before is not None
        metrics.append(DriftMetric(name="abstention_rate", baseline=before, current=now,
                                   limit=settings.abstention_increase,
                                   drifted=now - before > settings.abstention_increase))
    if (current.calls or current.verified) >= enough and (baseline.calls or baseline.verified) >= enough:
        now, before = current.refusal_rate, baseline.refusal_rate
        assert now is not None and before is not None
        metrics.append(DriftMetric(name="refusal_rate", baseline=before, current=now, limit=settings.refusal_increase,
                                   drifted=now - before > settings.refusal_increase))
    if current.calls >= enough and baseline.calls >= enough:
        now, before = current.cost_per_call, baseline.cost_per_call
        assert now is not None and before is not None
        metrics.append(DriftMetric(name="cost_per_call", baseline=before, current=now, limit=settings.cost_ratio,
                                   drifted=before > 0 and now > before * settings.cost_ratio))
    return metrics


def evaluate_drift(model: str, window: CallWindow, settings: DriftSettings, now: float | None = None) -> DriftReport:
    """`model`'s last `current_s` against the `baseline_s` before it, as of `now`."""
    now = time.time() if now is None else now
    current = window.last(settings.current_s, now)
    start = now - settings.current_s
    baseline = window.span(start - settings.baseline_s, start)
    metrics = _judged(current, baseline, settings)
    status = "no_data" if not metrics else ("drift" if any(m.drifted for m in metrics) else "ok")
    return DriftReport(model=model, status=status, current_samples=current.calls or current.verified,
                       baseline_samples=baseline.calls or baseline.verified, metrics=metrics)
