"""A session run from the CLI: `aegis run --code` and `aegis approve` drive one on a SessionActor of
this node and print its events as they happen (`aegis chat` prints them its own way, with the same
step lines). Cancelled (Ctrl-C under `interrupt.interruptible`), it stops at a safe point, recorded
`cancelled` and resumable; `raise_if_cancelled` says so. `session_spec` is what a session of these
commands is: workspace, models, approvals, sandbox, security, compaction and MCP servers."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape

from aegis_ray.cli.common import err
from aegis_ray.cli.interrupt import Cancelled
from aegis_ray.config import Settings
from aegis_ray.model_ref import ModelRef
from aegis_ray.tools.approval import ApprovalPolicy
from aegis_ray.types import RunResult, RunSpec, RunStatus, Step, new_id

if TYPE_CHECKING:
    from aegis_ray.profiles import Profile
    from aegis_ray.session import SessionSpec
    from aegis_ray.verify import VerificationPolicy


def session_spec(settings: Settings, chain: tuple[ModelRef, ...], workspace: Path | None, policy: ApprovalPolicy,
                 verification: VerificationPolicy | None = None, mcp: Sequence[str] = (), *,
                 live: bool | None = None, tools: tuple[str, ...] | None = None) -> SessionSpec:
    """A session in `workspace` (default: a new one under the Aegis home), with the MCP servers of
    aegis.toml and of `mcp` (`--mcp` flags), offering `tools` (a profile's; None: every tool).
    Approvals are asked live when the policy asks and there is a terminal (`live`), else a run parks."""
    from aegis_ray.session import session_from_settings
    from aegis_ray.tools.mcp_client import server_from_flag

    root = (workspace or settings.home / "workspaces" / new_id("ws")).resolve()
    root.mkdir(parents=True, exist_ok=True)
    live = policy == "ask" and (sys.stdin.isatty() if live is None else live)
    return session_from_settings(settings, chain, root, policy, "live" if live else "park",
                                 verification=verification, mcp_servers=[server_from_flag(flag) for flag in mcp],
                                 tools=tools)


def agent_profile(settings: Settings, name: str | None) -> Profile | None:
    """The agent profile `--profile NAME` selects (the shipped ones, then the user's), or None."""
    if name is None:
        return None
    from aegis_ray.profiles import get_profile, profile_dirs

    return get_profile(name, profile_dirs(settings.home))


def step_lines(step: Step) -> list[str]:
    """A step as the console shows it (Rich markup): its state and detail, then each tool result."""
    lines = [f"[cyan]{step.state:>9}[/] {escape(step.detail)}"]
    for result in step.tool_results:
        mark = "[green]ok[/]" if result.ok else f"[red]{result.error_type}[/]"
        last = (result.content.strip().splitlines() or [""])[-1][:160]
        lines.append(f"          ↳ {result.name} {mark} {escape(last)}")
    return lines


def session_config(settings: Settings, session: SessionSpec, configure: Callable[[ModelRef], Any]) -> Any:
    """The `SessionConfig` of `session`: each model's endpoint, the store, the Aegis home."""
    from aegis_ray.session import session_config as config

    return config(settings, session, configure)


async def drive(settings: Settings, session: SessionSpec, spec: RunSpec, run_id: str,
                configure: Callable[[str], Any], *, quiet: bool) -> RunResult:
    """Run (or resume) `run_id` on a SessionActor of this node, printing its events live. Cancelled,
    the run's result is `cancelled` (or, if the session could not say, the cancellation propagates)."""
    from actors.session_actor import drive_session, start_session
    from aegis_ray.loop.events import ApprovalEvent, NoticeEvent, SessionEvent, StepEvent
    from aegis_ray.tools import terminal_approver
    from aegis_ray.tracing import traced

    err.print(f"[dim]run {run_id} · workspace {session.workspace} · approvals: {session.approval}"
              f"{' (parks without a terminal)' if session.approvals == 'park' else ''}[/]", soft_wrap=True)
    config = session_config(settings, session, configure)

    async def show(event: SessionEvent) -> None:
        if isinstance(event, NoticeEvent):
            err.print(f"[dim]{escape(event.text)}[/]", soft_wrap=True)
        elif quiet:
            return
        elif isinstance(event, StepEvent):
            for line in step_lines(event.step):
                err.print(line, soft_wrap=True, highlight=False)
        elif isinstance(event, ApprovalEvent):
            err.print(f"[yellow]approval needed:[/] {event.request.tool} {event.request.arguments}", soft_wrap=True)

    approver = terminal_approver() if session.approvals == "live" else None
    return await traced("aegis run", drive_session(start_session(config), spec, run_id, show, approver),
                        {"aegis.run.id": run_id})


def resume_hint(run_id: str) -> str:
    """The command that resumes a cancelled (or interrupted) session run."""
    return f"`aegis resume {run_id}`"


def raise_if_cancelled(result: RunResult) -> None:
    """`Cancelled`, saying how to resume the run, if the session run was cancelled (`StoppedError`,
    exit 5, if the kill switch stopped it)."""
    if result.status is RunStatus.CANCELLED and "kill switch" in (result.answer.reason or ""):
        from aegis_ray.control import StoppedError

        raise StoppedError(f"run {result.run_id} was parked by the kill switch after {len(result.steps) - 1} steps",
                           hint=f"`aegis resume` lifts the switch; then {resume_hint(result.run_id)} goes on")
    if result.status is RunStatus.CANCELLED:
        raise Cancelled(f"run {result.run_id} is recorded as cancelled after {len(result.steps) - 1} steps "
                        f"({result.answer.reason}); resume it with {resume_hint(result.run_id)}")
