"""Claim-level attributed verification: the flagship layer.

1. Decompose the answer into atomic claims (the judge: a model, never the author, or the offline
   evidence judge), and make each self-contained with the question and the dialogue
   (`decontext`): a bare "1975" becomes a claim about what was asked.
2. Verify each claim by the cheapest sufficient route:
   deterministic (arithmetic re-computed) -> evidence (hybrid retrieval over the corpus, the judge
   on the retrieved passages; the citation is the passage or the sentence the judge rests on, its
   source and its character offsets) -> cross-model consensus (independent voters check the claim).
3. Decide by the mode:
   - `detect` judges the answer as given: accepted only if every claim is supported and the answer
     addresses the question; any unsupported or contradicted claim lowers the confidence (the
     lowest claim probability); the text is never rewritten.
   - `repair` strips every claim that is not supported and says so; it accepts only if what
     remains still answers the question, else abstains.
Every claim is reported with its verdict, evidence and source.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Literal

from aegis_ray.memory.retrieval import Hit, HybridIndex
from aegis_ray.model_ref import ModelLike
from aegis_ray.types import Claim, Evidence, Message, Verdict
from aegis_ray.verify.base import CallCounter, Models, Outcome, independent, method_run
from aegis_ray.verify.decontext import decontextualise
from aegis_ray.verify.deterministic import recompute_arithmetic
from aegis_ray.verify.ensemble import Quorum
from aegis_ray.verify.equivalence import LLMEntailment
from aegis_ray.verify.judges.llm import LLMJudge
from aegis_ray.verify.judges.protocol import Judge
from aegis_ray.verify.prompts import VerifyTask, is_abstention, parse_claim_check, task_request

Mode = Literal["detect", "repair"]
ANSWERS_THRESHOLD = 0.5


def as_judge(judge: Judge | LLMEntailment) -> Judge:
    """A `Judge`; the older `LLMEntailment` (a model and its entailment calls) becomes an `LLMJudge`."""
    if isinstance(judge, LLMEntailment):
        return LLMJudge(judge.models, judge.judge)
    return judge


class ClaimVerifier:
    """The routes one claim can take; built once per question, shared by its claims."""

    def __init__(self, models: Models | None, judge: Judge | LLMEntailment, *, index: HybridIndex | None = None,
                 voters: Sequence[ModelLike] = (), author: ModelLike | None = None, quorum: Quorum | None = None,
                 top_k: int = 3) -> None:
        self.models = CallCounter(models) if models is not None else None
        self.judge = as_judge(judge)
        self.index = index
        self.voters = independent(voters, author)
        self.quorum = quorum or Quorum()
        self.top_k = top_k

    async def verify(self, text: str, context: str = "") -> Verdict:
        claim = Claim(text=text)
        arithmetic = recompute_arithmetic(text)
        if arithmetic is not None:
            return Verdict(claim=claim, status="supported" if arithmetic.passed else "refuted",
                           method="deterministic", confidence=1.0 if arithmetic.passed else 0.0,
                           evidence=(Evidence(source="arithmetic", span=arithmetic.reason),))
        if self.index is not None:
            verdict = await self._by_evidence(claim, context)
            if verdict is not None:
                return verdict
        if self.voters and self.models is not None:
            return await self._by_consensus(claim)
        return Verdict(claim=claim, status="unsupported", method="none", confidence=0.0)

    def hits(self, claim: str) -> list[Hit]:
        assert self.index is not None
        return self.index.search(claim, self.top_k)

    async def _by_evidence(self, claim: Claim, context: str) -> Verdict | None:
        hits = self.hits(claim.text)
        if not hits:
            return None
        judgement = await self.judge.judge(claim.text, [h.passage.text for h in hits], context)
        if judgement.label == "neutral" and self.voters:
            return None  # the evidence does not say: the voters decide
        evidence: tuple[Evidence, ...] = ()
        if judgement.premise is not None:
            p = hits[judgement.premise].passage
            a, b = judgement.span or (0, len(p.text))
            evidence = (Evidence(source=p.source, span=p.text[a:b], start=p.start + a, end=p.start + b),)
        status = {"entailment": "supported", "contradiction": "refuted", "neutral": "unsupported"}[judgement.label]
        cited = Claim(text=claim.text, citations=evidence if status == "supported" else ())
        return Verdict(claim=cited, status=status, method="evidence", confidence=judgement.probability,
                       evidence=evidence)

    async def _by_consensus(self, claim: Claim) -> Verdict:
        assert self.models is not None
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


def dialogue_context(question: str, history: Sequence[Message]) -> str:
    """The question and earlier turns, as the judge reads them."""
    turns = [f"{m.role}: {m.content}" for m in history if m.content.strip()]
    return "\n".join([*turns[-4:], *([f"question: {question}"] if question else [])])


async def self_contained_claims(judge: Judge, question: str, answer: str, history: Sequence[Message] = ()) -> list[str]:
    """The answer's claims, each made self-contained with the question (and the dialogue)."""
    context = dialogue_context(question, history)
    claims = await judge.decompose(question, answer, context)
    return list(dict.fromkeys(decontextualise(c, question, history) for c in claims))


