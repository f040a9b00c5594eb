"""A corpus the user points at (`--corpus DIR`): text and markdown files cut into passages.

A passage is a paragraph (long paragraphs are cut at sentence ends), with its file and character
offsets, so every citation can be traced back to the exact span it came from.
"""

from __future__ import annotations

import re
from pathlib import Path

from aegis_ray.errors import BadInputError
from aegis_ray.memory.text import sentence_spans
from aegis_ray.types import Frozen

CORPUS_SUFFIXES = (".txt", ".md", ".markdown", ".rst")


class Passage(Frozen):
    source: str
    text: str
    start: int
    end: int


def passages_of(text: str, source: str, max_chars: int = 800) -> list[Passage]:
    passages: list[Passage] = []
    for paragraph in re.finditer(r"\S(?:.*?\S)?(?=\n\s*\n|\s*\Z)", text, re.DOTALL):
        base, body = paragraph.start(), paragraph.group()
        start = end = None
        for a, b in sentence_spans(body):
            if start is not None and b - start > max_chars:
                passages.append(Passage(source=source, text=body[start:end], start=base + start, end=base + end))
                start = None
            start = a if start is None else start
            end = b
        if start is not None:
            passages.append(Passage(source=source, text=body[start:end], start=base + start, end=base + end))
    return passages


def load_corpus(directory: Path) -> list[Passage]:
    """Every text/markdown file under `directory`, as passages; a clear error if there are none."""
    if not directory.is_dir():
        raise BadInputError(f"corpus {directory} is not a directory", hint="pass --corpus DIR of .txt/.md files")
    passages: list[Passage] = []
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.suffix.lower() in CORPUS_SUFFIXES:
            text = path.read_text(encoding="utf-8", errors="replace")
            passages.extend(passages_of(text, str(path.relative_to(directory))))
    if not passages:
        raise BadInputError(f"corpus {directory} has no text in {', '.join(CORPUS_SUFFIXES)} files")
    return passages
