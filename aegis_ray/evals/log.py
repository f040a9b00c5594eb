"""The eval log: one JSON file per eval, versioned (`schema_version: 1`).

It holds what ran (the spec: task, dataset path and hash, solver, scorers, metrics, model chain,
epochs, limit, seed), every (sample, epoch) result with its output, scores, cost and latency, the
metrics, timings, and where it came from (Aegis version, git revision). Written atomically (a
temporary file in the same directory, fsynced, then renamed), so a reader never sees half a log.
A log with a newer schema version is refused with a hint, not misread.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from aegis_ray.evals.dataset import Dataset, FieldSpec
from aegis_ray.evals.errors import EvalLogError
from aegis_ray.evals.metrics import MetricSpec
from aegis_ray.evals.results import BatchUse, MetricValue, SampleResult
from aegis_ray.evals.scorers import ScorerSpec
from aegis_ray.evals.task import SolverSpec
from aegis_ray.model_ref import ModelName
from aegis_ray.types import Frozen, new_id, utcnow

SCHEMA_VERSION = 1


class DatasetRef(Frozen):
    name: str
    path: str
    hash: str
    fields: FieldSpec = FieldSpec()
    samples: int = Field(ge=0, description="After limit.")
    shuffled: bool = False

    @classmethod
    def of(cls, dataset: Dataset) -> DatasetRef:
        return cls(name=dataset.name, path=dataset.path, hash=dataset.hash, fields=dataset.fields,
                   samples=len(dataset), shuffled=dataset.shuffled)


class EvalSpec(Frozen):
    task: str
    dataset: DatasetRef
    solver: SolverSpec
    scorers: tuple[ScorerSpec, ...]
    metrics: tuple[MetricSpec, ...] = ()
    models: tuple[ModelName, ...] = Field(min_length=1, description="The model chain, first choice first.")
    epochs: int = Field(default=1, ge=1)
    limit: int | None = None
    seed: int | None = None
    system_prompt: str | None = None
    max_usd: float | None = Field(default=None, description="The eval's budget: no new sample once spent.")
    tenant: str | None = Field(default=None, description="Whose eval (None: the operator's, seen by admins only).")


class Timings(Frozen):
    started_at: datetime
    finished_at: datetime | None = None

    @property
    def duration_s(self) -> float | None:
        return (self.finished_at - self.started_at).total_seconds() if self.finished_at else None


class EvalLog(Frozen):
    schema_version: Literal[1] = SCHEMA_VERSION
    eval_id: str = Field(default_factory=lambda: new_id("eval"))
    status: Literal["running", "success", "error", "cancelled"] = "success"
    spec: EvalSpec
    results: tuple[SampleResult, ...] = ()
    metrics: dict[str, MetricValue] = Field(default_factory=dict, description="By `MetricValue.key`.")
    timings: Timings
    stopped: str | None = Field(default=None, description="Why samples were left unrun (the budget), if any were.")
    batch: BatchUse | None = Field(default=None, description="Answers sent through a provider's batch API (--batch).")
    aegis_version: str = Field(default_factory=lambda: aegis_version())
    git_revision: str | None = None
    git_dirty: bool | None = None
    created_at: datetime = Field(default_factory=utcnow)


def aegis_version() -> str:
    try:
        return metadata.version("aegis-ray")
    except metadata.PackageNotFoundError:
        return "unknown"


def _git(args: list[str], cwd: Path | None) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def git_revision(cwd: str | Path | None = None) -> tuple[str | None, bool | None]:
    """(HEAD's commit, whether tracked files differ from it) of the checkout at `cwd`; (None, None)
    outside a git checkout or without git: best effort, never an error."""
    where = Path(cwd) if cwd is not None else None
    head = _git(["rev-parse", "--verify", "HEAD"], where)
    if head is None or len(head.strip()) not in (40, 64):
        return None, None
    status = _git(["status", "--porcelain", "--untracked-files=no"], where)
    return head.strip(), (bool(status.strip()) if status is not None else None)


def new_log(spec: EvalSpec, results: list[SampleResult], metrics: dict[str, MetricValue], timings: Timings, *,
            status: Literal["running", "success", "error", "cancelled"] = "success",
            cwd: str | Path | None = None, **extra: Any) -> EvalLog:
    """A log stamped with this Aegis version and the git revision of `cwd` (the current directory)."""
    revision, dirty = git_revision(cwd)
    return EvalLog(spec=spec, results=tuple(results), metrics=metrics, timings=timings, status=status,
                   git_revision=revision, git_dirty=dirty, **extra)


def write_log(log: EvalLog, path: str | Path) -> Path:
    """Write `log` to `path` atomically: readers see the old file or the new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(log.model_dump_json(indent=1))
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    try:  # the rename itself durable too (best effort: not every filesystem allows a directory fsync)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError:
        pass
    return path


def read_log(path: str | Path) -> EvalLog:
    """An eval log from `path`; an unreadable, invalid or newer-version log is an `EvalLogError`."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EvalLogError(f"cannot read eval log {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise EvalLogError(f"{path} is not JSON: {exc}", hint="is it an Aegis eval log?") from exc
    version = data.get("schema_version") if isinstance(data, dict) else None
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        raise EvalLogError(f"{path} has eval log schema {version}; this Aegis reads up to {SCHEMA_VERSION}",
                           hint="upgrade aegis-ray to read it")
    if version != SCHEMA_VERSION:
        raise EvalLogError(f"{path} is not an Aegis eval log (schema_version {version!r})")
    try:
        return EvalLog.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(map(str, error["loc"])) or "(root)"
        raise EvalLogError(f"{path}: field {field!r}: {error['msg']}") from exc
