"""What a claim asserts that its evidence must repeat: numbers, dates, names, and polarity.

The offline judge compares these explicitly, because sentence embeddings barely move when "1996"
becomes "1997" or "is" becomes "is not": a number, a month or a proper name in the claim that its
best evidence sentence lacks, or a negation on one side only, is where a lie hides.
"""

from __future__ import annotations

import re
from functools import lru_cache

from aegis_ray.types import Frozen

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[A-Za-z][\w'’+-]*")
_NEGATION = re.compile(r"\b(?:not|no|never|none|nothing|nobody|neither|nor|cannot|without)\b|n['’]t\b", re.IGNORECASE)
_COMMON_CAPITALISED = frozenset((
    "i", "a", "an", "the", "this", "that", "these", "those", "it", "its", "in", "on", "at", "by", "for", "of", "to",
    "and", "or", "but", "if", "when", "while", "as", "so", "also", "yes", "no", "sure", "there", "here", "what",
    "which", "who", "how", "why", "where", "you", "we", "they", "he", "she", "see", "note", "however", "with",
    "from", "after", "before", "since", "some", "many", "most", "all", "each", "every", "one", "two", "new",
    "good", "hope", "let", "thanks", "instead", "finally", "both", "other", "because", "although", "until")) | set(
    MONTHS)


class Assertions(Frozen):
    """The checkable parts of a text."""

    numbers: frozenset[str]
    months: frozenset[str]
    names: frozenset[str]
    negated: bool
    words: frozenset[str]


def _stem(word: str) -> str:
    word = word.casefold().strip("'’")
    for suffix in ("ies", "es", "s", "ed", "ing", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


@lru_cache(maxsize=65536)
def assertions(text: str) -> Assertions:
    numbers = frozenset(n.replace(",", "") for n in _NUMBER.findall(text))
    words = [(m.group(), m.start()) for m in _WORD.finditer(text)]
    months = frozenset(w.casefold() for w, _ in words if w.casefold() in MONTHS)
    names = set()
    for word, start in words:
        opens = start == 0 or re.search(r"[.!?:;]\s*$|^\s*$", text[max(0, start - 3):start]) is not None
        if word[0].isupper() and word.casefold() not in _COMMON_CAPITALISED and not (opens and word.istitle()
                                                                                        and len(word) < 4):
            names.add(word.casefold())
    negations = len(_NEGATION.findall(text))
    stems = frozenset(_stem(w) for w, _ in words if len(w) > 2 and w.casefold() not in _COMMON_CAPITALISED)
    return Assertions(numbers=numbers, months=months, names=frozenset(names), negated=negations % 2 == 1,
                      words=stems)


def content_stems(text: str) -> frozenset[str]:
    """Stemmed content words, plus the numbers: what lexical coverage counts."""
    said = assertions(text)
    return said.words | said.numbers
