"""Approval of mutating, executing and network tool calls: a policy plus a pluggable approver.

Policy `auto` runs them, `deny` refuses them, `ask` asks the approver (a terminal prompt, an HTTP
callback, a test double) and refuses when there is none: the gate fails closed. Read-only tools
never ask.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from pydantic import Field

from aegis_ray.types import Frozen

ApprovalPolicy = Literal["ask", "auto", "deny"]


class ApprovalRequest(Frozen):
    tool: str
    effect: str
    arguments: dict[str, Any]
    key: str | None = Field(default=None, description="The call's effect key: stable across a resume.")


class ApprovalDecision(Frozen):
    approved: bool
    reason: str


Approver = Callable[[ApprovalRequest], Awaitable[bool]]


async def decide(policy: ApprovalPolicy, request: ApprovalRequest, approver: Approver | None) -> ApprovalDecision:
    if policy == "auto":
        return ApprovalDecision(approved=True, reason="policy auto")
    if policy == "deny":
        return ApprovalDecision(approved=False, reason="policy deny")
    if approver is None:
        return ApprovalDecision(approved=False, reason="policy ask, and no approver is attached")
    approved = await approver(request)
    return ApprovalDecision(approved=approved, reason=f"{'approved' if approved else 'denied'} by the approver")


def terminal_approver(prompt: Callable[[str], str] = input) -> Approver:
    """Ask on the terminal: `[y/N]`, anything but y/yes denies."""

    async def ask(request: ApprovalRequest) -> bool:
        question = f"Allow {request.effect} tool {request.tool}({request.arguments})? [y/N] "
        # A daemon thread, not `asyncio.to_thread`: the executor's threads are joined at exit, so a
        # Ctrl-C at the prompt would wait for Enter before the process could end.
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[str] = loop.create_future()

        def read() -> None:
            try:
                text = prompt(question)
            except (EOFError, OSError):
                text = ""  # no answer is a denial
            loop.call_soon_threadsafe(lambda: answer.done() or answer.set_result(text))

        threading.Thread(target=read, daemon=True, name="aegis-approval-prompt").start()
        return (await answer).strip().lower() in ("y", "yes")

    return ask
