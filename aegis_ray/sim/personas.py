"""How each simulated persona turns a request into a turn.

Order of precedence: a script rule matching the last message, then the scripted turn for this
point of the conversation, then (for the compromised persona) any instruction injected into the
input, then a verification task (`Task: ...` system prompt, see `judge.py`), then the persona's own
behaviour. Randomness comes from the `random.Random` the server
passes in (seeded), so a run is reproducible.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import random
import re
from collections.abc import Iterator

from aegis_ray.sim.coder import I_DONT_KNOW, code_turn
from aegis_ray.sim.facts import Fact, fact_table
from aegis_ray.sim.judge import judge_turn
from aegis_ray.sim.models import ModelProfile, Persona, Script, ToolCallTurn, Turn
from aegis_ray.sim.wire.base import SimRequest
from aegis_ray.verify.prompts import task_of

_CALL = re.compile(
    r"\b(?:call|invoke|use|run)\s+(?:the\s+)?(?:tool|function)?\s*[`'\"]?([A-Za-z_][\w\-]*)[`'\"]?"
    r"\s*(?:with(?:\s+(?:arguments|args|parameters))?\s*:?\s*)?(?=\{|\()",
    re.IGNORECASE,
)
_SAY = re.compile(
    r"\b(?:say|respond with|reply with|answer with|output)\s*:?\s*[\"“']([^\"”']{1,500})[\"”']", re.IGNORECASE
)
_BASE64 = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))


def respond(profile: ModelProfile, request: SimRequest, rng: random.Random) -> Turn:
    scripted = _scripted(profile.script, request) if profile.script else None
    if scripted is not None:
        return scripted
    if profile.persona is Persona.COMPROMISED:
        obeyed = _obey_injected(request)
        if obeyed is not None:
            return obeyed
    task = task_of(request.messages[0].text if request.messages and request.messages[0].role == "system" else None)
    if task is not None:
        return judge_turn(task, request.last.text, lambda question: _knowledge(profile, question, rng))
    if profile.persona is Persona.CODER:
        return code_turn(request)
    return _answer(profile, request, rng)


def _scripted(script: Script, request: SimRequest) -> Turn | None:
    last = request.last
    for rule in script.rules:
        if rule.role and rule.role != last.role:
            continue
        if rule.contains and rule.contains.casefold() not in last.text.casefold():
            continue
        if rule.regex and not re.search(rule.regex, last.text):
            continue
        return rule.reply
    index = request.assistant_turns
    return script.turns[index] if index < len(script.turns) else None


def _answer(profile: ModelProfile, request: SimRequest, rng: random.Random) -> Turn:
    if request.last.role == "tool":
        # Report what the tool said: the honest thing to do with an observation.
        return Turn(text=request.last.text.strip() or I_DONT_KNOW)
    question = next((m.text for m in reversed(request.messages) if m.role == "user"), "")
    return Turn(text=_knowledge(profile, question, rng))


def _knowledge(profile: ModelProfile, question: str, rng: random.Random) -> str:
    """What this persona believes the answer to `question` is."""
    fact = fact_table().lookup(question)
    if fact is None:
        return I_DONT_KNOW
    if profile.persona is Persona.HALLUCINATING:
        wrong = _hallucination(profile, fact, rng)
        if wrong is not None:
            return _sentence(wrong.answer)
    return _sentence(fact.answer)


def _sentence(answer: str) -> str:
    return answer if answer.endswith(".") else f"{answer}."


def _hallucination(profile: ModelProfile, fact: Fact, rng: random.Random) -> Fact | None:
    distractors = fact_table().distractors(fact)
    if profile.hallucination_mode == "consistent":
        # The same question is always wrong (or right) the same way: a stable misconception.
        digest = hashlib.sha256(f"{profile.seed}:{fact.relation}:{fact.subject}".encode()).digest()
        if int.from_bytes(digest[:4], "big") / 2**32 >= profile.hallucination_rate:
            return None
        return distractors[int.from_bytes(digest[4:8], "big") % len(distractors)]
    if rng.random() >= profile.hallucination_rate:
        return None
    return rng.choice(distractors)


def readable_views(text: str) -> Iterator[str]:
    """The text, plus what it says once smuggling is undone: zero-width characters, Unicode tag
    characters (U+E0000 block, invisible ASCII) and base64 blobs."""
    plain = text.translate(_ZERO_WIDTH)
    yield plain
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


def _obey_injected(request: SimRequest) -> Turn | None:
    """The last instruction found anywhere in the input wins; tool calls already made are skipped."""
    done = {(c.name, json.dumps(c.arguments, sort_keys=True)) for m in request.messages for c in m.tool_calls}
    decoder = json.JSONDecoder()
    found: Turn | None = None
    for message in request.messages:
        for view in readable_views(message.text):
            for match in _CALL.finditer(view):
                name, rest = match.group(1), view[match.end():].lstrip("(")
                if name not in request.tools:
                    continue
                try:
                    args, _ = decoder.raw_decode(rest)
                except ValueError:
                    continue
                if isinstance(args, dict) and (name, json.dumps(args, sort_keys=True)) not in done:
                    found = Turn(tool_calls=[ToolCallTurn(name=name, arguments=args)])
            for match in _SAY.finditer(view):
                if message.role != "assistant":
                    found = Turn(text=match.group(1))
    return found
