"""Decontextualisation: a claim made self-contained before it is retrieved for and judged.

A bare answer ("1975", "no", "Ian Murdock") claims nothing on its own: judged alone it matches any
document that mentions 1975. It is rewritten as a claim about what was asked: put in place of the
question's wh-phrase when the question has one in place ("Debian was founded in what year?" +
"1993" -> "Debian was founded in 1993."), else joined to the question ("When was Debian founded?
1993."). Yes and no answers become the question's statement, asserted or denied. A claim that is
already a sentence of its own is left as it is. Dialogue context (earlier turns) is where the
question comes from when the last user turn is not one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from aegis_ray.types import Message

BARE_WORDS = 5
_IN_PLACE = re.compile(r"\b(?:what date|what month|what year|which version|which number|how many|how much|whom|"
                       r"which \w+|what \w+|what|which|who)\b", re.IGNORECASE)
_FRONTED = re.compile(r"^\s*(?:when|where|why|how|in what|on what|at what)\b", re.IGNORECASE)
_YES = re.compile(r"^\s*(?:yes|yeah|yep|correct|true|right)\b[\s.!]*$", re.IGNORECASE)
_NO = re.compile(r"^\s*(?:no|nope|false|incorrect|wrong)\b[\s.!]*$", re.IGNORECASE)
_VERB = re.compile(r"\b(?:is|are|was|were|has|have|had|does|do|did|can|will|would|should|may|must|\w+ed|\w+s)\b")


def is_bare(claim: str) -> bool:
    """Too short to be a sentence of its own: a value, a name, a yes or no."""
    words = claim.strip().rstrip(".!").split()
    return 0 < len(words) <= BARE_WORDS and (len(words) <= 2 or _VERB.search(claim) is None)


def question_of(question: str, history: Sequence[Message] = ()) -> str:
    """The question a claim answers: `question`, else the last user turn of the dialogue."""
    if question.strip():
        return question.strip()
    return next((m.content.strip() for m in reversed(history) if m.role == "user"), "")


def decontextualise(claim: str, question: str, history: Sequence[Message] = ()) -> str:
    """`claim` as a self-contained statement (unchanged when it already is one, or there is no question)."""
    asked = question_of(question, history)
    claim = claim.strip()
    if not asked or not is_bare(claim):
        return claim
    value = claim.rstrip(".!")
    stem = asked.rstrip(" ?")
    if _YES.match(claim) or _NO.match(claim):
        return f"{stem}: {'yes' if _YES.match(claim) else 'no, it is not the case'}."
    in_place = None if _FRONTED.match(stem) else _IN_PLACE.search(stem)
    if in_place is not None:
        if in_place.group().casefold().startswith(("which ", "what ")) and in_place.group().count(" ") == 1 and \
                in_place.group().split()[1].casefold() not in ("date", "month", "year", "version", "number"):
            value = f"{value} {in_place.group().split()[1]}" if not value.casefold().endswith(
                in_place.group().split()[1].casefold()) else value
        statement = stem[:in_place.start()] + value + stem[in_place.end():]
        return statement[0].upper() + statement[1:] + "."
    return f"{stem}? {value}."
