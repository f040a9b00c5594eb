"""Eval datasets: JSONL, CSV, Parquet and directories into samples; malformed files name the line
and the field; content ids; limit and shuffle."""

from __future__ import annotations

import json
import pickle
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from aegis_ray.errors import BadInputError, ConfigError
from aegis_ray.evals.dataset import FieldSpec, Sample, content_id, load_dataset
from aegis_ray.evals.errors import DatasetError, MissingDependencyError

pytestmark = pytest.mark.unit


def jsonl(tmp_path: Path, rows: list[Any], name: str = "data.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_jsonl_samples_with_ids_targets_and_metadata(tmp_path: Path) -> None:
    path = jsonl(tmp_path, [
        {"id": "a", "input": "2+2?", "target": "4", "level": "easy"},
        {"id": 7, "input": "capital of France?", "target": ["Paris", "paris"], "metadata": {"source": "atlas"}},
        {"input": "numeric target", "target": 3.5},
    ])
    dataset = load_dataset(path)
    first, second, third = dataset.samples
    assert (first.id, first.input, first.target, first.metadata) == ("a", "2+2?", "4", {"level": "easy"})
    assert (second.id, second.targets, second.metadata) == ("7", ["Paris", "paris"], {"source": "atlas"})
    assert third.target == "3.5" and third.id == content_id("numeric target", "3.5")
    assert dataset.name == "data" and len(dataset.hash) == 64 and not dataset.shuffled


def test_field_spec_maps_other_names(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    path = jsonl(tmp_path, [{"qid": "q1", "question": "Q?", "answer": "A", "docs": "docs", "extra": 1, "drop": 2}])
    fields = FieldSpec(input="question", target="answer", id="qid", corpus="docs", metadata=("extra",))
    sample = load_dataset(path, fields).samples[0]
    assert sample == Sample(id="q1", input="Q?", target="A", metadata={"extra": 1}, corpus=str(tmp_path / "docs"))


def test_content_ids_are_stable_and_depend_on_input_and_target() -> None:
    assert content_id("What is 2+2?", "4") == content_id("What is 2+2?", "4")
    assert len({content_id("q", "4"), content_id("q", "5"), content_id("q2", "4"), content_id("q", None),
                content_id("q", ["4"])}) == 5


def test_content_id_survives_reordering_the_file(tmp_path: Path) -> None:
    rows = [{"input": f"q{i}", "target": str(i)} for i in range(5)]
    ids = {s.input: s.id for s in load_dataset(jsonl(tmp_path, rows)).samples}
    again = {s.input: s.id for s in load_dataset(jsonl(tmp_path, rows[::-1], "rev.jsonl")).samples}
    assert ids == again


@pytest.mark.parametrize(("rows", "line", "field", "words"), [
    (['{"input": "ok"}', '{"input": "broken'], 2, None, "not valid JSON"),
    (['{"input": "ok"}', "", '["a list"]'], 3, None, "expected a JSON object"),
    (['{"target": "4"}'], 1, "input", "missing"),
    (['{"input": "ok"}', '{"input": 42}'], 2, "input", "non-empty string"),
    (['{"input": "   "}'], 1, "input", "non-empty string"),
    (['{"input": "q", "target": {"a": 1}}'], 1, "target", "a string, a number or a list"),
    (['{"input": "q", "target": []}'], 1, "target", "empty list"),
    (['{"input": "q", "target": true}'], 1, "target", "a string, a number"),
    (['{"input": "q", "id": 1.5}'], 1, "id", "string or an integer"),
    (['{"input": "q", "corpus": "nowhere"}'], 1, "corpus", "not a directory"),
    (['{"id": "x", "input": "a"}', '{"id": "y", "input": "b"}', '{"id": "x", "input": "c"}'], 3, "id",
     "duplicate sample id 'x' (first on line 1)"),
    (['{"input": "same", "target": "1"}', '{"input": "same", "target": "1"}'], 2, "id", "duplicate"),
])
def test_a_malformed_jsonl_line_is_named_with_its_field(tmp_path: Path, rows: list[str], line: int,
                                                        field: str | None, words: str) -> None:
    path = jsonl(tmp_path, rows)
    with pytest.raises(DatasetError) as caught:
        load_dataset(path)
    error = caught.value
    assert (error.path, error.line, error.field) == (str(path), line, field)
    assert f"{path}:{line}: " in str(error) and words in str(error)
    if field:
        assert f"field {field!r}" in str(error)
    assert isinstance(error, BadInputError) and error.exit_code == 2


def test_dataset_error_pickles_with_its_fields(tmp_path: Path) -> None:
    error = DatasetError("missing", path="d.jsonl", line=3, field="input", hint="h")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.path, copy.line, copy.field, copy.hint, str(copy)) == ("d.jsonl", 3, "input", "h", str(error))


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"input": "fine"}\n{"input": "caf\xe9"}\n')
    with pytest.raises(DatasetError, match="not UTF-8") as caught:
        load_dataset(path)
    assert caught.value.line == 2


