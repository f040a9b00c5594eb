"""Executing tools: a shell command or Python code, always inside the sandbox, never on the host."""

from __future__ import annotations

from pydantic import Field

from aegis_ray.errors import SandboxUnavailableError, ToolError
from aegis_ray.sandbox.base import ExecResult
from aegis_ray.tools.base import Effect, ToolArgs, ToolContext, tool


def _report(result: ExecResult) -> str:
    parts = [f"exit status {result.exit_code} ({result.outcome})"]
    if result.stdout:
        parts.append(f"--- stdout ---\n{result.stdout}")
    if result.stderr:
        parts.append(f"--- stderr ---\n{result.stderr}")
    return "\n".join(parts)


async def _sandboxed(ctx: ToolContext, argv: list[str], timeout_s: float | None) -> str:
    if ctx.sandbox is None:
        raise SandboxUnavailableError("this session has no sandbox, so nothing can be executed")
    limits = ctx.limits.model_copy(update={"wall_s": min(timeout_s, ctx.limits.wall_s)}) if timeout_s else ctx.limits
    result = await ctx.sandbox.run(argv, ctx.workspace.root, limits)
    if result.outcome != "ok":
        try:
            result.raise_for_outcome()
        except ToolError as error:
            raise type(error)(f"{error.message}\n{_report(result)}", exit_code=result.exit_code,
                              stderr_tail=result.stderr[-2000:]) from None
    return _report(result)


class RunCommandArgs(ToolArgs):
    command: str = Field(min_length=1, description="Shell command, run with /bin/sh in the workspace.")
    timeout_s: float | None = Field(default=None, gt=0, description="Lower the wall-clock limit.")


@tool(Effect.EXECUTE)
async def run_command(args: RunCommandArgs, ctx: ToolContext) -> str:
    """Run a shell command in the sandbox (no network; only the workspace is writable)."""
    return await _sandboxed(ctx, ["/bin/sh", "-c", args.command], args.timeout_s)


class RunPythonArgs(ToolArgs):
    code: str = Field(min_length=1, description="Python 3 source to run.")
    timeout_s: float | None = Field(default=None, gt=0)


@tool(Effect.EXECUTE)
async def run_python(args: RunPythonArgs, ctx: ToolContext) -> str:
    """Run Python code in the sandbox and return what it printed."""
    return await _sandboxed(ctx, ["python3", "-c", args.code], args.timeout_s)


EXEC_TOOLS = (run_command, run_python)
