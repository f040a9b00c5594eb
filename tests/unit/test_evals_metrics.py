"""Metrics against hand-computed values: accuracy (Wilson interval against Newcombe's table),
clustered epochs, pass@k (Chen et al.), AUROC, risk at coverage, cost and latency percentiles."""

from __future__ import annotations

import math
from typing import Any

import pytest

from aegis_ray.errors import BadInputError
from aegis_ray.evals.errors import UnknownNameError
from aegis_ray.evals.metrics import (
    METRICS,
    MetricSpec,
    auroc_value,
    compute_metrics,
    default_metrics,
    get_metric,
    metric,
    pass_at_k_estimate,
    risk_at_coverage_value,
    wilson_interval,
)
from aegis_ray.evals.results import MetricValue, SampleError, SampleResult
from aegis_ray.evals.scorers import Score

pytestmark = pytest.mark.unit


def result(sample_id: str, value: float | bool, epoch: int = 1, confidence: float | None = None,
           **fields: Any) -> SampleResult:
    return SampleResult(sample_id=sample_id, epoch=epoch, output="o",
                        scores={"s": Score(value=value, confidence=confidence)}, **fields)


def compute(name: str, results: list[SampleResult], **options: Any) -> MetricValue:
    return get_metric(name, **options)(results, "s")


# Newcombe (1998), "Two-sided confidence intervals for the single proportion", Table I, method 3 (Wilson).
@pytest.mark.parametrize(("correct", "n", "low", "high"), [
    (81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718),
])
def test_wilson_interval_matches_newcombes_table(correct: int, n: int, low: float, high: float) -> None:
    got = wilson_interval(correct, n)
    assert got == pytest.approx((low, high), abs=5e-5)


def test_accuracy_of_pass_fail_scores_is_a_proportion_with_a_wilson_interval() -> None:
    value = compute("accuracy", [result("a", True), result("b", 1.0), result("c", False), result("d", True)])
    assert (value.value, value.n, value.interval, value.details["correct"]) == (0.75, 4, "wilson", 3)
    assert value.stderr == pytest.approx(math.sqrt(0.75 * 0.25 / 4))
    assert (value.ci_low, value.ci_high) == pytest.approx(wilson_interval(3, 4))
    assert value.key == "s/accuracy" and value.higher_is_better


def test_accuracy_excludes_errored_results_and_counts_them() -> None:
    errored = SampleResult(sample_id="e", error=SampleError(type="ProviderError", message="down"))
    value = compute("accuracy", [result("a", True), result("b", False), errored])
    assert (value.value, value.n, value.details["errors"]) == (0.5, 2, 1)
    empty = compute("accuracy", [errored])
    assert (empty.value, empty.n, empty.note) == (None, 0, "no scored samples")


def test_accuracy_over_epochs_is_clustered_by_sample() -> None:
    results = [result("a", 1, 1), result("a", 0, 2), result("b", 1, 1), result("b", 1, 2),
               result("c", 0, 1), result("c", 0, 2)]
    value = compute("accuracy", results)
    assert (value.value, value.n, value.interval) == (0.5, 3, "normal, clustered by sample")
    # Per-sample means 0.5, 1, 0: sample sd 0.5, so the standard error is 0.5 / sqrt(3) (not over 6 results).
    assert value.stderr == pytest.approx(0.5 / math.sqrt(3))
    assert value.ci_low == pytest.approx(max(0.0, 0.5 - 1.959964 * 0.5 / math.sqrt(3)), abs=1e-6)


def test_accuracy_with_partial_credit_uses_the_normal_interval() -> None:
    value = compute("accuracy", [result("a", 0.5), result("b", 1.0), result("c", 0.0), result("d", 0.5)])
    assert (value.value, value.interval) == (0.5, "normal")
    assert value.stderr == pytest.approx(math.sqrt((0 + 0.25 + 0.25 + 0) / 3) / 2)


