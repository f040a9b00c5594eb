"""Real documents available offline, cut into prose passages for the real-text development set.

The generator reads Debian's and Python's own documentation as installed by Debian packages
(`debian-history`, `debian-faq`, `python3.11-doc`): HTML paragraphs, reStructuredText sources and
plain text, with markup removed. Only prose paragraphs of a few sentences are kept; code, lists,
tables and headings are dropped. Nothing here runs in CI: the passages it produced ship in `data/`.
"""

from __future__ import annotations

import gzip
import html
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

from aegis_ray.memory.text import sentences

DEBIAN_HISTORY = Path("/usr/share/doc/debian-history/docs")
DEBIAN_FAQ = Path("/usr/share/doc/debian/FAQ/debian-faq.en.txt.gz")
PYTHON_DOCS = Path("/usr/share/doc/python3.11-doc/html/_sources")
PYTHON_FILES = ("whatsnew/*.rst.txt", "faq/general.rst.txt", "faq/design.rst.txt", "howto/pyporting.rst.txt",
                "tutorial/appetite.rst.txt", "library/asyncio.rst.txt", "reference/introduction.rst.txt")


class _Paragraphs(HTMLParser):
    """The text of every <p> element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self._depth = 0
        self._buffer: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "p":
            self._depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "p" and self._depth:
            self._depth -= 1
            if not self._depth:
                self.paragraphs.append(" ".join("".join(self._buffer).split()))
                self._buffer = []

    def handle_data(self, data: str) -> None:
        if self._depth:
            self._buffer.append(data)


def _html_paragraphs(path: Path) -> list[str]:
    parser = _Paragraphs()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return parser.paragraphs


_ROLE = re.compile(r":(\w+):`([^`<]*?)(?:\s*<[^>]*>)?`")
_LINK = re.compile(r"`([^`<]+?)\s*<[^>]+>`_+")


def clean_rst(text: str) -> str:
    """reStructuredText inline markup to plain words (`:pep:`498`` -> `PEP 498`)."""
    text = _ROLE.sub(lambda m: f"PEP {m.group(2)}" if m.group(1) == "pep" else
                     f"bpo-{m.group(2)}" if m.group(1) == "issue" else m.group(2), text)
    text = _LINK.sub(r"\1", text)
    text = re.sub(r"``([^`]+)``", r"\1", text)
    text = re.sub(r"`([^`]+)`_*", r"\1", text).replace("\\", "")
    text = re.sub(r"\*\*?([^*]+)\*\*?", r"\1", text)
    return " ".join(text.split())


def _rst_paragraphs(text: str) -> list[str]:
    kept = []
    for block in re.split(r"\n\s*\n", text):
        lines = block.splitlines()
        if not lines or lines[0].startswith((" ", "\t", "..", "*", "-", ":", "=", "+", "|", "#")):
            continue  # directives, code, lists, field lists, tables, headings
        if any(re.fullmatch(r"[=\-~^*#+]{3,}", line.strip()) for line in lines):
            continue
        kept.append(clean_rst(" ".join(lines)))
    return kept


def _faq_paragraphs(text: str) -> list[str]:
    kept = []
    for block in re.split(r"\n\s*\n", text):
        lines = [line.strip() for line in block.splitlines()]
        if not lines or re.match(r"^(\d+\.)+\d*\s|^[-*]|^\$|^#", lines[0]) or len(lines) < 2:
            continue
        kept.append(" ".join(" ".join(lines).split()))
    return kept


def documents() -> Iterator[tuple[str, str, list[str]]]:
    """(collection, document name, paragraphs) for every source document installed here."""
    for path in sorted(DEBIAN_HISTORY.glob("*.en.html")):
        yield "debian-history", path.name.removesuffix(".en.html"), _html_paragraphs(path)
    if DEBIAN_FAQ.exists():
        yield "debian-faq", "debian-faq", _faq_paragraphs(gzip.decompress(DEBIAN_FAQ.read_bytes()).decode())
    for pattern in PYTHON_FILES:
        for path in sorted(PYTHON_DOCS.glob(pattern)):
            name = str(path.relative_to(PYTHON_DOCS)).removesuffix(".rst.txt")
            yield "python-docs", name, _rst_paragraphs(path.read_text(encoding="utf-8", errors="replace"))


def is_prose(paragraph: str, min_sentences: int = 3, max_sentences: int = 7) -> bool:
    """A paragraph of plain sentences: no code, no URLs, a few sentences of ordinary length."""
    if not 220 <= len(paragraph) <= 900 or re.search(r"https?://|[{}<>]|\(\)|::|>>>|@", paragraph):
        return False
    said = sentences(html.unescape(paragraph))
    return (min_sentences <= len(said) <= max_sentences and all(30 <= len(s) <= 320 for s in said)
            and paragraph[0].isupper() and paragraph.rstrip()[-1] in ".!?")
