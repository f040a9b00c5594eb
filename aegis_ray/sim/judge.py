"""How a simulated persona does the verification tasks (`aegis_ray.verify.prompts`).

Reading tasks (entailment, decomposition, planning verification questions, "does this answer
the question") use the fact table only as vocabulary: which fact a sentence is about and which
answer it states, never which answer is true, so they behave like a careful reader. Knowledge
tasks (grading a candidate, checking a claim) use the persona's own answer to the question, so a
hallucinating judge is wrong exactly as often as it hallucinates. Text outside the fact table is
compared by its content words.
"""

from __future__ import annotations

from collections.abc import Callable

from aegis_ray.memory.text import content_words, sentences
from aegis_ray.sim.facts import Statement, fact_table
from aegis_ray.sim.models import Turn
from aegis_ray.verify.prompts import NONE, VerifyTask, is_abstention, read_fields

OwnAnswer = Callable[[str], str]
"""What this persona itself answers to a question (for the knowledge tasks)."""



def judge_turn(task: VerifyTask, text: str, own_answer: OwnAnswer) -> Turn:
    fields = read_fields(text)
    question = fields.get("Question", fields.get("Context", ""))
    match task:
        case VerifyTask.ENTAILMENT:
            reply = entailment(fields.get("Premise", ""), fields.get("Hypothesis", ""), question)
        case VerifyTask.DECOMPOSE:
            reply = "\n".join(_claims(fields.get("Answer", ""), question)) or NONE
        case VerifyTask.VERIFICATION_QUESTIONS:
            questions = dict.fromkeys(s.fact.question for s in _statements(fields.get("Draft answer", ""), question))
            reply = "\n".join(questions) or NONE
        case VerifyTask.GRADE:
            reply = f"score: {_grade(fields.get('Candidate answer', ''), question, own_answer)}"
        case VerifyTask.CLAIM_CHECK:
            reply = _claim_check(fields.get("Claim", ""), own_answer)
        case VerifyTask.ANSWERS_QUESTION:
            target = fact_table().lookup(question)
            stated = [s for s in _statements(fields.get("Text", ""), question) if s.stated]
            answers = any(s.fact == target for s in stated) if target else bool(_content(fields.get("Text", "")))
            reply = "yes" if answers else "no"
    return Turn(text=reply)


def _statements(text: str, question: str) -> list[Statement]:
    found = (fact_table().parse(sentence, question) for sentence in sentences(text))
    return [s for s in found if s is not None]


def _content(text: str) -> set[str]:
    return set(content_words(text))


def entailment(premise: str, hypothesis: str, context: str = "") -> str:
    if is_abstention(hypothesis):
        return "entailment" if is_abstention(premise) else "neutral"
    claims = [s for s in _statements(hypothesis, context) if s.stated]
    if not claims:
        words = _content(hypothesis)
        supported = any(words and words <= _content(s) for s in sentences(premise))
        return "entailment" if supported else "neutral"
    said = {(s.fact.relation, s.fact.subject): s.stated for s in _statements(premise, context) if s.stated}
    verdicts = []
    for claim in claims:
        stated = said.get((claim.fact.relation, claim.fact.subject))
        verdicts.append("neutral" if stated is None else "entailment" if stated == claim.stated else "contradiction")
    if "contradiction" in verdicts:
        return "contradiction"
    return "entailment" if all(v == "entailment" for v in verdicts) else "neutral"


def _claims(answer: str, question: str) -> list[str]:
    if is_abstention(answer):
        return []
    claims = []
    for sentence in sentences(answer):
        statement = fact_table().parse(sentence, question)
        claims.append(statement.fact.claim(statement.stated) if statement and statement.stated else sentence)
    return claims


def _grade(candidate: str, question: str, own_answer: OwnAnswer) -> float:
    mine = fact_table().parse(own_answer(question), question)
    theirs = fact_table().parse(candidate, question)
    if mine is None or mine.stated is None:
        return 0.5
    return 1.0 if theirs is not None and theirs.stated == mine.stated else 0.0


def _claim_check(claim: str, own_answer: OwnAnswer) -> str:
    statement = fact_table().parse(claim)
    if statement is None or statement.stated is None:
        return "unknown"
    question = statement.fact.question
    mine = fact_table().parse(own_answer(question), question)
    if mine is None or mine.stated is None:
        return "unknown"
    return "true" if mine.stated == statement.stated else "false"
