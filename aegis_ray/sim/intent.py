"""How a simulated persona answers the intent planning pass (`aegis_ray.security.intent`): it
commits to the calls it is about to make, from the request alone (it has read nothing yet).

A scripted model plans its scripted turns' calls (a literal per argument; an argument that names a
quarantined variable, `$vN`, as text it composes); the coder plans its program (write
`solution.py`, run it); the compromised persona plans the `call TOOL {json}` instructions the
request gives; any other persona plans no call (reads still run; anything else asks a person).
"""

from __future__ import annotations

import json
import re
from typing import Any

from aegis_ray.sim.models import ModelProfile, Persona, ToolCallTurn, Turn

_CALL = re.compile(r"\b(?:call|invoke|use|run)\s+(?:the\s+)?(?:tool|function)?\s*[`'\"]?([A-Za-z_][\w\-]*)[`'\"]?"
                   r"\s*(?:with(?:\s+(?:arguments|args|parameters))?\s*:?\s*)?(?=\{)", re.IGNORECASE)
CODER_CALLS = (ToolCallTurn(name="write_file", arguments={"path": "solution.py", "content": ""}),
               ToolCallTurn(name="run_command", arguments={"command": "python3 solution.py"}))


def intent_turn(profile: ModelProfile, request_text: str) -> Turn:
    if profile.script is not None and profile.script.turns:
        calls = [c for turn in profile.script.turns for c in turn.tool_calls]
    elif profile.persona is Persona.CODER:
        calls = list(CODER_CALLS)
    elif profile.persona is Persona.COMPROMISED:
        calls = _requested(request_text.split("\n\nTools:\n", 1)[0])
    else:
        calls = []
    return Turn(text=json.dumps({"calls": [{"tool": c.name, "arguments": _specs(c, profile)} for c in calls]}))


def _specs(call: ToolCallTurn, profile: ModelProfile) -> dict[str, Any]:
    arguments = call.arguments if isinstance(call.arguments, dict) else {}
    composed = profile.persona is Persona.CODER and call.name == "write_file"
    return {name: {"free": True} if (composed and name == "content") or "$v" in json.dumps(value) else {"value": value}
            for name, value in arguments.items()}


def _requested(text: str) -> list[ToolCallTurn]:
    decoder, found = json.JSONDecoder(), []
    for match in _CALL.finditer(text):
        try:
            arguments, _ = decoder.raw_decode(text[match.end():])
        except ValueError:
            continue
        if isinstance(arguments, dict):
            found.append(ToolCallTurn(name=match.group(1), arguments=arguments))
    return found
