"""Verification on real text: the offline evidence judge against two baselines, on the frozen test
split of the real-text development set (Debian's and Python's documentation; right answers and
hallucinated ones made by entity, number and date swaps, negation, unsupported additions and
answers to a different question, in three formats: qa, dialogue, summary).

Every item is judged against its own passage alone (its corpus), in `detect` mode: the answer as
given. Baselines, measured in the same run on the same items: token overlap (the share of the
answer's content words found in the passage) and MiniLM cosine (answer against passage); their
accept thresholds are fitted on the train split (best balanced accuracy). Risk control
(Learn-then-Test, alpha 0.1, delta 0.1) is fitted on the judge's train-split confidences and
checked on the test split. No simulator, no model call: nothing here can be flattered by one.

    python benchmarks/verification_real_text.py [--alpha 0.1] [--concurrency 8]

Target: AUROC >= 0.85 on every format, above both baselines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from aegis_ray.memory.embeddings import Embedder
from aegis_ray.memory.minilm import default_embedder
from aegis_ray.verify.judges.consistency import content_stems
from aegis_ray.verify.judges.evidence import EvidenceJudge
from aegis_ray.verify.realtext import FORMATS, RealTextItem, checksum, load_items, passages
from aegis_ray.verify.research import ItemPolicy, ItemResult, accept_rates, summary, verify_many
from aegis_ray.verify.risk import LabelledScore, calibrate, clopper_pearson_upper

RESULTS = Path(__file__).parent / "results" / "verification_real_text.json"
TARGET_AUROC = 0.85
PERTURBATIONS = ("entity", "number", "date", "negation", "addition", "different_question")


def token_overlap(item: RealTextItem) -> float:
    said = content_stems(item.answer)
    return len(said & content_stems(passages()[item.passage_id].text)) / len(said) if said else 0.0


def cosine_scorer(embedder: Embedder) -> Callable[[Sequence[RealTextItem]], list[float]]:
    def score(items: Sequence[RealTextItem]) -> list[float]:
        answers = embedder.embed([i.answer for i in items])
        sources = embedder.embed([passages()[i.passage_id].text for i in items])
        return [float(a @ s) for a, s in zip(answers, sources, strict=True)]
    return score


def best_threshold(scores: np.ndarray, right: np.ndarray) -> float:
    """The accept threshold with the best balanced accuracy on these (train) scores."""
    candidates = np.unique(scores)
    def balanced(t: float) -> float:
        return (np.mean(scores[right] >= t) + np.mean(scores[~right] < t)) / 2
    return float(max(candidates, key=balanced))


def core(scores: np.ndarray, accepted: np.ndarray, items: Sequence[RealTextItem]) -> dict:
    """Any scorer's scores and accept decisions, summarised as the judge's results are."""
    return summary([ItemResult(id=i.id, accepted=bool(a), confidence=float(s), reason="", answer="",
                               hallucinated=i.hallucinated) for i, s, a in zip(items, scores, accepted, strict=True)])


def figures(scores: np.ndarray, accepted: np.ndarray, items: Sequence[RealTextItem]) -> dict:
    """The figures on all items, and per perturbation: right items against that perturbation's."""
    per = {}
    for kind in PERTURBATIONS:
        mask = np.array([not i.hallucinated or i.perturbation == kind for i in items])
        chosen = [i for i, m in zip(items, mask, strict=True) if m]
        wrong = sum(i.hallucinated for i in chosen)
        if wrong:
            sub = core(scores[mask], accepted[mask], chosen)
            per[kind] = {"hallucinated_items": wrong, "auroc": sub["auroc"],
                         "accept_rate_hallucinated": sub["accept_rate_hallucinated"]}
    return {**core(scores, accepted, items), "perturbations": per}


async def judge_items(judge: EvidenceJudge, embedder: Embedder, items: list[RealTextItem], mode: str,
                      concurrency: int) -> list[ItemResult]:
    return await verify_many(items, ItemPolicy(judge=judge, mode=mode, embedder=embedder, concurrency=concurrency))


