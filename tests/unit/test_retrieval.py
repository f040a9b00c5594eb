"""Offline MiniLM embeddings (fastembed over an ONNX graph built from the shipped weights), the
corpus loader and hybrid BM25 + dense retrieval with reciprocal rank fusion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aegis_ray.memory.corpus import load_corpus, passages_of
from aegis_ray.memory.minilm import MiniLMEmbedder
from aegis_ray.memory.retrieval import RRF_K, HybridIndex

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> MiniLMEmbedder:
    return MiniLMEmbedder(tmp_path_factory.mktemp("models"))


def test_minilm_reproduces_the_published_sentence_transformers_similarities(embedder: MiniLMEmbedder) -> None:
    # The sentence-transformers quickstart prints these for all-MiniLM-L6-v2: 0.6660, 0.1046, 0.1411.
    vectors = embedder.embed(["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] == pytest.approx(0.6660, abs=5e-4)
    assert similarity[0, 2] == pytest.approx(0.1046, abs=5e-4)
    assert similarity[1, 2] == pytest.approx(0.1411, abs=5e-4)


def test_passages_keep_exact_offsets_into_their_file(tmp_path: Path) -> None:
    text = "# Title\n\nFirst paragraph. Still first.\n\n\nSecond paragraph here.\n"
    (tmp_path / "a.md").write_text(text)
    (tmp_path / "skip.bin").write_bytes(b"\x00\x01")
    passages = load_corpus(tmp_path)
    assert [p.text for p in passages] == ["# Title", "First paragraph. Still first.", "Second paragraph here."]
    assert all(text[p.start:p.end] == p.text and p.source == "a.md" for p in passages)
    long = passages_of(" ".join(f"Sentence {i} is here." for i in range(100)), "long.txt", max_chars=200)
    assert len(long) > 5 and all(len(p.text) <= 200 for p in long)


def test_dense_retrieval_finds_a_paraphrase_that_bm25_cannot(embedder: MiniLMEmbedder) -> None:
    passages = passages_of("The automobile would not start this morning.\n\nBananas are rich in potassium.\n\n"
                           "Stock markets fell sharply on Tuesday.", "notes.txt")
    lexical = HybridIndex(passages)
    hybrid = HybridIndex(passages, embedder)
    assert lexical.search("my car broke down") == []
    (best, *_) = hybrid.search("my car broke down")
    assert "automobile" in best.passage.text and best.ranks == {"dense": 1}


def test_reciprocal_rank_fusion_rewards_agreement_between_rankers(embedder: MiniLMEmbedder) -> None:
    passages = passages_of("Canberra is the capital of Australia.\n\nSydney is the largest city in Australia.\n\n"
                           "Paris is the capital of France.", "geo.md")
    (best, *rest) = HybridIndex(passages, embedder).search("Australia capital", k=3)
    assert best.passage.text.startswith("Canberra") and best.ranks == {"bm25": 1, "dense": 1}
    assert best.score == pytest.approx(2 / (RRF_K + 1)) and all(h.score < best.score for h in rest)
