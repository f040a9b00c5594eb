"""Hybrid retrieval: BM25 (rank-bm25) and dense embeddings (faiss), fused by reciprocal rank.

Lexical search finds exact names and numbers; dense search finds paraphrases. Reciprocal rank
fusion (Cormack et al., 2009: score = sum over rankers of 1 / (k + rank)) combines the two
rankings without calibrating their scores against each other. Without an embedder the index is
BM25 alone, and says so (`dense` is False).

numpy, rank-bm25 and faiss are imported when an index is built, not with the module: the agent
session imports this module on its way to verification, and a session that never retrieves (most
of them) should not pay their import time on every start and every restart.
"""

from __future__ import annotations

from collections.abc import Sequence

from aegis_ray.memory.corpus import Passage
from aegis_ray.memory.embeddings import Embedder
from aegis_ray.memory.text import content_words
from aegis_ray.types import Frozen

RRF_K = 60


class Hit(Frozen):
    passage: Passage
    score: float
    ranks: dict[str, int]


class HybridIndex:
    def __init__(self, passages: Sequence[Passage], embedder: Embedder | None = None) -> None:
        import numpy as np
        from rank_bm25 import BM25Okapi

        self.passages = list(passages)
        texts = [content_words(p.text) or ["\0"] for p in self.passages]
        self._words = [set(t) for t in texts]
        self.bm25 = BM25Okapi(texts)
        self.embedder = embedder
        self.dense = None
        if embedder is not None:
            import faiss

            vectors = np.asarray(embedder.embed([p.text for p in self.passages]), dtype="float32")
            self.dense = faiss.IndexFlatIP(vectors.shape[1])
            self.dense.add(vectors)

    def search(self, query: str, k: int = 5, depth: int = 50) -> list[Hit]:
        """The top `k` passages by reciprocal rank fusion of the top `depth` of each ranker."""
        import numpy as np

        rankings: dict[str, list[int]] = {}
        words = content_words(query)
        lexical = self.bm25.get_scores(words)
        # Any passage sharing a word ranks: in a tiny corpus BM25's IDF of a shared word is <= 0.
        matching = set(words)
        rankings["bm25"] = [int(i) for i in np.argsort(-lexical, kind="stable")
                            if matching & self._words[i]][:depth]
        if self.dense is not None and self.embedder is not None:
            vector = np.asarray(self.embedder.embed([query]), dtype="float32")
            _, ids = self.dense.search(vector, min(depth, len(self.passages)))
            rankings["dense"] = [int(i) for i in ids[0] if i >= 0]
        fused: dict[int, float] = {}
        ranks: dict[int, dict[str, int]] = {}
        for ranker, ranking in rankings.items():
            for rank, i in enumerate(ranking, start=1):
                fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + rank)
                ranks.setdefault(i, {})[ranker] = rank
        best = sorted(fused, key=lambda i: fused[i], reverse=True)[:k]
        return [Hit(passage=self.passages[i], score=fused[i], ranks=ranks[i]) for i in best]
