"""The offline evidence judge: no model call, a graded and calibrated probability per claim.

Each claim is aligned to its best evidence window (one sentence of a premise, or two adjacent ones)
by MiniLM cosine similarity and lexical coverage. Against that window the claim's numbers, months,
proper names and polarity are compared explicitly (`consistency`), and its words against all the
premises. A logistic model over these features, fitted on the real-text train split alone
(`fit.py`; weights in `evidence_params.json`), turns them into P(supported). The label is
`entailment` at P >= 0.5; below, `contradiction` when the window is about the claim (half its
words or more) and disagrees on a number, a month, a name or a negation; else `neutral`. Without an embedder the judge
runs on its lexical features alone, with weights fitted that way.
"""

from __future__ import annotations

import asyncio
import math
import re
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

from aegis_ray.memory.embeddings import Embedder
from aegis_ray.memory.text import sentence_spans, sentences
from aegis_ray.types import Frozen
from aegis_ray.verify.judges.consistency import assertions, content_stems
from aegis_ray.verify.judges.protocol import Judgement

PARAMS = Path(__file__).with_name("evidence_params.json")
FEATURES = ("bias", "cosine", "coverage", "coverage_squared", "missing_numbers", "number_conflict", "missing_months",
            "missing_names", "name_elsewhere", "negation_mismatch", "unsupported_words", "anywhere_coverage")
RELEVANCE_FEATURES = ("bias", "focus_coverage", "cosine")
CONTRADICTION_COVERAGE = 0.5
INSTRUCTION_WORDS = frozenset(("summarise", "summarize", "summary", "passage", "text", "say", "give", "short", "me",
                               "tell", "explain", "describe", "quick", "question", "hi", "hello", "read",
                               "documentation", "doc", "please", "doe"))
_FORMULA = re.compile(r"^\s*(?:sure|yes|ok(?:ay)?|of course|good question|great question|thanks?(?: you)?|"
                      r"happy to help|hope (?:this|that) helps|let me know[^.!?]*|here(?:'s| is) what i know|"
                      r"yes,? so here is what i know)[\s.!,]*$", re.IGNORECASE)


class EvidenceParams(Frozen):
    """Fitted weights: one set with the MiniLM cosine (dense), one without."""

    dense: tuple[float, ...]
    lexical: tuple[float, ...]
    relevance_dense: tuple[float, ...]
    relevance_lexical: tuple[float, ...]
    fitted_on: str


@cache
def load_params(path: Path = PARAMS) -> EvidenceParams:
    return EvidenceParams.model_validate_json(path.read_text(encoding="utf-8"))


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))


class Window(Frozen):
    premise: int
    start: int
    end: int
    text: str


def windows(premises: Sequence[str]) -> list[Window]:
    """Every sentence of every premise, and every pair of adjacent sentences."""
    found = []
    for p, text in enumerate(premises):
        spans = sentence_spans(text) or [(0, len(text))]
        for i, (a, b) in enumerate(spans):
            found.append(Window(premise=p, start=a, end=b, text=text[a:b]))
            if i + 1 < len(spans):
                found.append(Window(premise=p, start=a, end=spans[i + 1][1], text=text[a:spans[i + 1][1]]))
    return found


def claims_of(answer: str) -> list[str]:
    """The sentences of `answer` that assert something: conversational formulas and questions left out."""
    said = [s for s in sentences(answer) if not _FORMULA.match(s) and not s.rstrip().endswith("?")]
    return said or ([answer.strip()] if answer.strip() and not _FORMULA.match(answer) else [])


def focus(question: str) -> frozenset[str]:
    """What a question is about: its content stems, instruction words left out."""
    return frozenset(w for w in content_stems(question) if w not in INSTRUCTION_WORDS)


