"""The fact table the simulated personas answer from (real facts, shipped as `data/facts.tsv`).

Each row is (relation, subject, answer, aliases): 506 facts over five relations (capitals of
countries and of U.S. states, chemical symbols, atomic numbers, authors of books). A question
matches a fact when it names the subject and one of the relation's keywords, so "What is the
capital of Australia?" and "capital city of australia" both find Canberra. Wrong answers for
hallucinating personas are the answers of other facts of the same relation: plausible, and
checkably false.

`parse` reads a sentence the way the simulated judge does (which fact it is about, which answer it
states) without looking at which answer is true: the table serves as its vocabulary, not as an
oracle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources


@dataclass(frozen=True)
class Relation:
    keywords: tuple[str, ...]
    question: str
    claim: str
    case_sensitive: bool = False
    """Symbols are compared with case: "In" (indium) is not the word "in"."""


RELATIONS: dict[str, Relation] = {
    "capital": Relation(("capital",), "What is the capital of {subject}?", "The capital of {subject} is {answer}."),
    "state_capital": Relation(("capital",), "What is the capital of the U.S. state of {subject}?",
                              "The capital of the U.S. state of {subject} is {answer}."),
    "symbol": Relation(("symbol",), "What is the chemical symbol of {subject}?",
                       "The chemical symbol of {subject} is {answer}.", case_sensitive=True),
    "atomic_number": Relation(("atomic number",), "What is the atomic number of {subject}?",
                              "The atomic number of {subject} is {answer}."),
    "author": Relation(("wrote", "written", "author"), "Who wrote {subject}?", "{subject} was written by {answer}."),
}


@dataclass(frozen=True)
class Fact:
    relation: str
    subject: str
    answer: str
    aliases: tuple[str, ...]

    @property
    def question(self) -> str:
        return RELATIONS[self.relation].question.format(subject=self.subject)

    def claim(self, answer: str | None = None) -> str:
        """The self-contained sentence stating `answer` (by default the true one) for this fact."""
        return RELATIONS[self.relation].claim.format(subject=self.subject, answer=answer or self.answer)

    def accepts(self, text: str) -> bool:
        """Whether `text` states this fact's answer (or an alias) as a whole word."""
        exact = RELATIONS[self.relation].case_sensitive
        return any(contains_phrase(text, a, case_sensitive=exact) for a in (self.answer, *self.aliases))


@dataclass(frozen=True)
class Statement:
    """What a sentence says: which fact it is about, and the answer it states (None: none found)."""

    fact: Fact
    stated: str | None


@cache
def _phrase_pattern(phrase: str, case_sensitive: bool) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(phrase)}(?!\w)", 0 if case_sensitive else re.IGNORECASE)


def contains_phrase(text: str, phrase: str, *, case_sensitive: bool = False) -> bool:
    """Whether `phrase` occurs in `text` as whole words."""
    return _phrase_pattern(phrase, case_sensitive).search(text) is not None


