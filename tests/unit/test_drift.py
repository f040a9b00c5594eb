"""Per-model drift: the last span against the baseline before it, in seconds."""

from __future__ import annotations

import pytest

from aegis_ray.config import DriftSettings, WindowPolicy
from aegis_ray.control.drift import OutcomeLog, evaluate_drift
from aegis_ray.providers.window import CallSample, CallWindow, combined

pytestmark = pytest.mark.unit

NOW = 2_000_000.0
MODEL = "sim:sim-honest"
SETTINGS = DriftSettings(current_s=60, baseline_s=300, min_samples=20)
POLICY = WindowPolicy(bucket_s=1, retain_s=600)


def calls(window: CallWindow, start: float, end: float, count: int, *, cost: float = 0.001,
          refused: float = 0.0) -> None:
    for i in range(count):
        window.add([CallSample(at=NOW - start + (start - end) * i / count, latency_s=0.1, cost_usd=cost,
                               refused=int((i + 1) * refused) > int(i * refused))])


async def verdicts(log: OutcomeLog, start: float, end: float, count: int, abstaining: float) -> None:
    for i in range(count):
        await log.record_outcome(MODEL, abstained=int((i + 1) * abstaining) > int(i * abstaining),
                                 at=NOW - start + (start - end) * i / count)


def metric(report: object, name: str) -> object:
    return next(m for m in report.metrics if m.name == name)  # type: ignore[attr-defined]


async def test_a_rise_in_abstentions_is_drift_and_a_steady_rate_is_not() -> None:
    log = OutcomeLog(POLICY)
    await verdicts(log, 360, 60, 200, 0.05)
    await verdicts(log, 60, 0, 50, 0.06)
    steady = evaluate_drift(MODEL, log.window(MODEL), SETTINGS, now=NOW)
    assert steady.status == "ok" and metric(steady, "abstention_rate").current == pytest.approx(0.06)  # type: ignore

    await verdicts(log, 60, 0, 50, 0.5)  # the same minute, now with many more abstentions
    drifted = evaluate_drift(MODEL, log.window(MODEL), SETTINGS, now=NOW)
    rate = metric(drifted, "abstention_rate")
    assert drifted.status == "drift" and rate.drifted  # type: ignore[attr-defined]
    assert rate.baseline == pytest.approx(0.05) and rate.current == pytest.approx(0.28)  # type: ignore


def test_cost_per_call_and_refusals_drift_on_the_call_window() -> None:
    window = CallWindow(policy=POLICY)
    calls(window, 360, 60, 300, cost=0.001)
    calls(window, 60, 0, 60, cost=0.0012)
    assert evaluate_drift(MODEL, window, SETTINGS, now=NOW).status == "ok"
    calls(window, 60, 0, 60, cost=0.004, refused=0.2)
    report = evaluate_drift(MODEL, window, SETTINGS, now=NOW)
    assert metric(report, "cost_per_call").drifted and metric(report, "refusal_rate").drifted  # type: ignore
    assert report.current_samples == 120 and report.baseline_samples == 300


async def test_too_few_samples_on_either_side_are_not_judged_and_windows_combine() -> None:
    window = CallWindow(policy=POLICY)
    calls(window, 60, 0, 100)
    assert evaluate_drift(MODEL, window, SETTINGS, now=NOW).status == "no_data"  # no baseline yet
    log = OutcomeLog(POLICY)
    await verdicts(log, 360, 60, 40, 0.0)
    await verdicts(log, 60, 0, 40, 0.5)
    calls(window, 360, 60, 100)
    both = evaluate_drift(MODEL, combined(window, log.window(MODEL)), SETTINGS, now=NOW)
    assert {m.name for m in both.metrics} == {"abstention_rate", "refusal_rate", "cost_per_call"}
    assert both.status == "drift" and not metric(both, "cost_per_call").drifted  # type: ignore[attr-defined]


async def test_outcomes_reach_the_listeners() -> None:
    heard: list[tuple[str, bool, bool]] = []

    async def listener(model: str, abstained: bool, refused: bool) -> None:
        heard.append((model, abstained, refused))

    log = OutcomeLog(POLICY, listeners=(listener,))
    await log.record_outcome(MODEL, abstained=True)
    assert heard == [(MODEL, True, False)] and log.window(MODEL).last(10).abstained == 1
