"""The tool registry: specs for the model, and the one path every tool call goes through.

A call is looked up, its arguments validated against the tool's pydantic model, gated by the
approval policy if the tool is not read-only, then run. Every failure becomes a `ToolResult` with
`ok=False` and a message the model can act on; nothing a model sends can crash the session.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import ValidationError

from aegis_ray.errors import AegisError
from aegis_ray.tools.approval import ApprovalPolicy, ApprovalRequest, Approver, decide
from aegis_ray.tools.base import Effect, Tool, ToolContext
from aegis_ray.types import ToolCall, ToolResult, ToolSpec


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

    async def call(self, call: ToolCall, ctx: ToolContext) -> ToolResult:
        def failed(error_type: str, message: str) -> ToolResult:
            return ToolResult(call_id=call.id, name=call.name, ok=False, content=message, error_type=error_type)

        found = self._tools.get(call.name)
        if found is None:
            return failed("UnknownTool", f"there is no tool {call.name!r}; available: {', '.join(self._tools)}")
        try:
            args = found.args_model.model_validate(call.arguments)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors())
            return failed("ToolArgumentsError", f"invalid arguments for {call.name}: {problems}")
        if found.effect is not Effect.READ:
            request = ApprovalRequest(tool=found.name, effect=found.effect.value, arguments=call.arguments)
            decision = await decide(self.policy, request, self.approver)
            if not decision.approved:
                return failed("ApprovalDeniedError", f"{call.name} was not run: {decision.reason}")
        try:
            content = await found.run(args, ctx)
        except AegisError as exc:
            return failed(type(exc).__name__, str(exc))
        except OSError as exc:
            return failed(type(exc).__name__, f"{call.name} failed: {exc.strerror or exc}")
        return ToolResult(call_id=call.id, name=call.name, ok=True, content=content)