class FactTable:
    def __init__(self, facts: list[Fact]) -> None:
        self.facts = facts
        self._subjects: dict[str, tuple[re.Pattern[str], dict[str, Fact]]] = {}
        for relation in RELATIONS:
            by_subject = {f.subject.casefold(): f for f in facts if f.relation == relation}
            # Longest first, so at one position "South Sudan" wins over "Sudan".
            names = sorted(by_subject, key=len, reverse=True)
            pattern = re.compile(rf"(?<!\w)(?:{'|'.join(map(re.escape, names))})(?!\w)", re.IGNORECASE)
            self._subjects[relation] = (pattern, by_subject)

    def lookup(self, question: str) -> Fact | None:
        """The fact whose relation keyword and subject `question` names. A subject that is (part
        of) a stated answer ("Andorra" in "the capital of China is Andorra la Vella") loses to one
        that is not; then the first named, then the longest ("South Sudan" over "Sudan")."""
        named: list[tuple[int, int, int, Fact]] = []
        relations = [r for r, spec in RELATIONS.items() if any(contains_phrase(question, k) for k in spec.keywords)]
        answers = [m.span() for r in relations for m in self._answers[r][0].finditer(question)]
        for relation in relations:
            pattern, by_subject = self._subjects[relation]
            for m in pattern.finditer(question):
                # 2: outside every answer; 1: is an answer itself ("Djibouti"); 0: inside a longer answer.
                rank = 2 if not any(a <= m.start() and m.end() <= b for a, b in answers) else (
                    1 if m.span() in answers else 0)
                named.append((rank, -m.start(), len(m.group()), by_subject[m.group().casefold()]))
        return max(named, key=lambda n: n[:3])[3] if named else None

    def named(self, text: str) -> list[Fact]:
        """Every fact `text` asks about, in order ("the capitals of France, Japan and Kenya")."""
        found: dict[tuple[str, str], tuple[int, Fact]] = {}
        for relation, spec in RELATIONS.items():
            if not any(contains_phrase(text, k) or contains_phrase(text, f"{k}s") for k in spec.keywords):
                continue
            pattern, subjects = self._subjects[relation]
            for m in pattern.finditer(text):
                fact = subjects[m.group().casefold()]
                found.setdefault((fact.relation, fact.subject), (m.start(), fact))
        # One relation per subject: a country is a capital question, not also a state's.
        by_subject: dict[str, tuple[int, Fact]] = {}
        for start, fact in found.values():
            by_subject.setdefault(fact.subject, (start, fact))
        return [fact for _, fact in sorted(by_subject.values(), key=lambda pair: pair[0])]

    def distractors(self, fact: Fact) -> list[Fact]:
        return [f for f in self.facts if f.relation == fact.relation and f.answer != fact.answer]

    @cached_property
    def _answers(self) -> dict[str, tuple[re.Pattern[str], dict[str, str]]]:
        """relation -> (a pattern matching any answer or alias, {phrase as matched: canonical answer})."""
        answers: dict[str, tuple[re.Pattern[str], dict[str, str]]] = {}
        for relation, spec in RELATIONS.items():
            fold = (lambda t: t) if spec.case_sensitive else str.casefold
            phrases = {fold(p): f.answer for f in self.facts if f.relation == relation for p in (f.answer, *f.aliases)}
            names = sorted(phrases, key=len, reverse=True)
            pattern = re.compile(rf"(?<!\w)(?:{'|'.join(map(re.escape, names))})(?!\w)",
                                 0 if spec.case_sensitive else re.IGNORECASE)
            answers[relation] = (pattern, phrases)
        return answers

    def stated_answer(self, fact: Fact, text: str, *, names_subject: bool = True) -> str | None:
        """The answer of `fact`'s relation that `text` states: the longest phrase found. When the
        text names the subject, the subject's own words do not count ("Oklahoma City" for Oklahoma,
        not "Oklahoma")."""
        if names_subject:
            text = _phrase_pattern(fact.subject, False).sub(" ", text, count=1)
        pattern, phrases = self._answers[fact.relation]
        fold = (lambda t: t) if RELATIONS[fact.relation].case_sensitive else str.casefold
        found = [m.group() for m in pattern.finditer(text)]
        return phrases[fold(max(found, key=len))] if found else None

    def parse(self, text: str, context: str = "") -> Statement | None:
        """Which fact `text` is about and what it states; `context` (the question) names the fact
        when `text` is a bare answer ("Canberra.")."""
        fact = self.lookup(text)
        if fact is not None:
            return Statement(fact=fact, stated=self.stated_answer(fact, text))
        fact = self.lookup(context) if context else None
        if fact is None:
            return None
        return Statement(fact=fact, stated=self.stated_answer(fact, text, names_subject=False))


@cache
def fact_table() -> FactTable:
    text = resources.files("aegis_ray.sim").joinpath("data/facts.tsv").read_text(encoding="utf-8")
    facts = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        relation, subject, answer, aliases = [*line.split("\t"), ""][:4]
        facts.append(Fact(relation, subject, answer, tuple(a for a in aliases.split("|") if a)))
    return FactTable(facts)
