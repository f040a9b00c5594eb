"""`SessionActor`: one durable agent session (workspace, conversation, state) as a Ray actor.

`run(spec, run_id, hot, message, stream)` streams `SessionEvent`s as JSON: with `message`, the
user's next message continues the conversation `run_id` (`aegis_ray.loop.conversation`; its
`user` step committed like any other, once however often it is delivered); with `stream`, the
model's text goes out as it is written. The session's MCP servers are mounted on its first run (or
`open`), each mounted or left out said in a `NoticeEvent`. Every step is committed to the store
(fenced by the epoch this actor claimed) before its event goes out, so a session that dies (killed
actor, SIGKILLed worker) is restarted by Ray and `run` again resumes from the last committed step:
from its hot copy in the object store when that copy is the store's latest checkpoint (the copies
are owned by the cluster's `CheckpointCache`, a detached actor, so they outlive any driver), else
from the store.
Tool side effects are keyed by run/step/call and recorded in the store, so none repeats.

Approvals: with a live driver (`approvals="live"`) an `ApprovalEvent` goes out and the run waits
for `decide`; with none (`"park"`) the run parks as `awaiting_approval`, durably, until someone
decides (`aegis approve RUN`) and it is resumed.

Cancellation (Ctrl-C in the driver): `cancel` stops the run at a safe point and records it
`cancelled`, resumable like a parked run. A model call (or a check, or a wait for approval) is
abandoned at once: it has no effect. Tool calls in flight get `SETTLE_S` to finish and be committed
with their step; past that they are abandoned too, their effects left begun and never finished,
which the ledger reports as unknown (and a resumed run is told so). `drive_session` then kills the
actor, and its sandboxes with it.

What a session is, its tools under the security layer and the loop a run drives are the engine's
(`aegis_ray.session`); this actor adds only what Ray does: the claim and its epoch, the event
stream, approvals waited on, restarts.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import ray
from ray.exceptions import RayActorError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from actors.checkpoint_cache import hot_checkpoint, keep_hot
from actors.placement import this_node
from actors.registry import ActorEndpoint
from actors.sandbox_actor import SandboxPool
from aegis_ray.control.budget import spend_gate
from aegis_ray.control.switch import KillSwitch, SwitchState
from aegis_ray.errors import ApprovalPendingError
from aegis_ray.loop import run_result
from aegis_ray.loop.conversation import FollowUp, continue_with, received
from aegis_ray.loop.events import (
    SESSION_EVENT,
    ApprovalEvent,
    NoticeEvent,
    ResultEvent,
    SessionEvent,
    StepEvent,
    TextEvent,
)
from aegis_ray.providers import EndpointCache, Gateway
from aegis_ray.security import scrub_logs
from aegis_ray.session import Session, SessionConfig
from aegis_ray.store import CheckpointTag, Store, open_store
from aegis_ray.telemetry import flush_telemetry
from aegis_ray.tools import ApprovalRequest, Approver, ToolContext
from aegis_ray.tools.base import EffectLedger
from aegis_ray.tools.workspace import Workspace
from aegis_ray.tracing import TraceCarrier, extracted, inject
from aegis_ray.types import RESUMABLE, RunResult, RunSpec, RunState, RunStatus, Step

__all__ = ["SessionActor", "drive_session", "start_session"]

SETTLE_S = 5.0
"""How long a cancelled run's tool calls in flight may take to finish before they are abandoned."""


class _Stopped(Exception):
    """Raised at a step boundary of a run asked to stop: everything before it is committed."""


@dataclass
class _Running:
    """A run in progress on this actor, as `cancel` sees it."""

    stop: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Future[RunResult | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())
    task: asyncio.Task[None] | None = None
    next_state: str = "plan"  # what the loop runs now: "observe" means tool calls
    halted: bool = False  # the kill switch (not a person) stopped it

    def end(self, result: RunResult | None) -> None:
        if not self.ended.done():
            self.ended.set_result(result)


