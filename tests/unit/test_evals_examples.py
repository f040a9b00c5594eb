"""The example tasks under examples/evals: they load, their targets are right (arithmetic by
recomputing each expression, facts against the simulator's fact table), and their own scorers
accept the targets and refuse a wrong answer. Also the task file's refusals."""

from __future__ import annotations

import ast
import operator
from pathlib import Path

import pytest

from aegis_ray.errors import BadInputError
from aegis_ray.evals.errors import UnknownNameError
from aegis_ray.evals.scorers import Score
from aegis_ray.evals.task import load_task
from aegis_ray.sim.facts import fact_table

pytestmark = pytest.mark.unit

EXAMPLES = Path(__file__).parents[2] / "examples" / "evals"
_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
              ast.Pow: operator.pow, ast.Mod: operator.mod, ast.USub: operator.neg}


def evaluate(expression: str) -> float:
    """Arithmetic only: numbers, + - * / ** % and unary minus (no names, no calls)."""
    def walk(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return node.value
        if isinstance(node, ast.BinOp):
            return _OPERATORS[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp):
            return _OPERATORS[type(node.op)](walk(node.operand))
        raise ValueError(f"not arithmetic: {ast.dump(node)}")
    return walk(ast.parse(expression, mode="eval").body)


def test_arithmetic_targets_are_the_values_of_their_expressions() -> None:
    task = load_task(EXAMPLES / "arithmetic" / "task.toml")
    assert (task.name, task.solver.name, [s.name for s in task.scorers]) == ("arithmetic", "answer", ["numeric"])
    dataset = task.load_dataset()
    assert len(dataset) == 20 and len({s.id for s in dataset.samples}) == 20
    for sample in dataset.samples:
        assert isinstance(sample.target, str)
        assert float(sample.target) == pytest.approx(evaluate(sample.metadata["expression"]), abs=1e-9), sample.id


def test_arithmetic_scorer_accepts_the_target_and_refuses_off_by_one() -> None:
    task = load_task(EXAMPLES / "arithmetic" / "task.toml")
    score = task.scorers[0].build()
    for sample in task.load_dataset().samples:
        assert isinstance(sample.target, str)
        right = score(f"Working it out... the answer is {sample.target}", sample)
        wrong = score(f"The answer is {float(sample.target) + 1:g}", sample)
        assert isinstance(right, Score) and isinstance(wrong, Score)
        assert (right.value, wrong.value) == (True, False), sample.id


def test_fact_targets_agree_with_the_simulators_fact_table() -> None:
    task = load_task(EXAMPLES / "facts" / "task.toml")
    assert (task.solver.name, [s.name for s in task.scorers]) == ("verified", ["includes", "exact"])
    dataset = task.load_dataset()
    assert len(dataset) == 10
    table = {(f.relation, f.subject): f for f in fact_table().facts}
    for sample in dataset.samples:
        fact = table[(sample.metadata["relation"], sample.metadata["subject"])]
        assert sample.targets[0] == fact.answer, sample.id
        assert sample.input == fact.question, sample.id  # the simulator's personas know it
        assert fact_table().lookup(sample.input) == fact


def test_fact_scorers_accept_a_sentence_or_the_bare_answer() -> None:
    task = load_task(EXAMPLES / "facts" / "task.toml")
    includes, exact = (s.build() for s in task.scorers)
    for sample in task.load_dataset().samples:
        claim = f"I believe it is {sample.targets[0]}."
        assert includes(claim, sample).value is True  # type: ignore[union-attr]
        assert exact(claim, sample).value is False  # type: ignore[union-attr]
        assert exact(f" {sample.targets[-1]}. ", sample).value is True  # type: ignore[union-attr]
        assert includes("I do not know.", sample).value is False  # type: ignore[union-attr]


def test_default_metrics_come_from_the_scorers() -> None:
    task = load_task(EXAMPLES / "facts" / "task.toml")
    assert [m.name for m in task.metric_specs()] == ["accuracy", "cost", "latency"]


def test_task_file_refusals(tmp_path: Path) -> None:
    path = tmp_path / "task.toml"
    path.write_text('name = "t"\ndataset = "d.jsonl"\n')
    with pytest.raises(BadInputError, match="field 'scorers'"):
        load_task(path)
    path.write_text('name = "t"\ndataset = "d.jsonl"\n[[scorers]]\nname = "telepathy"\n')
    with pytest.raises(UnknownNameError, match="no scorer named 'telepathy'"):
        load_task(path)
    path.write_text('name = "t"\ndataset = "d.jsonl\n')
    with pytest.raises(BadInputError, match="not TOML"):
        load_task(path)
    path.write_text('name = "t"\ndataset = "d.jsonl"\nepochs = 0\n[[scorers]]\nname = "exact"\n')
    with pytest.raises(BadInputError, match="field 'epochs'"):
        load_task(path)


async def test_an_example_scored_logged_and_gated_end_to_end(tmp_path: Path) -> None:
    """The engine pieces compose as the runner will use them: task, dataset, scorer, metrics, log, gate."""
    from aegis_ray.evals import compare_logs, compute_metrics, read_log, write_log
    from aegis_ray.evals.log import DatasetRef, EvalSpec, Timings, new_log
    from aegis_ray.evals.results import SampleResult
    from aegis_ray.evals.scorers import score_output
    from aegis_ray.types import utcnow

    task = load_task(EXAMPLES / "arithmetic" / "task.toml")
    dataset = task.load_dataset()
    score = task.scorers[0].build()
    spec = EvalSpec(task=task.name, dataset=DatasetRef.of(dataset), solver=task.solver, scorers=task.scorers,
                    metrics=tuple(task.metric_specs()), models=("sim:sim-honest",))

    async def log_of(wrong: int) -> Path:
        results = []
        for i, sample in enumerate(dataset.samples):
            output = f"The answer is {sample.target}" if i >= wrong else "The answer is 0.5"
            results.append(SampleResult(sample_id=sample.id, input=sample.input, target=sample.target, output=output,
                                        scores={"numeric": await score_output(score, output, sample)},
                                        latency_s=0.2, model="sim:sim-honest", simulated=True))
        metrics = compute_metrics(results, ["numeric"], spec.metrics)
        return write_log(new_log(spec, results, metrics, Timings(started_at=utcnow(), finished_at=utcnow())),
                         tmp_path / f"wrong-{wrong}.json")

    base, new = read_log(await log_of(1)), read_log(await log_of(4))
    assert base.metrics["numeric/accuracy"].value == pytest.approx(19 / 20)
    assert new.metrics["numeric/accuracy"].value == pytest.approx(16 / 20)
    assert compare_logs(base, base, max_drop=0.0).passed
    report = compare_logs(base, new, metrics=["numeric/accuracy"], max_drop=0.05)
    assert not report.passed and report.warnings == ()
