"""The agent loop: a typed state machine, in one file a reader can hold in their head.

    plan      assemble the conversation: system prompt, task, tool specs
    act       one model turn through the gateway (forced tool use on the first turn if asked), sent
              the context view: long tool outputs cut to a handle (`aegis_ray.memory.compaction`)
    compact   the context passed its token budget: older turns folded into a note by the model
    observe   run the turn's tool calls, in parallel, through the registry (validation, approvals)
    reflect   stuck? over budget? else act again
    verify    the answer must pass the verifier (`aegis_ray.checks.declared_checks` by default; a
              verification policy with `aegis_ray.verify.policy.policy_verifier`)
    stop      accepted; or abstained / failed / stuck / budget_exceeded with the reason

Every state appends a `Step` to the run's log and hands it, with the whole `RunState`, to
`on_step` (live events, durable checkpoints), with what the tools hold (`ToolBox.checkpoint`: the
quarantine's variables). A run resumes from any committed `RunState`; tool calls carry the effect
key `run/turn/call`, so a re-executed step never repeats a side effect. A finished run goes on
with the user's next message (`aegis_ray.loop.conversation`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from aegis_ray.checks import Verifier, declared_checks
from aegis_ray.config import CompactionSettings
from aegis_ray.errors import AegisError, ApprovalPendingError, MalformedResponseError
from aegis_ray.loop.guards import spend_breach, stuck_reason, turn_breach
from aegis_ray.loop.states import TERMINAL, LoopState, check_transition
from aegis_ray.memory.compaction import RECALL_SPEC, RECALL_TOOL, compact, context_view, plan_compaction, recall
from aegis_ray.providers.gateway import Gateway
from aegis_ray.telemetry import agent_span, record_agent_run, record_tool_result, tool_span
from aegis_ray.tools.base import ToolContext
from aegis_ray.tools.registry import ToolBox
from aegis_ray.types import (
    Answer,
    Completion,
    Message,
    ModelRequest,
    RunResult,
    RunSpec,
    RunState,
    RunStatus,
    Step,
    StreamEnd,
    TextDelta,
    ToolCall,
    ToolResult,
)

AGENT_SYSTEM_PROMPT = (
    "You are Aegis, an autonomous agent working in a sandboxed workspace. Use the tools to act: paths "
    "are relative to the workspace, and code runs without network access. When the task is done, reply "
    "with the final answer only. If you cannot find the answer, say you don't know rather than guess."
)

StepListener = Callable[[Step, RunState], Awaitable[None]]
TextListener = Callable[[str], Awaitable[None]]
"""Hears the model's text as it is written (the loop then streams its calls)."""


