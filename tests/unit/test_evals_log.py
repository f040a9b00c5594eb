"""The eval log (round trip, atomic write, version and git stamps, refusals) and the regression
gate (a seeded regression fails, a non-regression passes, intervals of differences)."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from aegis_ray.errors import BadInputError
from aegis_ray.evals.compare import compare_logs, difference_interval
from aegis_ray.evals.dataset import Dataset, Sample
from aegis_ray.evals.errors import EvalLogError
from aegis_ray.evals.log import DatasetRef, EvalLog, EvalSpec, Timings, new_log, read_log, write_log
from aegis_ray.evals.metrics import compute_metrics, default_metrics, wilson_interval
from aegis_ray.evals.results import MetricValue, SampleError, SampleResult
from aegis_ray.evals.scorers import Score, ScorerSpec
from aegis_ray.evals.task import SolverSpec
from aegis_ray.types import utcnow

pytestmark = pytest.mark.unit


def make_log(correct: list[bool], *, dataset_hash: str = "h" * 64, cwd: Path | None = None) -> EvalLog:
    dataset = Dataset(name="arith", path="/data/arith.jsonl", hash=dataset_hash,
                      samples=tuple(Sample(id=f"s{i}", input=f"q{i}") for i in range(len(correct))))
    spec = EvalSpec(task="arith", dataset=DatasetRef.of(dataset), solver=SolverSpec(name="answer"),
                    scorers=(ScorerSpec(name="numeric", options={"abs_tol": 1e-6}),),
                    metrics=tuple(default_metrics(["numeric"])), models=("sim:sim-honest", "sim:sim-flaky"),
                    epochs=1, limit=None, seed=3)
    results = [SampleResult(sample_id=f"s{i}", input=f"q{i}", target=str(i), output=f"{i if ok else -1}",
                            scores={"numeric": Score(value=ok, answer=str(i), explanation="e")},
                            cost_usd=0.001, latency_s=0.2 + i / 100, model="sim:sim-honest", simulated=True)
               for i, ok in enumerate(correct)]
    started = utcnow()
    return new_log(spec, results, compute_metrics(results, ["numeric"], spec.metrics),
                   Timings(started_at=started, finished_at=started + timedelta(seconds=4)), cwd=cwd)


def test_log_round_trip(tmp_path: Path) -> None:
    log = make_log([True, False, True])
    errored = SampleResult(sample_id="s9", error=SampleError.of(TimeoutError("slow")), model="sim:sim-honest")
    log = log.model_copy(update={"results": (*log.results, errored)})
    path = write_log(log, tmp_path / "logs" / "eval.json")
    again = read_log(path)
    assert again == log
    assert again.results[-1].error == SampleError(type="TimeoutError", message="slow")
    assert again.spec.models[0].name == "sim:sim-honest" and again.results[0].model == "sim:sim-honest"
    assert again.timings.duration_s == 4.0 and again.metrics["numeric/accuracy"].value == pytest.approx(2 / 3)
    data = json.loads(path.read_text())
    assert data["schema_version"] == 1 and data["spec"]["models"] == ["sim:sim-honest", "sim:sim-flaky"]
    assert data["aegis_version"] == "0.1.0"
    assert [p.name for p in path.parent.iterdir()] == ["eval.json"]  # no temporary left behind


def test_write_is_atomic_a_failed_write_leaves_the_old_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_log(make_log([True]), tmp_path / "eval.json")
    before = path.read_bytes()

    def crash(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        write_log(make_log([False, False]), path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["eval.json"]


def test_git_revision_is_stamped_in_a_checkout_and_none_outside(tmp_path: Path) -> None:
    outside = make_log([True], cwd=tmp_path)
    assert (outside.git_revision, outside.git_dirty) == (None, None)
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    for args in (["init", "-q"], ["commit", "-q", "--allow-empty", "-m", "x"]):
        subprocess.run(["git", *args], cwd=repo, check=True, env=env, capture_output=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    inside = make_log([True], cwd=repo)
    assert (inside.git_revision, inside.git_dirty) == (head, False)


def test_read_log_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    path = tmp_path / "log.json"
    path.write_text("{not json")
    with pytest.raises(EvalLogError, match="not JSON"):
        read_log(path)
    data = json.loads(make_log([True]).model_dump_json())
    path.write_text(json.dumps({**data, "schema_version": 2}))
    with pytest.raises(EvalLogError, match="schema 2") as caught:
        read_log(path)
    assert caught.value.hint == "upgrade aegis-ray to read it"
    path.write_text(json.dumps({"results": []}))
    with pytest.raises(EvalLogError, match="not an Aegis eval log"):
        read_log(path)
    path.write_text(json.dumps({**data, "spec": {**data["spec"], "epochs": 0}}))
    with pytest.raises(EvalLogError, match=r"field 'spec\.epochs'"):
        read_log(path)
    with pytest.raises(EvalLogError, match="cannot read"):
        read_log(tmp_path / "absent.json")


# --- the regression gate ---------------------------------------------------------------------


def test_a_seeded_regression_fails_the_gate() -> None:
    base = make_log([True] * 90 + [False] * 10)
    new = make_log([True] * 80 + [False] * 20)
    report = compare_logs(base, new, metrics=["accuracy"], max_drop=0.02)
    assert not report.passed
    (failure,) = report.failures
    assert failure.startswith("numeric/accuracy got worse by 0.1 (0.9 -> 0.8)")
    delta = next(d for d in report.deltas if d.key == "numeric/accuracy")
    assert (delta.checked, delta.passed, delta.interval) == (True, False, "newcombe")
    assert delta.difference == pytest.approx(-0.1) and delta.worse_by == pytest.approx(0.1)
    # Newcombe's interval for 0.8 - 0.9 at n = 100 each: (-0.1995, -0.0001), just clear of zero.
    assert (delta.ci_low, delta.ci_high) == pytest.approx((-0.19947, -0.00015), abs=5e-5)
    assert delta.significant is True
    # The gate is on the drop itself: 0.9 -> 0.85 is not significant at n = 100, and still fails a 0.02 allowance.
    smaller = compare_logs(base, make_log([True] * 85 + [False] * 15), max_drop=0.02)
    small_delta = next(d for d in smaller.deltas if d.key == "numeric/accuracy")
    assert not smaller.passed and small_delta.significant is False


def test_no_regression_passes_and_a_drop_within_the_allowance_passes() -> None:
    base = make_log([True] * 90 + [False] * 10)
    assert compare_logs(base, make_log([True] * 92 + [False] * 8), max_drop=0.0).passed
    report = compare_logs(base, make_log([True] * 88 + [False] * 12), max_drop=0.02)
    assert report.passed and report.failures == ()  # a drop of exactly max_drop passes
    assert not compare_logs(base, make_log([True] * 88 + [False] * 12), max_drop=0.019).passed
    unchecked = [d for d in report.deltas if not d.checked]
    assert {d.key for d in unchecked} == {"cost", "latency"} and all(d.passed is None for d in unchecked)


def test_lower_is_better_metrics_fail_when_they_rise() -> None:
    base = make_log([True] * 10)
    slower = base.model_copy(update={"metrics": {**base.metrics, "latency": base.metrics["latency"].model_copy(
        update={"value": base.metrics["latency"].value + 0.5})}})  # type: ignore[operator]
    report = compare_logs(base, slower, metrics=["latency"], max_drop=0.1)
    assert not report.passed and "latency got worse by 0.5" in report.failures[0]
    assert compare_logs(slower, base, metrics=["latency"], max_drop=0.1).passed  # faster is not a regression


def test_the_gate_fails_closed() -> None:
    base = make_log([True, False])
    with pytest.raises(BadInputError, match="'f1' is not in the base log"):
        compare_logs(base, base, metrics=["f1"])
    with pytest.raises(BadInputError, match="max_drop"):
        compare_logs(base, base, max_drop=-0.1)
    undefined = base.model_copy(update={"metrics": {**base.metrics, "numeric/accuracy": base.metrics[
        "numeric/accuracy"].model_copy(update={"value": None})}})
    report = compare_logs(base, undefined)
    assert not report.passed and report.failures == ("numeric/accuracy is undefined in the new log",)


def test_warnings_name_what_makes_logs_hard_to_compare() -> None:
    base = make_log([True] * 5)
    other = make_log([True] * 5, dataset_hash="0" * 64)
    report = compare_logs(base, other)
    assert report.passed and report.warnings == ("the logs ran different datasets (their hashes differ)",)
    assert compare_logs(base, make_log([True] * 4)).warnings == (
        "the logs scored different samples (limit or shuffle differ)",)


def test_difference_interval_newcombe_by_hand() -> None:
    # Newcombe (1998) method 10 for 56/70 vs 48/80 (his example (a)): 0.0524 to 0.3339 for p1 - p2.
    def proportion(k: int, n: int) -> MetricValue:
        low, high = wilson_interval(k, n)
        return MetricValue(name="accuracy", value=k / n, ci_low=low, ci_high=high, interval="wilson", n=n)

    low, high, method = difference_interval(proportion(48, 80), proportion(56, 70))
    assert method == "newcombe" and (low, high) == pytest.approx((0.0524, 0.3339), abs=5e-5)
    plain = MetricValue(name="m", value=1.0, stderr=0.3, n=10)
    low, high, method = difference_interval(plain, plain.model_copy(update={"value": 2.0, "stderr": 0.4}))
    assert method == "normal" and (low, high) == pytest.approx((1 - 1.959964 * 0.5, 1 + 1.959964 * 0.5), abs=1e-5)
    assert difference_interval(MetricValue(name="m", value=1.0, n=1), plain) == (None, None, None)