class EvidenceJudge:
    """The offline judge (see the module docstring). Embeddings are cached per text."""

    name = "offline-evidence"

    def __init__(self, embedder: Embedder | None = None, params: EvidenceParams | None = None,
                 cache_size: int = 20000) -> None:
        self.embedder = embedder
        self.params = params
        self._vectors: dict[str, np.ndarray] = {}
        self._cache_size = cache_size
        self._lock = threading.Lock()  # judge() runs in worker threads; the cache and the embedder are shared

    @property
    def weights(self) -> tuple[np.ndarray, np.ndarray]:
        params = self.params or load_params()
        if self.embedder is not None:
            return np.asarray(params.dense), np.asarray(params.relevance_dense)
        return np.asarray(params.lexical), np.asarray(params.relevance_lexical)

    def embed(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        if self.embedder is None:
            return {}
        with self._lock:
            return self._embed(texts)

    def _embed(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        assert self.embedder is not None
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if missing:
            if len(self._vectors) + len(missing) > self._cache_size:
                self._vectors.clear()
            for text, vector in zip(missing, self.embedder.embed(missing), strict=True):
                self._vectors[text] = vector
        return {t: self._vectors[t] for t in texts}

    def features(self, claim: str, premises: Sequence[str]) -> tuple[np.ndarray, Window | None]:
        """The claim's feature vector (FEATURES) against its best window, and that window."""
        found = windows(premises)
        said = assertions(claim)
        stems = content_stems(claim)
        if not found or not stems:
            return np.array([1.0, 0, 0, 0, 0, 0, 0, 0, 0, 0, math.log1p(len(stems)), 0]), None
        vectors = self.embed([claim, *(w.text for w in found)])
        cosines = [float(np.dot(vectors[claim], vectors[w.text])) if vectors else 0.0 for w in found]
        coverages = [len(stems & content_stems(w.text)) / len(stems) for w in found]
        best = max(range(len(found)), key=lambda i: 0.5 * cosines[i] + 0.5 * coverages[i])
        window = found[best]
        there = assertions(window.text)
        everywhere = set().union(*(content_stems(p) for p in premises))
        missing_numbers = said.numbers - there.numbers
        missing_names = {n for n in said.names if n not in there.names and n not in window.text.casefold()}
        all_text = " ".join(premises).casefold()
        vector = np.array([
            1.0, cosines[best], coverages[best], coverages[best] ** 2,
            len(missing_numbers) / max(1, len(said.numbers)),
            float(bool(missing_numbers) and bool(there.numbers)),
            float(bool(said.months - there.months)),
            len(missing_names) / max(1, len(said.names)),
            float(any(n in all_text for n in missing_names)),
            float(said.negated != there.negated),
            math.log1p(len(stems - everywhere)),
            len(stems & everywhere) / len(stems),
        ])
        return vector, window

    def relevance_features(self, question: str, text: str) -> np.ndarray | None:
        wanted = focus(question)
        if not wanted:
            return None
        vectors = self.embed([question, text])
        cosine = float(np.dot(vectors[question], vectors[text])) if vectors else 0.0
        return np.array([1.0, len(wanted & content_stems(text)) / len(wanted), cosine])

    def verdict(self, vector: np.ndarray, window: Window | None) -> Judgement:
        probability = sigmoid(float(self.weights[0] @ vector))
        # The window disagrees: a number, a month or a name of the claim is not there, or the polarity differs.
        conflict = vector[4] > 0 or vector[6] > 0 or vector[7] > 0 or vector[9] > 0
        if probability >= 0.5:
            label = "entailment"
        elif conflict and vector[2] >= CONTRADICTION_COVERAGE:
            label = "contradiction"
        else:
            label = "neutral"
        named = dict(zip(FEATURES, vector.round(3).tolist(), strict=True))
        reason = ", ".join(f"{k} {v}" for k, v in named.items() if k != "bias" and v)
        if window is None:
            return Judgement(label="neutral", probability=probability, reason="no evidence")
        return Judgement(label=label, probability=probability, premise=window.premise,
                         span=(window.start, window.end), reason=reason)

    def judge_now(self, claim: str, premises: Sequence[str]) -> Judgement:
        return self.verdict(*self.features(claim, premises))

    def answers_now(self, question: str, text: str) -> float:
        vector = self.relevance_features(question, text)
        return 1.0 if vector is None else sigmoid(float(self.weights[1] @ vector))

    async def judge(self, claim: str, premises: Sequence[str], context: str = "") -> Judgement:
        return await asyncio.to_thread(self.judge_now, claim, premises)

    async def decompose(self, question: str, answer: str, context: str = "") -> list[str]:
        return list(dict.fromkeys(claims_of(answer)))

    async def answers(self, question: str, text: str) -> float:
        return await asyncio.to_thread(self.answers_now, question, text)
