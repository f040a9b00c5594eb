"""Chain-of-verification (Dhuliawala et al., 2023), the factored variant.

draft -> plan verification questions (the planner sees the draft) -> answer each question
independently (the answerer never sees the draft, so it cannot copy its mistake) -> compare each
answer with the draft. Any contradiction, or a check nobody can answer, abstains: a revision
would be a new unverified answer, so Aegis fails closed instead of rewriting.
"""

from __future__ import annotations

import asyncio

from aegis_ray.verify.base import CallCounter, Models, Outcome, method_run
from aegis_ray.verify.equivalence import LLMEntailment
from aegis_ray.verify.prompts import VerifyTask, answer_request, is_abstention, parse_lines, task_request


async def chain_of_verification(question: str, draft: str, models: Models, *, planner: str, answerer: str,
                                judge: LLMEntailment, max_questions: int = 5) -> Outcome:
    counted = CallCounter(models)
    with method_run("cove", question) as run:
        if is_abstention(draft):
            return run.finish(Outcome(method="cove", accepted=False, answer=draft, confidence=0.0,
                                      reason="the draft declines to answer"))
        plan = await counted.complete(task_request(
            VerifyTask.VERIFICATION_QUESTIONS, {"Question": question, "Draft answer": draft}), [planner])
        checks = parse_lines(plan.text)[:max_questions]
        if not checks:
            return run.finish(Outcome(method="cove", accepted=False, answer=draft, confidence=0.0,
                                      reason="no verification question could be planned"))
        answers = await asyncio.gather(*(counted.complete(answer_request(q), [answerer]) for q in checks))
        verdicts = await asyncio.gather(*(judge.entails(draft, a.text, q) if not is_abstention(a.text)
                                          else _unanswered() for q, a in zip(checks, answers, strict=True)))
        pairs = [{"question": q, "answer": a.text, "verdict": v} for q, a, v in zip(checks, answers, verdicts,
                                                                                    strict=True)]
        confirmed = sum(v == "entailment" for v in verdicts)
        conflict = next((p for p in pairs if p["verdict"] == "contradiction"), None)
        if conflict:
            reason = f"verification question {conflict['question']!r} was answered {conflict['answer']!r}"
        elif confirmed < len(checks):
            reason = f"only {confirmed} of {len(checks)} verification questions confirm the draft"
        else:
            reason = f"all {len(checks)} verification questions confirm the draft"
        return run.finish(Outcome(method="cove", accepted=confirmed == len(checks), answer=draft,
                                  confidence=confirmed / len(checks), reason=reason, detail={"checks": pairs}))


async def _unanswered() -> str:
    return "neutral"
