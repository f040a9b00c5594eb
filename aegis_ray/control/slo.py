"""Service-level objectives per endpoint, judged by multi-window burn rates.

An objective (`[slo.default]`, `[slo.endpoints."MODEL"]`) sets a p95 latency and an error rate. Each
leaves an error budget: the share of calls allowed to fail (`error_rate`), or to be slower than the
latency objective (5%: that is what "p95" means). The burn rate over a window is the share of calls
that spent the budget there, divided by the budget: 1 spends it exactly over the objective's period,
14.4 spends a 30-day budget's 2% in an hour. As in the Google SRE workbook (chapter 5, "Alerting on
SLOs"), an alert fires only when both its long and its short window burn faster than its threshold:
the long window makes it significant, the short one makes it stop soon after the burning stops. The
defaults are the workbook's: a page at 14.4 over 1 h and 5 min, a ticket at 6 over 6 h and 30 min;
`[[slo.windows]]` replaces them (in seconds, so tests may use seconds).

The measurements are the endpoint's `CallWindow`, kept by its `ProviderActor` from every process's
calls (`aegis_ray.providers.window`); this module only reads them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from aegis_ray.config import BurnWindow, SloObjective, SloSettings
from aegis_ray.providers.window import CallWindow, WindowBucket

LATENCY_BUDGET = 0.05
"""The share of calls a p95 latency objective lets be slower."""

SloStatus = Literal["ok", "warning", "breach", "no_data"]
Indicator = Literal["errors", "latency"]


class BurnAlert(BaseModel):
    """One objective over one burn window."""

    window: str
    severity: Literal["page", "ticket"]
    indicator: Indicator
    threshold: float
    long_burn: float | None = Field(description="None: too few calls in the long window to judge.")
    short_burn: float | None
    firing: bool


class SloReport(BaseModel):
    model: str
    objective: SloObjective
    status: SloStatus = Field(description="breach: a page fires; warning: a ticket fires; no_data: too few calls.")
    calls: int = Field(description="Calls in the longest window.")
    error_rate: float | None
    latency_p95_s: float | None
    alerts: list[BurnAlert]


def burn_rate(bucket: WindowBucket, objective: SloObjective, indicator: Indicator) -> float | None:
    """How fast `bucket`'s calls spent the objective's budget (1: exactly as allowed); None when the
    objective is not set or there were no calls."""
    if indicator == "errors":
        rate = bucket.error_rate
        return None if rate is None or objective.error_rate is None else rate / objective.error_rate
    if objective.latency_p95_s is None:
        return None
    slower = bucket.share_slower(objective.latency_p95_s)
    return None if slower is None else slower / LATENCY_BUDGET


def _alerts(window: CallWindow, objective: SloObjective, burn: BurnWindow, min_calls: int,
            now: float | None) -> list[BurnAlert]:
    long, short = window.last(burn.long_s, now), window.last(burn.short_s, now)
    judged = long.calls >= min_calls
    found: list[BurnAlert] = []
    indicators: tuple[tuple[Indicator, float | None], ...] = (("errors", objective.error_rate),
                                                              ("latency", objective.latency_p95_s))
    for indicator, target in indicators:
        if target is None:
            continue
        long_burn = burn_rate(long, objective, indicator) if judged else None
        short_burn = burn_rate(short, objective, indicator) if judged else None
        firing = (long_burn is not None and short_burn is not None
                  and long_burn >= burn.burn_rate and short_burn >= burn.burn_rate)
        found.append(BurnAlert(window=burn.name, severity=burn.severity, indicator=indicator,
                               threshold=burn.burn_rate, long_burn=long_burn, short_burn=short_burn, firing=firing))
    return found


def evaluate_slo(model: str, window: CallWindow, settings: SloSettings, now: float | None = None) -> SloReport:
    """`model`'s objectives judged on its window, as of `now` (default: the current time)."""
    objective = settings.objective(model)
    alerts = [alert for burn in settings.windows for alert in _alerts(window, objective, burn, settings.min_calls, now)]
    longest = window.last(max((w.long_s for w in settings.windows), default=0.0), now)
    if longest.calls < settings.min_calls:
        status: SloStatus = "no_data"
    elif any(a.firing and a.severity == "page" for a in alerts):
        status = "breach"
    elif any(a.firing for a in alerts):
        status = "warning"
    else:
        status = "ok"
    return SloReport(model=model, objective=objective, status=status, calls=longest.calls,
                     error_rate=longest.error_rate, latency_p95_s=longest.latency_quantile(0.95), alerts=alerts)
