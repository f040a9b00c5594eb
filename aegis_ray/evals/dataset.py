"""Eval datasets: samples read from JSONL, CSV or Parquet files, or a directory of text files.

A `FieldSpec` says which field of a record is the input, the target, the id, the corpus and the
metadata (Inspect AI's shape). Every problem in a file is a `DatasetError` naming the file, the
line (the row for Parquet) and the field. A sample without an id gets a content id (a hash of its
input and target), so re-running an eval over an edited file redoes only the samples that changed.
`load_dataset` shuffles (with a recorded seed) before it applies `limit`, so `limit` with
`shuffle` draws a random subset and without it takes the head of the file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import numbers
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import Field

from aegis_ray.errors import BadInputError
from aegis_ray.evals.errors import DatasetError, MissingDependencyError
from aegis_ray.memory.corpus import CORPUS_SUFFIXES
from aegis_ray.types import Frozen

Target = str | list[str] | None
Record = tuple[int, dict[str, Any]]
"""A record of a file, with the 1-based line (or row) it starts on."""


class FieldSpec(Frozen):
    """Which record field holds what. `metadata` None: every field not mapped to another role (a
    field named `metadata` holding an object is merged in, not nested)."""

    input: str = "input"
    target: str = "target"
    id: str = "id"
    corpus: str = "corpus"
    metadata: tuple[str, ...] | None = None


class Sample(Frozen):
    id: str = Field(min_length=1)
    input: str = Field(min_length=1)
    target: Target = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    corpus: str | None = Field(default=None, description="Directory of .txt/.md evidence, absolute.")

    @property
    def targets(self) -> list[str]:
        """The accepted answers: one, several (any may match), or none."""
        if self.target is None:
            return []
        return [self.target] if isinstance(self.target, str) else list(self.target)


class Dataset(Frozen):
    name: str
    path: str
    hash: str = Field(description="sha256 of the source bytes (every file, for a directory), before shuffle/limit.")
    fields: FieldSpec = FieldSpec()
    samples: tuple[Sample, ...]
    shuffled: bool = False
    seed: int | None = None
    limit: int | None = None

    def __len__(self) -> int:
        return len(self.samples)


def content_id(input: str, target: Target) -> str:
    """A stable id from the sample's content: the same input and target always get the same id."""
    content = json.dumps([input, target], ensure_ascii=False, separators=(",", ":"))
    return "s_" + hashlib.sha256(content.encode()).hexdigest()[:16]


def load_dataset(path: str | Path, fields: FieldSpec | None = None, *, limit: int | None = None,
                 shuffle: bool = False, seed: int | None = None) -> Dataset:
    """Samples from `path` by its suffix (.jsonl, .csv, .parquet) or, for a directory, one sample
    per text file (`fields` does not apply there). `shuffle` without a `seed` draws one, recorded
    in the dataset for re-runs."""
    path = Path(path)
    fields = fields or FieldSpec()
    if limit is not None and limit < 1:
        raise BadInputError(f"limit must be at least 1, got {limit}")
    if path.is_dir():
        samples, digest = _read_directory(path)
    else:
        readers: dict[str, Callable[[Path, bytes], Iterator[Record]]] = {
            ".jsonl": _jsonl_records, ".csv": _csv_records, ".parquet": _parquet_records}
        reader = readers.get(path.suffix.lower())
        if reader is None:
            raise DatasetError("unknown dataset format", path=str(path),
                               hint="use a .jsonl, .csv or .parquet file, or a directory of .txt/.md files")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DatasetError(f"cannot read: {exc.strerror}", path=str(path)) from exc
        digest = hashlib.sha256(data).hexdigest()
        samples = _samples(path, reader(path, data), fields, line_word="row" if reader is _parquet_records else "line")
    if not samples:
        raise DatasetError("has no samples", path=str(path))
    if shuffle:
        seed = random.SystemRandom().randrange(2**32) if seed is None else seed
        random.Random(seed).shuffle(samples)
    return Dataset(name=path.stem or path.name, path=str(path), hash=digest, fields=fields,
                   samples=tuple(samples[:limit]), shuffled=shuffle, seed=seed if shuffle else None, limit=limit)


