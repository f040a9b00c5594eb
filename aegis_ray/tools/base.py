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
from functools import cached_property
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, model_validator

from aegis_ray.sandbox.base import Sandbox, SandboxLimits
from aegis_ray.store import EffectWriter, Store
from aegis_ray.tools.workspace import Workspace
from aegis_ray.types import ToolSpec


class Effect(StrEnum):
    READ = "read"
    WRITE = "write"
    EXECUTE = "execute"
    NETWORK = "network"


class ToolArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class EffectLedger:
    """Where a durable session records its side effects: the store, the run, the writer's epoch."""

    store: Store
    run_id: str
    epoch: int


@dataclass
class ToolContext:
    """What a tool may touch: the workspace, the sandbox for anything that executes, and (in a
    durable session) the ledger that makes effects exactly-once."""

    workspace: Workspace
    sandbox: Sandbox | None = None
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    ledger: EffectLedger | None = None
    effect_writer: EffectWriter | None = None
    """Set while a transactional tool runs: its writes commit with its idempotency record."""


ToolFunction = Callable[[Any, ToolContext], Awaitable[str]]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    effect: Effect
    args_model: type[BaseModel]
    function: ToolFunction
    input_schema: dict[str, Any] | None = None
    """The schema as published, when the tool came with one (MCP); else derived from `args_model`."""
    idempotent: bool = False
    """Safe to run again after a crash left its outcome unknown (e.g. writing a whole file)."""
    transactional: bool = False
    """Its effect is writes through `ctx.effect_writer`, committed atomically with its record."""

    @cached_property  # a schema costs ~1.5 ms to derive, and the loop asks for every tool's each turn
    def spec(self) -> ToolSpec:
        schema = dict(self.input_schema or self.args_model.model_json_schema())
        schema.pop("title", None)
        schema.pop("$schema", None)
        return ToolSpec(name=self.name, description=self.description, parameters=schema)

    async def run(self, args: BaseModel, ctx: ToolContext) -> str:
        return await self.function(args, ctx)


def json_schema_args(name: str, schema: dict[str, Any]) -> type[BaseModel]:
    """An argument model that accepts what `schema` (a JSON schema) accepts, and nothing else."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)

    class JsonSchemaArgs(BaseModel):
        model_config = ConfigDict(extra="allow")

        @model_validator(mode="before")
        @classmethod
        def _valid(cls, data: Any) -> Any:
            errors = sorted(validator.iter_errors(data), key=lambda e: list(e.path))
            if errors:
                where = ".".join(map(str, errors[0].path)) or "arguments"
                raise ValueError(f"{where}: {errors[0].message}")
            return data

    JsonSchemaArgs.__name__ = f"{name}_args"
    return JsonSchemaArgs


def tool(effect: Effect, name: str | None = None, *, idempotent: bool = False,
         transactional: bool = False) -> Callable[[ToolFunction], Tool]:
    def wrap(function: ToolFunction) -> Tool:
        first = next(iter(inspect.signature(function).parameters))
        args_model = get_type_hints(function)[first]
        return Tool(name=name or function.__name__, description=inspect.cleandoc(function.__doc__ or ""),
                    effect=effect, args_model=args_model, function=function, idempotent=idempotent,
                    transactional=transactional)

    return wrap
