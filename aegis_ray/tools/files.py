"""Built-in file tools, every path confined to the workspace: read, write, edit, list, glob, grep.

grep uses RE2 (linear time), because the pattern comes from the model and the text from files the
model may have written: a backtracking engine could be made to spin forever.
"""

from __future__ import annotations

from pydantic import Field

from aegis_ray.errors import PathConfinementError, ToolError
from aegis_ray.tools.base import Effect, ToolArgs, ToolContext, tool

MAX_READ_BYTES = 256_000
MAX_LISTED = 500


class ReadFileArgs(ToolArgs):
    path: str = Field(description="File path relative to the workspace.")
    offset: int = Field(default=0, ge=0, description="First line to return (0-based).")
    limit: int = Field(default=2000, gt=0, le=20_000, description="Most lines to return.")


@tool(Effect.READ)
async def read_file(args: ReadFileArgs, ctx: ToolContext) -> str:
    """Read a UTF-8 text file from the workspace (a window of lines)."""
    real = ctx.workspace.resolve(args.path)
    if not real.is_file():
        raise ToolError(f"{args.path!r} is not a file")
    data = real.read_bytes()[:MAX_READ_BYTES]
    if b"\x00" in data:
        raise ToolError(f"{args.path!r} looks binary; read_file returns text only")
    lines = data.decode("utf-8", "replace").splitlines()
    return "\n".join(lines[args.offset: args.offset + args.limit])


class WriteFileArgs(ToolArgs):
    path: str = Field(description="File path relative to the workspace; parent folders are created.")
    content: str = Field(description="The whole new content of the file.")


@tool(Effect.WRITE, idempotent=True)
async def write_file(args: WriteFileArgs, ctx: ToolContext) -> str:
    """Create or overwrite a UTF-8 text file in the workspace."""
    if ctx.workspace.resolve(args.path).is_dir():
        raise ToolError(f"{args.path!r} is a directory")
    ctx.workspace.write_text(args.path, args.content)
    return f"wrote {len(args.content.encode())} bytes to {args.path}"


class EditFileArgs(ToolArgs):
    path: str
    old: str = Field(min_length=1, description="Exact text to replace; must occur exactly once.")
    new: str = Field(description="Replacement text.")


@tool(Effect.WRITE)
async def edit_file(args: EditFileArgs, ctx: ToolContext) -> str:
    """Replace one exact occurrence of `old` with `new` in a workspace file."""
    real = ctx.workspace.resolve(args.path)
    if not real.is_file():
        raise ToolError(f"{args.path!r} is not a file")
    text = real.read_text(encoding="utf-8")
    count = text.count(args.old)
    if count != 1:
        raise ToolError(f"`old` occurs {count} times in {args.path!r}; it must occur exactly once",
                        hint="include more surrounding text to make it unique")
    ctx.workspace.write_text(args.path, text.replace(args.old, args.new, 1))
    return f"edited {args.path}"


class ListDirArgs(ToolArgs):
    path: str = Field(default=".", description="Directory relative to the workspace.")


@tool(Effect.READ)
async def list_dir(args: ListDirArgs, ctx: ToolContext) -> str:
    """List a workspace directory (directories end with '/')."""
    real = ctx.workspace.resolve(args.path)
    if not real.is_dir():
        raise ToolError(f"{args.path!r} is not a directory")
    entries = sorted(real.iterdir())[:MAX_LISTED]
    return "\n".join(e.name + ("/" if e.is_dir() else "") for e in entries) or "(empty)"


class GlobArgs(ToolArgs):
    pattern: str = Field(description="Glob relative to the workspace, e.g. '**/*.py'.")


def _confined_matches(ctx: ToolContext, pattern: str) -> list[str]:
    ctx.workspace.resolve(pattern.split("*", 1)[0].rstrip("/") or ".")  # refuses '..' and absolute
    matches = []
    for candidate in sorted(ctx.workspace.root.glob(pattern)):
        try:
            real = ctx.workspace.resolve(ctx.workspace.relative(candidate))
        except PathConfinementError:
            continue  # a symlink out of the workspace: not listed
        matches.append(ctx.workspace.relative(real))
        if len(matches) >= MAX_LISTED:
            break
    return matches


@tool(Effect.READ)
async def glob(args: GlobArgs, ctx: ToolContext) -> str:
    """Find workspace paths matching a glob pattern."""
    return "\n".join(_confined_matches(ctx, args.pattern)) or "(no matches)"


class GrepArgs(ToolArgs):
    pattern: str = Field(description="RE2 regular expression.")
    glob: str = Field(default="**/*", description="Which files to search.")


@tool(Effect.READ)
async def grep(args: GrepArgs, ctx: ToolContext) -> str:
    """Search workspace files for a regular expression; prints path:line: text."""
    import re2

    try:
        regex = re2.compile(args.pattern)
    except re2.error as exc:
        raise ToolError(f"invalid pattern {args.pattern!r}: {exc}") from exc
    hits: list[str] = []
    for rel in _confined_matches(ctx, args.glob):
        real = ctx.workspace.root / rel
        if not real.is_file():
            continue
        data = real.read_bytes()[:MAX_READ_BYTES]
        if b"\x00" in data:
            continue
        for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            if regex.search(line):
                hits.append(f"{rel}:{number}: {line[:300]}")
                if len(hits) >= MAX_LISTED:
                    return "\n".join(hits)
    return "\n".join(hits) or "(no matches)"


FILE_TOOLS = (read_file, write_file, edit_file, list_dir, glob, grep)