async def verify_claims(question: str, answer: str, models: Models | None, verifier: ClaimVerifier, *,
                        decomposer: ModelLike | None = None, mode: Mode = "repair",
                        history: Sequence[Message] = ()) -> Outcome:
    """`decomposer`: a model that decomposes and decides whether the text answers the question
    (default: the verifier's judge)."""
    judge = LLMJudge(models, decomposer) if decomposer is not None and models is not None else verifier.judge
    with method_run("claims", question) as run:
        if is_abstention(answer):
            return run.finish(Outcome(method="claims", accepted=False, answer=answer, confidence=0.0,
                                      reason="the answer declines to answer"))
        texts = await self_contained_claims(judge, question, answer, history)
        if not texts:
            return run.finish(Outcome(method="claims", accepted=False, answer=answer, confidence=0.0,
                                      reason="the answer makes no checkable claim"))
        context = dialogue_context(question, history)
        verdicts = list(await asyncio.gather(*(verifier.verify(t, context) for t in texts)))
        decide = _detect if mode == "detect" else _repair
        return run.finish(await decide(question, answer, verdicts, judge))


async def _detect(question: str, answer: str, verdicts: list[Verdict], judge: Judge) -> Outcome:
    # What the answer claims, self-contained: a bare "1996" is judged as the claim it makes.
    answered = await judge.answers(question, " ".join(v.claim.text for v in verdicts)) if question else 1.0
    failing = [v for v in verdicts if v.status != "supported"]
    confidence = min(answered, *(v.confidence for v in verdicts))
    citations = tuple(e for v in verdicts for e in v.claim.citations)
    detail = {"mode": "detect", "answers_question": answered}
    if failing or answered < ANSWERS_THRESHOLD:
        reason = (f"{len(failing)} of {len(verdicts)} claim(s) not supported ({_tally(failing)})" if failing
                  else "the answer does not address the question")
        return Outcome(method="claims", accepted=False, answer=answer, confidence=confidence, reason=reason,
                       verdicts=tuple(verdicts), citations=citations, detail=detail)
    return Outcome(method="claims", accepted=True, answer=answer, confidence=confidence,
                   reason=f"all {len(verdicts)} claim(s) supported, answer unchanged", verdicts=tuple(verdicts),
                   citations=citations, detail=detail)


async def _repair(question: str, answer: str, verdicts: list[Verdict], judge: Judge) -> Outcome:
    kept = [v for v in verdicts if v.status == "supported"]
    confidence = min(v.confidence for v in verdicts)
    citations = tuple(e for v in kept for e in v.claim.citations)
    stripped = len(verdicts) - len(kept)
    text = " ".join(v.claim.text for v in kept)
    detail = {"mode": "repair", "stripped": [v.claim.text for v in verdicts if v.status != "supported"]}
    if not kept:
        return Outcome(method="claims", accepted=False, answer=answer, confidence=confidence,
                       reason=f"no claim is supported ({_tally(verdicts)})", verdicts=tuple(verdicts), detail=detail)
    if await judge.answers(question, text) < ANSWERS_THRESHOLD:
        reason = f"after stripping {stripped} unsupported claim(s) the rest no longer answers the question"
        return Outcome(method="claims", accepted=False, answer=text, confidence=0.0, reason=reason,
                       verdicts=tuple(verdicts), detail=detail)
    reason = f"{len(kept)} claim(s) supported" + (f", {stripped} stripped (repaired answer)" if stripped else "")
    return Outcome(method="claims", accepted=True, answer=text, confidence=confidence if not stripped
                   else min(v.confidence for v in kept), reason=reason, verdicts=tuple(verdicts),
                   citations=citations, detail=detail)


def _tally(verdicts: Sequence[Verdict]) -> str:
    counts: dict[str, int] = {}
    for v in verdicts:
        counts[v.status] = counts.get(v.status, 0) + 1
    return ", ".join(f"{n} {status}" for status, n in counts.items())
