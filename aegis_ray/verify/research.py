"""Research API: verify many labelled items, each against its own corpus, and score the judging.

`verify_many(items, policy)` runs claim-level verification on every item concurrently (a progress
bar on stderr), with the item's documents as its corpus (`Corpus.from_texts`), and returns one
`ItemResult` per item: accepted or not, the confidence, the claims' verdicts and the citations.
The scoring helpers treat a right answer as the positive class and the confidence as its score:
`auroc`, `accept_rates`, `risk_at_coverage` (the error among the most confident share of items)
and `risk_coverage` (the whole curve).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import ConfigDict, Field
from rich.progress import Progress
from scipy.stats import mannwhitneyu

from aegis_ray.memory.collection import Corpus
from aegis_ray.types import Evidence, Frozen, Message, Verdict
from aegis_ray.verify.claims import ClaimVerifier, Mode, verify_claims
from aegis_ray.verify.judges.protocol import Judge
from aegis_ray.verify.realtext import RealTextItem, passages
from aegis_ray.verify.risk import Calibration


class Item(Frozen):
    """One answer to verify against its own documents; `hallucinated` is the label, when known."""

    id: str
    question: str
    answer: str
    documents: dict[str, str] = Field(description="The item's corpus: document name -> text.")
    history: tuple[Message, ...] = ()
    hallucinated: bool | None = None
    tags: dict[str, str] = Field(default_factory=dict, description="Anything to group results by (format, ...).")


class ItemPolicy(Frozen):
    """How `verify_many` verifies: the judge, the mode, retrieval depth, and optional risk control."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    judge: Any = Field(description="A `Judge`.")
    mode: Mode = "detect"
    top_k: int = Field(default=3, ge=1, le=20)
    embedder: Any = Field(default=None, description="An `Embedder` for dense retrieval, or None.")
    calibration: Calibration | None = Field(default=None, description="Accept only at or above its threshold.")
    concurrency: int = Field(default=8, ge=1)


class ItemResult(Frozen):
    id: str
    accepted: bool
    confidence: float
    reason: str
    answer: str
    verdicts: tuple[Verdict, ...] = ()
    citations: tuple[Evidence, ...] = ()
    hallucinated: bool | None = None
    tags: dict[str, str] = Field(default_factory=dict)


def history_of(item: RealTextItem) -> tuple[Message, ...]:
    return tuple(Message(role=t.role, content=t.content) for t in item.history)


def from_realtext(item: RealTextItem) -> Item:
    return Item(id=item.id, question=item.question, answer=item.answer, history=history_of(item),
                documents={item.passage_id: passages()[item.passage_id].text}, hallucinated=item.hallucinated,
                tags={"format": item.format, "perturbation": item.perturbation, "split": item.split})


async def verify_one(item: Item, policy: ItemPolicy) -> ItemResult:
    judge: Judge = policy.judge
    corpus = await asyncio.to_thread(Corpus.from_texts, item.documents, policy.embedder)
    verifier = ClaimVerifier(None, judge, index=corpus.index, top_k=policy.top_k)
    outcome = await verify_claims(item.question, item.answer, None, verifier, mode=policy.mode, history=item.history)
    accepted = outcome.accepted and (policy.calibration is None or policy.calibration.accepts(outcome.confidence))
    return ItemResult(id=item.id, accepted=accepted, confidence=outcome.confidence, reason=outcome.reason,
                      answer=outcome.answer, verdicts=outcome.verdicts, citations=outcome.citations,
                      hallucinated=item.hallucinated, tags=item.tags)


async def verify_many(items: Sequence[Item | RealTextItem], policy: ItemPolicy, *,
                      progress: bool = True) -> list[ItemResult]:
    """Every item verified against its own corpus, in the order given."""
    limit = asyncio.Semaphore(policy.concurrency)
    chosen = [from_realtext(i) if isinstance(i, RealTextItem) else i for i in items]
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task(f"verifying ({policy.mode})", total=len(chosen))

        async def one(item: Item) -> ItemResult:
            async with limit:
                result = await verify_one(item, policy)
            bar.advance(task)
            return result

        return list(await asyncio.gather(*(one(i) for i in chosen)))


def _labelled(results: Sequence[ItemResult]) -> tuple[np.ndarray, np.ndarray]:
    kept = [r for r in results if r.hallucinated is not None]
    return np.array([r.confidence for r in kept]), np.array([not r.hallucinated for r in kept])


def auroc(scores: Sequence[float] | np.ndarray, right: Sequence[bool] | np.ndarray) -> float | None:
    """P(a right item scores above a hallucinated one), ties counted half; None without both classes."""
    scores, right = np.asarray(scores, dtype=float), np.asarray(right, dtype=bool)
    if right.all() or not right.any():
        return None
    return float(mannwhitneyu(scores[right], scores[~right]).statistic / (right.sum() * (~right).sum()))


def results_auroc(results: Sequence[ItemResult]) -> float | None:
    return auroc(*_labelled(results))


def accept_rates(results: Sequence[ItemResult]) -> dict[str, float | None]:
    right = [r.accepted for r in results if r.hallucinated is False]
    wrong = [r.accepted for r in results if r.hallucinated is True]
    return {"accept_rate_right": float(np.mean(right)) if right else None,
            "accept_rate_hallucinated": float(np.mean(wrong)) if wrong else None}


def risk_coverage(scores: Sequence[float] | np.ndarray, right: Sequence[bool] | np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(coverage, risk) when accepting the k most confident items, k = 1..n (ties broken by order)."""
    scores, right = np.asarray(scores, dtype=float), np.asarray(right, dtype=bool)
    order = np.argsort(-scores, kind="stable")
    errors = np.cumsum(~right[order])
    k = np.arange(1, len(scores) + 1)
    return k / len(scores), errors / k


def risk_at_coverage(scores: Sequence[float] | np.ndarray, right: Sequence[bool] | np.ndarray,
                     coverage: float) -> float | None:
    """The share of hallucinated items among the `coverage` most confident share of all items."""
    if len(scores) == 0:
        return None
    covered, risk = risk_coverage(scores, right)
    return float(risk[max(0, int(np.ceil(coverage * len(covered))) - 1)])


def summary(results: Sequence[ItemResult]) -> dict[str, Any]:
    """items, auroc, accept rates, risk at 50% and 80% coverage: the figures the benchmark reports."""
    scores, right = _labelled(results)
    return {"items": len(results), "auroc": auroc(scores, right), **accept_rates(results),
            "risk_at_coverage_50": risk_at_coverage(scores, right, 0.5),
            "risk_at_coverage_80": risk_at_coverage(scores, right, 0.8)}
