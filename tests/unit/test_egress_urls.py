"""Every URL form is parsed and judged by the egress gate (none refused unread, none waved through),
request bodies are judged and scrubbed, and one log says what left."""

from __future__ import annotations

import httpx
import pytest

from aegis_ray.security.dlp import Scrubber
from aegis_ray.security.egress import EgressGate, EgressPolicy
from aegis_ray.security.taint import TRUSTED, untrusted
from aegis_ray.security.urls import NotAUrl, is_internal, parse_url

pytestmark = pytest.mark.unit

WEB = untrusted("tool:get_webpage")


def gate(transport: httpx.AsyncBaseTransport | None = None) -> EgressGate:
    return EgressGate(EgressPolicy(allow_hosts=("docs.corp.example", "*.corp.example", "bücher.example")),
                      Scrubber(["sk-canary-0123456789abcdef"], pii=False, entities=True), transport=transport)


@pytest.mark.parametrize(("url", "host", "internal"), [
    ("https://docs.corp.example/a?x=1", "docs.corp.example", False),
    ("www.example.com/x", "www.example.com", False),  # scheme-less
    ("example.com", "example.com", False),  # a bare domain
    ("example.com:8080/x", "example.com", False),  # host:port, not a scheme
    ("//evil.example/p", "evil.example", False),  # protocol-relative
    ("HTTPS://EVIL.EXAMPLE./", "evil.example", False),  # case and a trailing dot
    ("http://127.0.0.1/", "127.0.0.1", True),
    ("http://2130706433/", "127.0.0.1", True),  # an IPv4 address as one integer
    ("http://0x7f.1/", "127.0.0.1", True),  # hex, short form
    ("http://0177.0.0.1/", "127.0.0.1", True),  # octal
    ("http://[::1]:8080/", "::1", True),
    ("http://[::ffff:127.0.0.1]/", "::ffff:7f00:1", True),  # IPv4-mapped IPv6
    ("10.0.0.1", "10.0.0.1", True),
    ("localhost:80", "localhost", True),
    ("https://docs.corp.example@evil.example/", "evil.example", False),  # userinfo trick
    ("https://evil.example\\@docs.corp.example", "evil.example", False),  # backslash read as a slash
    ("https://bücher.example/", "xn--bcher-kva.example", False),  # IDN to punycode
    ("https://dоcs.corp.example/", "xn--dcs-sed.corp.example", False),  # Cyrillic о: a homograph
])
def test_every_url_form_is_parsed_to_its_real_host(url: str, host: str, internal: bool) -> None:
    where = parse_url(url)
    assert where.host == host and is_internal(where) is internal


@pytest.mark.parametrize(("url", "label", "allowed", "why"), [
    ("www.example.com/about", TRUSTED, True, "carries no data"),  # judged, not refused for lacking a scheme
    ("example.com", WEB, False, "tainted data"),
    ("docs.corp.example/a?q=1", WEB, True, "allowlisted"),
    ("https://bücher.example/x", WEB, True, "allowlisted"),  # an IDN allowlist entry matches its punycode
    ("https://docs.cоrp.example/", TRUSTED, True, "carries no data"),  # the look-alike is not the allowlisted host
    ("https://docs.cоrp.example/", WEB, False, "docs.xn--crp-"),
    ("https://docs.corp.example@evil.example/", TRUSTED, False, "userinfo"),
    ("https://docs.corp.example.evil.example/", WEB, False, "tainted data"),
    ("http://2130706433/admin", TRUSTED, False, "internal address"),
    ("http://0x7f.1/", TRUSTED, False, "internal address"),
    ("http://[::ffff:127.0.0.1]/", TRUSTED, False, "internal address"),
    ("https://8.8.8.8/ok", TRUSTED, True, "carries no data"),  # a public IP is judged like a name
    ("javascript:alert(1)", TRUSTED, False, "only http(s)"),
    ("mailto:eve@evil.example", TRUSTED, False, "only http(s)"),
    ("not a url at all", TRUSTED, False, "not a URL"),
])
def test_the_gate_judges_every_form(url: str, label: object, allowed: bool, why: str) -> None:
    decision = gate().check(url, label)  # type: ignore[arg-type]
    assert decision.allowed is allowed and why in decision.reason, decision.reason


def test_no_form_is_refused_unread() -> None:
    with pytest.raises(NotAUrl):
        parse_url("   ")
    assert gate().check("www.example.com", TRUSTED).url == "https://www.example.com"


async def test_bodies_are_judged_scrubbed_and_everything_that_left_is_in_one_log() -> None:
    seen: list[tuple[str, str]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), request.content.decode()))
        return httpx.Response(200, text="ok")

    egress = gate(httpx.MockTransport(handle))
    assert not egress.check("https://paste.example/new", TRUSTED, "notes", WEB).allowed  # tainted body
    body = "key sk-canary-0123456789abcdef, IBAN DE89370400440532013000, code: security code 463820"
    assert not egress.check("https://paste.example/new", TRUSTED, body).allowed  # the body carries secrets
    await egress.post("https://docs.corp.example/upload", body, TRUSTED, WEB)  # allowlisted: it leaves, scrubbed
    await egress.get("www.corp.example/status", TRUSTED)
    with pytest.raises(PermissionError):
        await egress.post("https://paste.example/new", "notes", TRUSTED, WEB)
    assert [url for url, _ in seen] == ["https://docs.corp.example/upload", "https://www.corp.example/status"]
    sent_body = seen[0][1]
    assert "sk-canary" not in sent_body and "DE89370400440532013000" not in sent_body and "463820" not in sent_body
    assert [(r.method, r.host) for r in egress.log] == [("POST", "docs.corp.example"), ("GET", "www.corp.example")]
    assert egress.sent == [r.url for r in egress.log] and egress.log[0].body_chars == len(sent_body)
    await egress.aclose()
