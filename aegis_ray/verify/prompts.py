"""The prompts verification sends to models, and the parsers of their replies.

Every verification task is one request: a system prompt that opens with `Task: <name>.` and says
what to do, and a user message of labelled fields (`Question: ...`). Replies are short and parsed
leniently (first matching word), and an unreadable reply is read as the uninformative outcome
(neutral, unknown, score 0), never as support. The simulated judge reads the same format.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal

from aegis_ray.types import Message, ModelRequest

Entailment = Literal["entailment", "contradiction", "neutral"]
ClaimCheck = Literal["true", "false", "unknown"]


class VerifyTask(StrEnum):
    ENTAILMENT = "entailment"
    DECOMPOSE = "decompose"
    VERIFICATION_QUESTIONS = "verification-questions"
    GRADE = "grade"
    CLAIM_CHECK = "claim-check"
    ANSWERS_QUESTION = "answers-question"


_INSTRUCTIONS: dict[VerifyTask, str] = {
    VerifyTask.ENTAILMENT: (
        "Decide whether the premise entails the hypothesis (read both in the light of the context, if "
        "given). Reply with one word: entailment, contradiction or neutral; you may add the probability, "
        "from 0 to 1, that the premise supports the hypothesis (`entailment 0.9`)."),
    VerifyTask.DECOMPOSE: (
        "Break the answer into atomic, self-contained factual claims (each understandable without the "
        "question). Reply with one claim per line, nothing else; reply NONE if the answer makes no claim."),
    VerifyTask.VERIFICATION_QUESTIONS: (
        "Plan how to check the draft answer: write short, independent questions whose answers would "
        "confirm or refute each fact it states. Do not include the draft's answers in the questions. "
        "One question per line; NONE if there is nothing to check."),
    VerifyTask.GRADE: (
        "Grade whether the candidate answer to the question is correct. Reply `score: S` with S between "
        "0 (certainly wrong) and 1 (certainly right); 0.5 if you cannot tell."),
    VerifyTask.CLAIM_CHECK: (
        "Is the claim true? Answer from your own knowledge. Reply with one word: true, false or unknown."),
    VerifyTask.ANSWERS_QUESTION: (
        "Does the text answer the question (correct or not)? Reply with one word: yes or no."),
}
ANSWER_SYSTEM_PROMPT = (
    "Answer the question concisely and factually. If you do not know, say you don't know rather than guess."
)
NONE = "NONE"
_TASK_LINE = re.compile(r"^Task: ([a-z\-]+)\.")
_ABSTENTION = re.compile(r"\b(?:i\s+(?:do\s+not|don't|dont)\s+know|unknown|cannot\s+(?:answer|tell)|not\s+sure)\b",
                         re.IGNORECASE)


def task_request(task: VerifyTask, fields: dict[str, str], temperature: float | None = 0.0) -> ModelRequest:
    system = f"Task: {task.value}. {_INSTRUCTIONS[task]}"
    return ModelRequest(messages=(Message.system(system), Message.user(render_fields(fields))),
                        temperature=temperature, max_tokens=512)


def answer_request(question: str, temperature: float | None = None) -> ModelRequest:
    return ModelRequest(messages=(Message.system(ANSWER_SYSTEM_PROMPT), Message.user(question)),
                        temperature=temperature, max_tokens=512)


def task_of(system_prompt: str | None) -> VerifyTask | None:
    """Which verification task a system prompt asks for (None: an ordinary request)."""
    match = _TASK_LINE.match(system_prompt or "")
    if match is None:
        return None
    try:
        return VerifyTask(match.group(1))
    except ValueError:
        return None


def render_fields(fields: dict[str, str]) -> str:
    return "\n".join(f"{label}: {value}" for label, value in fields.items())


def read_fields(text: str) -> dict[str, str]:
    """Inverse of `render_fields`: a field runs until the next line that opens with `Label:`."""
    fields: dict[str, str] = {}
    label: str | None = None
    for line in text.splitlines():
        match = re.match(r"^([A-Z][A-Za-z ]{0,30}): ?(.*)$", line)
        if match:
            label = match.group(1)
            fields[label] = match.group(2)
        elif label is not None:
            fields[label] += "\n" + line
    return fields


def is_abstention(text: str) -> bool:
    """Whether an answer declines to answer ("I don't know.") or is empty."""
    return not text.strip() or (len(text) < 120 and _ABSTENTION.search(text) is not None)


def _first_word(text: str, choices: tuple[str, ...], default: str) -> str:
    for word in re.findall(r"[a-z]+", text.casefold()):
        if word in choices:
            return word
    return default


def parse_entailment(text: str) -> Entailment:
    return _first_word(text, ("entailment", "contradiction", "neutral"), "neutral")  # type: ignore[return-value]


def parse_claim_check(text: str) -> ClaimCheck:
    return _first_word(text, ("true", "false", "unknown"), "unknown")  # type: ignore[return-value]


def parse_yes(text: str) -> bool:
    return _first_word(text, ("yes", "no"), "no") == "yes"


def parse_lines(text: str) -> list[str]:
    """One item per line, bullets and numbering removed; NONE (or nothing) is an empty list."""
    items = [re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", line).strip() for line in text.splitlines()]
    return [item for item in items if item and item.upper() != NONE]


def parse_score(text: str) -> float:
    match = re.search(r"score\s*[:=]?\s*([01](?:\.\d+)?|\.\d+)", text, re.IGNORECASE)
    if match is None:
        return 0.0
    return min(1.0, max(0.0, float(match.group(1))))
