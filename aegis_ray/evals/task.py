"""An eval task: a dataset, a solver and scorers (Inspect AI's shape), declared in a TOML file.

    name = "arithmetic"
    dataset = "arithmetic.jsonl"          # relative to the task file
    system_prompt = "Answer with the number only."
    solver = { name = "answer" }
    [[scorers]]
    name = "numeric"
    options = { abs_tol = 1e-6 }

The solver is named, not run, here: solvers (answer, session, verified, orchestrate) are built by
the runner. Scorer and metric names are checked against their registries when the task is loaded.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import Field, JsonValue, ValidationError

from aegis_ray.errors import BadInputError
from aegis_ray.evals.dataset import Dataset, FieldSpec, load_dataset
from aegis_ray.evals.errors import UnknownNameError
from aegis_ray.evals.metrics import METRICS, MetricSpec, default_metrics
from aegis_ray.evals.scorers import SCORERS, ScorerSpec
from aegis_ray.types import Frozen


class SolverSpec(Frozen):
    name: str = "answer"
    options: dict[str, JsonValue] = Field(default_factory=dict)


class TaskSpec(Frozen):
    name: str = Field(min_length=1)
    description: str | None = None
    dataset: str = Field(description="A file or directory; absolute once loaded by `load_task`.")
    fields: FieldSpec = FieldSpec()
    system_prompt: str | None = None
    solver: SolverSpec = SolverSpec()
    scorers: tuple[ScorerSpec, ...] = Field(min_length=1)
    metrics: tuple[MetricSpec, ...] = Field(default=(), description="Empty: each scorer's own, cost and latency.")
    epochs: int = Field(default=1, ge=1)

    def metric_specs(self) -> list[MetricSpec]:
        return list(self.metrics) or default_metrics([s.name for s in self.scorers])

    def load_dataset(self, *, limit: int | None = None, shuffle: bool = False, seed: int | None = None) -> Dataset:
        return load_dataset(self.dataset, self.fields, limit=limit, shuffle=shuffle, seed=seed)


def load_task(path: str | Path) -> TaskSpec:
    """A task from a TOML file; a bad file is a `BadInputError` naming the file and the field."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadInputError(f"cannot read task file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise BadInputError(f"{path}: not TOML: {exc}") from exc
    try:
        task = TaskSpec.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(map(str, error["loc"])) or "(root)"
        raise BadInputError(f"{path}: field {field!r}: {error['msg']}",
                            hint="see aegis_ray/evals/task.py for the task file format") from exc
    for spec, registry, kind in [*((s, SCORERS, "scorer") for s in task.scorers),
                                 *((m, METRICS, "metric") for m in task.metrics)]:
        if spec.name not in registry:
            raise UnknownNameError(f"{path}: no {kind} named {spec.name!r}",
                                   hint=f"known: {', '.join(sorted(registry))}")
    return task.model_copy(update={"dataset": str((path.parent / task.dataset).resolve())})