def run(alpha: float, delta: float, concurrency: int) -> dict:
    embedder = default_embedder(Path.home() / ".aegis" / "models")
    judge = EvidenceJudge(embedder)
    train, test = load_items("train"), load_items("test")
    started = time.perf_counter()
    judged = {split: asyncio.run(judge_items(judge, embedder, items, "detect", concurrency))
              for split, items in (("train", train), ("test", test))}
    repaired = asyncio.run(judge_items(judge, embedder, test, "repair", concurrency))
    seconds = time.perf_counter() - started
    cosine = cosine_scorer(embedder)
    baselines = {"token_overlap": lambda items: [token_overlap(i) for i in items], "minilm_cosine": cosine}
    report: dict = {
        "dataset": {"train_items": len(train), "test_items": len(test), "test_sha256": checksum(test)},
        "judge": judge.name, "mode": "detect", "seconds_judging": round(seconds, 1), "formats": {},
        "target": {"auroc_min": TARGET_AUROC, "above_both_baselines": True},
    }
    for fmt in FORMATS:
        tr = [i for i in train if i.format == fmt]
        te = [i for i in test if i.format == fmt]
        by_id = {r.id: r for r in judged["test"]}
        scores = np.array([by_id[i.id].confidence for i in te])
        accepted = np.array([by_id[i.id].accepted for i in te])
        rows = {"offline_judge": figures(scores, accepted, te)}
        rep = {r.id: r for r in repaired}
        rows["offline_judge"]["repair_mode"] = accept_rates([rep[i.id] for i in te])
        for name, score in baselines.items():
            s_tr, s_te = np.array(score(tr)), np.array(score(te))
            threshold = best_threshold(s_tr, np.array([not i.hallucinated for i in tr]))
            rows[name] = {**figures(s_te, s_te >= threshold, te), "threshold_from_train": threshold}
        judge_auroc = rows["offline_judge"]["auroc"] or 0
        rows["target_met"] = judge_auroc >= TARGET_AUROC and all(
            judge_auroc > (rows[b]["auroc"] or 0) for b in baselines)
        report["formats"][fmt] = rows
    fitted = calibrate([LabelledScore(confidence=r.confidence, correct=not r.hallucinated) for r in judged["train"]],
                       alpha, delta, method="offline-evidence detect")
    accepted_test = [r for r in judged["test"] if fitted.accepts(r.confidence)]
    errors = sum(bool(r.hallucinated) for r in accepted_test)
    report["risk_control"] = {
        "alpha": alpha, "delta": delta, "threshold": fitted.threshold, "train_coverage": fitted.coverage,
        "train_risk": fitted.empirical_risk, "test_coverage": len(accepted_test) / len(test),
        "test_risk": errors / len(accepted_test) if accepted_test else None,
        "test_risk_upper_90": clopper_pearson_upper(errors, len(accepted_test), 0.9) if accepted_test else None,
        "bound_held_on_test": (errors / len(accepted_test) <= alpha) if accepted_test else True,
    }
    report["distinct_confidences_test"] = len({round(r.confidence, 6) for r in judged["test"]})
    report["target_met"] = all(report["formats"][f]["target_met"] for f in FORMATS)
    return report


def table(report: dict) -> str:
    lines = [f"real-text test split: {report['dataset']['test_items']} items; judge {report['judge']} (detect)",
             f"{'format':<10}{'scorer':<16}{'AUROC':>7}{'acc right':>11}{'acc halluc':>12}{'risk@50':>9}{'risk@80':>9}"]
    for fmt, rows in report["formats"].items():
        for name in ("offline_judge", "token_overlap", "minilm_cosine"):
            r = rows[name]
            lines.append(f"{fmt:<10}{name:<16}{r['auroc']:>7.3f}{r['accept_rate_right']:>11.1%}"
                         f"{r['accept_rate_hallucinated']:>12.1%}{r['risk_at_coverage_50']:>9.1%}"
                         f"{r['risk_at_coverage_80']:>9.1%}")
        per = rows["offline_judge"]["perturbations"]
        lines.append("    judge AUROC by perturbation: " + ", ".join(
            f"{k} {v['auroc']:.2f} (n={v['hallucinated_items']})" for k, v in per.items()))
    rc = report["risk_control"]
    lines.append(f"risk control alpha {rc['alpha']}: threshold {rc['threshold']}, train coverage "
                 f"{rc['train_coverage']:.1%}, test coverage {rc['test_coverage']:.1%}, test risk "
                 f"{(rc['test_risk'] or 0):.1%} (bound held: {rc['bound_held_on_test']})")
    lines.append(f"distinct confidences on test: {report['distinct_confidences_test']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alpha", type=float, default=0.1)
    parser.add_argument("--delta", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    report = run(args.alpha, args.delta, args.concurrency)
    print(table(report))
    print(f"target (AUROC >= {TARGET_AUROC} on every format, above both baselines): "
          f"{'met' if report['target_met'] else 'MISSED'}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
