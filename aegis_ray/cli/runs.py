"""`aegis runs` and `aegis approve`: durable runs in the store, listed (a table that fits the
terminal), and a parked run's pending approvals decided before it resumes from its last committed
step."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from aegis_ray.cli.common import err, join_cluster, out, reports_errors, simulated_notice, simulator, store_call
from aegis_ray.cli.control import cli_actor
from aegis_ray.cli.interrupt import interruptible
from aegis_ray.cli.output import finish, print_table
from aegis_ray.cli.session_run import drive, raise_if_cancelled, resume_hint
from aegis_ray.config import load_settings
from aegis_ray.errors import BadInputError
from aegis_ray.types import RESUMABLE, RunStatus


@reports_errors
def runs(
    status: Annotated[RunStatus | None, typer.Option(help="Only runs with this status.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List recent runs from the store, newest first."""
    from aegis_ray.runner import run_kind

    records = store_call(load_settings(), lambda store: store.list_runs(limit, status))
    if as_json:
        out.print_json(json.dumps([{"run_id": r.run_id, "kind": run_kind(r), "status": r.status.value,
                                    "task": r.spec.task, "steps": r.step_count, "updated": r.updated}
                                   for r in records]))
        return
    if not records:
        err.print("no runs yet (`aegis run` records one)" if status is None else f"no {status.value} runs")
        return
    print_table(["run", "kind", "status", "steps", "task"],
                [[r.run_id, run_kind(r), r.status.value, str(r.step_count), r.spec.task[:TASK_CHARS]]
                 for r in records], squeeze=4)


TASK_CHARS = 100  # of a task, listed; the table cuts it further to fit the terminal


@reports_errors
def approve(
    run_id: Annotated[str, typer.Argument(help="The parked run.")],
    deny: Annotated[bool, typer.Option("--deny", help="Deny instead of approve.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Decide a parked run's pending approvals, then resume it from its last committed step."""
    _continue(run_id, not deny, as_json)


@reports_errors
def resume(
    run_id: Annotated[str | None, typer.Argument(help="A cancelled, interrupted or parked session run; none: "
                                                      "set the kill switch back to running.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Resume a session run from its last committed step (a run parked on approvals parks again
    until they are decided with `aegis approve`). Without a run: undo `aegis stop`."""
    if run_id is None:
        from aegis_ray.cli.control import resume_work

        resume_work(as_json)
        return
    _continue(run_id, None, as_json)


def _continue(run_id: str, approved: bool | None, as_json: bool) -> None:
    """Decide the run's pending approvals (unless `approved` is None), then drive it on from its
    last committed step; Ctrl-C records it cancelled again."""
    from aegis_ray.runner import endpoint_configurer
    from aegis_ray.session import SessionSpec

    settings = load_settings()

    async def load(store: Any) -> tuple[Any, int]:
        record = await store.load_run(run_id)
        if record is None or record.session is None:
            raise BadInputError(f"no resumable run {run_id!r}", hint="list session runs with `aegis runs`")
        if record.status not in RESUMABLE:
            raise BadInputError(f"run {run_id} is {record.status.value}: there is nothing to resume",
                                hint="resume a cancelled, running or parked run (`aegis runs` lists them)")
        if approved is None:
            return record, 0
        decided = await store.decide_approval(run_id, approved=approved)
        await store.audit(cli_actor(), "approval.decide", {"run_id": run_id, "approved": approved,
                                                           "requests": decided}, tenant=record.tenant)
        return record, decided

    with interruptible() as interrupt:
        record, decided = store_call(settings, load)
        if approved is not None:
            err.print(f"[dim]{'approved' if approved else 'denied'} {decided} pending request(s) of {run_id}[/]")
        session = SessionSpec.model_validate(record.session)
        needs_sim = any(m.simulated for m in session.models) and not settings.sim_url
        with simulator(needs_sim) as sim_url:
            join_cluster(settings)
            interrupt.check()
            result = interrupt.run(drive(settings, session, record.spec, run_id, endpoint_configurer(settings, sim_url),
                                         quiet=as_json),
                                   f"run {run_id} is stopped; `aegis runs` shows its state, and "
                                   f"{resume_hint(run_id)} resumes it")
            raise_if_cancelled(result)
    if result.simulated:
        simulated_notice(result.model)
    finish(result, as_json)
