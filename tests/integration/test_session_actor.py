"""`SessionActor` on Ray: the loop, tools and the SandboxActor pool, with approvals answered mid-run."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.session_actor import SessionConfig, drive_session, start_session
from aegis_ray.loop.events import ApprovalEvent, SessionEvent, StepEvent
from aegis_ray.sim import SimServer
from aegis_ray.tools import ApprovalRequest
from aegis_ray.types import ContainsCheck, RunSpec, RunStatus
from tests.helpers import sim_endpoint

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("ray_cluster")]


def config(sim: SimServer, workspace: Path, approval: str) -> SessionConfig:
    return SessionConfig(workspace=str(workspace), chain=("sim:sim-coder",), approval=approval,
                         endpoints={"sim:sim-coder": sim_endpoint(sim, "sim-coder")}, sandbox_backend="bubblewrap")


async def test_session_actor_codes_runs_and_answers(sim: SimServer, tmp_path: Path) -> None:
    events: list[SessionEvent] = []

    async def collect(event: SessionEvent) -> None:
        events.append(event)

    result = await drive_session(start_session(config(sim, tmp_path, "auto")),
                                 RunSpec(task="Compute the 20th Fibonacci number",
                                         checks=(ContainsCheck(text="6765"),)), collect, approver=None)
    assert result.status is RunStatus.SUCCEEDED and result.answer.text == "6765"
    assert "fib(20)" in (tmp_path / "solution.py").read_text()
    states = [e.step.state for e in events if isinstance(e, StepEvent)]
    assert states == ["plan", "act", "observe", "reflect", "act", "observe", "reflect", "act", "verify", "stop"]
    assert result.cost_usd and result.cost_usd > 0 and result.simulated


async def test_approvals_are_asked_of_the_driver(sim: SimServer, tmp_path: Path) -> None:
    asked: list[ApprovalRequest] = []

    async def approve_writes_only(request: ApprovalRequest) -> bool:
        asked.append(request)
        return request.tool == "write_file"

    seen: list[SessionEvent] = []

    async def collect(event: SessionEvent) -> None:
        seen.append(event)

    result = await drive_session(start_session(config(sim, tmp_path, "ask")),
                                 RunSpec(task="Compute the 20th Fibonacci number"), collect, approve_writes_only)
    assert [r.tool for r in asked] == ["write_file", "run_command"]
    assert sum(isinstance(e, ApprovalEvent) for e in seen) == 2
    assert (tmp_path / "solution.py").exists()  # approved
    assert result.answer.text == "I don't know."  # the run was denied, so the coder could not know