@ray.remote(num_cpus=0, max_concurrency=8, max_restarts=-1)
class SessionActor:
    def __init__(self, config: SessionConfig) -> None:
        self._config = config
        spec = config.spec
        self._pending: dict[str, asyncio.Future[bool]] = {}
        self._runs: dict[str, _Running] = {}
        self._store: Store | None = None
        self._owner = f"session:{ray.get_runtime_context().get_actor_id()}"
        self._gateway = Gateway(EndpointCache(lambda model: ActorEndpoint(config.endpoints[model.name])), spec.chain)
        self._session = Session(spec, self._gateway, secrets=config.provider_keys())
        scrub_logs(config.provider_keys())
        self._sandboxes = SandboxPool(spec.sandbox_pool_size, spec.sandbox_backend, spec.sandbox_image)
        self._context = ToolContext(workspace=Workspace(Path(spec.workspace)), limits=spec.limits,
                                    sandbox=self._sandboxes)

    async def pid(self) -> int:
        return os.getpid()

    async def open(self) -> list[str]:
        """Mount the session's MCP servers now: one line for each, mounted or left out (said once)."""
        return await self._session.open()

    async def tools(self) -> list[tuple[str, str]]:
        """The name and description of each tool the session's model is offered."""
        await self._session.open()
        return [(spec.name, spec.description) for spec in self._session.toolbox(None).specs]

    async def close(self) -> None:
        """Close the session's MCP servers."""
        await self._session.aclose()

    async def _open_store(self) -> Store:
        if self._store is None:
            self._store = await open_store(self._config.database_url, Path(self._config.home))
        return self._store

    async def run(self, spec: RunSpec, run_id: str, hot: RunState | None = None, message: FollowUp | None = None,
                  stream: bool = False, trace: TraceCarrier | None = None) -> AsyncIterator[bytes]:
        """`trace`: the driver's trace context, which the run's spans join."""
        running = self._runs[run_id] = _Running()  # before any await: a `cancel` sent after this call finds it
        try:
            async for event in self._run(spec, run_id, hot, running, message, stream, trace):
                yield event
        finally:
            running.end(None)

    async def _run(self, spec: RunSpec, run_id: str, hot: RunState | None, running: _Running,
                   message: FollowUp | None, stream: bool, trace: TraceCarrier | None) -> AsyncIterator[bytes]:
        for notice in await self._session.open():
            yield SESSION_EVENT.dump_json(NoticeEvent(text=notice))
        store = await self._open_store()
        # every model call of the run within the cost governor's limits for its tenant
        self._session.gateway = self._gateway.gated(spend_gate(store, self._config.budgets, spec.tenant,
                                                               self._config.prices))
        await store.create_run(run_id, spec, self._config.spec.model_dump(mode="json"))
        epoch = await store.claim_run(run_id, self._owner, self._config.lease_s)
        record = await store.load_run(run_id)
        assert record is not None
        if hot is None:  # resumed: the cluster's hot copy, if it is the store's latest checkpoint
            hot = await hot_checkpoint(run_id, await store.checkpoint_tag(run_id))
        state = hot if hot is not None and len(hot.steps) == record.step_count else record.state
        if message is not None and state is not None and not received(state, message):
            step = continue_with(state, message)
            await store.commit_step(run_id, epoch, step, state)
            yield SESSION_EVENT.dump_json(StepEvent(step=step, checkpoint=state.model_copy(deep=True)))
        elif state is not None and state.status not in RESUMABLE:
            result = run_result(state)
            running.end(result)
            yield SESSION_EVENT.dump_json(ResultEvent(result=result))
            return
        running.next_state = state.state if state is not None else "plan"
        events: asyncio.Queue[SessionEvent | None] = asyncio.Queue()

        async def on_step(step: Step, current: RunState) -> None:
            await store.commit_step(run_id, epoch, step, current)  # committed before anyone hears of it
            await keep_hot(run_id, CheckpointTag(epoch=epoch, step_count=len(current.steps)), current)
            running.next_state = current.state
            await events.put(StepEvent(step=step, checkpoint=current.model_copy(deep=True)))
            if running.stop.is_set():
                raise _Stopped
            if await switch.state() is SwitchState.STOPPED:  # a kill switch flipped: park before the next step
                running.halted = True
                raise _Stopped

        async def ask(request: ApprovalRequest) -> bool:
            request_id = request.key or f"{run_id}/{len(self._pending)}"
            decided = await store.approval(request_id)
            if decided is not None:
                return decided
            await store.request_approval(request_id, run_id, request.model_dump(mode="json"))
            if self._config.spec.approvals == "park":
                raise ApprovalPendingError(f"{request.tool} needs approval (run {run_id})")
            decision: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            self._pending[request_id] = decision
            await events.put(ApprovalEvent(request_id=request_id, request=request))
            approved = await decision
            await store.decide_approval(run_id, approved, request_id)
            return approved

        async def on_text(text: str) -> None:
            await events.put(TextEvent(text=text))

        context = replace(self._context, ledger=EffectLedger(store, run_id, epoch))
        loop = self._session.loop(context, ask, on_step, on_text if stream else None,
                                  node=this_node())
        switch = KillSwitch(store)

        async def drive() -> None:
            try:
                try:
                    if running.stop.is_set():
                        raise _Stopped
                    if await switch.state() is SwitchState.STOPPED:
                        running.halted = True
                        raise _Stopped
                    with extracted(trace):
                        final = await loop.run(spec, state or RunState(run_id=run_id, spec=spec))
                    await store.set_status(run_id, epoch, final.status)
                except (_Stopped, asyncio.CancelledError):
                    final = await _record_cancelled(store, run_id, epoch, spec, halted=running.halted)
                if trace is not None:  # the driver may end this process as soon as it has the result
                    await self._sandboxes.flush_telemetry()
                    await asyncio.to_thread(flush_telemetry)
                result = run_result(final)
                running.end(result)
                await events.put(ResultEvent(result=result))
            finally:
                await events.put(None)

        task = running.task = asyncio.create_task(drive())
        while (event := await events.get()) is not None:
            yield SESSION_EVENT.dump_json(event)
        await task  # re-raises anything the loop did not turn into a state

    async def compact(self, run_id: str) -> str:
        """Compact the conversation `run_id` now, the compaction committed as its step; what was done."""
        store = await self._open_store()
        record = await store.load_run(run_id)
        if record is None or record.state is None or not record.state.messages:
            return "nothing to compact yet"
        epoch = await store.claim_run(run_id, self._owner, self._config.lease_s)

        async def commit(step: Step, state: RunState) -> None:
            await store.commit_step(run_id, epoch, step, state)

        async def nobody(_: ApprovalRequest) -> bool:
            return False

        await self._session.open()
        context = replace(self._context, ledger=EffectLedger(store, run_id, epoch))
        return await self._session.loop(context, nobody, commit).compact_now(record.state)

    async def cancel(self, run_id: str, settle_s: float = SETTLE_S) -> RunResult | None:
        """Stop `run_id` at a safe point and record it cancelled (resumable): its result then, or
        None if it never ran here. See the module's docstring for what is abandoned and when."""
        running = self._runs.get(run_id)
        if running is None:
            return None
        running.stop.set()
        if running.task is not None and (running.next_state != "observe" or self._pending):
            running.task.cancel()  # a model call, a check or a wait for approval: nothing to settle
        done, _ = await asyncio.wait([running.ended], timeout=settle_s)
        if not done and running.task is not None:
            running.task.cancel()
        done, _ = await asyncio.wait([running.ended], timeout=settle_s)
        return running.ended.result() if done else None

    async def decide(self, request_id: str, approved: bool) -> bool:
        """Answer a pending approval; False if there is no such request (already answered)."""
        pending = self._pending.pop(request_id, None)
        if pending is None or pending.done():
            return False
        pending.set_result(approved)
        return True


