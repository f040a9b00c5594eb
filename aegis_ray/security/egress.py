"""The one egress gate every network-capable tool goes through.

A request is allowed when its host is on the allowlist. To any other host, a request may not carry
tainted data at all (in its URL or its body), and may carry no data that a URL can smuggle: a
query string, userinfo, a long path segment, or DNS-style labels on the host. Every URL form is
parsed before it is judged (`urls.parse_url`: scheme-less and bare domains, IP literals in any
spelling, IDNs as punycode, userinfo tricks), so a form the gate does not know is judged, never
waved through or refused unread. Loopback, private and link-local addresses are refused unless
allowlisted (no SSRF), redirects are not followed, and whatever does leave (URL and body) is
scrubbed by DLP first. Every request that went out is in one log (`log`, and its URLs in `sent`):
the red team judges by the network's own record, operators by this one.
"""

from __future__ import annotations

import re
from typing import Literal

import httpx
from pydantic import Field

from aegis_ray.security.dlp import Scrubber
from aegis_ray.security.taint import TRUSTED, Label
from aegis_ray.security.urls import Destination, NotAUrl, is_internal, parse_url
from aegis_ray.types import Frozen

MAX_UNKNOWN_SEGMENT = 24
_MARKDOWN_IMAGE = re.compile(r"!\[[^\]]{0,200}\]\(\s*(<?)(https?://[^)\s>]+)>?[^)]*\)")


class EgressPolicy(Frozen):
    allow_hosts: tuple[str, ...] = Field(default=(), description=(
        "Exact hosts, or '*.example.com' for subdomains; '*' allows every host (only for undefended baselines)."))


class EgressDecision(Frozen):
    allowed: bool
    reason: str
    url: str = Field(default="", description="The URL as it would be requested (scheme added to a scheme-less one).")


class EgressRecord(Frozen):
    """One request that left: what, where, how much."""

    method: Literal["GET", "POST"]
    url: str
    host: str
    body_chars: int = 0


class EgressGate:
    def __init__(self, policy: EgressPolicy, scrubber: Scrubber, transport: httpx.AsyncBaseTransport | None = None,
                 timeout_s: float = 10.0) -> None:
        self.policy = policy
        self.scrubber = scrubber
        self.sent: list[str] = []
        self.log: list[EgressRecord] = []
        self._transport, self._timeout_s = transport, timeout_s
        self._client: httpx.AsyncClient | None = None  # opened on first use: most sessions never fetch

    def allowlisted(self, host: str) -> bool:
        host = _host_of(host)
        return any(h == "*" or host == h or (h.startswith("*.") and host.endswith(h[1:]))
                   for h in self._allowed)

    @property
    def _allowed(self) -> tuple[str, ...]:
        return tuple(h if h in ("*",) else ("*." if h.startswith("*.") else "") + _host_of(h.removeprefix("*."))
                     for h in self.policy.allow_hosts)

    def check(self, url: str, label: Label, body: str = "", body_label: Label = TRUSTED) -> EgressDecision:
        """May a request to `url` (labelled `label`), with `body` (labelled `body_label`), leave?"""
        try:
            where = parse_url(url)
        except NotAUrl as exc:
            return EgressDecision(allowed=False, reason=f"not a URL: {exc}")
        if where.scheme not in ("http", "https") or not where.host:
            return EgressDecision(allowed=False, reason=f"only http(s) URLs with a host may leave, not {url[:80]!r}")
        target = _request_url(where)
        try:
            httpx.URL(target)  # what the client will parse: a URL it refuses does not leave either
        except httpx.InvalidURL as exc:
            return EgressDecision(allowed=False, reason=f"not a URL: {exc}")
        if self.allowlisted(where.host):
            return EgressDecision(allowed=True, reason=f"{where.host} is allowlisted", url=target)
        if is_internal(where):
            return EgressDecision(allowed=False, reason=f"{where.host} is an internal address (SSRF)")
        tainted = label.join(body_label) if body else label
        if tainted.tainted:
            return EgressDecision(allowed=False, reason=f"tainted data ({', '.join(sorted(tainted.sources))}) may not "
                                                        f"leave to {where.host}, which is not on the allowlist")
        carried = _carries_data(where)
        if carried:
            return EgressDecision(allowed=False, reason=f"the URL to unknown host {where.host} carries {carried}")
        found = self.scrubber.find(body) if body else []
        if found:
            return EgressDecision(allowed=False, reason=f"the body to unknown host {where.host} carries "
                                                        f"{', '.join(sorted({r.kind for r in found}))}")
        return EgressDecision(allowed=True, url=target,
                              reason=f"{where.host} is unknown but the request carries no data")

    def _client_for(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(transport=self._transport, timeout=self._timeout_s, follow_redirects=False)
        return self._client

    def _allow(self, url: str, label: Label, body: str = "", body_label: Label = TRUSTED) -> str:
        decision = self.check(url, label, body, body_label)
        if not decision.allowed:
            raise PermissionError(decision.reason)
        return self.scrubber.scrub(decision.url, pii=False)

    async def get(self, url: str, label: Label) -> httpx.Response:
        target = self._allow(url, label)
        self._record("GET", target, 0)
        return await self._client_for().get(target)

    async def post(self, url: str, body: str, label: Label, body_label: Label = TRUSTED) -> httpx.Response:
        """POST `body` to `url`: both judged, both scrubbed of secrets, the request logged."""
        target = self._allow(url, label, body, body_label)
        scrubbed = self.scrubber.scrub(body, pii=False)
        self._record("POST", target, len(scrubbed))
        return await self._client_for().post(target, content=scrubbed)

    def _record(self, method: Literal["GET", "POST"], url: str, body_chars: int) -> None:
        self.sent.append(url)
        self.log.append(EgressRecord(method=method, url=url, host=_host_of(url), body_chars=body_chars))

    def strip_images(self, text: str) -> tuple[str, list[str]]:
        """Markdown images that would auto-load from a host not on the allowlist are removed from
        text about to be shown (an image fetch is an exfiltration channel); returns the removed URLs."""
        removed: list[str] = []

        def replace(match: re.Match[str]) -> str:
            url = match.group(2)
            host = _host_of(url)
            if self.allowlisted(host):
                return match.group(0)
            removed.append(url)
            return f"[image from {host} removed: not on the egress allowlist]"

        return _MARKDOWN_IMAGE.sub(replace, text), removed

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()


def _host_of(text: str) -> str:
    try:
        return parse_url(text).host
    except NotAUrl:
        return text.lower().rstrip(".")


def _request_url(where: Destination) -> str:
    """The URL to request: as written, with `https://` put before a scheme-less one."""
    url = where.url.strip().replace("\\", "/")
    return ("https:" + url if url.startswith("//") else "https://" + url) if where.implied_scheme else url


def _carries_data(where: Destination) -> str | None:
    if where.query:
        return "data in a query string"
    if where.userinfo:
        return "data in its userinfo (before an @)"
    long = [s for s in where.path.split("/") if len(s) > MAX_UNKNOWN_SEGMENT]
    if long:
        return f"data in a {len(long[0])}-character path segment"
    labels = where.host.split(".")
    if where.ip is None and (len(labels) > 3 or any(len(label) > MAX_UNKNOWN_SEGMENT for label in labels)):
        return "data in its DNS labels"
    return None