# --- records to samples ----------------------------------------------------------------------


def _samples(path: Path, records: Iterator[Record], fields: FieldSpec, line_word: str) -> list[Sample]:
    samples: list[Sample] = []
    first_line: dict[str, int] = {}
    for line, record in records:
        sample = _sample(path, line, record, fields)
        if sample.id in first_line:
            raise DatasetError(f"duplicate sample id {sample.id!r} (first on {line_word} {first_line[sample.id]})",
                               path=str(path), line=line, field=fields.id,
                               hint="give each sample its own id; a sample without one is identified by its "
                               "input and target, so an identical row is a duplicate")
        first_line[sample.id] = line
        samples.append(sample)
    return samples


def _sample(path: Path, line: int, record: dict[str, Any], fields: FieldSpec) -> Sample:
    def fail(field: str, message: str) -> DatasetError:
        return DatasetError(message, path=str(path), line=line, field=field)

    record = {k: _plain(v) for k, v in record.items()}
    text = record.get(fields.input)
    if text is None:
        raise fail(fields.input, "missing")
    if not isinstance(text, str) or not text.strip():
        raise fail(fields.input, f"must be a non-empty string, got {_describe(text)}")
    target = _target(record.get(fields.target), lambda message: fail(fields.target, message))
    raw_id = record.get(fields.id)
    if raw_id is None or raw_id == "":
        sample_id = content_id(text, target)
    elif isinstance(raw_id, str | int) and not isinstance(raw_id, bool):
        sample_id = str(raw_id)
    else:
        raise fail(fields.id, f"must be a string or an integer, got {_describe(raw_id)}")
    corpus = record.get(fields.corpus)
    if corpus is not None:
        if not isinstance(corpus, str):
            raise fail(fields.corpus, f"must be a directory path, got {_describe(corpus)}")
        resolved = (path.parent / corpus).resolve()
        if not resolved.is_dir():
            raise fail(fields.corpus, f"{resolved} is not a directory")
        corpus = str(resolved)
    return Sample(id=sample_id, input=text, target=target, corpus=corpus,
                  metadata=_metadata(record, fields, lambda field: fail(field, "missing")))


def _target(value: Any, fail: Callable[[str], DatasetError]) -> Target:
    def one(item: Any) -> str:
        if isinstance(item, str):
            return item
        if isinstance(item, numbers.Real) and not isinstance(item, bool):
            return str(item)
        raise fail(f"must be a string, a number or a list of them, got {_describe(item)}")

    if value is None:
        return None
    if isinstance(value, list):
        if not value:
            raise fail("is an empty list (leave it out for a sample without a target)")
        return [one(item) for item in value]
    return one(value)


def _metadata(record: dict[str, Any], fields: FieldSpec, missing: Callable[[str], DatasetError]) -> dict[str, Any]:
    if fields.metadata is not None:
        absent = [f for f in fields.metadata if f not in record]
        if absent:
            raise missing(absent[0])
        return {f: record[f] for f in fields.metadata}
    roles = {fields.input, fields.target, fields.id, fields.corpus}
    metadata: dict[str, Any] = {}
    for key, value in record.items():
        if key in roles:
            continue
        if key == "metadata" and isinstance(value, dict):
            metadata.update(value)
        elif value is not None:
            metadata[key] = value
    return metadata


