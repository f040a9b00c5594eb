"""`SessionActor`: one agent session (workspace, conversation, state) as a Ray actor.

`run(spec)` streams `SessionEvent`s as JSON (a step as each happens, approval requests, then the
result). A mutating or executing tool under policy `ask` emits an `ApprovalEvent` and waits until the
driver calls `decide(request_id, approved)`; the actor's concurrency lets that call in mid-run.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import ray
from pydantic import BaseModel, ConfigDict
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from actors.registry import ActorEndpoint
from actors.sandbox_actor import SandboxPool
from aegis_ray.loop import AgentLoop, run_result
from aegis_ray.loop.events import SESSION_EVENT, ApprovalEvent, ResultEvent, SessionEvent, StepEvent
from aegis_ray.providers import EndpointCache, EndpointConfig, Gateway
from aegis_ray.sandbox import SandboxBackend, SandboxLimits
from aegis_ray.tools import (
    BUILTIN_TOOLS,
    ApprovalPolicy,
    ApprovalRequest,
    Approver,
    ToolContext,
    ToolRegistry,
    Workspace,
)
from aegis_ray.types import RunResult, RunSpec, Step


class SessionConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    workspace: str
    chain: tuple[str, ...]
    endpoints: dict[str, EndpointConfig]
    approval: ApprovalPolicy = "ask"
    sandbox_backend: SandboxBackend = "auto"
    sandbox_image: str | None = None
    sandbox_pool_size: int = 2
    limits: SandboxLimits = SandboxLimits()
    stuck_repeats: int = 3


@ray.remote(num_cpus=0, max_concurrency=8)
class SessionActor:
    def __init__(self, config: SessionConfig) -> None:
        self._config = config
        self._pending: dict[str, asyncio.Future[bool]] = {}
        self._gateway = Gateway(EndpointCache(lambda model: ActorEndpoint(config.endpoints[model])), config.chain)
        self._context = ToolContext(workspace=Workspace(Path(config.workspace)),
                                    sandbox=SandboxPool(config.sandbox_pool_size, config.sandbox_backend,
                                                        config.sandbox_image),
                                    limits=config.limits)

    async def run(self, spec: RunSpec) -> AsyncIterator[bytes]:
        events: asyncio.Queue[SessionEvent | None] = asyncio.Queue()

        async def on_step(step: Step) -> None:
            await events.put(StepEvent(step=step))

        async def ask(request: ApprovalRequest) -> bool:
            request_id = uuid.uuid4().hex
            decision: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            self._pending[request_id] = decision
            await events.put(ApprovalEvent(request_id=request_id, request=request))
            return await decision

        registry = ToolRegistry(BUILTIN_TOOLS, policy=self._config.approval, approver=ask)
        loop = AgentLoop(self._gateway, registry, self._context, on_step=on_step,
                         stuck_repeats=self._config.stuck_repeats)

        async def drive() -> None:
            try:
                state = await loop.run(spec)
                await events.put(ResultEvent(result=run_result(state)))
            finally:
                await events.put(None)

        task = asyncio.create_task(drive())
        while (event := await events.get()) is not None:
            yield SESSION_EVENT.dump_json(event)
        await task  # re-raises anything the loop did not turn into a state

    async def decide(self, request_id: str, approved: bool) -> bool:
        """Answer a pending approval; False if there is no such request (already answered)."""
        pending = self._pending.pop(request_id, None)
        if pending is None or pending.done():
            return False
        pending.set_result(approved)
        return True


EventListener = Callable[[SessionEvent], Awaitable[None]]


def start_session(config: SessionConfig) -> ray.actor.ActorHandle:
    """A SessionActor on this node: the workspace is a local directory of the caller's."""
    here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
    return SessionActor.options(scheduling_strategy=here).remote(config)


async def drive_session(session: ray.actor.ActorHandle, spec: RunSpec, on_event: EventListener,
                        approver: Approver | None) -> RunResult:
    """Run `spec` on `session`, handing every event to `on_event` and approval asks to `approver`
    (none: every ask is denied, the gate fails closed)."""
    result: RunResult | None = None
    async for ref in session.run.remote(spec):
        event = SESSION_EVENT.validate_json(await ref)
        await on_event(event)
        if isinstance(event, ApprovalEvent):
            approved = await approver(event.request) if approver else False
            await session.decide.remote(event.request_id, approved)
        elif isinstance(event, ResultEvent):
            result = event.result
    if result is None:
        raise RuntimeError("the session ended without a result")
    return result
