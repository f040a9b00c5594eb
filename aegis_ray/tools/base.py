"""What a tool is: a typed async function with pydantic arguments, a JSON-schema spec and an effect.

    @tool(effect=Effect.WRITE)
    async def write_file(args: WriteFileArgs, ctx: ToolContext) -> str:
        "Create or overwrite a UTF-8 text file in the workspace."

The docstring is the description the model sees; the argument model is the schema it must meet.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict

from aegis_ray.sandbox.base import Sandbox, SandboxLimits
from aegis_ray.tools.workspace import Workspace
from aegis_ray.types import ToolSpec


class Effect(StrEnum):
    READ = "read"
    WRITE = "write"
    EXECUTE = "execute"
    NETWORK = "network"


class ToolArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass
class ToolContext:
    """What a tool may touch: the workspace, and the sandbox for anything that executes."""

    workspace: Workspace
    sandbox: Sandbox | None = None
    limits: SandboxLimits = field(default_factory=SandboxLimits)


ToolFunction = Callable[[Any, ToolContext], Awaitable[str]]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    effect: Effect
    args_model: type[BaseModel]
    function: ToolFunction

    @property
    def spec(self) -> ToolSpec:
        schema = self.args_model.model_json_schema()
        schema.pop("title", None)
        return ToolSpec(name=self.name, description=self.description, parameters=schema)

    async def run(self, args: BaseModel, ctx: ToolContext) -> str:
        return await self.function(args, ctx)


def tool(effect: Effect, name: str | None = None) -> Callable[[ToolFunction], Tool]:
    def wrap(function: ToolFunction) -> Tool:
        first = next(iter(inspect.signature(function).parameters))
        args_model = get_type_hints(function)[first]
        return Tool(name=name or function.__name__, description=inspect.cleandoc(function.__doc__ or ""),
                    effect=effect, args_model=args_model, function=function)

    return wrap
