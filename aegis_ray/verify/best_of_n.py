"""Best-of-N: N candidates generated in parallel, each scored by an independent scorer.

The scorer is a judge model (never the generator) or a deterministic check. The best candidate is
accepted only if its score reaches `min_score` and no candidate with a different meaning ties it:
a tie between different answers is a coin flip, and Aegis abstains instead of flipping.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from aegis_ray.checks import run_checks
from aegis_ray.errors import BadInputError
from aegis_ray.model_ref import ModelLike
from aegis_ray.types import Check
from aegis_ray.verify.base import CallCounter, Models, Outcome, method_run, model_identity
from aegis_ray.verify.equivalence import normalise
from aegis_ray.verify.prompts import VerifyTask, answer_request, is_abstention, parse_score, task_request


class Scorer(Protocol):
    async def score(self, question: str, candidate: str) -> float: ...


class JudgeScorer:
    """A judge model grades each candidate from 0 to 1."""

    def __init__(self, models: Models, judge: ModelLike) -> None:
        self.models = CallCounter(models)
        self.judge = judge

    async def score(self, question: str, candidate: str) -> float:
        request = task_request(VerifyTask.GRADE, {"Question": question, "Candidate answer": candidate})
        return parse_score((await self.models.complete(request, [self.judge])).text)


class CheckScorer:
    """The share of the task's deterministic checks a candidate passes."""

    def __init__(self, checks: tuple[Check, ...]) -> None:
        if not checks:
            raise BadInputError("a check scorer needs at least one check")
        self.checks = checks

    async def score(self, question: str, candidate: str) -> float:
        outcomes = run_checks(self.checks, candidate)
        return sum(o.passed for o in outcomes) / len(outcomes)


async def best_of_n(question: str, models: Models, generator: ModelLike, scorer: Scorer, *, n: int = 5,
                    temperature: float = 1.0, min_score: float = 0.7) -> Outcome:
    if n < 1:
        raise BadInputError("best-of-N needs n >= 1")
    if isinstance(scorer, JudgeScorer) and model_identity(scorer.judge) == model_identity(generator):
        raise BadInputError("the best-of-N judge must not be the generator", hint="pick another --judge model")
    counted = CallCounter(models)
    with method_run("best_of_n", question) as run:
        replies = await asyncio.gather(*(counted.complete(answer_request(question, temperature), [generator])
                                         for _ in range(n)))
        candidates = [r.text for r in replies]
        scores = await asyncio.gather(*(scorer.score(question, c) if not is_abstention(c) else _zero()
                                        for c in candidates))
        top = max(scores)
        best = candidates[scores.index(top)]
        rivals = {normalise(c) for c, s in zip(candidates, scores, strict=True) if s == top}
        detail = {"candidates": candidates, "scores": scores}
        if top < min_score:
            accepted, reason = False, f"best score {top:.2f} < {min_score:.2f}"
        elif len(rivals) > 1:
            accepted, reason = False, f"{len(rivals)} different answers tie at score {top:.2f}"
        else:
            accepted, reason = True, f"best of {n} scored {top:.2f}"
        return run.finish(Outcome(method="best_of_n", accepted=accepted, answer=best, confidence=top,
                                  reason=reason, detail=detail))


async def _zero() -> float:
    return 0.0
