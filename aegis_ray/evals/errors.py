"""The typed errors of the eval engine, all under `aegis_ray.errors.AegisError` with a hint.

A bad dataset names its file, the line (or row) and the field; a missing optional package names
the pip command; a judge that is the author is refused before any call is made.
"""

from __future__ import annotations

from aegis_ray.errors import AegisError, BadInputError, ConfigError


class DatasetError(BadInputError):
    """A dataset file cannot be read as samples. `line` is 1-based (the row for Parquet)."""

    def __init__(self, message: str, *, path: str, line: int | None = None, field: str | None = None,
                 hint: str | None = None) -> None:
        where = path if line is None else f"{path}:{line}"
        super().__init__(f"{where}: {f'field {field!r}: ' if field else ''}{message}", hint=hint)
        self.path = path
        self.line = line
        self.field = field


class MissingDependencyError(ConfigError):
    """An optional package a feature needs is not installed. `package` is what to install."""

    def __init__(self, feature: str, package: str) -> None:
        super().__init__(f"{feature} needs the package {package!r}, which is not installed",
                         hint=f"pip install {package}")
        self.package = package


class UnknownNameError(BadInputError):
    """A scorer or metric name that no registry entry has."""


class JudgeIsAuthorError(ConfigError):
    """A model-graded scorer was given the author model as its judge: the checker is never the author."""


class ScorerError(AegisError):
    """A scorer could not score one output (no target to compare with, a judge that gave no grade)."""


class EvalLogError(BadInputError):
    """An eval log file cannot be read: not JSON, not the schema, or a newer schema version."""
