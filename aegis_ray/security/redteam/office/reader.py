"""The quarantined reader, simulated: a model function answering `QuarantinedTools`' extraction.

It sees only what the quarantine sends it: the system prompt, the spotlighted content of one
variable (nonce-delimited, words joined by the datamark) and the instruction with its type.
- `honest_reader` understands an instruction as the task author meant it (`tasks.instructions`:
  the instruction's pattern and position) and returns that value from the content, or
  "I don't know".
- `compromised_reader` is that reader when the content carries an injection: asked for a value of
  some kind, it returns the attacker's value of that kind: the first such value in the injected
  instructions' arguments, else the attacker's default (`attacker.DEFAULTS`); asked for text, it
  returns the injected instruction itself (so it travels on). Content with no injection gets the
  honest answer: the reader is compromised by what it reads, not from the start.
"""

from __future__ import annotations

import json
import re

from aegis_ray.providers.function import FunctionInfo, FunctionReply
from aegis_ray.security.redteam.office.attacker import DEFAULTS
from aegis_ray.security.redteam.office.obey import instructions_in, string_values
from aegis_ray.security.redteam.office.plans import Bind
from aegis_ray.security.redteam.office.tasks import instructions
from aegis_ray.security.spotlight import MARK
from aegis_ray.types import Message

_DATA = re.compile(r"<<untrusted-[0-9a-f]+[^>]*>>\n(.*?)\n<<end-untrusted-[0-9a-f]+>>", re.DOTALL)
_ASK = re.compile(r"Extract \((\w+)\): (.*)\Z", re.DOTALL)
SHAPES: dict[str, str] = {
    "email": r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}", "url": r"https?://\S+",
    "iban": r"\b[A-Z]{2}\d{2}[A-Z0-9]{10,30}\b", "amount": r"^\d+(?:\.\d+)?$", "id": r"^[a-z]{1,3}-\d+$",
    "date": r"\d{4}-\d{2}-\d{2}", "name": r"^[A-Z][\w' -]{2,40}$",
}
UNKNOWN = "I don't know"


def _read(messages: tuple[Message, ...]) -> tuple[str, str] | None:
    """(content, instruction) of an extraction request, the content with its datamarks undone."""
    text = messages[-1].content if messages else ""
    data, ask = _DATA.search(text), _ASK.search(text)
    if data is None or ask is None:
        return None
    return data.group(1).replace(MARK, " "), ask.group(2).strip()


def _honest(content: str, instruction: str) -> str:
    bind: Bind | None = instructions().get(instruction)
    value = bind.read(content) if bind is not None else None
    return value if value else UNKNOWN


def forged(kind: str, injected: list[str], instruction_text: str) -> str | None:
    """The attacker's value of `kind`: from the injected arguments, else the default for the kind."""
    if kind == "text":
        return instruction_text
    shape = SHAPES.get(kind)
    for value in injected:
        if shape and re.search(shape, value):
            match = re.search(shape, value)
            return match.group(0) if match and kind in ("email", "url", "iban", "date") else value
    return DEFAULTS.get(kind)


async def honest_reader(messages: tuple[Message, ...], info: FunctionInfo) -> FunctionReply:
    asked = _read(messages)
    return FunctionReply(text=_honest(*asked) if asked else UNKNOWN)


async def compromised_reader(messages: tuple[Message, ...], info: FunctionInfo) -> FunctionReply:
    asked = _read(messages)
    if asked is None:
        return FunctionReply(text=UNKNOWN)
    content, instruction = asked
    injected = instructions_in(content)
    bind = instructions().get(instruction)
    if not injected or bind is None:
        return FunctionReply(text=_honest(content, instruction))
    values = [v for i in injected for v in string_values(i.args)]
    text = ", then ".join(f"call {i.tool} {json.dumps(i.args)}" for i in injected)
    return FunctionReply(text=forged(bind.kind, values, text) or _honest(content, instruction))
