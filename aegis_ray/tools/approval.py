"""Approval of mutating, executing and network tool calls: a policy plus a pluggable approver.

Policy `auto` runs them, `deny` refuses them, `ask` asks the approver (a terminal prompt, an HTTP
callback, a test double) and refuses when there is none: the gate fails closed. Read-only tools
never ask.
"""

from __future__ import annotations

import asyncio
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
        answer = await asyncio.to_thread(prompt, question)
        return answer.strip().lower() in ("y", "yes")

    return ask
