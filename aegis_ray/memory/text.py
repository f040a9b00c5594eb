"""Sentences and content words, shared by claim decomposition, evidence spans, retrieval and the
simulated judge."""

from __future__ import annotations

import re

# A sentence ends at . ! ? or ; before whitespace, except after an initial ("U.S. state",
# "J. R. R. Tolkien"); a line break always ends one.
_BOUNDARY = re.compile(r"(?<=[.!?;])(?<!\b[A-Z]\.)\s+|\n+")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of each non-empty sentence of `text`."""
    spans, start = [], 0
    for match in [*_BOUNDARY.finditer(text), None]:
        end = match.start() if match else len(text)
        chunk = text[start:end]
        if chunk.strip():
            lead = len(chunk) - len(chunk.lstrip())
            spans.append((start + lead, start + len(chunk.rstrip())))
        if match:
            start = match.end()
    return spans


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


STOPWORDS = frozenset(("a", "an", "the", "of", "is", "was", "are", "were", "be", "by", "to", "in", "on", "and", "or",
                       "what", "who", "which", "it", "its", "for", "as", "at", "that", "this"))


def content_words(text: str) -> list[str]:
    """The casefolded words of `text`, stopwords left out."""
    return [w for w in re.findall(r"\w+", text.casefold()) if w not in STOPWORDS]