@pytest.mark.parametrize(("n", "c", "k", "expected"), [
    (10, 3, 1, 0.3), (10, 3, 2, 1 - 21 / 45), (10, 3, 5, 1 - 21 / 252), (10, 0, 5, 0.0), (5, 3, 3, 1.0),
    (1, 1, 1, 1.0), (200, 1, 100, 0.5),
])
def test_pass_at_k_known_values(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k_estimate(n, c, k) == pytest.approx(expected)


def test_pass_at_k_equals_the_binomial_form() -> None:
    for n in range(1, 12):
        for c in range(n + 1):
            for k in range(1, n + 1):
                exact = 1 - math.comb(n - c, k) / math.comb(n, k)
                assert pass_at_k_estimate(n, c, k) == pytest.approx(exact, abs=1e-12)
    with pytest.raises(BadInputError):
        pass_at_k_estimate(3, 1, 4)


def test_pass_at_k_metric_over_epochs() -> None:
    results = [result("a", v, e) for e, v in enumerate([1, 0, 0, 0], 1)] + \
              [result("b", v, e) for e, v in enumerate([0, 0, 0, 0], 1)]
    one, two = compute("pass_at_k", results, k=1), compute("pass_at_k", results, k=2)
    assert (one.name, one.value) == ("pass@1", pytest.approx(0.125))
    assert (two.name, two.value) == ("pass@2", pytest.approx((0.5 + 0.0) / 2))  # a: 1 - C(3,2)/C(4,2)
    short = compute("pass_at_k", results, k=5)
    assert short.value is None and "fewer than 5" in (short.note or "")
    with pytest.raises(BadInputError):
        get_metric("pass_at_k", k=0)


def test_auroc_on_tiny_cases() -> None:
    # Pairs (correct, incorrect): (.9,.6) (.9,.1) (.4,.1) ranked right, (.4,.6) wrong: 3 of 4.
    assert auroc_value([0.9, 0.4, 0.6, 0.1], [True, True, False, False]) == 0.75
    assert auroc_value([0.5, 0.5], [True, False]) == 0.5  # a tie counts half
    assert auroc_value([0.9, 0.8, 0.1], [True, True, False]) == 1.0
    assert auroc_value([0.1, 0.9], [True, False]) == 0.0
    with pytest.raises(BadInputError):
        auroc_value([0.1, 0.2], [True, True])


def test_auroc_metric_with_the_hanley_mcneil_standard_error() -> None:
    results = [result("a", 1, confidence=0.9), result("b", 1, confidence=0.4), result("c", 0, confidence=0.6),
               result("d", 0, confidence=0.1), result("e", 1)]  # no confidence: not counted
    value = compute("auroc", results)
    assert (value.value, value.n, value.interval) == (0.75, 4, "hanley-mcneil")
    # A = .75, n+ = n- = 2: Q1 = .6, Q2 = 2(.5625)/1.75; var = (.1875 + (.6-.5625) + (Q2-.5625)) / 4.
    q2 = 2 * 0.5625 / 1.75
    assert value.stderr == pytest.approx(math.sqrt((0.1875 + 0.0375 + (q2 - 0.5625)) / 4))
    one_class = compute("auroc", [result("a", 1, confidence=0.3)])
    assert one_class.value is None and "both" in (one_class.note or "")


def test_risk_at_coverage() -> None:
    confidence, scores = [0.9, 0.8, 0.7, 0.6, 0.5], [1, 1, 0, 1, 0]
    assert risk_at_coverage_value(confidence, scores, 0.6) == pytest.approx(1 / 3)
    assert risk_at_coverage_value(confidence, scores, 1.0) == pytest.approx(2 / 5)
    assert risk_at_coverage_value(confidence, scores, 0.2) == 0.0
    # Ties at the cut count in proportion: one of the three at .5 is kept, and two of those three are wrong.
    assert risk_at_coverage_value([0.9, 0.5, 0.5, 0.5], [1, 1, 0, 0], 0.5) == pytest.approx(1 / 3)
    assert risk_at_coverage_value([0.5, 0.5, 0.5, 0.9], [0, 0, 1, 1], 0.5) == pytest.approx(1 / 3)
    value = compute("risk_at_coverage", [result(str(i), s, confidence=c) for i, (c, s) in
                                         enumerate(zip(confidence, scores, strict=True))], coverage=0.6)
    assert (value.name, value.value, value.higher_is_better) == ("risk@0.6", pytest.approx(1 / 3), False)
    assert value.details["covered"] == 3 and value.details["threshold"] == 0.7
    with pytest.raises(BadInputError):
        get_metric("risk_at_coverage", coverage=0)


def test_cost_and_latency_percentiles() -> None:
    results = [result(str(i), 1, cost_usd=c, latency_s=s)
               for i, (c, s) in enumerate([(0.01, 1.0), (0.02, 2.0), (0.03, 3.0), (0.04, 4.0), (0.0, 100.0)])]
    cost, latency = get_metric("cost")(results, None), get_metric("latency")(results, None)
    assert cost.value == pytest.approx(0.10) and cost.details["p50"] == pytest.approx(0.02)
    assert cost.details["max"] == 0.04 and not cost.higher_is_better and cost.key == "cost"
    assert latency.value == 3.0 and latency.details["p90"] == pytest.approx(4 + 0.6 * 96)  # linear interpolation
    assert latency.details["mean"] == pytest.approx(22.0) and latency.details["max"] == 100.0


def test_compute_metrics_keys_and_defaults() -> None:
    results = [result("a", True, latency_s=1.0, cost_usd=0.5), result("b", False, latency_s=2.0)]
    specs = default_metrics(["exact", "numeric"])
    assert [s.name for s in specs] == ["accuracy", "cost", "latency"]
    values = compute_metrics(results, ["s"], [*specs, MetricSpec(name="pass_at_k", options={"k": 1})])
    assert sorted(values) == ["cost", "latency", "s/accuracy", "s/pass@1"]
    assert values["s/accuracy"].value == 0.5 and values["cost"].value == 0.5 and values["latency"].value == 1.5


def test_user_metrics_register_and_unknown_names_are_refused() -> None:
    @metric("test_mean_length", per_scorer=False, replace=True)
    def mean_length() -> Any:
        def compute_it(results: Any, scorer: str | None) -> MetricValue:
            lengths = [len(r.output or "") for r in results]
            return MetricValue(name="test_mean_length", value=sum(lengths) / len(lengths), n=len(lengths))
        return compute_it

    try:
        values = compute_metrics([result("a", 1)], ["s"], [MetricSpec(name="test_mean_length")])
        assert values["test_mean_length"].value == 1.0
        with pytest.raises(BadInputError, match="already registered"):
            metric("test_mean_length")(mean_length)
    finally:
        METRICS.pop("test_mean_length")
    with pytest.raises(UnknownNameError, match="known metrics"):
        get_metric("f1")
