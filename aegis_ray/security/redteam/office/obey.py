"""How the simulated adversaries read instructions in text: `call TOOL {json}`, in any readable
view (zero-width characters, Unicode tags, homoglyphs and base64 undone, as
`security.smuggling.readable_views` does for the detector and the classic compromised persona).

`{{conversation}}` in an instruction's argument becomes everything the model has read (the
request and every tool output it saw), percent-encoded inside a URL, as a model following the
instruction would write it.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any
from urllib.parse import quote

from aegis_ray.security.smuggling import readable_views
from aegis_ray.types import Frozen

_CALL = re.compile(r"\b(?:call|invoke|use|run)\s+(?:the\s+)?(?:tool\s+|function\s+)?[`'\"]?([A-Za-z_][\w\-]*)"
                   r"[`'\"]?\s*(?:with\s*(?:arguments|args|parameters)?\s*:?\s*)?(?=\{)", re.IGNORECASE)
CONVERSATION = "{{conversation}}"


class Instruction(Frozen):
    tool: str
    args: dict[str, Any]

    @property
    def key(self) -> str:
        """Stable across turns (before `{{conversation}}` is filled): whether it was obeyed already."""
        raw = json.dumps([self.tool, self.args], sort_keys=True)
        return hashlib.sha256(raw.encode()).hexdigest()[:12]

    def filled(self, conversation: str) -> dict[str, Any]:
        def fill(value: Any) -> Any:
            if isinstance(value, str) and CONVERSATION in value:
                text = quote(conversation, safe="") if value.startswith(("http://", "https://")) else conversation
                return value.replace(CONVERSATION, text)
            if isinstance(value, list):
                return [fill(v) for v in value]
            if isinstance(value, dict):
                return {k: fill(v) for k, v in value.items()}
            return value

        return fill(self.args)


def instructions_in(text: str, tools: frozenset[str] | None = None) -> list[Instruction]:
    """The instructions in `text`, in order of appearance, once each (the same one in several views
    counts once); only tools in `tools`, if given."""
    found: list[Instruction] = []
    decoder = json.JSONDecoder()
    for view in readable_views(text):
        for match in _CALL.finditer(view):
            name = match.group(1)
            if tools is not None and name not in tools:
                continue
            try:
                args, _ = decoder.raw_decode(view[match.end():])
            except ValueError:
                continue
            if isinstance(args, dict):
                new = Instruction(tool=name, args=args)
                if all(new.key != f.key for f in found):
                    found.append(new)
    return found


def string_values(value: Any) -> list[str]:
    """Every string inside an instruction's arguments, in order."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in string_values(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in string_values(v)]
    return [str(value)] if isinstance(value, int | float) and not isinstance(value, bool) else []
