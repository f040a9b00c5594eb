"""Equivalence and entailment behind one protocol, and the clustering every method uses.

Three implementations of `Equivalence`: normalised exact match (free), embedding similarity
(offline MiniLM, a cosine threshold), and an LLM entailment judge asked in both directions (two
answers are equivalent when each entails the other). `cluster` groups answers into meanings:
identical normalised strings share a cluster without a model call, and each remaining answer is
compared with one representative per cluster.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from collections.abc import Sequence
from typing import Protocol

from aegis_ray.memory.embeddings import Embedder
from aegis_ray.model_ref import ModelLike
from aegis_ray.verify.base import CallCounter, Models
from aegis_ray.verify.prompts import Entailment, VerifyTask, is_abstention, parse_entailment, task_request


class Equivalence(Protocol):
    name: str

    async def equivalent(self, a: str, b: str, question: str = "") -> bool: ...


def normalise(text: str) -> str:
    """Case, accents, punctuation, articles and spacing removed: "The  Canberra." -> "canberra"."""
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(w for w in text.split() if w not in ("a", "an", "the"))


class NormalisedMatch:
    name = "normalised-match"

    async def equivalent(self, a: str, b: str, question: str = "") -> bool:
        return normalise(a) == normalise(b)


class EmbeddingSimilarity:
    """Equivalent when the cosine similarity of the two embeddings reaches `threshold`."""

    name = "embedding-similarity"

    def __init__(self, embedder: Embedder, threshold: float = 0.9) -> None:
        self.embedder = embedder
        self.threshold = threshold

    async def equivalent(self, a: str, b: str, question: str = "") -> bool:
        import numpy as np  # with the embeddings, not with every module that imports this one

        vectors = await asyncio.to_thread(self.embedder.embed, [a, b])
        return float(np.dot(vectors[0], vectors[1])) >= self.threshold


class LLMEntailment:
    """A judge model decides entailment; equivalence is entailment both ways (asked concurrently)."""

    name = "llm-entailment"

    def __init__(self, models: Models, judge: ModelLike) -> None:
        self.models = CallCounter(models)
        self.judge = judge

    async def entails(self, premise: str, hypothesis: str, context: str = "") -> Entailment:
        fields = {"Context": context} if context else {}
        request = task_request(VerifyTask.ENTAILMENT, {**fields, "Premise": premise, "Hypothesis": hypothesis})
        return parse_entailment(await self.models.ask(self.judge, request))

    async def equivalent(self, a: str, b: str, question: str = "") -> bool:
        forward, backward = await asyncio.gather(self.entails(a, b, question), self.entails(b, a, question))
        return forward == backward == "entailment"


async def cluster(answers: Sequence[str], equivalence: Equivalence, question: str = "") -> list[list[int]]:
    """Indices of `answers` grouped by meaning, largest cluster first. Abstentions ("I don't
    know") form one cluster of their own and never join an answer's."""
    by_text: dict[str, list[int]] = {}
    for i, answer in enumerate(answers):
        key = "\0abstain" if is_abstention(answer) else normalise(answer)
        by_text.setdefault(key, []).append(i)
    clusters: list[list[int]] = []
    representatives: list[str] = []
    for key, members in by_text.items():
        if key == "\0abstain":
            clusters.append(members)
            representatives.append("")
            continue
        text = answers[members[0]]
        for c, representative in enumerate(representatives):
            if representative and await equivalence.equivalent(representative, text, question):
                clusters[c].extend(members)
                break
        else:
            clusters.append(members)
            representatives.append(text)
    return sorted(clusters, key=len, reverse=True)
