"""Batch evaluation (engine core): a task is a dataset, a solver and scorers (Inspect AI's shape).

`dataset` reads samples, `scorers` and `metrics` are registries a user extends from Python
(`@scorer("name")`, `@metric("name")`), `log` is the versioned eval log, `compare` the regression
gate, `task` the TOML task file. Solvers and running over the cluster live with the runner.
"""

from aegis_ray.evals.compare import ComparisonReport, compare_logs
from aegis_ray.evals.dataset import Dataset, FieldSpec, Sample, load_dataset
from aegis_ray.evals.log import EvalLog, EvalSpec, read_log, write_log
from aegis_ray.evals.metrics import METRICS, MetricSpec, compute_metrics, metric
from aegis_ray.evals.results import MetricValue, SampleResult
from aegis_ray.evals.scorers import SCORERS, Score, ScorerSpec, scorer
from aegis_ray.evals.task import TaskSpec, load_task

__all__ = [
    "METRICS", "SCORERS", "ComparisonReport", "Dataset", "EvalLog", "EvalSpec", "FieldSpec", "MetricSpec",
    "MetricValue", "Sample", "SampleResult", "Score", "ScorerSpec", "TaskSpec", "compare_logs", "compute_metrics",
    "load_dataset", "load_task", "metric", "read_log", "scorer", "write_log",
]
