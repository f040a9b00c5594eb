"""Cross-model ensemble: K independent models answer, answers cluster by meaning, a quorum decides.

Each voter is a distinct model identity (duplicates collapse to one vote) and the author never
votes on its own answer. With a `candidate` (the author's answer) the ensemble verifies it: the
candidate is accepted when the voters who agree with it reach the quorum. Without one it answers:
the largest cluster wins if it reaches the quorum. Voters that say they don't know vote for
nothing, so they count against acceptance.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from pydantic import Field

from aegis_ray.errors import BadInputError
from aegis_ray.model_ref import ModelLike
from aegis_ray.types import Frozen
from aegis_ray.verify.base import CallCounter, Models, Outcome, independent, method_run
from aegis_ray.verify.equivalence import Equivalence, cluster
from aegis_ray.verify.prompts import answer_request, is_abstention


class Quorum(Frozen):
    """Accept when the agreeing voters are more than `share` of all voters (default: strict majority)
    and at least `min_votes` of them."""

    share: float = Field(default=0.5, ge=0, lt=1)
    min_votes: int = Field(default=1, ge=1)

    def reached(self, agreeing: int, voters: int) -> bool:
        return agreeing >= self.min_votes and agreeing > self.share * voters


async def ensemble(question: str, models: Models, voters: Sequence[ModelLike], equivalence: Equivalence, *,
                   candidate: str | None = None, author: ModelLike | None = None, quorum: Quorum | None = None,
                   temperature: float | None = None) -> Outcome:
    quorum = quorum or Quorum()
    panel = independent(voters, author)
    if not panel:
        raise BadInputError("the ensemble needs at least one voter that is not the author",
                            hint="pass --voter with models other than the author's")
    counted = CallCounter(models)
    with method_run("ensemble", question) as run:
        replies = await asyncio.gather(*(counted.complete(answer_request(question, temperature), [v]) for v in panel))
        answers = [r.text for r in replies]
        texts = [*answers, candidate] if candidate is not None else answers
        clusters = await cluster(texts, equivalence, question)
        if candidate is not None:
            own = next(c for c in clusters if len(texts) - 1 in c)
            votes = [i for i in own if i < len(answers)]
            best = candidate
        else:
            own = next((c for c in clusters if not is_abstention(texts[c[0]])), [])
            votes, best = own, (texts[own[0]] if own else "")
        agreeing = len(votes)
        summary = {"voters": [v.name for v in panel], "answers": answers, "agreeing": agreeing,
                   "clusters": len(clusters)}
        if is_abstention(best):
            accepted, reason = False, "no answer to verify: the candidate declines to answer"
        else:
            accepted = quorum.reached(agreeing, len(panel))
            reason = f"{agreeing} of {len(panel)} independent models agree"
            reason += "" if accepted else "; quorum not reached"
        return run.finish(Outcome(method="ensemble", accepted=accepted, answer=best, confidence=agreeing / len(panel),
                                  reason=reason, detail=summary))
