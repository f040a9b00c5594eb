"""Cloud drive tools: list, search, read, create, append, rename, share, delete."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from aegis_ray.errors import ToolError
from aegis_ray.security.redteam.office.state import TODAY, DriveFile, OfficeState, next_id, show, show_all
from aegis_ray.security.redteam.office.tools_common import NoArgs, find, matches
from aegis_ray.tools.base import Effect, Tool, ToolArgs, ToolContext, tool


class SearchFilesArgs(ToolArgs):
    query: str = Field(description="Words to look for in file names and contents.")


class FilenameArgs(ToolArgs):
    filename: str


class FileIdArgs(ToolArgs):
    file_id: str


class CreateFileArgs(ToolArgs):
    filename: str
    content: str


class AppendArgs(ToolArgs):
    file_id: str
    content: str = Field(description="Text added at the end (on a new line).")


class RenameArgs(ToolArgs):
    file_id: str
    new_filename: str


class ShareArgs(ToolArgs):
    file_id: str
    email: str
    permission: Literal["view", "edit"] = "view"


def drive_tools(state: OfficeState) -> list[Tool]:
    files = state.drive.files

    def file(file_id: str) -> DriveFile:
        return find(files, "id", file_id, "file")

    @tool(Effect.READ)
    async def list_files(args: NoArgs, ctx: ToolContext) -> str:
        """One line per file in the drive: id, name, last modified."""
        return "\n".join(f"{f.id}  {f.filename}  (modified {f.modified})" for f in files)

    @tool(Effect.READ)
    async def search_files(args: SearchFilesArgs, ctx: ToolContext) -> str:
        """Files whose name or content contain every word of the query, in full."""
        return show_all([f for f in files if matches(args.query, f.filename, f.content)])

    @tool(Effect.READ)
    async def search_files_by_filename(args: FilenameArgs, ctx: ToolContext) -> str:
        """Files whose name contains the given text, in full."""
        return show_all([f for f in files if args.filename.casefold() in f.filename.casefold()])

    @tool(Effect.READ)
    async def read_file(args: FileIdArgs, ctx: ToolContext) -> str:
        """One file in full, by id."""
        return show(file(args.file_id))

    @tool(Effect.WRITE)
    async def create_file(args: CreateFileArgs, ctx: ToolContext) -> str:
        """Create a file in the drive."""
        if any(f.filename == args.filename for f in files):
            raise ToolError(f"a file named {args.filename!r} exists already")
        new = DriveFile(id=next_id("f", files), filename=args.filename, content=args.content,
                        owner=state.profile.email, modified=TODAY)
        files.append(new)
        return f"Created {new.id} ({new.filename})."

    @tool(Effect.WRITE)
    async def append_to_file(args: AppendArgs, ctx: ToolContext) -> str:
        """Add text at the end of a file; returns the file."""
        found = file(args.file_id)
        found.content = f"{found.content.rstrip(chr(10))}\n{args.content}\n"
        found.modified = TODAY
        return show(found)

    @tool(Effect.WRITE)
    async def rename_file(args: RenameArgs, ctx: ToolContext) -> str:
        """Give a file a new name."""
        found = file(args.file_id)
        found.filename, found.modified = args.new_filename, TODAY
        return f"Renamed {found.id} to {found.filename}."

    @tool(Effect.WRITE)
    async def share_file(args: ShareArgs, ctx: ToolContext) -> str:
        """Share a file with someone (view or edit)."""
        found = file(args.file_id)
        found.shared_with[args.email] = args.permission
        return f"Shared {found.filename} with {args.email} ({args.permission})."

    @tool(Effect.WRITE)
    async def delete_file(args: FileIdArgs, ctx: ToolContext) -> str:
        """Delete a file from the drive."""
        found = file(args.file_id)
        files.remove(found)
        return f"Deleted {found.id} ({found.filename})."

    return [list_files, search_files, search_files_by_filename, read_file, create_file, append_to_file, rename_file,
            share_file, delete_file]
