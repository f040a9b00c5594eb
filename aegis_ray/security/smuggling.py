"""What a text says once smuggling is undone: the views both the detector and the simulated
compromised model read (an attacker hides instructions where a human reviewer cannot see them)."""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from collections.abc import Iterator

_BASE64 = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
_DROP_ZERO_WIDTH = dict.fromkeys(map(ord, ZERO_WIDTH))
# Cyrillic and Greek letters that look like Latin ones (NFKC leaves them alone).
_CONFUSABLES = str.maketrans("аеорсухіјѕԁɡոАВЕКМНОРСТХІЈЅΑΒΕΖΗΙΚΜΝΟΡΤΥΧ",
                             "aeopcyxijsdgnABEKMHOPCTXIJSABEZHIKMNOPTYX")


def fold_homoglyphs(text: str) -> str:
    return unicodedata.normalize("NFKC", text).translate(_CONFUSABLES)


def readable_views(text: str) -> Iterator[str]:
    """The text, plus what it says once smuggling is undone: zero-width characters, Unicode tag
    characters (U+E0000 block, invisible ASCII), homoglyphs and base64 blobs."""
    plain = text.translate(_DROP_ZERO_WIDTH)
    yield plain
    folded = fold_homoglyphs(plain)
    if folded != plain:
        yield folded
    tags = "".join(chr(ord(c) - 0xE0000) for c in text if 0xE0020 <= ord(c) <= 0xE007E)
    if tags:
        yield tags
    for blob in _BASE64.findall(plain):
        try:
            decoded = base64.b64decode(blob, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            continue
        if decoded.isprintable():
            yield decoded
