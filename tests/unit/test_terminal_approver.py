"""The terminal approver: yes approves, anything else (an empty line, the input closed) denies."""

from __future__ import annotations

import pytest

from aegis_ray.tools.approval import ApprovalRequest, terminal_approver

REQUEST = ApprovalRequest(tool="run_command", effect="execute", arguments={"command": "ls"})


def closed(_: str) -> str:
    raise EOFError


@pytest.mark.parametrize(("prompt", "approved"), [
    (lambda _: "y", True), (lambda _: " YES\n", True), (lambda _: "", False), (lambda _: "no", False), (closed, False),
])
async def test_only_yes_approves(prompt, approved: bool) -> None:
    asked: list[str] = []

    def answer(question: str) -> str:
        asked.append(question)
        return prompt(question)

    assert await terminal_approver(answer)(REQUEST) is approved
    assert "run_command" in asked[0] and asked[0].endswith("[y/N] ")
