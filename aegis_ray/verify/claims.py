"""Claim-level attributed verification: the flagship layer.

1. Decompose the answer into atomic, self-contained claims (a model, never the author).
2. Verify each claim by the cheapest sufficient route:
   deterministic (arithmetic re-computed) -> evidence (hybrid retrieval over the user's corpus,
   an entailment judge on each retrieved passage; the citation is the passage, its file and its
   character offsets) -> cross-model consensus (independent voters check the claim).
3. Strip every claim that is not supported; accept only if what remains still answers the
   question, else abstain. Every claim is reported with its verdict, evidence and source.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aegis_ray.memory.retrieval import HybridIndex
from aegis_ray.model_ref import ModelLike
from aegis_ray.types import Claim, Evidence, Verdict
from aegis_ray.verify.base import CallCounter, Models, Outcome, independent, method_run
from aegis_ray.verify.deterministic import recompute_arithmetic
from aegis_ray.verify.ensemble import Quorum
from aegis_ray.verify.equivalence import LLMEntailment
from aegis_ray.verify.prompts import (
    VerifyTask,
    is_abstention,
    parse_claim_check,
    parse_lines,
    parse_yes,
    task_request,
)

EVIDENCE_CONFIDENCE = 0.95
"""Support by a retrieved passage: as good as the entailment judge, which is not infallible."""


class ClaimVerifier:
    """The routes one claim can take; built once per question, shared by its claims."""

    def __init__(self, models: Models, judge: LLMEntailment, *, index: HybridIndex | None = None,
                 voters: Sequence[ModelLike] = (), author: ModelLike | None = None, quorum: Quorum | None = None,
                 top_k: int = 3) -> None:
        self.models = CallCounter(models)
        self.judge = judge
        self.index = index
        self.voters = independent(voters, author)
        self.quorum = quorum or Quorum()
        self.top_k = top_k

    async def verify(self, text: str) -> Verdict:
        claim = Claim(text=text)
        arithmetic = recompute_arithmetic(text)
        if arithmetic is not None:
            return Verdict(claim=claim, status="supported" if arithmetic.passed else "refuted",
                           method="deterministic", confidence=1.0 if arithmetic.passed else 0.0,
                           evidence=(Evidence(source="arithmetic", span=arithmetic.reason),))
        if self.index is not None:
            verdict = await self._by_evidence(claim)
            if verdict is not None:
                return verdict
        if self.voters:
            return await self._by_consensus(claim)
        return Verdict(claim=claim, status="unsupported", method="none", confidence=0.0)

    async def _by_evidence(self, claim: Claim) -> Verdict | None:
        assert self.index is not None
        hits = self.index.search(claim.text, self.top_k)
        labels = await asyncio.gather(*(self.judge.entails(h.passage.text, claim.text) for h in hits))
        for wanted, status, confidence in (("entailment", "supported", EVIDENCE_CONFIDENCE),
                                           ("contradiction", "refuted", 0.0)):
            hit = next((h for h, label in zip(hits, labels, strict=True) if label == wanted), None)
            if hit is not None:
                p = hit.passage
                evidence = Evidence(source=p.source, span=p.text, start=p.start, end=p.end)
                citation = Claim(text=claim.text, citations=(evidence,) if status == "supported" else ())
                return Verdict(claim=citation, status=status, method="evidence", confidence=confidence,
                               evidence=(evidence,))
        return None

    async def _by_consensus(self, claim: Claim) -> Verdict:
        request = task_request(VerifyTask.CLAIM_CHECK, {"Claim": claim.text})
        replies = await asyncio.gather(*(self.models.complete(request, [v]) for v in self.voters))
        votes = [parse_claim_check(r.text) for r in replies]
        true, false = votes.count("true"), votes.count("false")
        evidence = tuple(Evidence(source=v.name, span=vote) for v, vote in zip(self.voters, votes, strict=True))
        if self.quorum.reached(true, len(votes)):
            status = "supported"
        elif self.quorum.reached(false, len(votes)):
            status = "refuted"
        else:
            status = "unsupported"
        confidence = true / len(votes) if status != "refuted" else 0.0
        return Verdict(claim=claim, status=status, method="consensus", confidence=confidence, evidence=evidence)


async def verify_claims(question: str, answer: str, models: Models, verifier: ClaimVerifier, *,
                        decomposer: str) -> Outcome:
    counted = CallCounter(models)
    with method_run("claims", question) as run:
        if is_abstention(answer):
            return run.finish(Outcome(method="claims", accepted=False, answer=answer, confidence=0.0,
                                      reason="the answer declines to answer"))
        split = await counted.complete(task_request(VerifyTask.DECOMPOSE, {"Question": question, "Answer": answer}),
                                       [decomposer])
        texts = list(dict.fromkeys(parse_lines(split.text)))
        if not texts:
            return run.finish(Outcome(method="claims", accepted=False, answer=answer, confidence=0.0,
                                      reason="the answer makes no checkable claim"))
        verdicts = await asyncio.gather(*(verifier.verify(t) for t in texts))
        kept = [v for v in verdicts if v.status == "supported"]
        confidence = min(v.confidence for v in verdicts)
        citations = tuple(e for v in kept for e in v.claim.citations)
        stripped = len(verdicts) - len(kept)
        text = " ".join(v.claim.text for v in kept)
        if not kept:
            reason = f"no claim is supported ({_tally(verdicts)})"
            return run.finish(Outcome(method="claims", accepted=False, answer=answer, confidence=confidence,
                                      reason=reason, verdicts=tuple(verdicts)))
        check = await counted.complete(task_request(VerifyTask.ANSWERS_QUESTION, {"Question": question, "Text": text}),
                                       [decomposer])
        if not parse_yes(check.text):
            reason = f"after stripping {stripped} unsupported claim(s) the rest no longer answers the question"
            return run.finish(Outcome(method="claims", accepted=False, answer=text, confidence=0.0, reason=reason,
                                      verdicts=tuple(verdicts)))
        reason = f"{len(kept)} claim(s) supported" + (f", {stripped} stripped" if stripped else "")
        return run.finish(Outcome(method="claims", accepted=True, answer=text, confidence=confidence if not stripped
                                  else min(v.confidence for v in kept), reason=reason, verdicts=tuple(verdicts),
                                  citations=citations))


def _tally(verdicts: Sequence[Verdict]) -> str:
    counts: dict[str, int] = {}
    for v in verdicts:
        counts[v.status] = counts.get(v.status, 0) + 1
    return ", ".join(f"{n} {status}" for status, n in counts.items())
