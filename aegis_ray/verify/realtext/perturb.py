"""Where a sentence can be made wrong, and how: the generator's own slot finder and edits.

A slot is a span a fact hangs on: a date, a year, another number (counts, versions, PEP numbers),
or a named entity (a run of capitalised words that does not open the sentence). Each edit makes a
fluent sentence that the passage no longer supports: a slot swapped for another value of its kind
(taken from the same passage when it has one, so every word of the lie still occurs in the
source), negation inserted or removed, an unsupported sentence added. Written before, and
independently of, any judge: the judges never import this module.
"""

from __future__ import annotations

import random
import re
from typing import Literal

from aegis_ray.types import Frozen

SlotKind = Literal["date", "year", "number", "entity"]
_MONTH = ("January|February|March|April|May|June|July|August|September|October|November|December")
_PATTERNS: tuple[tuple[SlotKind, re.Pattern[str]], ...] = (
    ("date", re.compile(rf"\b(?:(?:{_MONTH}) \d{{1,2}}(?:st|nd|rd|th)?, \d{{4}}|\d{{1,2}} (?:{_MONTH}) \d{{4}}|"
                        rf"(?:{_MONTH}) \d{{4}})\b")),
    ("year", re.compile(r"\b(?:19[5-9]\d|20[0-2]\d)\b")),
    ("number", re.compile(r"(?<![\w.\-/(])\d+(?:\.\d+)*(?![\w\-/)])")),
    ("entity", re.compile(r"(?<=[a-z,;:(] )(?:[A-Z][\w+-]*[a-z0-9][\w+-]*)(?: (?:[A-Z][\w+-]*|of|de|von))*"
                          r"(?<!\bof)(?<!\bde)(?<!\bvon)")),
)
_NOT_ENTITIES = frozenset(("I", "Debian", "Python", "Linux", "GNU", "Unix", "The", "This", "It", "In", "For", "If",
                           "You", "We", "See", "Note", "However", "When", "Windows", "True", "False", "None"))
_AUXILIARIES = re.compile(r"\b(is|are|was|were|can|could|will|would|should|has|have|had|does|do|did|may|must)\b")
_NEGATED = re.compile(r"\b(is|are|was|were|can|could|will|would|should|has|have|had|does|do|did|may|must)"
                      r"(?: not|n't)\b|\bcannot\b")


class Slot(Frozen):
    kind: SlotKind
    text: str
    start: int
    end: int


def slots(sentence: str) -> list[Slot]:
    """Non-overlapping slots, dates before years before numbers (a date's year is not a slot of its own)."""
    found: list[Slot] = []
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(sentence):
            if any(m.start() < s.end and s.start < m.end() for s in found):
                continue
            if kind == "entity" and (m.group() in _NOT_ENTITIES or len(m.group()) < 3):
                continue
            found.append(Slot(kind=kind, text=m.group(), start=m.start(), end=m.end()))
    return sorted(found, key=lambda s: s.start)


def replace(sentence: str, slot: Slot, value: str) -> str:
    return sentence[:slot.start] + value + sentence[slot.end:]


def shifted(slot: Slot, rng: random.Random) -> str:
    """A different value of the same kind, when no other value of that kind is at hand."""
    if slot.kind == "year":
        return str(int(slot.text) + rng.choice((-3, -2, -1, 1, 2, 3)))
    if slot.kind == "date":
        year = re.search(r"\d{4}", slot.text)
        assert year is not None
        return slot.text.replace(year.group(), str(int(year.group()) + rng.choice((-2, -1, 1, 2))))
    if slot.kind == "number":
        parts = slot.text.split(".")
        last = int(parts[-1])
        parts[-1] = str(last + rng.choice((1, 2, 3)) if last < 3 else last + rng.choice((-2, -1, 1, 2, 5)))
        return ".".join(parts)
    raise ValueError("entities are swapped from a pool, never shifted")


def swap(sentence: str, slot: Slot, pool: list[str], rng: random.Random) -> str | None:
    """`sentence` with `slot` replaced by another value from `pool` (else a shifted value)."""
    others = [v for v in dict.fromkeys(pool) if v.casefold() != slot.text.casefold() and v not in sentence]
    if others:
        return replace(sentence, slot, rng.choice(others))
    if slot.kind == "entity":
        return None
    return replace(sentence, slot, shifted(slot, rng))


def negate(sentence: str) -> str | None:
    """Negation removed if the sentence has one, else inserted after its first auxiliary verb."""
    negated = _NEGATED.search(sentence)
    if negated is not None:
        word = negated.group()
        plain = "can" if word == "cannot" else negated.group(1)
        return sentence[:negated.start()] + plain + sentence[negated.end():]
    auxiliary = _AUXILIARIES.search(sentence)
    if auxiliary is None:
        return None
    return sentence[:auxiliary.end()] + " not" + sentence[auxiliary.end():]


_SYNONYMS = (("approximately", "about"), ("However, ", "But "), ("in order to", "to"), ("a number of", "several"),
             ("is able to", "can"), ("utilize", "use"), ("In addition, ", "Also, "), ("Furthermore, ", "Also, "),
             ("does not", "doesn't"), ("is not", "isn't"), ("are not", "aren't"), ("was not", "wasn't"),
             ("It is", "It's"), ("numerous", "many"), ("obtain", "get"), ("therefore", "so"))


def paraphrase(sentence: str, rng: random.Random) -> str:
    """A light rewording that keeps the meaning: parentheses dropped, everyday words, contractions."""
    # Only a parenthetical aside of several words goes: "(1)" or "('123')" may be the point.
    text = re.sub(r" \((?=[^()'\"]* [^()'\"]*\))[^()'\"]*\)", "", sentence) if rng.random() < 0.7 else sentence
    for formal, plain in _SYNONYMS:
        if formal in text and rng.random() < 0.8:
            text = text.replace(formal, plain, 1)
    if text.startswith(("In ", "On ", "By ")) and ", " in text[:40] and rng.random() < 0.6:
        lead, rest = text.split(", ", 1)
        if rest[0].isdigit():
            return " ".join(text.split())
        text = f"{rest[0].upper()}{rest[1:].rstrip('.')} {lead[0].lower()}{lead[1:]}."
    return " ".join(text.split())
