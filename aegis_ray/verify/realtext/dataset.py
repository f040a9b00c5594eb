"""The real-text development set: its typed items, the shipped files, and the fixed split.

Each item is one answer to judge against its own passage (the item's corpus): a short-answer
`qa` item, a `dialogue` response to a user turn, or a `summary` of the passage. Half the items
are right (grounded in the passage, lightly reworded); half are hallucinated by one named
perturbation. The split is fixed per passage (a hash of its id), so no test passage is ever seen
in training; `tests/unit/test_realtext_dataset.py` pins the test split by checksum.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Literal

from aegis_ray.types import Frozen

DATA = Path(__file__).parent / "data"
Format = Literal["qa", "dialogue", "summary"]
FORMATS: tuple[Format, ...] = ("qa", "dialogue", "summary")
Perturbation = Literal["none", "entity", "number", "date", "negation", "addition", "different_question"]
Split = Literal["train", "test"]
TEST_SHARE = 0.4


class SourcePassage(Frozen):
    id: str
    collection: str
    document: str
    text: str


class Turn(Frozen):
    role: Literal["user", "assistant"]
    content: str


class RealTextItem(Frozen):
    id: str
    format: Format
    passage_id: str
    question: str
    history: tuple[Turn, ...] = ()
    answer: str
    hallucinated: bool
    perturbation: Perturbation
    split: Split


def split_of(passage_id: str) -> Split:
    """Test for a fixed 40% of passages, by the hash of the id alone."""
    bucket = int(hashlib.sha256(passage_id.encode()).hexdigest()[:8], 16) % 100
    return "test" if bucket < TEST_SHARE * 100 else "train"


def _read(name: str) -> list[dict]:
    with (DATA / name).open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


@cache
def passages() -> dict[str, SourcePassage]:
    return {p["id"]: SourcePassage.model_validate(p) for p in _read("passages.jsonl")}


@cache
def _all_items() -> tuple[RealTextItem, ...]:
    return tuple(RealTextItem.model_validate(i) for i in _read("items.jsonl"))


def load_items(split: Split | None = None, formats: Sequence[Format] = FORMATS) -> list[RealTextItem]:
    return [i for i in _all_items() if (split is None or i.split == split) and i.format in formats]


def checksum(items: Sequence[RealTextItem]) -> str:
    """sha256 over the items and the text of their passages, in a canonical form."""
    digest = hashlib.sha256()
    for item in sorted(items, key=lambda i: i.id):
        digest.update(item.model_dump_json().encode())
        digest.update(passages()[item.passage_id].text.encode())
    return digest.hexdigest()


def write(passage_rows: Sequence[SourcePassage], items: Sequence[RealTextItem], directory: Path = DATA) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "passages.jsonl").write_text("".join(p.model_dump_json() + "\n" for p in passage_rows))
    (directory / "items.jsonl").write_text("".join(i.model_dump_json() + "\n" for i in items))
