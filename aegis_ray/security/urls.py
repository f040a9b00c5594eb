"""Where a URL really goes: every form a model or an attacker writes one in, parsed to one typed
`Destination` the egress gate judges.

Forms handled: `https://host/path`, scheme-less `www.example.com/x` and bare `example.com` (taken
as https, so they are judged instead of refused), `//host` (protocol-relative), IP literals in any
spelling a resolver accepts (`127.0.0.1`, `[::1]`, `2130706433`, `0x7f.1`, `0177.0.0.1`),
internationalised names (`bücher.example`, mixed-script homographs) turned into their punycode
A-labels with `idna` (so an allowlist of ASCII names is never matched by a look-alike), userinfo
tricks (`https://docs.corp.example@evil.example/`: the host is what follows the `@`), backslashes
(which browsers read as `/`), and stray whitespace and trailing dots.

`urllib.parse.urlsplit` does the splitting (stdlib, WHATWG-compatible enough once backslashes are
normalised); `socket.inet_aton` reads legacy IPv4 spellings, as resolvers do; no DNS is queried.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import unquote, urlsplit

import idna

from aegis_ray.types import Frozen

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):(//)?")
_HOST_START = re.compile(r"^[^\s/?#]+")
_NAME = re.compile(r"[a-z0-9_](?:[a-z0-9_\-.]*[a-z0-9_])?")


class Destination(Frozen):
    """A parsed URL: what the gate judges. `host` is lower-case ASCII (punycode for IDNs), an IP
    address in its canonical form when the host is one."""

    url: str
    scheme: str
    host: str
    port: int | None = None
    path: str = ""
    query: str = ""
    fragment: str = ""
    userinfo: str = ""
    ip: str | None = None
    implied_scheme: bool = False


class NotAUrl(ValueError):
    pass


def parse_url(text: str) -> Destination:
    """The destination `text` names, in whichever form it is written; `NotAUrl` when it names none."""
    raw = text.strip().replace("\\", "/")
    if not raw:
        raise NotAUrl("an empty URL")
    implied = False
    scheme = _SCHEME.match(raw)
    if raw.startswith("//"):
        raw, implied = "https:" + raw, True
    elif scheme is None or (scheme.group(2) is None
                            and ("." in scheme.group(1) or raw[scheme.end():][:1].isdigit())):
        # No scheme, or `host:port` read as one (`example.com:8080`, `localhost:80`).
        if not _HOST_START.match(raw):
            raise NotAUrl(f"{text[:80]!r} names no host")
        raw, implied = "https://" + raw, True
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise NotAUrl(f"{text[:80]!r}: {exc}") from exc
    scheme = parts.scheme.lower()
    netloc = parts.netloc
    userinfo = netloc.rpartition("@")[0] if "@" in netloc else ""
    host = unquote(parts.hostname or "").strip().rstrip(".")
    if not host:
        if scheme in ("http", "https"):
            raise NotAUrl(f"{text[:80]!r} names no host")
        return Destination(url=text, scheme=scheme, host="", path=parts.path, query=parts.query)
    ip = _ip(host)
    ascii_host = ip or _ascii_host(host)
    if ip is None and (_NAME.fullmatch(ascii_host) is None or (implied and "." not in ascii_host
                                                               and ascii_host != "localhost")):
        raise NotAUrl(f"{text[:80]!r} names no host")
    return Destination(url=text, scheme=scheme, host=ascii_host, port=port, path=parts.path,
                       query=parts.query, fragment=parts.fragment, userinfo=unquote(userinfo), ip=ip,
                       implied_scheme=implied)


def _ip(host: str) -> str | None:
    """The canonical address when `host` is an IP literal in any spelling a resolver takes."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        pass
    if re.fullmatch(r"[0-9A-Fa-fxX.]+", host) and re.search(r"\d", host):
        try:
            return socket.inet_ntoa(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _ascii_host(host: str) -> str:
    """The A-label form (punycode) of a host name, lower-case; names idna refuses (mixed scripts in
    one label, symbols) are kept as punycode of their raw text, so they still match nothing."""
    lowered = host.lower()
    if lowered.isascii():
        return lowered
    try:
        return idna.encode(lowered, uts46=True).decode("ascii")
    except idna.IDNAError:
        return ".".join(label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")
                        for label in lowered.split("."))


def is_internal(destination: Destination) -> bool:
    """Loopback, private, link-local, reserved or unspecified targets, and local names (SSRF)."""
    host = destination.host
    if host in ("localhost",) or host.endswith((".localhost", ".internal", ".local")):
        return True
    if destination.ip is None:
        return False
    address = ipaddress.ip_address(destination.ip)
    mapped = getattr(address, "ipv4_mapped", None)
    address = mapped or address
    return (address.is_private or address.is_loopback or address.is_link_local or address.is_reserved
            or address.is_unspecified or address.is_multicast)
