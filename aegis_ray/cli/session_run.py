"""A session run from the CLI: `aegis run --code` and `aegis approve` drive one on a SessionActor of
this node and print its events as they happen. Cancelled (Ctrl-C under `interrupt.interruptible`),
it stops at a safe point, recorded `cancelled` and resumable; `raise_if_cancelled` says so."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aegis_ray.cli.common import err
from aegis_ray.cli.interrupt import Cancelled
from aegis_ray.config import Settings
from aegis_ray.types import RunResult, RunSpec, RunStatus

if TYPE_CHECKING:
    from aegis_ray.session import SessionSpec


async def drive(settings: Settings, session: SessionSpec, spec: RunSpec, run_id: str,
                configure: Callable[[str], Any], *, quiet: bool) -> RunResult:
    """Run (or resume) `run_id` on a SessionActor of this node, printing its events live. Cancelled,
    the run's result is `cancelled` (or, if the session could not say, the cancellation propagates)."""
    from actors.session_actor import drive_session, start_session
    from aegis_ray.loop.events import ApprovalEvent, SessionEvent, StepEvent
    from aegis_ray.session import SessionConfig
    from aegis_ray.tools import terminal_approver

    err.print(f"[dim]run {run_id} · workspace {session.workspace} · approvals: {session.approval}"
              f"{' (parks without a terminal)' if session.approvals == 'park' else ''}[/]", soft_wrap=True)
    config = SessionConfig(spec=session, endpoints={m.name: configure(m) for m in session.models},
                           database_url=settings.database_dsn,
                           home=str(settings.home))

    async def show(event: SessionEvent) -> None:
        if quiet:
            return
        if isinstance(event, StepEvent):
            step = event.step
            err.print(f"[cyan]{step.state:>9}[/] {step.detail}", markup=True, soft_wrap=True, highlight=False)
            for result in step.tool_results:
                mark = "[green]ok[/]" if result.ok else f"[red]{result.error_type}[/]"
                first = (result.content.strip().splitlines() or [""])[-1][:160]
                err.print(f"          ↳ {result.name} {mark} {first}", markup=True, soft_wrap=True)
        elif isinstance(event, ApprovalEvent):
            err.print(f"[yellow]approval needed:[/] {event.request.tool} {event.request.arguments}", soft_wrap=True)

    approver = terminal_approver() if session.approvals == "live" else None
    return await drive_session(start_session(config), spec, run_id, show, approver)


def resume_hint(run_id: str) -> str:
    """The command that resumes a cancelled (or interrupted) session run."""
    return f"`aegis resume {run_id}`"


def raise_if_cancelled(result: RunResult) -> None:
    """`Cancelled`, saying how to resume the run, if the session run was cancelled."""
    if result.status is RunStatus.CANCELLED:
        raise Cancelled(f"run {result.run_id} is recorded as cancelled after {len(result.steps) - 1} steps "
                        f"({result.answer.reason}); resume it with {resume_hint(result.run_id)}")
