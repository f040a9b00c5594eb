"""A corpus held in memory: passages and their hybrid index, built from texts or a directory.

`Corpus.from_texts` makes the corpus of one item (its source documents, by name), so that research
code verifies each item against its own evidence and every citation stays inside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from aegis_ray.memory.corpus import Passage, load_corpus, passages_of
from aegis_ray.memory.embeddings import Embedder
from aegis_ray.memory.retrieval import HybridIndex


class Corpus:
    def __init__(self, passages: Sequence[Passage], embedder: Embedder | None = None) -> None:
        self.passages = list(passages)
        self.index = HybridIndex(self.passages, embedder)

    @classmethod
    def from_texts(cls, texts: Mapping[str, str] | Sequence[str], embedder: Embedder | None = None,
                   max_chars: int = 800) -> Corpus:
        """Documents by name (`{"rfc9110.txt": "..."}`), or a list (named `doc-0`, `doc-1`, ...)."""
        named = texts if isinstance(texts, Mapping) else {f"doc-{i}": t for i, t in enumerate(texts)}
        return cls([p for name, text in named.items() for p in passages_of(text, name, max_chars)], embedder)

    @classmethod
    def from_directory(cls, directory: Path, embedder: Embedder | None = None) -> Corpus:
        return cls(load_corpus(directory), embedder)

    @property
    def sources(self) -> set[str]:
        return {p.source for p in self.passages}