def _plain(value: Any) -> Any:
    """Python values from what a reader gives: numpy scalars and arrays (pandas) become Python
    ones, and a float NaN (pandas' missing value) becomes None."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {json.dumps(value, default=str)[:60]}"


# --- readers ---------------------------------------------------------------------------------


def _text(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise DatasetError(f"not UTF-8 (byte {exc.start})", path=str(path), line=line,
                           hint="save the file as UTF-8") from exc


def _jsonl_records(path: Path, data: bytes) -> Iterator[Record]:
    for line, text in enumerate(_text(path, data).splitlines(), 1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"not valid JSON: {exc.msg} (column {exc.colno})", path=str(path), line=line,
                               hint="each line of a .jsonl file is one JSON object") from exc
        if not isinstance(record, dict):
            raise DatasetError(f"expected a JSON object, got {type(record).__name__}", path=str(path), line=line,
                               hint="each line of a .jsonl file is one JSON object")
        yield line, record


def _csv_records(path: Path, data: bytes) -> Iterator[Record]:
    """Rows under a header; an empty cell is a missing value. A row's line is the one it starts on
    (a quoted cell may span lines)."""
    reader = csv.reader(io.StringIO(_text(path, data), newline=""), strict=True)
    try:
        header = next(reader, None)
        if not header or not any(h.strip() for h in header):
            raise DatasetError("has no header row", path=str(path), line=1,
                               hint="the first row names the columns (input, target, id, ...)")
        header = [h.strip() for h in header]
        while True:
            line = reader.line_num + 1
            row = next(reader, None)
            if row is None:
                return
            if not row:
                continue
            if len(row) != len(header):
                raise DatasetError(f"the row has {len(row)} fields, the header {len(header)}", path=str(path),
                                   line=line, field=header[len(row)] if len(row) < len(header) else None,
                                   hint="quote cells that contain commas")
            yield line, {h: (cell if cell != "" else None) for h, cell in zip(header, row, strict=True)}
    except csv.Error as exc:
        raise DatasetError(f"not valid CSV: {exc}", path=str(path), line=reader.line_num) from exc


def _parquet_records(path: Path, data: bytes) -> Iterator[Record]:
    """Rows through pyarrow, else pandas (with its own Parquet engine); neither is an Aegis
    dependency, so without them this says which package to install."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        rows = _pandas_rows(path, data)
    else:
        try:
            rows = pq.read_table(pa.BufferReader(data)).to_pylist()
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise DatasetError(f"not a readable Parquet file: {exc}", path=str(path)) from exc
    yield from enumerate(rows, 1)


def _pandas_rows(path: Path, data: bytes) -> list[dict[str, Any]]:
    try:
        import pandas as pd
    except ImportError:
        raise MissingDependencyError("reading Parquet datasets", "pyarrow") from None
    try:
        frame = pd.read_parquet(io.BytesIO(data))
    except ImportError:
        raise MissingDependencyError("reading Parquet datasets", "pyarrow") from None
    except (OSError, ValueError) as exc:
        raise DatasetError(f"not a readable Parquet file: {exc}", path=str(path)) from exc
    return frame.to_dict(orient="records")


def _read_directory(directory: Path) -> tuple[list[Sample], str]:
    """One sample per text file under `directory` (hidden paths skipped): the id is its relative
    path, the input its text, `metadata.path` its path; no target (for rubric or model grading)."""
    digest = hashlib.sha256()
    samples: list[Sample] = []
    for file in sorted(directory.rglob("*")):
        relative = file.relative_to(directory)
        if not file.is_file() or file.suffix.lower() not in CORPUS_SUFFIXES or \
                any(part.startswith(".") for part in relative.parts):
            continue
        data = file.read_bytes()
        digest.update(relative.as_posix().encode() + b"\0" + data + b"\0")
        text = _text(file, data)
        if not text.strip():
            raise DatasetError("is empty", path=str(file), hint="remove the file or give it text")
        samples.append(Sample(id=relative.as_posix(), input=text, metadata={"path": relative.as_posix()}))
    if not samples:
        raise DatasetError(f"has no {', '.join(CORPUS_SUFFIXES)} files", path=str(directory))
    return samples, digest.hexdigest()
