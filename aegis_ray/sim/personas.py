"""How each simulated persona turns a request into a turn.

Order of precedence: a script rule matching the last message, then the scripted turn for this
point of the conversation, then (for the compromised persona) any instruction injected into the
input, then a planning, quarantine, synthesis or verification task (by its system prompt; see
`planner.py`, `extract.py`, `judge.py`), then the persona's own behaviour. Randomness comes from
the `random.Random` the server passes in (seeded), so a run is reproducible.
"""

from __future__ import annotations

import hashlib
import json
import random
import re

from aegis_ray.plan.patterns import SYNTHESIS_PROMPT
from aegis_ray.plan.planner import PLANNER_PROMPT
from aegis_ray.security.intent import PLANNING_PROMPT
from aegis_ray.security.quarantine import QUARANTINE_PROMPT
from aegis_ray.security.smuggling import readable_views
from aegis_ray.sim.coder import I_DONT_KNOW, code_turn
from aegis_ray.sim.extract import extract_turn
from aegis_ray.sim.facts import Fact, fact_table
from aegis_ray.sim.intent import intent_turn
from aegis_ray.sim.judge import judge_turn
from aegis_ray.sim.models import ModelProfile, Persona, Script, ToolCallTurn, Turn
from aegis_ray.sim.planner import plan_turn
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


def respond(profile: ModelProfile, request: SimRequest, rng: random.Random) -> Turn:
    system = request.messages[0].text if request.messages and request.messages[0].role == "system" else None
    if system == PLANNING_PROMPT:  # a script's rules may answer it; its turns are what it plans
        ruled = _scripted(profile.script.model_copy(update={"turns": []}), request) if profile.script else None
        return ruled or intent_turn(profile, request.last.text)
    scripted = _scripted(profile.script, request) if profile.script else None
    if scripted is not None:
        return scripted
    if profile.persona is Persona.COMPROMISED:
        obeyed = _obey_injected(request)
        if obeyed is not None:
            return obeyed
    if system == QUARANTINE_PROMPT:
        return extract_turn(request.last.text)
    if system == PLANNER_PROMPT:
        return plan_turn(request.last.text)
    if system is not None and system.startswith(_SYNTHESIS_HEAD):
        return _synthesis(request.last.text)
    task = task_of(system)
    if task is not None:
        return judge_turn(task, request.last.text, lambda question: _knowledge(profile, question, rng))
    if profile.persona is Persona.CODER:
        return code_turn(request)
    return _answer(profile, request, rng)


_SYNTHESIS_HEAD = SYNTHESIS_PROMPT.split("{nonce}")[0]
_RESULT = re.compile(r"<<(\w+)>> \[[^\]]+\] (.*?) <</\1>>", re.DOTALL)


def _synthesis(results: str) -> Turn:
    """A synthesis, the simulator's way: the workers' results, joined in order (it follows nothing
    written inside them)."""
    found = [text.strip() for _, text in _RESULT.findall(results)]
    return Turn(text=" ".join(found) if found else I_DONT_KNOW)


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


CONTEXT_PLACEHOLDER = "{{conversation}}"


def _obey_injected(request: SimRequest) -> Turn | None:
    """Instructions anywhere in the input (tool descriptions included) are obeyed in the order they
    appear: the first tool call not made yet wins; with none left, the last `say` instruction.
    `{{conversation}}` in an instruction's arguments becomes the user's messages: the model copies
    its private context wherever an attacker asks."""
    done = {(c.name, json.dumps(c.arguments, sort_keys=True)) for m in request.messages for c in m.tool_calls}
    context = "\n".join(m.text for m in request.messages if m.role == "user")
    decoder = json.JSONDecoder()
    said: Turn | None = None
    sources = [("system", d) for d in request.tool_descriptions] + [(m.role, m.text) for m in request.messages]
    for role, text in sources:
        for view in readable_views(text):
            for match in _CALL.finditer(view):
                name, rest = match.group(1), view[match.end():].lstrip("(")
                if name not in request.tools:
                    continue
                try:
                    args, _ = decoder.raw_decode(rest)
                except ValueError:
                    continue
                if not isinstance(args, dict):
                    continue
                args = json.loads(json.dumps(args).replace(CONTEXT_PLACEHOLDER, json.dumps(context)[1:-1]))
                if (name, json.dumps(args, sort_keys=True)) not in done:
                    return Turn(tool_calls=[ToolCallTurn(name=name, arguments=args)])
            for match in _SAY.finditer(view):
                if role != "assistant":
                    said = Turn(text=match.group(1).replace(CONTEXT_PLACEHOLDER, context))
    return said
