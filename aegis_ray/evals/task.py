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

    def metric_specs(self, extra: tuple[str, ...] = ()) -> list[MetricSpec]:
        """The task's metrics, else each scorer's own, `extra` (the solver's), cost and latency."""
        return list(self.metrics) or default_metrics([s.name for s in self.scorers], extra)

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


DATASET_SUFFIXES = (".jsonl", ".csv", ".parquet")
DEFAULT_SCORER = "includes"


def resolve_task(path: str | Path, scorers: tuple[str, ...] = ()) -> TaskSpec:
    """What `aegis eval run TASK_OR_FILE` names: a task file, a directory holding `task.toml`, or a
    dataset file (a task named after it: the `answer` solver, `scorers` or else `includes`).
    `scorers` given with a task replaces its scorers."""
    path = Path(path)
    if not path.exists():
        raise BadInputError(f"{path} does not exist",
                            hint="name a task.toml, a directory with one, or a .jsonl/.csv/.parquet dataset")
    if path.is_dir():
        if not (path / "task.toml").is_file():
            raise BadInputError(f"{path} holds no task.toml",
                                hint="name a task.toml, a directory with one, or a .jsonl/.csv/.parquet dataset")
        path = path / "task.toml"
    if path.suffix.lower() in DATASET_SUFFIXES:
        task = TaskSpec(name=path.stem, dataset=str(path.resolve()),
                        scorers=tuple(ScorerSpec(name=n) for n in scorers or (DEFAULT_SCORER,)))
    elif path.suffix.lower() == ".toml":
        task = load_task(path)
        if scorers:
            task = task.model_copy(update={"scorers": tuple(ScorerSpec(name=n) for n in scorers)})
    else:
        raise BadInputError(f"{path} is neither a task file nor a dataset",
                            hint="name a task.toml, a directory with one, or a .jsonl/.csv/.parquet dataset")
    for name in scorers:
        if name not in SCORERS:
            raise UnknownNameError(f"no scorer named {name!r}", hint=f"known: {', '.join(sorted(SCORERS))}")
    return task
