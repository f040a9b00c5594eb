"""Fit the offline evidence judge's weights on the real-text train split, and only on it.

    python -m aegis_ray.verify.judges.fit

Each train item goes through the same steps as verification (decomposition, decontextualisation,
retrieval from the item's own corpus) and each claim gets its feature vector. An item is right
only if all its claims are, so the claim model is fitted on each item's weakest claim (by the
current weights; three rounds from a lexical start), labelled with the item's label. Right claims
shortened by a clause (`shortened`) are added as right examples: a claim may say less than its
evidence sentence. The
relevance model is fitted on the `qa` and `dialogue` train items (what their claims say,
self-contained): right answers and every perturbation but `different_question` address the
question; those do not. L2-regularised
logistic regression (scipy's L-BFGS-B), with monotone weights (`signs`). Writes `evidence_params.json` beside this file.
"""

from __future__ import annotations

import argparse
import asyncio
import re
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from aegis_ray.memory.collection import Corpus
from aegis_ray.memory.embeddings import Embedder
from aegis_ray.memory.minilm import default_embedder
from aegis_ray.verify.claims import ClaimVerifier, self_contained_claims
from aegis_ray.verify.judges.evidence import FEATURES, PARAMS, RELEVANCE_FEATURES, EvidenceJudge, EvidenceParams
from aegis_ray.verify.realtext import RealTextItem, checksum, load_items, passages
from aegis_ray.verify.research import history_of

L2 = 1e-4
"""Chosen by two-fold cross-validation over train passages among 1e-1, 1e-2, 1e-3, 1e-4 (the test split unseen)."""


def signs(names: tuple[str, ...]) -> list[tuple[float | None, float | None]]:
    """Monotone weights: more similarity never lowers P(supported), a disagreement never raises it."""
    up = {"cosine", "coverage", "coverage_squared", "anywhere_coverage", "focus_coverage"}
    return [(None, None) if n == "bias" else (0.0, None) if n in up else (None, 0.0) for n in names]


def logistic_fit(x: np.ndarray, y: np.ndarray, l2: float | None = None,
                 bounds: list[tuple[float | None, float | None]] | None = None) -> np.ndarray:
    l2 = L2 if l2 is None else l2

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ w
        p = 1 / (1 + np.exp(-np.clip(z, -40, 40)))
        penalty = w.copy()
        penalty[0] = 0  # the bias is not shrunk
        value = float(np.sum(np.logaddexp(0, z) - y * z) / len(y) + l2 / 2 * penalty @ penalty)
        return value, x.T @ (p - y) / len(y) + l2 * penalty

    return minimize(loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B", bounds=bounds).x


_DROPPABLE = (re.compile(r"\s*\([^()]*\)"),
              re.compile(r",?\s+(?:with|which|including|who|where|because|while)\b[^,.;]*"),
              re.compile(r"^(?:In|On|By|Since|After)\s[^,]{1,40},\s*"),
              re.compile(r",\s+(?=[^,.;]*[A-Za-z])[^,.;]*(?=[.;]?$)"))


def shortened(claim: str) -> list[str]:
    """A right claim with a clause left out is still right: short claims are what questions ask for, and
    the generated answers alone are rarely shorter than their evidence."""
    found = []
    for pattern in _DROPPABLE:
        short = pattern.sub("", claim, count=1).strip()
        if short != claim and len(short.split()) >= 4:
            found.append(short[0].upper() + short[1:])
    return list(dict.fromkeys(found))


async def item_features(judge: EvidenceJudge, item: RealTextItem, embedder: Embedder | None
                        ) -> tuple[list[np.ndarray], np.ndarray | None, list[np.ndarray]]:
    """The claims' features, the relevance features, and (right items) the features of shortened claims."""
    corpus = Corpus.from_texts({item.passage_id: passages()[item.passage_id].text}, embedder)
    verifier = ClaimVerifier(None, judge, index=corpus.index)
    claims = await self_contained_claims(judge, item.question, item.answer, history_of(item))

    def features(claim: str) -> np.ndarray:
        return judge.features(claim, [h.passage.text for h in verifier.hits(claim)])[0]

    short = [s for c in claims for s in shortened(c)][:1]  # one per item: they must not outweigh the data
    extra = [] if item.hallucinated else [features(s) for s in short]
    return [features(c) for c in claims], judge.relevance_features(item.question, " ".join(claims)), extra


def fit_claims(rows: list[tuple[list[np.ndarray], bool]]) -> np.ndarray:
    weights = np.zeros(len(FEATURES))
    weights[FEATURES.index("coverage")] = 4.0
    weights[FEATURES.index("bias")] = -2.0
    usable = [(claims, right) for claims, right in rows if claims]
    for _ in range(3):
        worst = np.array([min(claims, key=lambda v: float(weights @ v)) for claims, _ in usable])
        weights = logistic_fit(worst, np.array([float(right) for _, right in usable]), bounds=signs(FEATURES))
    return weights


async def fit(embedder: Embedder | None) -> tuple[np.ndarray, np.ndarray]:
    judge = EvidenceJudge(embedder, params=EvidenceParams(dense=(), lexical=(), relevance_dense=(),
                                                          relevance_lexical=(), fitted_on=""))
    train = load_items("train")
    found = [await item_features(judge, item, embedder) for item in train]
    rows = [(f[0], not item.hallucinated) for f, item in zip(found, train, strict=True)]
    claims = fit_claims(rows + [([vector], True) for f in found for vector in f[2]])
    relevance_rows = [(f[1], item.perturbation != "different_question") for f, item in zip(found, train, strict=True)
                      if item.format != "summary" and f[1] is not None]
    relevance = logistic_fit(np.array([r for r, _ in relevance_rows]), np.array([float(y) for _, y in relevance_rows]),
                             bounds=signs(RELEVANCE_FEATURES))
    return claims, relevance


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PARAMS)
    args = parser.parse_args(argv)
    embedder = default_embedder(Path.home() / ".aegis" / "models")
    dense, relevance_dense = asyncio.run(fit(embedder))
    lexical, relevance_lexical = asyncio.run(fit(None))
    params = EvidenceParams(
        dense=tuple(dense.round(4)), lexical=tuple(lexical.round(4)), relevance_dense=tuple(relevance_dense.round(4)),
        relevance_lexical=tuple(relevance_lexical.round(4)),
        fitted_on=f"real-text train split, {len(load_items('train'))} items, sha256 {checksum(load_items('train'))}")
    args.out.write_text(params.model_dump_json(indent=2) + "\n", encoding="utf-8")
    for name, weights in (("dense", dense), ("lexical", lexical)):
        print(name, ", ".join(f"{f} {w:+.2f}" for f, w in zip(FEATURES, weights, strict=True)))
    print("relevance", ", ".join(f"{f} {w:+.2f}" for f, w in zip(RELEVANCE_FEATURES, relevance_dense, strict=True)))


if __name__ == "__main__":
    main()
