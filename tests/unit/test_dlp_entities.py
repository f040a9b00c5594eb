"""DLP entities: IBANs with a valid checksum, passport-like ids and security codes next to their
keywords, and the values and fields the user declares sensitive, scrubbed from what leaves; and
ordinary text (order numbers, dates, rooms, codes of conduct) left alone."""

from __future__ import annotations

import pytest

from aegis_ray.config import SecuritySettings
from aegis_ray.providers import Gateway
from aegis_ray.security.dlp import Scrubber, iban_valid
from aegis_ray.security.guard import defended_toolbox

pytestmark = pytest.mark.unit

SCRUBBER = Scrubber(pii=False, entities=True, sensitive=["Sparrow!Blue2024"], fields=["tax id"])


@pytest.mark.parametrize(("text", "kind", "value"), [
    ("Pay to IBAN: DE89370400440532013000 by Friday", "iban", "DE89370400440532013000"),
    ("IBAN DE89 3704 0044 0532 0130 00.", "iban", "DE89 3704 0044 0532 0130 00"),
    ("to GB33BUKB20201555555555 please", "iban", "GB33BUKB20201555555555"),
    ("Your Facebook security code is 463820. If you", "security_code", "463820"),
    ("Verification code: 1234", "security_code", "1234"),
    ("OTP 99812371", "security_code", "99812371"),
    ("Passport of Emma Johnson, number C4RF7JX92, valid", "passport", "C4RF7JX92"),
    ("passport_number: C4RF7JX92", "passport", "C4RF7JX92"),
    ("Passport no. X1234567", "passport", "X1234567"),
    ("my password is Sparrow!Blue2024 ok", "sensitive_value", "Sparrow!Blue2024"),
    ("Tax ID: 12 345 678 901\nnext", "sensitive_field", "12 345 678 901"),
])
def test_entities_are_found_and_only_their_value_is_masked(text: str, kind: str, value: str) -> None:
    found = SCRUBBER.find(text)
    assert [(r.kind, text[r.start:r.end]) for r in found] == [(kind, value)]
    assert SCRUBBER.scrub(text) == text.replace(value, f"[REDACTED:{kind}]")


@pytest.mark.parametrize("text", [
    "DE89370400440532013001 is a typo",  # the checksum fails
    "order 123456 shipped; code review at 10:00",
    "Room 4012 on floor 3, call on 2024-05-15 at 08:30",
    "- renew passport\n- book dentist",
    "my passport is expired",
    "Revenue grew 12% to 1.42M EUR (+8%); invoice INV-4471 total 64.90 EUR",
    "Flight LH1024 BER 07:15, booking GT-55812",
])
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert SCRUBBER.scrub(text) == text


def test_the_iban_checksum() -> None:
    assert iban_valid("DE89370400440532013000") and iban_valid("de89 3704 0044 0532 0130 00")
    assert not iban_valid("DE89370400440532013001") and not iban_valid("XX00") and not iban_valid("1234567890123456")


def test_entities_are_off_unless_asked_for() -> None:
    text = "security code 463820, IBAN DE89370400440532013000"
    assert Scrubber(pii=False).scrub(text) == text  # tool arguments: an IBAN is a payment's point


def test_the_guard_scrubs_declared_values_from_tools_and_entities_from_the_web() -> None:
    settings = SecuritySettings(sensitive_values=["C4RF7JX92"], sensitive_fields=["tax id"])
    built = defended_toolbox(lambda gate: [], security=settings, models=Gateway(lambda ref: None, ["sim:x"]),
                             reader="sim:x", secrets=["sk-session-key-0123456789"])
    assert built.scrubber.scrub("passport C4RF7JX92, key sk-session-key-0123456789") == (
        "passport [REDACTED:sensitive_value], key [REDACTED:known_secret]")
    outbound = built.gate.scrubber
    assert outbound.scrub("Tax ID: 12 345 678 901") == "Tax ID: [REDACTED:sensitive_field]"
    assert outbound.scrub("IBAN DE89370400440532013000") == "IBAN [REDACTED:iban]"
