"""Verification quality on the shipped fact QA set (506 real facts) answered by simulated personas
with known error rates.

The author is wrong 30% of the time (once randomly per sample, once consistently per question).
The verifiers are imperfect too: the judge (grading, claim checks) is randomly wrong 10% of the
time and each of the three voters 15%; reading tasks (entailment, decomposition) are exact. A
generated corpus documents a random 60% of the facts. For each method and for the full stack
(claim-level verification: arithmetic -> cited corpus evidence -> cross-model consensus), it
reports false-accept rate (wrong among accepted), coverage (accepted / all), AUROC of the method's
confidence for the correctness of the answer it stands behind, and model calls per question. The
baseline, measured in the same run, is no verification: accept the author's first answer.

    python benchmarks/verification_quality.py [--questions 506] [--concurrency 16]

Target: full stack false-accept <= 1% at coverage >= 60% with the author wrong 30% of the time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from pathlib import Path

from pydantic import SecretStr
from scipy.stats import mannwhitneyu

from aegis_ray.config import RetryPolicy
from aegis_ray.memory.corpus import load_corpus
from aegis_ray.memory.minilm import default_embedder
from aegis_ray.memory.retrieval import HybridIndex
from aegis_ray.providers import EndpointCache, EndpointConfig, Gateway, ModelEndpoint
from aegis_ray.sim.facts import Fact, fact_table
from aegis_ray.sim.process import start_sim_process
from aegis_ray.verify.base import Outcome
from aegis_ray.verify.best_of_n import JudgeScorer, best_of_n
from aegis_ray.verify.claims import ClaimVerifier, verify_claims
from aegis_ray.verify.cove import chain_of_verification
from aegis_ray.verify.ensemble import ensemble
from aegis_ray.verify.entropy import semantic_entropy
from aegis_ray.verify.equivalence import LLMEntailment
from aegis_ray.verify.prompts import answer_request

RESULTS = Path(__file__).parent / "results" / "verification_quality.json"
PORT = 8791
AUTHORS = {"random": "sim:author-random", "consistent": "sim:author-consistent"}
JUDGE = "sim:judge"
VOTERS = ("sim:voter-a", "sim:voter-b", "sim:voter-c")
MODELS = {
    "author-random": {"persona": "hallucinating", "hallucination_rate": 0.3, "seed": 1},
    "author-consistent": {"persona": "hallucinating", "hallucination_rate": 0.3,
                          "hallucination_mode": "consistent", "seed": 2},
    "judge": {"persona": "hallucinating", "hallucination_rate": 0.1, "seed": 3},
    "voter-a": {"persona": "hallucinating", "hallucination_rate": 0.15, "seed": 4},
    "voter-b": {"persona": "hallucinating", "hallucination_rate": 0.15, "seed": 5},
    "voter-c": {"persona": "hallucinating", "hallucination_rate": 0.15, "seed": 6},
}
CORPUS_SHARE = 0.6
TARGET = {"false_accept_max": 0.01, "coverage_min": 0.60}


def write_corpus(directory: Path, facts: list[Fact], rng: random.Random) -> int:
    """Markdown handbooks, one per relation, documenting a random CORPUS_SHARE of the facts."""
    documented = [f for f in facts if rng.random() < CORPUS_SHARE]
    fillers = ["This is recorded in standard references.", "Sources agree on this point.",
               "It appears in most encyclopedias.", "This has been stable for decades."]
    for relation in {f.relation for f in documented}:
        body = "\n\n".join(f"{f.claim()} {rng.choice(fillers)}" for f in documented if f.relation == relation)
        (directory / f"{relation}.md").write_text(f"# {relation.replace('_', ' ').title()}\n\n{body}\n")
    return len(documented)


Row = dict
"""method, accepted, correct (of the answer the method stands behind), confidence, calls."""


async def evaluate(models: Gateway, index: HybridIndex, author: str, fact: Fact) -> list[Row]:
    judge = LLMEntailment(models, JUDGE)
    first = (await models.complete(answer_request(fact.question), [author])).text

    def row(outcome: Outcome) -> Row:
        return Row(method=outcome.method, accepted=outcome.accepted, correct=fact.accepts(outcome.answer),
                   confidence=outcome.confidence, calls=outcome.calls)

    verifier = ClaimVerifier(models, judge, index=index, voters=VOTERS, author=author)
    evidence_only = ClaimVerifier(models, judge, index=index, author=author)
    q = fact.question
    outcomes = await asyncio.gather(
        ensemble(q, models, VOTERS, judge, candidate=first, author=author),
        semantic_entropy(q, models, author, judge, samples=10, candidate=first),
        chain_of_verification(q, first, models, planner=JUDGE, answerer=author, judge=judge),
        best_of_n(q, models, author, JudgeScorer(models, JUDGE), n=5),
        verify_claims(q, first, models, evidence_only, decomposer=JUDGE),
        verify_claims(q, first, models, verifier, decomposer=JUDGE),
    )
    rows = [row(o) for o in outcomes]
    rows[4]["method"], rows[5]["method"] = "claims_evidence_only", "full_stack"
    # The claims methods stand behind the original answer: grade that, not the stripped text.
    for r in rows[4:]:
        r["correct"] = fact.accepts(first)
    baseline = Row(method="no_verification", accepted=True, correct=fact.accepts(first), confidence=1.0, calls=1)
    return [baseline, *rows]


def auroc(rows: list[Row]) -> float | None:
    right = [r["confidence"] for r in rows if r["correct"]]
    wrong = [r["confidence"] for r in rows if not r["correct"]]
    if not right or not wrong:
        return None
    return float(mannwhitneyu(right, wrong).statistic / (len(right) * len(wrong)))


def summarise(rows: list[Row]) -> dict[str, float | None]:
    accepted = [r for r in rows if r["accepted"]]
    wrong = sum(not r["correct"] for r in accepted)
    return {"questions": len(rows), "accepted": len(accepted),
            "false_accept_rate": wrong / len(accepted) if accepted else 0.0,
            "coverage": len(accepted) / len(rows), "auroc": auroc(rows),
            "calls_per_question": sum(r["calls"] for r in rows) / len(rows),
            "author_error_rate": sum(not r["correct"] for r in rows) / len(rows)}


async def run(questions: int, concurrency: int) -> dict:
    facts = fact_table().facts
    rng = random.Random(0)
    chosen = rng.sample(facts, min(questions, len(facts)))
    corpus_dir = Path(tempfile.mkdtemp(prefix="aegis-corpus-"))
    documented = write_corpus(corpus_dir, facts, random.Random(1))
    index = HybridIndex(load_corpus(corpus_dir), default_embedder(Path.home() / ".aegis" / "models"))
    server = start_sim_process(PORT, {name: profile for name, profile in MODELS.items()})
    fast = RetryPolicy(max_attempts=2, initial_backoff_s=0.01, max_backoff_s=0.05, jitter_s=0.01)
    cache = EndpointCache(lambda ref: ModelEndpoint(EndpointConfig(
        ref=ref, api_key=SecretStr("bench"),
        base_url=f"http://127.0.0.1:{PORT}/v1", retry=fast)))
    models = Gateway(cache, [AUTHORS["random"]])
    limit = asyncio.Semaphore(concurrency)
    report: dict = {"facts": len(facts), "questions": len(chosen), "documented_in_corpus": documented,
                    "target": TARGET, "authors": {}}
    try:
        for mode, author in AUTHORS.items():
            started = time.perf_counter()

            async def one(fact: Fact, author: str = author) -> list[Row]:
                async with limit:
                    return await evaluate(models, index, author, fact)

            rows = [r for batch in await asyncio.gather(*(one(f) for f in chosen)) for r in batch]
            by_method: dict[str, list[Row]] = {}
            for r in rows:
                by_method.setdefault(r["method"], []).append(r)
            report["authors"][mode] = {"seconds": time.perf_counter() - started,
                                       "methods": {m: summarise(rs) for m, rs in by_method.items()}}
    finally:
        await cache.aclose()
        server.terminate()
    return report


def table(report: dict) -> str:
    lines = []
    for mode, result in report["authors"].items():
        lines.append(f"\nauthor wrong 30% ({mode}); {report['questions']} questions, "
                     f"{report['documented_in_corpus']} of {report['facts']} facts in the corpus")
        lines.append(f"{'method':<22}{'false-accept':>13}{'coverage':>10}{'AUROC':>8}{'calls/q':>9}")
        for method, s in result["methods"].items():
            au = "-" if s["auroc"] is None else f"{s['auroc']:.3f}"
            lines.append(f"{method:<22}{s['false_accept_rate']:>12.2%}{s['coverage']:>10.1%}{au:>8}"
                         f"{s['calls_per_question']:>9.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=len(fact_table().facts))
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    report = asyncio.run(run(args.questions, args.concurrency))
    for result in report["authors"].values():
        full = result["methods"]["full_stack"]
        result["target_met"] = (full["false_accept_rate"] <= TARGET["false_accept_max"]
                                and full["coverage"] >= TARGET["coverage_min"])
    print(table(report))
    for mode, result in report["authors"].items():
        print(f"full stack target ({mode} author): {'met' if result['target_met'] else 'MISSED'}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