def test_csv_rows_empty_cells_and_multiline_cells(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text('id,input,target,topic\n1,"two\nlines",x,geo\n2,plain,,\n', encoding="utf-8")
    one, two = load_dataset(path).samples
    assert (one.id, one.input, one.target, one.metadata) == ("1", "two\nlines", "x", {"topic": "geo"})
    assert (two.target, two.metadata) == (None, {})


def test_csv_errors_name_the_line_the_row_starts_on(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text('input,target\n"multi\nline",1\nonly-one-cell\n', encoding="utf-8")
    with pytest.raises(DatasetError, match="the row has 1 fields, the header 2") as caught:
        load_dataset(path)
    assert (caught.value.line, caught.value.field) == (4, "target")
    path.write_text('input,target\nok,1\n,2\n', encoding="utf-8")
    with pytest.raises(DatasetError) as caught:
        load_dataset(path)
    assert (caught.value.line, caught.value.field) == (3, "input")
    path.write_text("", encoding="utf-8")
    with pytest.raises(DatasetError, match="no header row"):
        load_dataset(path)


def test_csv_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffinput,target\nq,a\n".encode())
    assert load_dataset(path).samples[0].input == "q"


def test_unknown_format_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="unknown dataset format"):
        load_dataset(tmp_path / "data.xlsx")
    with pytest.raises(DatasetError, match="has no samples"):
        load_dataset(jsonl(tmp_path, [""]))
    with pytest.raises(DatasetError, match="cannot read"):
        load_dataset(tmp_path / "absent.jsonl")


def test_parquet_without_pyarrow_or_pandas_says_what_to_install(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("pyarrow", "pyarrow.parquet", "pandas"):
        monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError
    path = tmp_path / "data.parquet"
    path.write_bytes(b"PAR1")
    with pytest.raises(MissingDependencyError) as caught:
        load_dataset(path)
    assert caught.value.package == "pyarrow" and caught.value.hint == "pip install pyarrow"
    assert isinstance(caught.value, ConfigError)


def test_parquet_rows_through_pyarrow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in pyarrow: what matters here is rows to samples, with the row as the line."""
    rows = [{"input": "q1", "target": 1}, {"input": None, "target": "2"}]
    fake = types.ModuleType("pyarrow")
    fake.BufferReader = lambda data: data  # type: ignore[attr-defined]
    fake.ArrowException = RuntimeError  # type: ignore[attr-defined]
    parquet = types.ModuleType("pyarrow.parquet")
    parquet.read_table = lambda source: types.SimpleNamespace(to_pylist=lambda: rows)  # type: ignore[attr-defined]
    fake.parquet = parquet  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pyarrow", fake)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", parquet)
    path = tmp_path / "data.parquet"
    path.write_bytes(b"PAR1")
    with pytest.raises(DatasetError, match=r"data.parquet:2: field 'input': missing"):
        load_dataset(path)
    rows.pop()
    assert load_dataset(path).samples[0].target == "1"


def test_a_directory_of_text_files_is_one_sample_per_file(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "a.txt").write_text("first document", encoding="utf-8")
    (corpus / "sub" / "b.md").write_text("# second", encoding="utf-8")
    (corpus / "image.png").write_bytes(b"\x89PNG")
    (corpus / ".hidden.txt").write_text("skipped", encoding="utf-8")
    dataset = load_dataset(corpus)
    assert [(s.id, s.input, s.target) for s in dataset.samples] == [("a.txt", "first document", None),
                                                                    ("sub/b.md", "# second", None)]
    before = dataset.hash
    (corpus / "a.txt").write_text("first document, edited", encoding="utf-8")
    assert load_dataset(corpus).hash != before
    (corpus / "empty.txt").write_text("  ", encoding="utf-8")
    with pytest.raises(DatasetError, match="is empty"):
        load_dataset(corpus)


def test_limit_takes_the_head_and_shuffle_is_determined_by_the_seed(tmp_path: Path) -> None:
    path = jsonl(tmp_path, [{"id": str(i), "input": f"q{i}"} for i in range(50)])
    assert [s.id for s in load_dataset(path, limit=3).samples] == ["0", "1", "2"]
    one = [s.id for s in load_dataset(path, shuffle=True, seed=7).samples]
    assert one == [s.id for s in load_dataset(path, shuffle=True, seed=7).samples]
    assert one != [s.id for s in load_dataset(path, shuffle=True, seed=8).samples]
    assert sorted(one, key=int) == [str(i) for i in range(50)] and one != sorted(one, key=int)
    subset = load_dataset(path, shuffle=True, seed=7, limit=5)
    assert [s.id for s in subset.samples] == one[:5] and (subset.seed, subset.limit) == (7, 5)


def test_shuffle_without_a_seed_records_the_seed_it_drew(tmp_path: Path) -> None:
    path = jsonl(tmp_path, [{"input": f"q{i}"} for i in range(20)])
    drawn = load_dataset(path, shuffle=True)
    assert drawn.seed is not None
    assert load_dataset(path, shuffle=True, seed=drawn.seed).samples == drawn.samples
    with pytest.raises(BadInputError, match="limit must be at least 1"):
        load_dataset(path, limit=0)
