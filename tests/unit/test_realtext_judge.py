"""The offline judge on the frozen real-text test split: its confidence is graded, not two values.

(The full figures, per format against both baselines, and risk control fitted on train and checked
on test, are `benchmarks/verification_real_text.py`'s: minutes, not a unit test.)
"""

from __future__ import annotations

import random

import pytest

from aegis_ray.memory.minilm import MiniLMEmbedder
from aegis_ray.verify import EvidenceJudge, ItemPolicy, auroc, verify_many
from aegis_ray.verify.realtext import FORMATS, load_items

pytestmark = pytest.mark.unit


async def test_confidence_on_the_test_split_is_graded(tmp_path_factory: pytest.TempPathFactory) -> None:
    embedder = MiniLMEmbedder(tmp_path_factory.mktemp("models"))
    rng = random.Random(15)
    items = [i for fmt in FORMATS for i in rng.sample(load_items("test", [fmt]), 16)]
    results = await verify_many(items, ItemPolicy(judge=EvidenceJudge(embedder), embedder=embedder), progress=False)
    confidences = [r.confidence for r in results]
    assert len({round(c, 6) for c in confidences}) > 20
    assert auroc(confidences, [not i.hallucinated for i in items]) > 0.7  # a sample: the benchmark has the figure
