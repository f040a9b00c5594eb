"""Metrics over an eval's results, in a registry users extend (`@metric("name")`).

Built in: `accuracy` (standard error and a 95% interval), `pass_at_k` (Chen et al. 2021),
`auroc` and `risk_at_coverage` (for scorers that give a confidence), `cost` and `latency`
(percentiles). A per-scorer metric is computed once per scorer and keyed `scorer/name`.

Errored results are left out of score metrics (and counted in `details["errors"]`); with several
epochs the sample, not the (sample, epoch), is the unit of independence, so epochs are averaged
per sample before a standard error is taken (clustered standard errors, Miller 2024, "Adding
Error Bars to Evals"). scikit-learn is not installed and not needed: AUROC is the Mann-Whitney
statistic from scipy's midranks.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
from pydantic import Field, JsonValue

from aegis_ray.errors import BadInputError
from aegis_ray.evals.errors import UnknownNameError
from aegis_ray.evals.results import MetricValue, SampleResult
from aegis_ray.evals.scorers import SCORERS, Score
from aegis_ray.types import Frozen

MetricFn = Callable[[Sequence[SampleResult], str | None], MetricValue]
"""`(results, scorer name or None) -> MetricValue`."""

Z95 = NormalDist().inv_cdf(0.975)


@dataclass(frozen=True)
class RegisteredMetric:
    name: str
    factory: Callable[..., MetricFn]
    per_scorer: bool

    def __call__(self, **options: Any) -> MetricFn:
        return self.factory(**options)


METRICS: dict[str, RegisteredMetric] = {}


def metric(name: str, *, per_scorer: bool = True,
           replace: bool = False) -> Callable[[Callable[..., MetricFn]], Callable[..., MetricFn]]:
    """Register a metric factory under `name`; `per_scorer` False for metrics of the whole run."""
    def register(factory: Callable[..., MetricFn]) -> Callable[..., MetricFn]:
        if name in METRICS and not replace:
            raise BadInputError(f"a metric named {name!r} is already registered", hint="pass replace=True")
        METRICS[name] = RegisteredMetric(name, factory, per_scorer)
        return factory
    return register


class MetricSpec(Frozen):
    name: str
    options: dict[str, JsonValue] = Field(default_factory=dict)


def get_metric(name: str, **options: Any) -> MetricFn:
    if name not in METRICS:
        raise UnknownNameError(f"no metric named {name!r}", hint=f"known metrics: {', '.join(sorted(METRICS))}")
    try:
        return METRICS[name](**options)
    except TypeError as exc:
        raise BadInputError(f"bad options for metric {name!r}: {exc}") from exc


def default_metrics(scorers: Sequence[str], extra: Sequence[str] = ()) -> list[MetricSpec]:
    """The metrics each scorer registered, then `extra` (a solver's), then cost and latency."""
    names = dict.fromkeys([*(m for s in scorers if s in SCORERS for m in SCORERS[s].metrics), *extra])
    return [MetricSpec(name=n) for n in [*names, "cost", "latency"]]


def compute_metrics(results: Sequence[SampleResult], scorers: Sequence[str],
                    specs: Sequence[MetricSpec]) -> dict[str, MetricValue]:
    """Every metric in `specs`, per scorer where it is a per-scorer metric, keyed by `MetricValue.key`."""
    values: dict[str, MetricValue] = {}
    for spec in specs:
        fn = get_metric(spec.name, **spec.options)
        for scorer in (scorers if METRICS[spec.name].per_scorer else [None]):
            value = fn(results, scorer)
            values[value.key] = value
    return values


# --- helpers ---------------------------------------------------------------------------------


def _scores(results: Sequence[SampleResult], scorer: str | None) -> tuple[dict[str, list[Score]], int]:
    """Scores by sample id (one per epoch), and how many results errored."""
    if scorer is None:
        raise BadInputError("this metric summarises a scorer; it needs the scorer's name")
    by_sample: dict[str, list[Score]] = defaultdict(list)
    errors = 0
    for result in results:
        if result.error is not None:
            errors += 1
        elif scorer in result.scores:
            by_sample[result.sample_id].append(result.scores[scorer])
    return by_sample, errors


def _normal_interval(mean: float, stderr: float | None, low: float = 0.0,
                     high: float = 1.0) -> tuple[float | None, float | None]:
    if stderr is None:
        return None, None
    return max(low, mean - Z95 * stderr), min(high, mean + Z95 * stderr)


def _mean_and_stderr(values: Sequence[float]) -> tuple[float, float | None]:
    array = np.asarray(values, dtype=float)
    stderr = float(np.std(array, ddof=1) / math.sqrt(len(array))) if len(array) > 1 else None
    return float(array.mean()), stderr


def wilson_interval(correct: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval for `correct` of `n` (scipy's `binomtest(...).proportion_ci`)."""
    from scipy.stats import binomtest

    interval = binomtest(correct, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(interval.low), float(interval.high)


# --- score metrics ---------------------------------------------------------------------------


@metric("accuracy")
def accuracy() -> MetricFn:
    """The mean score. One epoch of pass/fail scores is a binomial proportion: its standard error
    is sqrt(p(1-p)/n) and its interval Wilson's, which unlike the normal approximation stays
    inside [0, 1] and keeps its coverage near p = 0 or 1 and at small n, where evals often sit
    (Brown, Cai and DasGupta 2001). Partial credit, or several epochs averaged per sample, gives
    the normal interval of the per-sample means."""
    def compute(results: Sequence[SampleResult], scorer: str | None) -> MetricValue:
        by_sample, errors = _scores(results, scorer)
        per_sample = [[s.as_float for s in scores] for scores in by_sample.values()]
        n = len(per_sample)
        if n == 0:
            return MetricValue(name="accuracy", scorer=scorer, value=None, n=0, note="no scored samples",
                               details={"errors": errors})
        if all(len(v) == 1 and v[0] in (0.0, 1.0) for v in per_sample):
            correct = int(sum(v[0] for v in per_sample))
            p = correct / n
            low, high = wilson_interval(correct, n)
            return MetricValue(name="accuracy", scorer=scorer, value=p, stderr=math.sqrt(p * (1 - p) / n),
                               ci_low=low, ci_high=high, interval="wilson", n=n,
                               details={"correct": correct, "errors": errors})
        mean, stderr = _mean_and_stderr([float(np.mean(v)) for v in per_sample])
        low, high = _normal_interval(mean, stderr)
        epochs = max(len(v) for v in per_sample)
        return MetricValue(name="accuracy", scorer=scorer, value=mean, stderr=stderr, ci_low=low, ci_high=high,
                           interval="normal, clustered by sample" if epochs > 1 else "normal", n=n,
                           details={"errors": errors, "epochs": epochs})
    return compute


def pass_at_k_estimate(n: int, c: int, k: int) -> float:
    """The unbiased pass@k of one sample with `c` of `n` attempts correct (Chen et al. 2021):
    1 - C(n-c, k) / C(n, k), computed as the product 1 - prod_{i=n-c+1..n} (1 - k/i), which
    stays exact where the binomials overflow a float."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise BadInputError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


@metric("pass_at_k")
def pass_at_k(k: int = 1, threshold: float = 1.0) -> MetricFn:
    """Mean over samples of the unbiased pass@k over each sample's epochs (an attempt passes when
    its score is at least `threshold`). Undefined (None) while a sample has fewer than k epochs."""
    if k < 1:
        raise BadInputError(f"pass@k needs k >= 1, got {k}")
    name = f"pass@{k}"

    def compute(results: Sequence[SampleResult], scorer: str | None) -> MetricValue:
        by_sample, errors = _scores(results, scorer)
        short = [sid for sid, scores in by_sample.items() if len(scores) < k]
        if not by_sample or short:
            note = f"{len(short)} samples have fewer than {k} scored epochs" if short else "no scored samples"
            return MetricValue(name=name, scorer=scorer, value=None, n=len(by_sample), note=note,
                               details={"errors": errors})
        estimates = [pass_at_k_estimate(len(s), sum(x.as_float >= threshold for x in s), k)
                     for s in by_sample.values()]
        mean, stderr = _mean_and_stderr(estimates)
        low, high = _normal_interval(mean, stderr)
        return MetricValue(name=name, scorer=scorer, value=mean, stderr=stderr, ci_low=low, ci_high=high,
                           interval="normal", n=len(estimates), details={"errors": errors, "k": k})
    return compute


def _confident(results: Sequence[SampleResult], scorer: str | None) -> tuple[np.ndarray, np.ndarray, int]:
    """(confidences, scores) of every scored result that has a confidence, and the error count."""
    by_sample, errors = _scores(results, scorer)
    pairs = [(s.confidence, s.as_float) for scores in by_sample.values() for s in scores if s.confidence is not None]
    confidence = np.array([p[0] for p in pairs], dtype=float)
    return confidence, np.array([p[1] for p in pairs], dtype=float), errors


def auroc_value(confidence: Sequence[float], correct: Sequence[bool]) -> float:
    """The probability that a correct result is more confident than an incorrect one, ties
    counting half: the Mann-Whitney U over n_pos * n_neg, from midranks."""
    from scipy.stats import rankdata

    labels = np.asarray(correct, dtype=bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        raise BadInputError("AUROC needs both correct and incorrect results")
    ranks = rankdata(np.asarray(confidence, dtype=float))
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@metric("auroc")
def auroc(threshold: float = 1.0) -> MetricFn:
    """How well the confidence separates correct results (score >= `threshold`) from incorrect
    ones; 0.5 is chance. Standard error by Hanley and McNeil (1982). Over (sample, epoch) results."""
    def compute(results: Sequence[SampleResult], scorer: str | None) -> MetricValue:
        confidence, scores, errors = _confident(results, scorer)
        correct = scores >= threshold
        n_pos, n_neg = int(correct.sum()), int((~correct).sum())
        details = {"errors": errors, "correct": n_pos, "incorrect": n_neg}
        if n_pos == 0 or n_neg == 0:
            return MetricValue(name="auroc", scorer=scorer, value=None, n=len(scores), details=details,
                               note="needs both correct and incorrect results with a confidence")
        area = auroc_value(confidence, correct)
        q1, q2 = area / (2 - area), 2 * area**2 / (1 + area)
        variance = (area * (1 - area) + (n_pos - 1) * (q1 - area**2) + (n_neg - 1) * (q2 - area**2)) / (n_pos * n_neg)
        stderr = math.sqrt(max(variance, 0.0))
        low, high = _normal_interval(area, stderr)
        return MetricValue(name="auroc", scorer=scorer, value=area, stderr=stderr, ci_low=low, ci_high=high,
                           interval="hanley-mcneil", n=len(scores), details=details)
    return compute


def risk_at_coverage_value(confidence: Sequence[float], scores: Sequence[float], coverage: float) -> float:
    """The mean loss (1 - score) over the `coverage` fraction of results with the highest
    confidence. Results tied at the cut count in proportion, so the value does not depend on their
    order (it is the expectation over random tie-breaking)."""
    conf, loss = np.asarray(confidence, dtype=float), 1.0 - np.asarray(scores, dtype=float)
    kept = max(1, math.ceil(coverage * len(conf)))
    cut = np.sort(conf)[::-1][kept - 1]
    above, tied = conf > cut, conf == cut
    from_tied = kept - int(above.sum())
    return float((loss[above].sum() + from_tied * loss[tied].mean()) / kept)


@metric("risk_at_coverage")
def risk_at_coverage(coverage: float = 0.8) -> MetricFn:
    """The error rate when answering only the most confident `coverage` fraction and abstaining on
    the rest (selective prediction); lower is better. Over (sample, epoch) results."""
    if not 0.0 < coverage <= 1.0:
        raise BadInputError(f"coverage is in (0, 1], got {coverage}")
    name = f"risk@{coverage:g}"

    def compute(results: Sequence[SampleResult], scorer: str | None) -> MetricValue:
        confidence, scores, errors = _confident(results, scorer)
        if len(scores) == 0:
            return MetricValue(name=name, scorer=scorer, value=None, n=0, higher_is_better=False,
                               note="no results with a confidence", details={"errors": errors})
        risk = risk_at_coverage_value(confidence, scores, coverage)
        kept = max(1, math.ceil(coverage * len(scores)))
        stderr = math.sqrt(risk * (1 - risk) / kept)
        low, high = _normal_interval(risk, stderr)
        return MetricValue(name=name, scorer=scorer, value=risk, stderr=stderr, ci_low=low, ci_high=high,
                           interval="normal", n=len(scores), higher_is_better=False,
                           details={"errors": errors, "covered": kept,
                                    "threshold": float(np.sort(confidence)[::-1][kept - 1])})
    return compute


# --- run metrics -----------------------------------------------------------------------------


def percentiles(values: Sequence[float], qs: Sequence[float]) -> dict[str, float]:
    array = np.asarray(values, dtype=float)
    return {f"p{q:g}": float(np.percentile(array, q)) for q in qs}


@metric("cost", per_scorer=False)
def cost(percentiles_at: Sequence[float] = (50, 90, 99)) -> MetricFn:
    """Total spend (the value), and per-result mean, percentiles and max; errored results count:
    their spend was real."""
    def compute(results: Sequence[SampleResult], scorer: str | None) -> MetricValue:
        spent = [r.cost_usd for r in results]
        if not spent:
            return MetricValue(name="cost", value=None, n=0, higher_is_better=False, note="no results")
        details = {"mean": float(np.mean(spent)), **percentiles(spent, percentiles_at), "max": float(max(spent))}
        return MetricValue(name="cost", value=float(sum(spent)), n=len(spent), higher_is_better=False,
                           details=details)
    return compute


@metric("latency", per_scorer=False)
def latency(percentiles_at: Sequence[float] = (50, 90, 95, 99)) -> MetricFn:
    """Median seconds per result (the value), and mean, percentiles and max (linear interpolation,
    numpy's default)."""
    def compute(results: Sequence[SampleResult], scorer: str | None) -> MetricValue:
        seconds = [r.latency_s for r in results if r.latency_s is not None]
        if not seconds:
            return MetricValue(name="latency", value=None, n=0, higher_is_better=False, note="no latencies")
        details = {"mean": float(np.mean(seconds)), **percentiles(seconds, percentiles_at), "max": float(max(seconds))}
        return MetricValue(name="latency", value=float(np.median(seconds)), n=len(seconds),
                           higher_is_better=False, details=details)
    return compute
