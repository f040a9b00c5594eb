"""The fact table the simulated personas answer from (real facts, shipped as `data/facts.tsv`).

Each row is (relation, subject, answer, aliases). A question matches a fact when it names the
subject and one of the relation's keywords, so "What is the capital of Australia?" and "capital
city of australia" both find Canberra. Wrong answers for hallucinating personas are the answers of
other facts of the same relation: plausible, and checkably false.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

_RELATION_KEYWORDS: dict[str, tuple[str, ...]] = {
    "capital": ("capital",),
    "symbol": ("symbol",),
}
_QUESTION_TEMPLATES: dict[str, str] = {
    "capital": "What is the capital of {subject}?",
    "symbol": "What is the chemical symbol of {subject}?",
}


@dataclass(frozen=True)
class Fact:
    relation: str
    subject: str
    answer: str
    aliases: tuple[str, ...]

    @property
    def question(self) -> str:
        return _QUESTION_TEMPLATES[self.relation].format(subject=self.subject)

    def accepts(self, text: str) -> bool:
        """Whether `text` states this fact's answer (or an alias) as a whole word."""
        return any(_contains_phrase(text, a) for a in (self.answer, *self.aliases))


def _contains_phrase(text: str, phrase: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(phrase.casefold())}(?!\w)", text.casefold()) is not None


class FactTable:
    def __init__(self, facts: list[Fact]) -> None:
        self.facts = facts
        # Longest subjects first, so "South Sudan" wins over "Sudan".
        self._by_length = sorted(facts, key=lambda f: len(f.subject), reverse=True)

    def lookup(self, question: str) -> Fact | None:
        for fact in self._by_length:
            keywords = _RELATION_KEYWORDS[fact.relation]
            if _contains_phrase(question, fact.subject) and any(_contains_phrase(question, k) for k in keywords):
                return fact
        return None

    def distractors(self, fact: Fact) -> list[Fact]:
        return [f for f in self.facts if f.relation == fact.relation and f.answer != fact.answer]


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
