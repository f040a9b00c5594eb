"""Deterministic verification by re-execution: the program the agent ran last is run again in the
sandbox, on a copy of the workspace (so its side effects are not repeated), and the answer must
be what that program prints. The agent's report of the output is a claim; the second run is the
evidence. Sessions that ran no program are left to the next verifier.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from aegis_ray.checks import CheckOutcome, Verifier
from aegis_ray.tools.base import ToolContext
from aegis_ray.types import Answer, RunState, ToolCall
from aegis_ray.verify.prompts import is_abstention

MAX_WORKSPACE_BYTES = 64 * 2**20
ARGV: dict[str, Callable[[dict], list[str]]] = {
    "run_command": lambda args: ["/bin/sh", "-c", str(args.get("command", ""))],
    "run_python": lambda args: ["python3", "-c", str(args.get("code", ""))],
}


def last_execution(state: RunState) -> ToolCall | None:
    """The last program call that actually ran (a denied or failed call proves nothing)."""
    ran = [r.call_id for step in state.steps for r in step.tool_results if r.ok and r.name in ARGV]
    calls = {c.id: c for m in state.messages for c in m.tool_calls}
    return calls.get(ran[-1]) if ran else None


async def reexecute(state: RunState, answer: str, context: ToolContext) -> CheckOutcome | None:
    """None when there is nothing to re-run or check (no program ran, the answer declines, no
    sandbox, a workspace too large to copy)."""
    call = last_execution(state)
    root = context.workspace.root
    if call is None or is_abstention(answer) or context.sandbox is None or _size(root) > MAX_WORKSPACE_BYTES:
        return None
    with tempfile.TemporaryDirectory(prefix="aegis-reexec-") as scratch:
        copy = Path(scratch) / "ws"
        shutil.copytree(root, copy, symlinks=True)
        result = await context.sandbox.run(ARGV[call.name](call.arguments), copy, context.limits)
    label = f"re-running {call.name}"
    if result.outcome != "ok" or result.exit_code != 0:
        return CheckOutcome(check="execution", passed=False,
                            reason=f"{label} failed ({result.outcome}, exit {result.exit_code})")
    wanted = answer.strip().rstrip(".")
    printed = re.search(rf"(?<![\w.]){re.escape(wanted)}(?![\w.])", result.stdout) is not None if wanted else False
    reason = (f"{label} printed the answer" if printed else
              f"{label} did not print {wanted[:80]!r} (it printed {result.stdout.strip()[-120:]!r})")
    return CheckOutcome(check="execution", passed=printed, reason=reason)


def execution_verifier(context: ToolContext, then: Verifier) -> Verifier:
    """`then` (declared checks, or a policy) first; then the answer must survive re-execution."""

    async def check(state: RunState, answer: str) -> Answer:
        verdict = await then(state, answer)
        if verdict.abstained:
            return verdict
        outcome = await reexecute(state, answer, context)
        if outcome is not None and not outcome.passed:
            return Answer(text="", abstained=True, reason=outcome.reason)
        return verdict

    return check


def _size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())
