"""Running evals in-process over a real SQLite store with a stand-in answer function: every
(sample, epoch) a factory job under a content-addressed id, so a re-run, a re-scoring and a resumed
run redo nothing finished (counted answer calls); `max_usd` stops new samples; failed jobs, metrics
and the log; the verified solver on the in-process simulator, its verifications kept."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from aegis_ray.config import Settings
from aegis_ray.errors import BadInputError, ProviderServerError
from aegis_ray.evals import EvalResults, plan_eval, read_log, run_eval
from aegis_ray.evals.errors import MissingDependencyError, UnknownNameError
from aegis_ray.evals.metrics import wilson_interval
from aegis_ray.evals.run import EvalOptions, execute
from aegis_ray.evals.task import TaskSpec, resolve_task
from aegis_ray.factory import WorkerOptions, drain
from aegis_ray.sim.inprocess import InProcessSim
from aegis_ray.store import Store, open_store
from aegis_ray.types import Answer, Completion, ModelRequest, RunResult, RunSpec, RunStatus, Usage, new_id
from tests.helpers import FAST_RETRY

pytestmark = pytest.mark.unit

EXAMPLES = Path(__file__).parents[2] / "examples" / "evals"
ARITHMETIC = EXAMPLES / "arithmetic"
TARGETS = {json.loads(line)["input"]: json.loads(line)["target"]
           for line in (ARITHMETIC / "arithmetic.jsonl").read_text().splitlines()}
WRONG = {"What is 17 × 23?", "What is 99 × 99?", "What is 2.5 squared?"}  # answered off by one

Answerer = Callable[[RunSpec], Awaitable[RunResult]]


def answering(calls: Counter[str], *, cost: float = 0.001, delay_s: float = 0.0,
              failing: str | None = None) -> Answerer:
    """Answers an arithmetic question with its target (off by one for WRONG), counting calls; the
    question `failing` fails every attempt with a 503."""
    async def answer(spec: RunSpec) -> RunResult:
        calls[spec.task] += 1
        await asyncio.sleep(delay_s)
        if spec.task == failing:
            raise ProviderServerError("503 from the stand-in", model="sim:sim-honest", status=503)
        value = float(TARGETS[spec.task]) + (1 if spec.task in WRONG else 0)
        return RunResult(run_id=new_id("run"), task=spec.task, status=RunStatus.SUCCEEDED,
                         answer=Answer(text=f"The answer is {value:g}"), model="sim:sim-honest", simulated=True,
                         usage=Usage(), cost_usd=cost, latency_s=delay_s)
    return answer


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


@pytest.fixture
async def store(tmp_path: Path) -> Store:
    store = await open_store(None, tmp_path)
    yield store
    await store.close()


async def arithmetic(store: Store, settings: Settings, answer: Answerer, **options: object) -> EvalResults:
    return await run_eval(ARITHMETIC, model="sim:sim-honest", store=store, answer=answer, settings=settings,
                          concurrency=4, **options)  # type: ignore[arg-type]


async def test_metrics_and_the_log(store: Store, settings: Settings, tmp_path: Path) -> None:
    calls: Counter[str] = Counter()
    results = await arithmetic(store, settings, answering(calls), log_dir=tmp_path / "logs")
    assert len(calls) == 20 and set(calls.values()) == {1}
    accuracy = results.metrics["numeric/accuracy"]
    assert (accuracy.value, accuracy.n, accuracy.interval) == (17 / 20, 20, "wilson")
    assert (accuracy.ci_low, accuracy.ci_high) == pytest.approx(wilson_interval(17, 20))
    assert results.metrics["cost"].value == pytest.approx(0.02)
    assert results.path is not None and results.path.parent == tmp_path / "logs"
    log = read_log(results.path)
    assert log == results.log and log.status == "success" and log.stopped is None
    assert [(r.sample_id, r.epoch) for r in log.results] == [(f"arith-{i:02d}", 1) for i in range(1, 21)]
    assert all(r.attempts == 1 and r.job_id and r.job_id.startswith("eval_") for r in log.results)
    assert {r.sample_id for r in log.results if not r.scores["numeric"].value} == {"arith-01", "arith-12", "arith-15"}
    assert log.spec.models[0].name == "sim:sim-honest" and log.spec.epochs == 1


async def test_running_the_same_eval_again_redoes_nothing(store: Store, settings: Settings) -> None:
    calls: Counter[str] = Counter()
    first = await arithmetic(store, settings, answering(calls), epochs=2)
    assert sum(calls.values()) == 40 and set(calls.values()) == {2}
    again = await arithmetic(store, settings, answering(calls), epochs=2)
    assert sum(calls.values()) == 40, "a finished (sample, epoch) was answered again"
    assert again.metrics == first.metrics and len(again.results) == 40
    # More epochs run only the new ones; another scorer, a limit or a shuffle redoes no answer.
    await arithmetic(store, settings, answering(calls), epochs=3)
    assert sum(calls.values()) == 60 and set(calls.values()) == {3}
    task = resolve_task(ARITHMETIC, ("exact",))
    rescored = await run_eval(task, model="sim:sim-honest", store=store, answer=answering(calls), settings=settings,
                              limit=5, shuffle=True, seed=7)
    assert sum(calls.values()) == 60 and len(rescored.results) == 5 and "exact/accuracy" in rescored.metrics
    # Another model is another eval: its answers are its own.
    await run_eval(ARITHMETIC, model="sim:sim-honest-b", store=store, answer=answering(calls), settings=settings,
                   limit=2)
    assert sum(calls.values()) == 62


async def test_a_crashed_run_resumes_without_redoing_finished_samples(store: Store, settings: Settings) -> None:
    plan = plan_eval(ARITHMETIC, ["sim:sim-honest"], settings, EvalOptions(poll_s=0.02))
    work = WorkerOptions(concurrency=2, lease_s=0.5)
    first: Counter[str] = Counter()

    def workers(answer: Answerer) -> Callable[[], Awaitable[object]]:
        return lambda: drain(store, answer, "w", work)

    eight = asyncio.Event()
    running = asyncio.ensure_future(execute(plan, store, workers(answering(first, delay_s=0.05)),
                                            on_progress=lambda p: eight.set() if p.done >= 8 else None))
    await eight.wait()
    running.cancel()  # the driver dies: its claimed jobs keep their leases until they expire
    with pytest.raises(asyncio.CancelledError):
        await running
    finished = {j.payload["spec"]["task"] for j in await store.jobs("done")}
    assert 8 <= len(finished) < 20
    second: Counter[str] = Counter()
    results = await execute(plan, store, workers(answering(second)))
    assert not finished & set(second), "a sample finished before the crash was answered again"
    assert set(second) | finished == set(TARGETS) and set(second.values()) == {1}
    assert len(results.results) == 20 and results.log.status == "success"
    by_task = {r.input: r for r in results.results}
    assert all(by_task[task].attempts == 1 for task in finished)


async def test_the_kill_switch_stops_an_eval_and_keeps_what_finished(store: Store, settings: Settings,
                                                                     tmp_path: Path) -> None:
    from aegis_ray.control import StoppedError, SwitchState, set_switch

    plan = plan_eval(ARITHMETIC, ["sim:sim-honest"], settings, EvalOptions(poll_s=0.02))
    first: Counter[str] = Counter()
    operator = await open_store(None, tmp_path)
    five = asyncio.Event()
    running = asyncio.ensure_future(execute(
        plan, store, lambda: drain(store, answering(first, delay_s=0.1), "w", WorkerOptions(concurrency=2)),
        on_progress=lambda p: five.set() if p.done >= 5 else None))
    await five.wait()
    await set_switch(operator, SwitchState.STOPPED)
    with pytest.raises(StoppedError, match="aegis resume"):
        await asyncio.wait_for(running, 5)  # the drain halts within a second; the eval says so
    finished = {j.payload["spec"]["task"] for j in await store.jobs("done")}
    assert 5 <= len(finished) < 20
    await set_switch(operator, SwitchState.RUNNING)
    second: Counter[str] = Counter()
    results = await execute(plan, store, lambda: drain(store, answering(second), "w", WorkerOptions(concurrency=2)))
    assert not finished & set(second) and len(results.results) == 20
    await operator.close()


async def test_max_usd_stops_new_samples_and_a_higher_budget_continues(store: Store, settings: Settings) -> None:
    calls: Counter[str] = Counter()
    plan = plan_eval(ARITHMETIC, ["sim:sim-honest"], settings, EvalOptions(max_usd=0.05, window=2, poll_s=0.02))
    stopped = await execute(plan, store, lambda: drain(store, answering(calls, cost=0.01), "w",
                                                       WorkerOptions(concurrency=2)))
    log = stopped.log
    spent = sum(calls.values())
    assert 5 <= spent <= 5 + 2, f"{spent} samples answered on a budget of 5"
    assert len(log.results) == spent and log.status == "cancelled"
    assert log.stopped is not None and "budget of $0.05" in log.stopped and f"{20 - spent} of 20" in log.stopped
    assert log.spec.max_usd == 0.05 and log.metrics["cost"].value == pytest.approx(spent * 0.01)
    # The same budget again starts nothing: the eval has spent it. A higher one runs the rest only.
    again = await execute(plan, store, lambda: drain(store, answering(calls, cost=0.01), "w", WorkerOptions()))
    assert sum(calls.values()) == spent and again.log.status == "cancelled"
    rest = await arithmetic(store, settings, answering(calls, cost=0.01))
    assert sum(calls.values()) == 20 and set(calls.values()) == {1}
    assert rest.log.status == "success" and len(rest.results) == 20


async def test_a_job_that_keeps_failing_is_an_errored_result(store: Store, settings: Settings) -> None:
    calls: Counter[str] = Counter()
    results = await arithmetic(store, settings, answering(calls, failing="What is 456 + 789?"))
    failed = [r for r in results.results if r.error is not None]
    assert [(r.sample_id, r.attempts, r.error.type) for r in failed if r.error] == [
        ("arith-03", 3, "ProviderServerError")]
    assert calls["What is 456 + 789?"] == 3
    accuracy = results.metrics["numeric/accuracy"]
    assert (accuracy.n, accuracy.details["errors"]) == (19, 1)


async def test_the_verified_solver_keeps_its_verifications(store: Store, settings: Settings) -> None:
    sim = InProcessSim()
    endpoints = sim.models(retry=FAST_RETRY)
    calls: Counter[str] = Counter()

    class Counted:
        async def complete(self, request: ModelRequest, models: list[str] | None = None) -> Completion:
            from aegis_ray.providers.gateway import Gateway

            calls[(models or ["?"])[0]] += 1
            return await Gateway(endpoints, models or ["sim:sim-honest"]).complete(request, models)

    try:
        first = await run_eval(EXAMPLES / "facts", store=store, settings=settings, models=Counted(), limit=4)
        assert first.metrics["includes/accuracy"].value == 1.0 and sum(calls.values()) > 0
        assert all(r.confidence is not None and r.scores["includes"].confidence == r.confidence
                   for r in first.results)
        assert {"includes/auroc", "includes/risk@0.8"} <= set(first.metrics)
        jobs = await store.jobs_by_id([r.job_id for r in first.results if r.job_id])
        assert all(r.cost_usd > jobs[r.job_id].result["result"]["cost_usd"] for r in first.results if r.job_id), \
            "a result's cost is its answer's and its verification's"
        before = sum(calls.values())
        again = await run_eval(EXAMPLES / "facts", store=store, settings=settings, models=Counted(), limit=4)
        assert sum(calls.values()) == before, "a verification was redone"
        assert again.results == first.results
    finally:
        await endpoints.aclose()


async def test_to_pandas_says_what_to_install(store: Store, settings: Settings) -> None:
    if importlib.util.find_spec("pandas") is not None:
        pytest.skip("pandas is installed")
    results = await arithmetic(store, settings, answering(Counter()), limit=1)
    with pytest.raises(MissingDependencyError) as caught:
        results.to_pandas()
    assert caught.value.hint == "pip install pandas"


def test_bad_tasks_fail_before_anything_runs(tmp_path: Path, settings: Settings) -> None:
    with pytest.raises(BadInputError, match=r"holds no task\.toml"):
        resolve_task(tmp_path)
    with pytest.raises(BadInputError, match="does not exist"):
        resolve_task(tmp_path / "missing.toml")
    dataset = str(ARITHMETIC / "arithmetic.jsonl")
    unknown = TaskSpec(name="t", dataset=dataset, solver={"name": "nope"}, scorers=[{"name": "numeric"}])
    with pytest.raises(UnknownNameError, match="no solver named 'nope'"):
        plan_eval(unknown, ["sim:sim-honest"], settings)
    twice = TaskSpec(name="t", dataset=dataset, scorers=[{"name": "numeric"}, {"name": "numeric"}])
    with pytest.raises(BadInputError, match="names a scorer twice"):
        plan_eval(twice, ["sim:sim-honest"], settings)
    judged = TaskSpec(name="t", dataset=dataset, scorers=[{"name": "model_graded",
                                                           "options": {"judge": "sim:sim-honest"}}])
    with pytest.raises(BadInputError, match="the checker is never the author"):
        plan_eval(judged, ["sim:sim-honest"], settings)
    bad_layer = TaskSpec(name="t", dataset=dataset, solver={"name": "verified", "options": {"layers": [
        {"method": "nope"}]}}, scorers=[{"name": "numeric"}])
    with pytest.raises(BadInputError):
        plan_eval(bad_layer, ["sim:sim-honest"], settings)
    plan = plan_eval(resolve_task(ARITHMETIC / "arithmetic.jsonl"), ["sim:sim-honest"], settings)
    assert [s.name for s in plan.task.scorers] == ["includes"] and len(plan.jobs) == 20


async def test_the_gate_fails_closed_on_a_metric_the_logs_keep_under_different_scorers(
        store: Store, settings: Settings) -> None:
    from aegis_ray.evals import compare_logs

    numeric = await arithmetic(store, settings, answering(Counter()))
    exact = await run_eval(resolve_task(ARITHMETIC, ("exact",)), model="sim:sim-honest", store=store,
                           answer=answering(Counter()), settings=settings)
    report = compare_logs(numeric.log, exact.log, metrics=("accuracy",))
    assert not report.passed and "accuracy is under no key both logs share" in report.failures[0]
    assert compare_logs(numeric.log, numeric.log, metrics=("accuracy",)).passed
