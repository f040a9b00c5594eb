"""The simulated `coder` persona: solves a few kinds of computing task the way an agent would.

Turn 1 writes `solution.py` (write_file), turn 2 runs it (run_command), turn 3 reports the last line
the program printed. It recognises the n-th Fibonacci number, the n-th prime, factorials, sums of
ranges and arithmetic expressions; anything else gets "I don't know." It exists so that the offline
demo (`aegis run --code`, `aegis chat`) and the tests exercise the real loop, tools and sandbox end to
end. In a conversation it works on the user's latest message, where "that number" (or "that", "it",
"the result", "the answer") is its previous answer, and "plus", "minus", "times", "divided by" are
operators: "What is that number plus 1?" after 6765 computes 6765 + 1. Asked to compact the
conversation, it keeps what the user said and what was answered (`note_turn`).
"""

from __future__ import annotations

import re

from aegis_ray.memory.compaction import COMPACTION_PROMPT
from aegis_ray.sim.models import ToolCallTurn, Turn
from aegis_ray.sim.wire.base import SimRequest

I_DONT_KNOW = "I don't know."
_TEMPLATES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(\d+)(?:st|nd|rd|th)?\s+fibonacci", re.I),
     "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n\n"
     "print(fib({0}))\n"),
    (re.compile(r"(\d+)(?:st|nd|rd|th)?\s+prime", re.I),
     "def nth_prime(n):\n    count, k = 0, 1\n    while count < n:\n        k += 1\n"
     "        if all(k % d for d in range(2, int(k ** 0.5) + 1)):\n            count += 1\n    return k\n\n"
     "print(nth_prime({0}))\n"),
    (re.compile(r"factorial of (\d+)", re.I), "import math\n\nprint(math.factorial({0}))\n"),
    (re.compile(r"sum of (?:the )?(?:integers|numbers) from (-?\d+) to (-?\d+)", re.I),
     "print(sum(range({0}, {1} + 1)))\n"),
    (re.compile(r"(?:compute|calculate|evaluate|what is)\s+([-\d\s+*/().%]*\d[-\d\s+*/().%]*)", re.I),
     "print({0})\n"),
]


def program_for(task: str) -> str | None:
    for pattern, template in _TEMPLATES:
        match = pattern.search(task)
        if match:
            return template.format(*(g.strip() for g in match.groups()))
    return None


_REFERENCE = re.compile(r"\b(?:that number|that result|the result|the answer|that|it)\b", re.I)
_OPERATORS = {"plus": "+", "minus": "-", "times": "*", "divided by": "/"}


def _resolved(task: str, previous: str | None) -> str:
    """`task` with references to the previous answer replaced by it, and operator words by symbols."""
    if previous is not None and re.fullmatch(r"-?\d+(?:\.\d+)?", previous.strip().rstrip(".")):
        task = _REFERENCE.sub(previous.strip().rstrip("."), task)
    for word, symbol in _OPERATORS.items():
        task = re.sub(rf"\s+{word}\s+", f" {symbol} ", task, flags=re.I)
    return task


def note_turn(transcript: str) -> Turn:
    """A compaction note: the transcript's lines of what the user said and what was answered."""
    said = [line for line in transcript.splitlines() if re.match(r"^(?:user|assistant): \S", line)]
    return Turn(text="\n".join(said[-20:]) or "Nothing to note yet.")


def code_turn(request: SimRequest) -> Turn:
    if request.messages and request.messages[0].role == "system" and request.messages[0].text == COMPACTION_PROMPT:
        return note_turn(request.last.text)
    asked = max((i for i, m in enumerate(request.messages) if m.role == "user"), default=0)
    previous = next((m.text for m in reversed(request.messages[:asked]) if m.role == "assistant" and m.text), None)
    task = _resolved(request.messages[asked].text if request.messages else "", previous)
    done = [c.name for m in request.messages[asked:] for c in m.tool_calls]
    if "write_file" not in done:
        program = program_for(task)
        if program is None or "write_file" not in request.tools:
            return Turn(text=I_DONT_KNOW)
        return Turn(tool_calls=[ToolCallTurn(name="write_file", arguments={"path": "solution.py", "content": program})])
    if "run_command" not in done:
        return Turn(tool_calls=[ToolCallTurn(name="run_command", arguments={"command": "python3 solution.py"})])
    report = request.last.text
    output = report.split("--- stdout ---", 1)[-1].split("--- stderr ---", 1)[0].strip()
    succeeded = report.startswith("exit status 0") and output
    return Turn(text=output.splitlines()[-1] if succeeded else I_DONT_KNOW)
