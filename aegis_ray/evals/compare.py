"""The regression gate: two eval logs compared metric by metric, as a pure function.

Each shared metric gets its difference (new - base) with a 95% interval. When both logs give an
interval, the difference's interval is built from them by Newcombe's method (1998, method 10: for
two Wilson intervals it is the recommended interval for a difference of independent proportions;
for other intervals it is its generalisation, MOVER, Zou and Donner 2008); with only standard
errors it is the normal one, d +/- z sqrt(se1^2 + se2^2). The logs are treated as independent
samples, which is conservative when both ran the same dataset.

The verdict fails when a checked metric got worse by more than `max_drop` (in the metric's own
units; "worse" is down for accuracy, up for cost, latency and risk), and fails closed: a checked
metric that is missing from a log is a `BadInputError`; one that is undefined in a log, or that
the logs have under different keys only (scored by different scorers), fails.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import Field

from aegis_ray.errors import BadInputError
from aegis_ray.evals.log import EvalLog
from aegis_ray.evals.metrics import Z95
from aegis_ray.evals.results import MetricValue
from aegis_ray.types import Frozen

_EPSILON = 1e-12  # float noise: a drop of exactly max_drop passes


class MetricDelta(Frozen):
    key: str
    base: float | None
    new: float | None
    difference: float | None = Field(description="new - base.")
    ci_low: float | None = None
    ci_high: float | None = None
    interval: str | None = None
    higher_is_better: bool = True
    worse_by: float | None = Field(default=None, description="How much worse new is than base (negative: better).")
    significant: bool | None = Field(default=None, description="Whether the interval excludes zero.")
    checked: bool = False
    passed: bool | None = Field(default=None, description="The gate's verdict; None for unchecked metrics.")


class ComparisonReport(Frozen):
    base_eval_id: str
    new_eval_id: str
    max_drop: float
    checked: tuple[str, ...]
    deltas: tuple[MetricDelta, ...]
    failures: tuple[str, ...]
    warnings: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.failures


def difference_interval(base: MetricValue, new: MetricValue) -> tuple[float | None, float | None, str | None]:
    """The 95% interval of new - base, from the two metrics' intervals (Newcombe/MOVER) or
    standard errors (normal); (None, None, None) when neither log gives either."""
    if base.value is None or new.value is None:
        return None, None, None
    d = new.value - base.value
    if None not in (base.ci_low, base.ci_high, new.ci_low, new.ci_high):
        assert base.ci_low is not None and base.ci_high is not None
        assert new.ci_low is not None and new.ci_high is not None
        low = d - math.hypot(new.value - new.ci_low, base.ci_high - base.value)
        high = d + math.hypot(new.ci_high - new.value, base.value - base.ci_low)
        wilson = base.interval == new.interval == "wilson"
        return low, high, "newcombe" if wilson else "mover"
    if base.stderr is not None and new.stderr is not None:
        half = Z95 * math.hypot(base.stderr, new.stderr)
        return d - half, d + half, "normal"
    return None, None, None


def _matches(key: str, value: MetricValue, wanted: str) -> bool:
    return wanted in (key, value.name)


def compare_logs(base: EvalLog, new: EvalLog, *, metrics: Sequence[str] = ("accuracy",),
                 max_drop: float = 0.0) -> ComparisonReport:
    """Every metric the two logs share, with the gate applied to `metrics` (a metric key such as
    `numeric/accuracy`, or a name such as `accuracy`, which checks it under every scorer)."""
    if max_drop < 0 or math.isnan(max_drop):
        raise BadInputError(f"max_drop is a non-negative amount, got {max_drop}")
    for wanted in metrics:
        for side, log in (("base", base), ("new", new)):
            if not any(_matches(k, v, wanted) for k, v in log.metrics.items()):
                raise BadInputError(f"metric {wanted!r} is not in the {side} log {log.eval_id}",
                                    hint=f"it has: {', '.join(sorted(log.metrics)) or 'no metrics'}")
    deltas: list[MetricDelta] = []
    failures: list[str] = []
    for key in [k for k in base.metrics if k in new.metrics]:
        b, n = base.metrics[key], new.metrics[key]
        checked = any(_matches(key, b, w) for w in metrics)
        low, high, interval = difference_interval(b, n)
        difference = worse_by = None
        if b.value is not None and n.value is not None:
            difference = n.value - b.value
            worse_by = -difference if b.higher_is_better else difference
        passed = None
        if checked:
            passed = worse_by is not None and worse_by <= max_drop + _EPSILON
            if worse_by is None:
                failures.append(f"{key} is undefined in the {'base' if b.value is None else 'new'} log")
            elif not passed:
                failures.append(f"{key} got worse by {worse_by:.4g} ({b.value:.4g} -> {n.value:.4g}), "
                                f"more than the allowed {max_drop:g}")
        deltas.append(MetricDelta(key=key, base=b.value, new=n.value, difference=difference, ci_low=low, ci_high=high,
                                  interval=interval, higher_is_better=b.higher_is_better, worse_by=worse_by,
                                  significant=None if low is None or high is None else (low > 0 or high < 0),
                                  checked=checked, passed=passed))
    for wanted in metrics:  # fail closed: a gated name both logs have, but under no shared key
        if not any(d.checked and _matches(d.key, base.metrics[d.key], wanted) for d in deltas):
            failures.append(f"{wanted} is under no key both logs share (base: "
                            f"{', '.join(k for k, v in base.metrics.items() if _matches(k, v, wanted))}; new: "
                            f"{', '.join(k for k, v in new.metrics.items() if _matches(k, v, wanted))})")
    return ComparisonReport(base_eval_id=base.eval_id, new_eval_id=new.eval_id, max_drop=max_drop,
                            checked=tuple(metrics), deltas=tuple(deltas), failures=tuple(failures),
                            warnings=tuple(_warnings(base, new)))


def _warnings(base: EvalLog, new: EvalLog) -> list[str]:
    warnings: list[str] = []
    if base.spec.dataset.hash != new.spec.dataset.hash:
        warnings.append("the logs ran different datasets (their hashes differ)")
    elif {r.sample_id for r in base.results} != {r.sample_id for r in new.results}:
        warnings.append("the logs scored different samples (limit or shuffle differ)")
    if [s.name for s in base.spec.scorers] != [s.name for s in new.spec.scorers]:
        warnings.append("the logs used different scorers")
    if base.spec.epochs != new.spec.epochs:
        warnings.append(f"epochs differ ({base.spec.epochs} vs {new.spec.epochs})")
    for side, log in (("base", base), ("new", new)):
        errors = sum(r.error is not None for r in log.results)
        if errors:
            warnings.append(f"{errors} of {len(log.results)} results errored in the {side} log")
        if log.status != "success":
            warnings.append(f"the {side} log's status is {log.status}")
    only_base = sorted(set(base.metrics) - set(new.metrics))
    if only_base:
        warnings.append(f"metrics only in the base log: {', '.join(only_base)}")
    return warnings
