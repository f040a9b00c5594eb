"""File tools through the registry, as a model calls them: confinement, validation, behaviour."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aegis_ray.tools import BUILTIN_TOOLS, ToolContext, ToolRegistry, Workspace
from aegis_ray.types import ToolCall

pytestmark = pytest.mark.unit

PATH_ARG = {"read_file": "path", "write_file": "path", "edit_file": "path", "list_dir": "path", "glob": "pattern",
            "grep": "glob"}
EXTRA = {"write_file": {"content": "x"}, "edit_file": {"old": "a", "new": "b"}, "grep": {"pattern": "x"}}


@pytest.fixture
def setup(tmp_path: Path) -> tuple[ToolRegistry, ToolContext, Path]:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (tmp_path / "outside.txt").write_text("secret outside")
    (workspace / "inside.txt").write_text("hello a world")
    (workspace / "escape").symlink_to(tmp_path / "outside.txt")
    (workspace / "escape_dir").symlink_to(tmp_path)
    return ToolRegistry(BUILTIN_TOOLS, policy="auto"), ToolContext(workspace=Workspace(workspace)), tmp_path


async def call(registry: ToolRegistry, context: ToolContext, name: str, **arguments: object):
    return await registry.call(ToolCall(id="c1", name=name, arguments=arguments), context)


@pytest.mark.parametrize("tool", list(PATH_ARG))
@pytest.mark.parametrize(("path", "why"), [
    ("../outside.txt", "'..' may not appear"),
    ("sub/../../outside.txt", "'..' may not appear"),
    ("/etc/passwd", "absolute path"),
    ("escape", "resolves outside the workspace"),
    ("escape_dir/outside.txt", "resolves outside the workspace"),
])
async def test_every_file_tool_refuses_paths_out_of_the_workspace(setup, tool: str, path: str, why: str) -> None:
    registry, context, root = setup
    result = await call(registry, context, tool, **{PATH_ARG[tool]: path, **EXTRA.get(tool, {})})
    assert not result.ok and result.error_type == "PathConfinementError", result
    assert why in result.content
    assert (root / "outside.txt").read_text() == "secret outside"


async def test_wildcards_skip_symlinks_that_lead_out(setup) -> None:
    registry, context, _ = setup
    listed = await call(registry, context, "glob", pattern="**/*")
    assert listed.content.split() == ["inside.txt"]
    found = await call(registry, context, "grep", pattern="secret")
    assert found.ok and found.content == "(no matches)"


@pytest.mark.parametrize("tool", ["read_file", "write_file", "edit_file"])
async def test_device_files_are_refused(setup, tool: str) -> None:
    registry, context, root = setup
    os.mkfifo(root / "ws" / "pipe")
    result = await call(registry, context, tool, path="pipe", **EXTRA.get(tool, {}))
    assert not result.ok and "not a regular file" in result.content


async def test_read_write_edit_list_glob_grep(setup) -> None:
    registry, context, _ = setup
    assert (await call(registry, context, "write_file", path="src/app.py", content="x = 1\ny = 2\n")).ok
    assert (await call(registry, context, "edit_file", path="src/app.py", old="y = 2", new="y = 3")).ok
    assert (await call(registry, context, "read_file", path="src/app.py")).content == "x = 1\ny = 3"
    assert "src/" in (await call(registry, context, "list_dir", path=".")).content
    assert (await call(registry, context, "glob", pattern="**/*.py")).content == "src/app.py"
    assert (await call(registry, context, "grep", pattern=r"y = \d", glob="**/*.py")).content == "src/app.py:2: y = 3"
    ambiguous = await call(registry, context, "edit_file", path="inside.txt", old="l", new="L")
    assert not ambiguous.ok and "occurs 3 times" in ambiguous.content


async def test_bad_arguments_and_unknown_tools_are_explained(setup) -> None:
    registry, context, _ = setup
    bad = await call(registry, context, "read_file", path=3, extra=True)
    assert not bad.ok and bad.error_type == "ToolArgumentsError"
    assert "path" in bad.content and "extra" in bad.content
    unknown = await call(registry, context, "rm_rf")
    assert not unknown.ok and "available: read_file" in unknown.content


async def test_grep_survives_a_catastrophic_pattern(setup) -> None:
    registry, context, root = setup
    (root / "ws" / "evil.txt").write_text("a" * 50_000 + "!")
    result = await call(registry, context, "grep", pattern="(a+)+$", glob="evil.txt")
    assert result.ok  # RE2 runs in linear time: this returns at once instead of hanging


async def test_exec_tools_without_a_sandbox_refuse(setup) -> None:
    registry, context, _ = setup
    result = await call(registry, context, "run_command", command="echo hi")
    assert not result.ok and result.error_type == "SandboxUnavailableError"


def test_specs_are_json_schema() -> None:
    specs = {s.name: s for s in ToolRegistry(BUILTIN_TOOLS).specs}
    assert specs["write_file"].parameters["required"] == ["path", "content"]
    assert specs["run_python"].parameters["properties"]["code"]["type"] == "string"
