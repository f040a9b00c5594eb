"""Data-loss prevention: secrets and PII scrubbed from anything that leaves (egress, logs, spans).

Four detectors, strongest first: the exact values of secrets the harness knows and values the user
declared sensitive (its own provider keys, seeded canaries, a passport number); RE2 patterns for
well-known credential formats (cloud keys, tokens, private-key blocks, JWTs, `password=`
assignments); sensitive entities (`entities=True`: IBANs that pass the ISO 13616 mod-97 check,
passport-like ids and one-time security codes next to their keywords, and the value of any field the
user declared sensitive, written `field: value`); and PII (emails, card numbers that pass the Luhn
check, and Google's `phonenumbers` for phone numbers). Keyword-anchored entities mask the value
only, never the keyword. (detect-secrets was considered: it reports partial values rather than
spans, and its entropy plugins flag ordinary words. python-stdnum validates IBANs too, but one
checksum is not worth a dependency.)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import phonenumbers
import re2

from aegis_ray.types import Frozen

SECRET_PATTERNS: dict[str, str] = {
    "aws_access_key": r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    "github_token": r"\bgh[pousr]_[A-Za-z0-9]{36,255}\b",
    "api_key": r"\bsk-(?:proj-|ant-|live-)?[A-Za-z0-9_\-]{20,}\b",
    "google_api_key": r"\bAIza[0-9A-Za-z_\-]{35}\b",
    "slack_token": r"\bxox[abprs]-[A-Za-z0-9\-]{10,}\b",
    "private_key": r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|\z)",
    "jwt": r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
    "bearer": r"(?i)\bbearer\s+[A-Za-z0-9._\-]{20,}",
    # A literal value only (quoted, or bare up to a separator): `token = get_token()` and
    # `api_key = os.environ["KEY"]` are code, not credentials, and a coding agent must write them intact.
    "assignment": r"(?i)\b(?:password|passwd|secret|api[_-]?key|token)\s*[:=]\s*"
                  r"(?:['\"][^\s'\"]{6,}['\"]?|[^\s'\"()\[\]{}.,;:=]{6,}(?:$|[\s,;]))",
}
PII_PATTERNS: dict[str, str] = {
    "email": r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}\b",
    "card_number": r"\b(?:\d[ \-]?){12,18}\d\b",
}
ENTITY_PATTERNS: dict[str, str] = {
    # The value is group 1 where a keyword anchors it.
    "iban": r"\b([A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?)\b",
    "passport": r"(?i)\bpassport(?:[\s_]*(?:no\.?|number|num\.?|id|#))?"
                r"(?:\s+(?:is|of\s+[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?,?\s+number))?\s*[:#,]?\s*([A-Z0-9]{0,8}\d[A-Z0-9]{0,8})\b",
    "security_code": r"(?i)\b(?:security|verification|one[- ]time|login|confirmation|2fa|otp|sms|auth(?:entication)?)"
                     r"\s*(?:code|pin|passcode|number)?\s*(?:is|:|=)?\s*(\d{4,8})\b",
}
_COMPILED = {kind: re2.compile(p) for kind, p in {**SECRET_PATTERNS, **PII_PATTERNS}.items()}
_ENTITIES = {kind: re2.compile(p) for kind, p in ENTITY_PATTERNS.items()}


class Redaction(Frozen):
    kind: str
    start: int
    end: int


def iban_valid(text: str) -> bool:
    """The ISO 13616 check: move the country and check digits to the end, read letters as 10..35,
    and the number is 1 modulo 97."""
    compact = text.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not compact[:2].isalpha() or not compact[2:4].isdigit():
        return False
    digits = "".join(str(int(c, 36)) for c in compact[4:] + compact[:4])
    return int(digits) % 97 == 1


def _luhn(digits: str) -> bool:
    numbers = [int(d) for d in digits if d.isdigit()]
    total = sum(n if i % 2 == 0 else (2 * n - 9 if n > 4 else 2 * n) for i, n in enumerate(reversed(numbers)))
    return len(numbers) >= 13 and total % 10 == 0


class Scrubber:
    """Finds and masks secrets and PII. `known` are exact secret values (never logged themselves);
    `pii=False` leaves emails, phones and cards alone where they are the point (an email tool's
    recipient), while secrets are always masked."""

    def __init__(self, known: Iterable[str] = (), *, pii: bool = True, region: str = "US", entities: bool = False,
                 sensitive: Iterable[str] = (), fields: Iterable[str] = ()) -> None:
        self.known = sorted({k for k in known if len(k) >= 6}, key=len, reverse=True)
        self.sensitive = sorted({v for v in sensitive if len(v.strip()) >= 4}, key=len, reverse=True)
        self.pii = pii
        self.region = region
        self.entities = entities
        self._fields = [re2.compile(rf"(?i)\b{re2.escape(f)}\s*[:=]\s*([^\s,;][^\n,;]{{0,80}})") for f in fields]

    def find(self, text: str, *, pii: bool | None = None, entities: bool | None = None) -> list[Redaction]:
        pii = self.pii if pii is None else pii
        found = [Redaction(kind="known_secret", start=i, end=i + len(k))
                 for k in self.known for i in _occurrences(text, k)]
        found += [Redaction(kind="sensitive_value", start=i, end=i + len(v))
                  for v in self.sensitive for i in _occurrences(text, v)]
        found += [Redaction(kind="sensitive_field", start=m.start(1), end=m.end(1))
                  for pattern in self._fields for m in pattern.finditer(text)]
        if self.entities if entities is None else entities:
            found += entity_spans(text)
        for kind, pattern in _COMPILED.items():
            if kind in PII_PATTERNS and not pii:
                continue
            for match in pattern.finditer(text):
                if kind == "card_number" and not _luhn(match.group(0)):
                    continue
                end = match.end() - (kind == "assignment" and match.group(0)[-1] in " \t\r\n,;")  # keep the separator
                found.append(Redaction(kind=kind, start=match.start(), end=end))
        if pii:
            found += [Redaction(kind="phone_number", start=m.start, end=m.end)
                      for m in phonenumbers.PhoneNumberMatcher(text, self.region)]
        return _merge(found)

    def scrub(self, text: str, *, pii: bool | None = None, entities: bool | None = None) -> str:
        out, last = [], 0
        for r in self.find(text, pii=pii, entities=entities):
            out += [text[last:r.start], f"[REDACTED:{r.kind}]"]
            last = r.end
        return "".join([*out, text[last:]])

    def leaks(self, text: str) -> bool:
        return bool(self.find(text))


def entity_spans(text: str) -> list[Redaction]:
    """IBANs (checksum-valid), passport-like ids and security codes (next to their keywords)."""
    found = []
    for kind, pattern in _ENTITIES.items():
        for match in pattern.finditer(text):
            value = match.group(1)
            if (kind == "iban" and not iban_valid(value)) or (kind == "passport" and not 6 <= len(value) <= 9):
                continue
            found.append(Redaction(kind=kind, start=match.start(1), end=match.end(1)))
    return found


def _occurrences(text: str, needle: str) -> list[int]:
    found, start = [], text.find(needle)
    while start >= 0:
        found.append(start)
        start = text.find(needle, start + 1)
    return found


def _merge(found: list[Redaction]) -> list[Redaction]:
    merged: list[Redaction] = []
    for r in sorted(found, key=lambda r: (r.start, -r.end)):
        if merged and r.start < merged[-1].end:
            if r.end > merged[-1].end:
                merged[-1] = merged[-1].model_copy(update={"end": r.end})
            continue
        merged.append(r)
    return merged


class ScrubbingFilter(logging.Filter):
    """Masks secrets (never PII: logs need addresses to be useful) in every record a handler emits."""

    def __init__(self, scrubber: Scrubber) -> None:
        super().__init__()
        self.scrubber = scrubber

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = self.scrubber.scrub(message, pii=False)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True


def scrub_logs(known: Iterable[str]) -> ScrubbingFilter:
    """Attach a scrubbing filter to every handler of the root logger (where propagated records are
    written), and to the root logger itself; call it again after adding handlers. Returns it."""
    scrubbing = ScrubbingFilter(Scrubber(known, pii=False))
    root = logging.getLogger()
    root.addFilter(scrubbing)
    for handler in root.handlers:
        handler.addFilter(scrubbing)
    return scrubbing
