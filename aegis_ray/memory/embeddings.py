"""Sentence embeddings: the `Embedder` protocol (unit-length rows, so a dot product is a cosine)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class Embedder(Protocol):
    dimensions: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...
