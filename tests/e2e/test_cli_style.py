"""The CLI's manners (issue 20): every error one `error:` line and one `hint:` line, usage errors
included (exit 2, no Rich boxes); Ray's own log lines only with `-v`; tables that fit the
terminal; a command line that starts without loading the verification, red-team or simulator code."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from aegis_ray.types import RunSpec
from tests.helpers import aegis, clean_env

pytestmark = pytest.mark.e2e

BOXES = ("╭", "─", "│")


@pytest.mark.parametrize(("args", "error", "hint"), [
    (["run", "--modle", "sim:sim-honest", "hi"], "no such option: --modle", "did you mean --model?"),
    (["frob"], "no such command 'frob'", "--help`"),
    (["rn", "hi"], "no such command 'rn'", "did you mean 'run' or 'runs'?"),
    (["run"], "missing argument 'task'", "run --help`"),
    (["runs", "--limit", "many"], "invalid value for '--limit'", "runs --help`"),
    (["runs", "--status", "bogus"], "'bogus' is not one of 'pending'", "runs --help`"),
    (["run", "-v", "hi"], "no such option: -v", " -v run ...` (it goes first)"),
    (["run", "   "], "invalid task: the task is empty", "run --help`"),
    (["run", "x" * 100_001], "invalid task: 100,001 characters, at most 100,000", "shorten it"),
    (["factory", "--file", "nope.jsonl"], "cannot read jobs file nope.jsonl", ""),
])
def test_an_error_is_one_line_and_a_hint_with_exit_2(args: list[str], error: str, hint: str, tmp_path: Path) -> None:
    """`hint`: what the hint says ("": any hint)."""
    result = aegis(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr and not any(box in result.stderr for box in BOXES)
    first, second = result.stderr.splitlines()
    assert first.startswith("error: ") and error in first
    assert second.startswith("hint: ") and hint in second


def test_no_command_still_prints_the_help(tmp_path: Path) -> None:
    result = aegis(cwd=tmp_path)
    assert result.returncode == 2 and "Usage:" in result.stdout + result.stderr
    assert "--verbose" in aegis("--help", cwd=tmp_path).stdout


def test_joining_ray_prints_the_status_line_first_and_no_ray_lines(cluster_address: str, tmp_path: Path) -> None:
    result = aegis("run", "What is the capital of Australia?", env=clean_env(RAY_ADDRESS=cluster_address),
                   cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("joining the Ray cluster at")
    assert "Token authentication" not in result.stderr and "Connecting to existing" not in result.stderr


# What Ray 2.60 prints when `ray.init()` starts a cluster (joining by address prints nothing).
TOKEN_NOTICE = ("from aegis_ray.cli import common; common.set_verbose({verbose}); common.quiet_ray(); "
                "from ray._private.authentication import authentication_token_setup as setup; "
                "setup._warn_token_auth_enabled()")


@pytest.mark.parametrize("verbose", [False, True])
def test_rays_token_notice_shows_only_when_verbose(verbose: bool) -> None:
    result = subprocess.run([sys.executable, "-c", TOKEN_NOTICE.format(verbose=verbose)], capture_output=True,
                            text=True, check=True)
    assert ("Token authentication is enabled" in result.stderr) is verbose


def test_models_fits_60_columns_and_keeps_rows_whole_for_scripts(tmp_path: Path) -> None:
    narrow = aegis("models", env=clean_env(COLUMNS="60"), cwd=tmp_path)
    assert narrow.returncode == 0 and max(map(len, narrow.stdout.splitlines())) <= 60
    piped = aegis("models", cwd=tmp_path).stdout.splitlines()  # no terminal, no COLUMNS: no wrapping
    assert [line.split()[0] for line in piped[2:]] == ["kind", "openai", "openai-responses", "anthropic", "gemini",
                                                       "sim"]


def _record_run(home: Path, task: str) -> str:
    from aegis_ray.store import open_store

    async def record() -> str:
        store = await open_store(None, home)
        try:
            await store.create_run("run_0123456789abcdef", RunSpec(task=task))
        finally:
            await store.close()
        return "run_0123456789abcdef"

    return asyncio.run(record())


def test_runs_fits_the_terminal_and_names_each_runs_kind(tmp_path: Path) -> None:
    task = "Summarise the quarterly report and list every figure that changed by more than ten percent"
    run_id = _record_run(tmp_path, task)
    env = clean_env(AEGIS_HOME=str(tmp_path), COLUMNS="60")
    header, row = aegis("runs", env=env, cwd=tmp_path).stdout.splitlines()
    assert header.split() == ["run", "kind", "status", "steps", "task"]
    assert row.startswith(run_id) and row.split()[1:4] == ["answer", "pending", "0"] and len(row) <= 60
    (listed,) = json.loads(aegis("runs", "--json", env=env, cwd=tmp_path).stdout)
    assert listed["kind"] == "answer" and listed["task"] == task


HEAVY = ("scipy", "numpy", "ray", "openai", "aegis_ray.verify.policy", "aegis_ray.security.redteam.runner",
         "aegis_ray.sim.server", "aegis_ray.memory.embeddings")


def test_the_command_line_loads_no_heavy_module_before_a_command_needs_it() -> None:
    code = ("import sys, aegis_ray.cli.main, aegis_ray.sim.models; "
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
