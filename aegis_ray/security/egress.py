"""The one egress gate every network-capable tool goes through.

A request is allowed when its host is on the allowlist. To any other host, a request may not carry
tainted data at all, and may carry no data that a URL can smuggle: a query string, a long path
segment, or DNS-style labels on the host. Loopback, private and link-local addresses are refused
unless allowlisted (no SSRF), redirects are not followed, and whatever does leave is scrubbed of
secrets first. Every request that went out is logged (the red team judges by that log).
"""

from __future__ import annotations

import ipaddress
import re

import httpx
from pydantic import Field

from aegis_ray.security.dlp import Scrubber
from aegis_ray.security.taint import Label
from aegis_ray.types import Frozen

MAX_UNKNOWN_SEGMENT = 24
_MARKDOWN_IMAGE = re.compile(r"!\[[^\]]{0,200}\]\(\s*(<?)(https?://[^)\s>]+)>?[^)]*\)")


class EgressPolicy(Frozen):
    allow_hosts: tuple[str, ...] = Field(default=(), description=(
        "Exact hosts, or '*.example.com' for subdomains; '*' allows every host (only for undefended baselines)."))


class EgressDecision(Frozen):
    allowed: bool
    reason: str


class EgressGate:
    def __init__(self, policy: EgressPolicy, scrubber: Scrubber, transport: httpx.AsyncBaseTransport | None = None,
                 timeout_s: float = 10.0) -> None:
        self.policy = policy
        self.scrubber = scrubber
        self.sent: list[str] = []
        self._transport, self._timeout_s = transport, timeout_s
        self._client: httpx.AsyncClient | None = None  # opened on first use: most sessions never fetch

    def allowlisted(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return any(h == "*" or host == h or (h.startswith("*.") and host.endswith(h[1:]))
                   for h in self.policy.allow_hosts)

    def check(self, url: str, label: Label) -> EgressDecision:
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            return EgressDecision(allowed=False, reason=f"not a URL: {exc}")
        if parsed.scheme not in ("http", "https") or not parsed.host:
            return EgressDecision(allowed=False, reason=f"only http(s) URLs with a host may leave, not {url[:80]!r}")
        if self.allowlisted(parsed.host):
            return EgressDecision(allowed=True, reason=f"{parsed.host} is allowlisted")
        if _internal(parsed.host):
            return EgressDecision(allowed=False, reason=f"{parsed.host} is an internal address (SSRF)")
        if label.tainted:
            return EgressDecision(allowed=False, reason=f"tainted data ({', '.join(sorted(label.sources))}) may not "
                                                        f"leave to {parsed.host}, which is not on the allowlist")
        carried = _carries_data(parsed)
        if carried:
            return EgressDecision(allowed=False, reason=f"the URL to unknown host {parsed.host} carries {carried}")
        return EgressDecision(allowed=True, reason=f"{parsed.host} is unknown but the request carries no data")

    async def get(self, url: str, label: Label) -> httpx.Response:
        decision = self.check(url, label)
        if not decision.allowed:
            raise PermissionError(decision.reason)
        self.sent.append(url)
        if self._client is None:
            self._client = httpx.AsyncClient(transport=self._transport, timeout=self._timeout_s, follow_redirects=False)
        return await self._client.get(url)

    def strip_images(self, text: str) -> tuple[str, list[str]]:
        """Markdown images that would auto-load from a host not on the allowlist are removed from
        text about to be shown (an image fetch is an exfiltration channel); returns the removed URLs."""
        removed: list[str] = []

        def replace(match: re.Match[str]) -> str:
            url = match.group(2)
            host = httpx.URL(url).host
            if self.allowlisted(host):
                return match.group(0)
            removed.append(url)
            return f"[image from {host} removed: not on the egress allowlist]"

        return _MARKDOWN_IMAGE.sub(replace, text), removed

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()


def _internal(host: str) -> bool:
    if host in ("localhost",) or host.endswith(".localhost") or host.endswith(".internal"):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return address.is_private or address.is_loopback or address.is_link_local or address.is_reserved


def _carries_data(url: httpx.URL) -> str | None:
    if url.query:
        return "data in a query string"
    long = [s for s in url.path.split("/") if len(s) > MAX_UNKNOWN_SEGMENT]
    if long:
        return f"data in a {len(long[0])}-character path segment"
    labels = url.host.split(".")
    if len(labels) > 3 or any(len(label) > MAX_UNKNOWN_SEGMENT for label in labels):
        return "data in its DNS labels"
    return None