async def _record_cancelled(store: Store, run_id: str, epoch: int, spec: RunSpec, *, halted: bool = False
                            ) -> RunState:
    """The run as last committed, with a `cancelled` step: its status, and what its resume will meet
    (`halted`: the kill switch stopped it, and `aegis resume RUN` goes on after `aegis resume`)."""
    record = await store.load_run(run_id)
    state = record.state if record is not None and record.state is not None else RunState(run_id=run_id, spec=spec)
    unknown = await store.unsettled_effects(run_id)
    detail = "stopped by the kill switch at a safe point" if halted else "stopped at a safe point"
    if unknown:
        detail += (f"; {len(unknown)} tool call(s) in flight may or may not have taken effect: their outcome is "
                   "unknown, and the resumed run is told so")
    step = Step(index=len(state.steps), state="cancelled", detail=detail)
    state.steps.append(step)
    state.status = RunStatus.CANCELLED
    await store.commit_step(run_id, epoch, step, state)
    return state


EventListener = Callable[[SessionEvent], Awaitable[None]]


def start_session(config: SessionConfig) -> ray.actor.ActorHandle:
    """A SessionActor on this node: the workspace is a local directory of the caller's."""
    here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
    return SessionActor.options(scheduling_strategy=here).remote(config)


async def drive_session(session: ray.actor.ActorHandle, spec: RunSpec, run_id: str, on_event: EventListener,
                        approver: Approver | None, *, max_restarts: int = 100, message: FollowUp | None = None,
                        stream: bool = False) -> RunResult:
    """Run `spec` durably on `session` (or, with `message`, continue the conversation `run_id` with
    it): every event to `on_event` (with `stream`, the model's text as it is written too), approval
    asks to `approver` (none: denied). If the session dies, wait for Ray to restart it and resume
    (from the cluster's hot copy of its last checkpoint, `actors.checkpoint_cache`).

    If the calling task is cancelled (Ctrl-C), the session stops the run at a safe point and records
    it cancelled, the actor is killed (its sandboxes with it), and the cancelled result is returned;
    the cancellation is re-raised only when the session could not say what became of the run."""
    restarts = 0
    trace = inject()
    while True:
        try:
            async for ref in session.run.remote(spec, run_id, None, message, stream, trace):  # resumes read the cache
                event = SESSION_EVENT.validate_json(await ref)
                if isinstance(event, StepEvent) and event.checkpoint is not None:
                    event = event.model_copy(update={"checkpoint": None})  # the cluster's cache keeps it hot
                await on_event(event)
                if isinstance(event, ApprovalEvent):
                    approved = await approver(event.request) if approver else False
                    await session.decide.remote(event.request_id, approved)
                elif isinstance(event, ResultEvent):
                    return event.result
            raise RuntimeError("the session ended without a result")
        except RayActorError:
            restarts += 1
            if restarts > max_restarts:
                raise
            await asyncio.sleep(0.2)  # Ray is restarting the actor (max_restarts=-1)
        except asyncio.CancelledError:
            result = await _cancel(session, run_id)
            if result is None:
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()  # handled: the run's outcome is the result
            return result


async def _cancel(session: ray.actor.ActorHandle, run_id: str) -> RunResult | None:
    """Have `session` stop `run_id` and record it cancelled, then kill the actor: no worker is left
    running the session. None if the session could not say (it had died)."""
    try:
        return await session.cancel.remote(run_id)
    except RayActorError:
        return None
    finally:
        ray.kill(session, no_restart=True)
