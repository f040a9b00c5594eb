"""The tool registry: specs for the model, and the one path every tool call goes through.

A call is looked up, its arguments validated against the tool's pydantic model, gated by the
approval policy if the tool is not read-only, then run. Every failure becomes a `ToolResult` with
`ok=False` and a message the model can act on; nothing a model sends can crash the session.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from aegis_ray.errors import AegisError
from aegis_ray.store import EffectWriter
from aegis_ray.tools.approval import ApprovalPolicy, ApprovalRequest, Approver, decide
from aegis_ray.tools.base import Effect, Tool, ToolContext
from aegis_ray.types import Attachment, ToolCall, ToolResult, ToolSpec


class ToolBox(Protocol):
    """What the agent loop needs of its tools: specs to show the model, and one call path
    (`ToolRegistry`, or a wrapper such as `security.quarantine.QuarantinedTools`)."""

    @property
    def specs(self) -> tuple[ToolSpec, ...]: ...

    async def call(self, call: ToolCall, ctx: ToolContext, effect_key: str | None = None) -> ToolResult: ...

    def admit(self, attachment: Attachment) -> str:
        """How an attachment enters the conversation (inline here; by reference under quarantine)."""
        ...

    def checkpoint(self) -> dict[str, Any]:
        """What the tools hold that a resumed run needs (the quarantine's variables), as JSON; the
        loop checkpoints it with every step."""
        ...

    def restore(self, saved: dict[str, Any]) -> None:
        """Take back what `checkpoint` gave, when a run resumes."""
        ...


class ToolRegistry:
    def __init__(self, tools: Iterable[Tool], policy: ApprovalPolicy = "ask", approver: Approver | None = None) -> None:
        self._tools: dict[str, Tool] = {}
        for t in tools:
            self.add(t)
        self.policy = policy
        self.approver = approver

    def add(self, new: Tool) -> None:
        if new.name in self._tools:
            raise ValueError(f"a tool named {new.name!r} is already registered")
        self._tools[new.name] = new

    def __contains__(self, name: str) -> bool:
        return name in self._tools

    def get(self, name: str) -> Tool:
        return self._tools[name]

    @property
    def specs(self) -> tuple[ToolSpec, ...]:
        return tuple(t.spec for t in self._tools.values())

    def admit(self, attachment: Attachment) -> str:
        return f"Attachment {attachment.name}:\n{attachment.content}"

    def checkpoint(self) -> dict[str, Any]:
        return {}  # nothing held between calls: tools' effects are in the workspace and the ledger

    def restore(self, saved: dict[str, Any]) -> None:
        pass

    async def call(self, call: ToolCall, ctx: ToolContext, effect_key: str | None = None) -> ToolResult:
        """Run one call. With a ledger in `ctx` and an `effect_key`, a non-read-only call happens at
        most once per key: re-executing it (after a crash) returns the recorded result."""

        def failed(error_type: str, message: str) -> ToolResult:
            return _failure(call, error_type, message)

        found = self._tools.get(call.name)
        if found is None:
            return failed("UnknownTool", f"there is no tool {call.name!r}; available: {', '.join(self._tools)}")
        try:
            args = found.args_model.model_validate(call.arguments)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors())
            return failed("ToolArgumentsError", f"invalid arguments for {call.name}: {problems}")
        if found.effect is not Effect.READ:
            request = ApprovalRequest(tool=found.name, effect=found.effect.value, arguments=call.arguments,
                                      key=effect_key)
            decision = await decide(self.policy, request, self.approver)
            if not decision.approved:
                return failed("ApprovalDeniedError", f"{call.name} was not run: {decision.reason}")
        if ctx.ledger is None or effect_key is None or found.effect is Effect.READ:
            return await self._run(found, call, args, ctx)
        ledger = ctx.ledger
        if found.transactional:
            async def effect(writer: EffectWriter) -> str:
                result = await self._run(found, call, args, replace(ctx, effect_writer=writer))
                if not result.ok:
                    raise _EffectFailed(result)  # roll its writes back; nothing is recorded
                return result.model_dump_json()

            try:
                recorded, _ = await ledger.store.effect_once(effect_key, ledger.run_id, ledger.epoch, effect)
            except _EffectFailed as failure:
                return failure.result
            return ToolResult.model_validate_json(recorded).model_copy(update={"call_id": call.id})
        status, recorded_json = await ledger.store.effect_begin(effect_key, ledger.run_id)
        if status == "done" and recorded_json:
            return ToolResult.model_validate_json(recorded_json).model_copy(update={"call_id": call.id})
        if status == "unknown" and not found.idempotent:
            return failed("EffectOutcomeUnknownError", f"{call.name} was started before a crash and may or may not "
                          "have taken effect; it was not run again. Check its effect before retrying.")
        result = await self._run(found, call, args, ctx)
        await ledger.store.effect_finish(effect_key, result.model_dump_json())
        return result

    @staticmethod
    async def _run(found: Tool, call: ToolCall, args: BaseModel, ctx: ToolContext) -> ToolResult:
        try:
            content = await found.run(args, ctx)
        except AegisError as exc:
            return _failure(call, type(exc).__name__, str(exc))
        except OSError as exc:
            return _failure(call, type(exc).__name__, f"{call.name} failed: {exc.strerror or exc}")
        return ToolResult(call_id=call.id, name=call.name, ok=True, content=content)


def _failure(call: ToolCall, error_type: str, message: str) -> ToolResult:
    return ToolResult(call_id=call.id, name=call.name, ok=False, content=message, error_type=error_type)


class _EffectFailed(Exception):
    def __init__(self, result: ToolResult) -> None:
        super().__init__(result.content)
        self.result = result
