"""Sentence embeddings: the `Embedder` protocol (unit-length rows, so a dot product is a cosine)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # numpy is imported by the embedders themselves: a session that embeds nothing never pays for it
    import numpy as np


class Embedder(Protocol):
    dimensions: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...