class AgentLoop:
    def __init__(self, gateway: Gateway, tools: ToolBox, context: ToolContext, *,
                 verifier: Verifier = declared_checks, on_step: StepListener | None = None,
                 stuck_repeats: int = 3, system_prompt: str = AGENT_SYSTEM_PROMPT,
                 compaction: CompactionSettings | None = None, on_text: TextListener | None = None,
                 node: str | None = None) -> None:
        """`node`: where this loop runs (a Ray node id), recorded on each step it takes."""
        self.node = node
        self.gateway = gateway
        self.tools = tools
        self.context = context
        self.verifier = verifier
        self.on_step = on_step
        self.stuck_repeats = stuck_repeats
        self.system_prompt = system_prompt
        self.compaction = compaction if compaction is not None and compaction.enabled else None
        self.on_text = on_text

    async def run(self, spec: RunSpec, state: RunState | None = None) -> RunState:
        """Run `spec` to a terminal state (or continue `state` from where it stopped), under an
        `invoke_agent` span."""
        state = state or RunState(spec=spec)
        with agent_span(spec.model or self.gateway.chain[0].name, state.run_id) as span:
            state = await self._drive(state)
            record_agent_run(span, state)
            return state

    async def _drive(self, state: RunState) -> RunState:
        self.tools.restore(state.tool_state)
        state.status = RunStatus.RUNNING
        clock_origin = time.monotonic() - state.elapsed_s
        current = LoopState(state.state)
        detail = ""
        while current not in TERMINAL:
            state.elapsed_s = time.monotonic() - clock_origin
            handler = getattr(self, f"_{current.value}")
            target, detail, extra = await handler(state)
            check_transition(current, target)
            if target is LoopState.AWAITING_APPROVAL:
                # Park: a resume re-runs this state; calls already done replay from the ledger.
                state.status = RunStatus.AWAITING_APPROVAL
                await self._record(state, current, detail, **extra)
                return state
            state.state = target.value  # where a resume would continue
            await self._record(state, current, detail, **extra)
            current = target
        state.status = TERMINAL[current]
        if state.answer is None:
            state.answer = Answer(text="", abstained=current is LoopState.ABSTAINED, reason=detail)
        await self._record(state, current, state.answer.reason or f"{state.status.value}: {state.answer.text[:200]}")
        return state

    async def _record(self, state: RunState, ran: LoopState, detail: str, **extra: object) -> None:
        """Append what state `ran` did to the step log, and tell the listener."""
        step = Step(index=len(state.steps), state=ran.value, detail=detail, node=self.node,
                    **extra)  # type: ignore[arg-type]
        state.steps.append(step)
        state.tool_state = self.tools.checkpoint()
        if self.on_step is not None:
            await self.on_step(step, state)

    async def _plan(self, state: RunState) -> tuple[LoopState, str, dict]:
        attached = [self.tools.admit(a) for a in state.spec.attachments]
        task = "\n\n".join([state.spec.task, *attached])
        state.messages = [Message.system(state.spec.system_prompt or self.system_prompt), Message.user(task)]
        names = ", ".join(spec.name for spec in self.tools.specs) or "none"
        return LoopState.ACT, f"task received; tools: {names}", {}

    async def _act(self, state: RunState) -> tuple[LoopState, str, dict]:
        budget = state.spec.budget
        breach = turn_breach(budget, state) or spend_breach(budget, state)
        if breach:
            return LoopState.BUDGET_EXCEEDED, breach, {}
        forced = state.spec.require_tool if state.turns == 0 and state.spec.require_tool else "auto"
        messages, tools = tuple(state.messages), self.tools.specs
        if self.compaction is not None:
            view = context_view(state.messages, tools, self.compaction)
            if plan_compaction(state.messages, view, self.compaction) is not None:
                return LoopState.COMPACT, (f"context of {view.tokens} tokens passes the budget of "
                                           f"{self.compaction.budget_tokens}: compacting older turns"), {}
            messages, tools = view.messages, (*tools, RECALL_SPEC) if view.recall else tools
        request = ModelRequest(messages=messages, tools=tools, tool_choice=forced)
        try:
            completion = await (self.gateway.complete(request) if self.on_text is None else self._streamed(request))
        except AegisError as error:
            return LoopState.FAILED, f"model call failed: {error}", {}
        self._account(state, completion)
        state.messages.append(Message(role="assistant", content=completion.text, tool_calls=completion.tool_calls))
        unpriced = completion.model if completion.cost_usd is None else None
        breach = spend_breach(budget, state, unpriced_model=unpriced)
        if breach:
            return LoopState.BUDGET_EXCEEDED, breach, {"completion": completion}
        if completion.tool_calls:
            names = ", ".join(c.name for c in completion.tool_calls)
            return LoopState.OBSERVE, f"model {completion.model} called {names}", {"completion": completion}
        return LoopState.VERIFY, f"model {completion.model} answered", {"completion": completion}

    async def _streamed(self, request: ModelRequest) -> Completion:
        assert self.on_text is not None
        async for event in self.gateway.stream(request):
            if isinstance(event, TextDelta):
                await self.on_text(event.text)
            elif isinstance(event, StreamEnd):
                return event.completion
        raise MalformedResponseError("the model's stream ended without a completion", model=self.gateway.chain[0].name)

    async def compact_now(self, state: RunState) -> str:
        """Compact `state`'s conversation now, whatever its size (`/compact` in `aegis chat`), the
        compaction recorded as a step like any other; what was done, in words."""
        if self.compaction is None:
            return "compaction is switched off ([compaction] enabled = false)"
        self.tools.restore(state.tool_state)
        _, detail, extra = await self._compact(state, force=True)
        if extra:
            await self._record(state, LoopState.COMPACT, detail, **extra)
        return detail

    async def _compact(self, state: RunState, *, force: bool = False) -> tuple[LoopState, str, dict]:
        assert self.compaction is not None
        try:
            done = await compact(state.messages, self.tools.specs, self.compaction, self.gateway.complete,
                                 force=force)
        except AegisError as error:
            return LoopState.FAILED, f"compaction failed: model call failed: {error}", {}
        if done is None:
            return LoopState.ACT, "nothing older to compact", {}
        for completion in done.completions:
            self._account(state, completion, turn=False)
        return LoopState.ACT, (f"compacted {done.summarised} messages into a note: context {done.tokens_before} → "
                               f"{done.tokens_after} tokens"), {"completion": done.completions[-1]}

    def _account(self, state: RunState, completion: Completion, *, turn: bool = True) -> None:
        state.turns += turn
        state.usage = state.usage + completion.usage
        state.cost_usd += completion.cost_usd or 0.0
        state.model = completion.model
        state.simulated = state.simulated or completion.simulated

    async def _observe(self, state: RunState) -> tuple[LoopState, str, dict]:
        calls = state.messages[-1].tool_calls
        # The key names the model turn, not the step: a re-run of this observe (after a crash or a
        # parked approval) appends steps but observes the same turn, so its calls keep their keys.
        outcomes = await asyncio.gather(*(self._call(state, c) for c in calls), return_exceptions=True)
        waiting = [o for o in outcomes if isinstance(o, ApprovalPendingError)]
        if waiting:
            return LoopState.AWAITING_APPROVAL, f"parked until someone decides: {waiting[0].message}", {}
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        results: list[ToolResult] = list(outcomes)  # type: ignore[arg-type]
        for call, result in zip(calls, results, strict=True):
            state.messages.append(Message.tool_result(call, result.content))
        summary = ", ".join(f"{r.name}: {'ok' if r.ok else r.error_type}" for r in results)
        return LoopState.REFLECT, summary, {"tool_results": tuple(results)}

    async def _call(self, state: RunState, call: ToolCall) -> ToolResult:
        with tool_span(call.name, call.id) as span:
            if call.name == RECALL_TOOL and self.compaction is not None:
                result = recall(state.messages, call, self.compaction)  # from the history: what the model saw before
            else:
                result = await self.tools.call(call, self.context,
                                               effect_key=f"{state.run_id}/{state.turns}/{call.id}")
            record_tool_result(span, result)
            return result

    async def _reflect(self, state: RunState) -> tuple[LoopState, str, dict]:
        stuck = stuck_reason(state, self.stuck_repeats)
        if stuck:
            return LoopState.STUCK, stuck, {}
        return LoopState.ACT, f"turn {state.turns} done; continuing", {}

    async def _verify(self, state: RunState) -> tuple[LoopState, str, dict]:
        state.answer = await self.verifier(state, state.messages[-1].content)
        if state.answer.abstained:
            return LoopState.ABSTAINED, f"answer not verified, abstaining: {state.answer.reason}", {}
        checks = len(state.spec.checks)
        confidence = "" if state.answer.confidence is None else f", confidence {state.answer.confidence:.2f}"
        return LoopState.STOP, f"answer accepted ({checks} declared checks passed{confidence})", {}


def run_result(state: RunState) -> RunResult:
    parked = Answer(text="", reason=state.steps[-1].detail if state.steps else None)
    return RunResult(
        run_id=state.run_id, task=state.spec.task, status=state.status,
        answer=state.answer or parked, model=state.model or "(none)", simulated=state.simulated,
        usage=state.usage, cost_usd=state.cost_usd, latency_s=state.elapsed_s, steps=tuple(state.steps),
        node=next((step.node for step in reversed(state.steps) if step.node), None),
    )
