"""The eval logs of a directory, for the dashboard and `/api/evals`: a summary of each (newest
first) and one log by its id. A log's file name ends with its eval id (`evals.run` names it so);
ids are checked against their pattern before any path is made from one."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from pydantic import Field

from aegis_ray.errors import BadInputError, NotFoundError
from aegis_ray.evals.errors import EvalLogError
from aegis_ray.evals.log import EvalLog, read_log
from aegis_ray.model_ref import ModelName
from aegis_ray.types import Frozen

EVAL_ID = re.compile(r"eval_[0-9a-f]{8,64}")


class EvalSummary(Frozen):
    """One eval log, in a line: what ran, how it ended, its headline metrics."""

    eval_id: str
    task: str
    status: str
    created_at: datetime
    models: tuple[ModelName, ...]
    solver: str
    results: int = Field(ge=0)
    errors: int = Field(ge=0)
    simulated: bool
    metrics: dict[str, float | None] = Field(description="Each metric's value, by key.")
    file: str = Field(description="The log's file name in the directory.")

    @classmethod
    def of(cls, log: EvalLog, file: str) -> EvalSummary:
        return cls(eval_id=log.eval_id, task=log.spec.task, status=log.status, created_at=log.created_at,
                   models=log.spec.models, solver=log.spec.solver.name, results=len(log.results),
                   errors=sum(r.error is not None for r in log.results),
                   simulated=any(r.simulated for r in log.results),
                   metrics={key: m.value for key, m in log.metrics.items()}, file=file)


def list_logs(directory: Path, limit: int = 50, tenant: str | None = None) -> list[EvalSummary]:
    """The newest `limit` readable logs of `directory` (none if it does not exist), with `tenant`
    only that tenant's; a file that is not an eval log is skipped, not an error."""
    if not directory.is_dir():
        return []
    files = sorted((p for p in directory.glob("*.json") if p.is_file()), key=lambda p: p.stat().st_mtime,
                   reverse=True)
    summaries = []
    for path in files:
        if len(summaries) >= limit:
            break
        try:
            log = read_log(path)
        except EvalLogError:
            continue
        if tenant is None or log.spec.tenant == tenant:
            summaries.append(EvalSummary.of(log, path.name))
    return summaries


def find_log(directory: Path, eval_id: str, tenant: str | None = None) -> EvalLog:
    """The log of `eval_id` in `directory` (with `tenant`, only if it is that tenant's: another's is
    not found, so ids do not leak); a malformed id is bad input, an unknown one not found."""
    if not EVAL_ID.fullmatch(eval_id):
        raise BadInputError(f"{eval_id!r} is not an eval id", hint="eval ids look like eval_0123456789abcdef")
    for path in directory.glob(f"*{eval_id}.json") if directory.is_dir() else ():
        log = read_log(path)
        if log.eval_id == eval_id and (tenant is None or log.spec.tenant == tenant):
            return log
    raise NotFoundError(f"no eval log {eval_id} in {directory}", hint="GET /api/evals lists them")
