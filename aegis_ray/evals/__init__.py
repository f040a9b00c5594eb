"""Batch evaluation: a task is a dataset, a solver and scorers (Inspect AI's shape).

`dataset` reads samples; `solvers`, `scorers` and `metrics` are registries a user extends from
Python (`@solver("name")`, `@scorer("name")`, `@metric("name")`); `run` runs an eval, every
(sample, epoch) a durable factory job (`await run_eval(task, ...)` is the Python API), `settle`
finishes and scores each; `log` is the versioned eval log, `compare` the regression gate, `task`
the TOML task file.

Names are imported on first use (`aegis_ray.lazy`): reading a log does not load the runner.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aegis_ray.lazy import lazy_exports

if TYPE_CHECKING:
    from aegis_ray.evals.compare import ComparisonReport, compare_logs
    from aegis_ray.evals.dataset import Dataset, FieldSpec, Sample, load_dataset
    from aegis_ray.evals.log import EvalLog, EvalSpec, read_log, write_log
    from aegis_ray.evals.metrics import METRICS, MetricSpec, compute_metrics, metric
    from aegis_ray.evals.results import MetricValue, SampleResult
    from aegis_ray.evals.run import EvalResults, Progress, plan_eval, run_eval
    from aegis_ray.evals.scorers import SCORERS, Score, ScorerSpec, scorer
    from aegis_ray.evals.solvers import SOLVERS, Solved, Solver, solver
    from aegis_ray.evals.task import TaskSpec, load_task, resolve_task

__all__ = [
    "METRICS", "SCORERS", "SOLVERS", "ComparisonReport", "Dataset", "EvalLog", "EvalResults", "EvalSpec", "FieldSpec",
    "MetricSpec", "MetricValue", "Progress", "Sample", "SampleResult", "Score", "ScorerSpec", "Solved", "Solver",
    "TaskSpec", "compare_logs", "compute_metrics", "load_dataset", "load_task", "metric", "plan_eval", "read_log",
    "resolve_task", "run_eval", "scorer", "solver", "write_log",
]

_HOMES = {
    "compare": ("ComparisonReport", "compare_logs"),
    "dataset": ("Dataset", "FieldSpec", "Sample", "load_dataset"),
    "log": ("EvalLog", "EvalSpec", "read_log", "write_log"),
    "metrics": ("METRICS", "MetricSpec", "compute_metrics", "metric"),
    "results": ("MetricValue", "SampleResult"),
    "run": ("EvalResults", "Progress", "plan_eval", "run_eval"),
    "scorers": ("SCORERS", "Score", "ScorerSpec", "scorer"),
    "solvers": ("SOLVERS", "Solved", "Solver", "solver"),
    "task": ("TaskSpec", "load_task", "resolve_task"),
}
__getattr__ = lazy_exports(__name__, {name: module for module, names in _HOMES.items() for name in names})
