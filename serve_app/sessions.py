"""Agent sessions over HTTP: started, continued and approved by their tenant, their events streamed.

A session is a durable session run in the store, its `RunSpec.tenant` the caller's (another
tenant's session is 404, as if it did not exist). Each turn (the first message, each next one, a
resume after approvals) runs on a `SessionActor` on this replica's node, as `aegis run --code` and
`aegis chat` do (`actors.session_actor`), and the actor ends with the turn. Approvals park: a turn
that needs one ends `awaiting_approval` with its requests pending in the store, and
`POST /api/sessions/{id}/approvals` decides them and resumes the run from its last committed step
(what `aegis approve` does), so a decision may come from any replica, any time later.

Events (server-sent): every step from the store (durable: a client that reconnects with `after`
misses nothing), and while this replica runs the turn, the model's text as it is written, notices
and errors, live; then the pending approvals, if the turn parked, and the result. The kill switch
refuses new sessions, messages and resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from aegis_ray import sse
from aegis_ray.errors import BadInputError, NotFoundError, ServiceUnavailableError
from aegis_ray.loop import run_result
from aegis_ray.loop.conversation import FollowUp
from aegis_ray.loop.events import ApprovalEvent, ResultEvent, SessionEvent, StepEvent
from aegis_ray.profiles import get_profile, profile_dirs
from aegis_ray.runner import SIMULATED_CODER_MODEL, plan_models
from aegis_ray.session import SessionSpec, session_config, session_from_settings
from aegis_ray.store import RunRecord, Store
from aegis_ray.tools.approval import ApprovalRequest
from aegis_ray.types import Budget, RunSpec, RunStatus, Step, new_id
from serve_app.auth import Principal
from serve_app.models import SessionDecision, SessionRequest, SessionTurn

if TYPE_CHECKING:
    from serve_app.service import AegisService

MAX_TURNS = 32
"""Turns running at once on one replica; past that, new ones are refused (503) until some end."""
KEEPALIVE_S = 15.0
"""An idle event stream sends an SSE comment this often, so proxies keep it open."""
POLL_S = 0.25
IDLE_S = 30.0
"""A turn running on another replica is followed from the store until it rests, or shows no new
step for this long."""
RESTING = frozenset(RunStatus) - {RunStatus.PENDING, RunStatus.RUNNING}


class Frame(NamedTuple):
    """One SSE frame of a turn, and the step it carries (None: text, a notice, an error...)."""

    text: str
    step: int | None = None


@dataclass
class Turn:
    """A turn running on this replica: its frames so far, for every stream that follows it."""

    frames: list[Frame] = field(default_factory=list)
    done: bool = False
    task: asyncio.Task[None] | None = None
    _grew: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, frame: Frame) -> None:
        self.frames.append(frame)
        self._wake()

    def finish(self) -> None:
        self.done = True
        self._wake()

    def _wake(self) -> None:
        self._grew.set()
        self._grew = asyncio.Event()

    async def wait(self, seen: int) -> None:
        """Until there are more than `seen` frames, or the turn is done."""
        while len(self.frames) <= seen and not self.done:
            await self._grew.wait()


def _frame(event: SessionEvent) -> Frame:
    step = event.step.index if isinstance(event, StepEvent) else None
    return Frame(sse.frame(event.model_dump_json(), event.type), step)


def _step_frame(step: Step) -> Frame:
    return _frame(StepEvent(step=step))


class SessionHub:
    """This replica's sessions: starts and continues them, and streams their events."""

    def __init__(self, service: AegisService) -> None:
        self.service = service
        self.turns: dict[str, Turn] = {}

    async def start(self, request: SessionRequest, caller: Principal) -> SessionTurn:
        svc = self.service
        await svc.ensure_running()
        settings = svc.settings
        agent = get_profile(request.profile, profile_dirs(settings.home)) if request.profile else None
        chain = plan_models(settings, request.model, (), SIMULATED_CODER_MODEL).chain
        run_id = new_id("run")
        workspace = (settings.home / "workspaces" / run_id).resolve()  # the server's choice, never the caller's
        workspace.mkdir(parents=True, exist_ok=True)
        tools = tuple(request.tools) if request.tools is not None else agent.tools if agent else None
        approval = request.approve or (agent.approval if agent else None) or settings.approval
        session = session_from_settings(settings, chain, workspace, approval, "park", tools=tools)
        budget = agent.budget_with(request.max_steps) if agent else Budget(max_steps=request.max_steps or 20)
        spec = RunSpec(task=request.task, model=request.model, budget=budget, tenant=caller.tenant,
                       system_prompt=agent.system_prompt if agent else None)
        store = await svc.store()
        await store.create_run(run_id, spec, session.model_dump(mode="json"))
        await store.audit(caller.actor, "session.start", {"run_id": run_id, "profile": request.profile},
                          tenant=caller.tenant)
        return self._begin(run_id, spec, session, None, after=-1)

    async def message(self, run_id: str, text: str, caller: Principal) -> SessionTurn:
        record = await self._session(run_id, caller.scope)
        await self.service.ensure_running()
        if record.status is RunStatus.AWAITING_APPROVAL:
            raise BadInputError(f"session {run_id} is waiting for approvals",
                                hint=f"POST /api/sessions/{run_id}/approvals decides them")
        return self._begin(run_id, record.spec, SessionSpec.model_validate(record.session), FollowUp(text=text),
                           after=record.step_count - 1)

    async def decide(self, run_id: str, approved: bool, caller: Principal) -> SessionDecision:
        """Decide the session's pending approvals (audited), and resume it if it was parked on them."""
        record = await self._session(run_id, caller.scope)
        parked = record.status is RunStatus.AWAITING_APPROVAL and run_id not in self.turns
        if parked:
            await self.service.ensure_running()
        decided = await self.service.decide(run_id, approved, caller)
        turn = None
        if parked:
            turn = self._begin(run_id, record.spec, SessionSpec.model_validate(record.session), None,
                               after=record.step_count - 1)
        return SessionDecision(session_id=run_id, decided=decided, turn=turn)

    async def events(self, run_id: str, after: int, scope: str | None) -> AsyncIterator[str]:
        """The session's events after step `after` (checked now: another tenant's session is 404)."""
        await self._session(run_id, scope)
        return self._stream(run_id, after)

    # --- turns ---------------------------------------------------------------------------------

    def _begin(self, run_id: str, spec: RunSpec, session: SessionSpec, message: FollowUp | None, *,
               after: int) -> SessionTurn:
        # No await from the caller's checks to here: two requests cannot both start a turn.
        if run_id in self.turns:
            raise BadInputError(f"session {run_id} is still answering",
                                hint=f"wait for its `result` event (GET /api/sessions/{run_id}/events)")
        if len(self.turns) >= MAX_TURNS:
            raise ServiceUnavailableError(f"{MAX_TURNS} session turns are running on this replica",
                                          hint="try again when one has ended, or add replicas")
        turn = self.turns[run_id] = Turn()
        turn.task = asyncio.create_task(self._drive(turn, run_id, spec, session, message))
        return SessionTurn(session_id=run_id, status=RunStatus.RUNNING.value, after=after,
                           events=f"/api/sessions/{run_id}/events?after={after}")

    async def _drive(self, turn: Turn, run_id: str, spec: RunSpec, session: SessionSpec,
                     message: FollowUp | None) -> None:
        import ray

        from actors.session_actor import drive_session, start_session

        actor = None
        try:
            actor = start_session(session_config(self.service.settings, session, self.service.configure))

            async def on_event(event: SessionEvent) -> None:
                if isinstance(event, ResultEvent) and event.result.status is RunStatus.AWAITING_APPROVAL:
                    for frame in await self._pending(run_id):
                        turn.add(frame)
                turn.add(_frame(event))

            await drive_session(actor, spec, run_id, on_event, None, message=message, stream=True)
        except Exception as error:  # the stream says what went wrong; the run stays resumable in the store
            hint = getattr(error, "hint", None)
            turn.add(Frame(sse.frame({"detail": str(error), "hint": hint, "error": type(error).__name__}, "error")))
        finally:
            self.turns.pop(run_id, None)
            turn.finish()
            if actor is not None:
                with contextlib.suppress(Exception):
                    await actor.close.remote()
                ray.kill(actor, no_restart=True)

    # --- events --------------------------------------------------------------------------------

    async def _stream(self, run_id: str, after: int) -> AsyncIterator[str]:
        store = await self.service.store()
        sent = after
        turn = self.turns.get(run_id)
        record = await store.load_run(run_id)
        assert record is not None
        for step in await run_steps(store, record):
            if step.index > sent:
                yield _step_frame(step).text
                sent = step.index
        if turn is not None:
            async for text in _follow(turn, sent):
                yield text
            return
        async for text in self._from_store(store, run_id, sent):
            yield text

    async def _from_store(self, store: Store, run_id: str, sent: int) -> AsyncIterator[str]:
        """A session this replica does not run now: its steps as the store gets them, until it rests."""
        idle = 0.0
        while True:
            record = await store.load_run(run_id)
            assert record is not None
            new = [s for s in await run_steps(store, record) if s.index > sent]
            for step in new:
                yield _step_frame(step).text
                sent = step.index
            idle = 0.0 if new else idle + POLL_S
            if record.status in RESTING or idle >= IDLE_S:
                break
            await asyncio.sleep(POLL_S)
        if record.status is RunStatus.AWAITING_APPROVAL:
            for frame in await self._pending(run_id):
                yield frame.text
        if record.state is not None:
            yield _frame(ResultEvent(result=run_result(record.state))).text

    async def _pending(self, run_id: str) -> list[Frame]:
        """The run's pending approval requests, as `approval` events."""
        approvals = await (await self.service.store()).run_approvals(run_id)
        return [_frame(ApprovalEvent(request_id=a["request_id"], request=ApprovalRequest.model_validate(a["request"])))
                for a in approvals if a["approved"] is None]

    async def _session(self, run_id: str, scope: str | None) -> RunRecord:
        record = await self.service.owned_run(run_id, scope)
        if record.session is None:
            raise NotFoundError(f"no session {run_id!r}",
                                hint="POST /api/sessions starts one; GET /api/runs lists runs")
        return record


async def _follow(turn: Turn, sent: int) -> AsyncIterator[str]:
    """`turn`'s frames after step `sent` (a stream that opens mid-turn skips what the store gave it),
    live until the turn is done; an SSE comment every `KEEPALIVE_S` while nothing happens."""
    seen = 1 + max((i for i, f in enumerate(turn.frames) if f.step is not None and f.step <= sent), default=-1)
    while True:
        for frame in turn.frames[seen:]:
            seen += 1
            if frame.step is None or frame.step > sent:
                yield frame.text
        if turn.done:
            return
        try:
            await asyncio.wait_for(turn.wait(seen), KEEPALIVE_S)
        except TimeoutError:
            yield ": keepalive\n\n"


async def run_steps(store: Store, record: RunRecord) -> list[Step]:
    """A run's steps: its step log, or, where the log was pruned, the steps its checkpoint keeps."""
    steps = await store.steps(record.run_id)
    if not steps and record.state is not None:
        steps = record.state.steps
    return steps
