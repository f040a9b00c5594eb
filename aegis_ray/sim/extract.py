"""How a simulated persona answers the quarantined reader's prompt (`security.quarantine`): the
value of the asked type in the spotlighted data: the last email or URL (headers come first, the
body's request last), the first number, or the first sentence for text. A compromised persona
obeys injected `say` instructions before this runs."""

from __future__ import annotations

import re

from aegis_ray.security.spotlight import MARK
from aegis_ray.sim.coder import I_DONT_KNOW
from aegis_ray.sim.models import Turn

_DATA = re.compile(r"<<untrusted-[0-9a-f]+[^>]*>>\n(.*?)\n<<end-untrusted-[0-9a-f]+>>", re.DOTALL)
_KIND = re.compile(r"Extract \((\w+)\):")
_PATTERNS = {"email": r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}", "url": r"https?://[^\s)>\"']+",
             "number": r"-?\d+(?:\.\d+)?", "text": r"[^\n.!?]+[.!?]?"}


def extract_turn(text: str) -> Turn:
    data, kind = _DATA.search(text), _KIND.search(text)
    if data is None or kind is None or kind.group(1) not in _PATTERNS:
        return Turn(text=I_DONT_KNOW)
    plain = data.group(1).replace(MARK, " ")
    found = re.findall(_PATTERNS[kind.group(1)], plain)
    if not found:
        return Turn(text=I_DONT_KNOW)
    return Turn(text=(found[-1] if kind.group(1) in ("email", "url") else found[0]).strip())
