"""The run ledger: an append-only, exactly-once log an agent writes decisions and events to.

Its writes commit in the same transaction as the call's idempotency record, so a step re-executed
after a crash never logs twice. Available in durable sessions (it needs the store).
"""

from __future__ import annotations

from pydantic import Field

from aegis_ray.errors import ToolError
from aegis_ray.tools.base import Effect, ToolArgs, ToolContext, tool


class LedgerAppendArgs(ToolArgs):
    entry: str = Field(min_length=1, max_length=10_000, description="What to record.")


@tool(Effect.WRITE, transactional=True)
async def ledger_append(args: LedgerAppendArgs, ctx: ToolContext) -> str:
    """Append an entry to this run's durable ledger (exactly once, even across crashes)."""
    if ctx.effect_writer is None:
        raise ToolError("the ledger is only available in a durable session")
    await ctx.effect_writer.log(args.entry)
    return f"recorded: {args.entry}"


LEDGER_TOOLS = (ledger_append,)
