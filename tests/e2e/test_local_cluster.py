"""A local cluster that stays up (`aegis up` / `aegis down`), joining clusters with Ray's token
authentication, and no process left behind per run on a long-running cluster (issue 20, items 3,
13 and 14). Every head these tests start is stopped in a fixture's `finally`, whatever happens."""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from actors import local_cluster, process_sessions
from tests.helpers import aegis, clean_env

pytestmark = pytest.mark.e2e

QUESTION = "What is the capital of Australia?"


def user_env(**extra: str) -> dict[str, str]:
    """A clean environment with no Ray auth settings of the test process (a `ray.init()` here turns
    RAY_AUTH_MODE=token on in os.environ)."""
    env = clean_env(**extra)
    for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        if name not in extra:
            env.pop(name, None)
    return env


def working_processes(head: local_cluster.LocalHead) -> list[str]:
    """The head's processes (its simulator's too) other than idle pooled workers."""
    names = []
    for pid in head.processes():
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        if not argv.startswith("ray::IDLE"):
            names.append(argv[:80])
    return sorted(names)


def settled(head: local_cluster.LocalHead, at_most: int, timeout_s: float = 20.0) -> list[str]:
    """The working processes once no more than `at_most` are left (a finished driver's workers take
    a moment to go), or as they are at the timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = working_processes(head)
        if len(found) <= at_most or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


@pytest.fixture(scope="module")
def token_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ray-token") / "auth_token"
    path.write_text(secrets.token_hex(32))
    return path


@pytest.fixture(scope="module")
def head_env(tmp_path_factory: pytest.TempPathFactory, token_file: Path) -> Iterator[dict[str, str]]:
    """`aegis up` on an Aegis home of its own (its own token too); `aegis down` at the end, and the
    head's processes killed directly should the CLI have failed to."""
    home = tmp_path_factory.mktemp("aegis-home")
    env = user_env(AEGIS_HOME=str(home), RAY_AUTH_TOKEN_PATH=str(token_file))
    try:
        up = aegis("up", env=env, cwd=home)
        assert up.returncode == 0, up.stderr
        yield env
    finally:
        aegis("down", env=env, cwd=home)
        local_cluster.stop(home)


def head_of(env: dict[str, str]) -> local_cluster.LocalHead:
    head = local_cluster.recorded(Path(env["AEGIS_HOME"]))
    assert head is not None
    return head


def test_up_reports_the_cluster_and_a_second_up_finds_it(head_env: dict[str, str], tmp_path: Path) -> None:
    head = head_of(head_env)
    assert head.up() and head.sim_url
    assert not str(head.temp_dir).startswith("/tmp/ray")  # a plain ray.init() elsewhere never joins it
    again = aegis("up", env=head_env, cwd=tmp_path)
    assert again.returncode == 0 and "already up" in again.stderr and head.address in again.stderr
    status = aegis("status", "--json", env=head_env, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["up"] and report["address"] == head.address and report["processes"] > 0


def test_warm_runs_answer_and_leave_no_process_behind(head_env: dict[str, str], tmp_path: Path) -> None:
    head = head_of(head_env)
    before = working_processes(head)
    after = []
    for _ in range(2):
        result = aegis("run", QUESTION, env=head_env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "Canberra" in result.stdout and "joining the local Aegis cluster" in result.stderr
        after.append(settled(head, at_most=len(before)))
    assert len(after[0]) <= len(before) and len(after[1]) <= len(before), (before, after)


def test_runs_that_join_by_address_leave_no_process_behind(head_env: dict[str, str], tmp_path: Path) -> None:
    """RAY_ADDRESS wins over the local head; each such run starts a simulator of its own, whose
    ProviderActor must go with it."""
    head = head_of(head_env)
    env = {**head_env, "RAY_ADDRESS": head.address}
    before = settled(head, at_most=len(working_processes(head)))
    for _ in range(2):
        result = aegis("run", QUESTION, env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "Canberra" in result.stdout and f"joining the Ray cluster at {head.address}" in result.stderr
    after = settled(head, at_most=len(before))
    assert len(after) <= len(before), (before, after)


def test_joining_by_address_turns_token_auth_on(head_env: dict[str, str], tmp_path: Path) -> None:
    """Only RAY_ADDRESS and where the token is: no RAY_AUTH_MODE (Ray alone would retry 20 s, then fail)."""
    env = {**head_env, "RAY_ADDRESS": head_of(head_env).address}
    assert "RAY_AUTH_MODE" not in env
    result = aegis("run", QUESTION, "--json", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Canberra" in json.loads(result.stdout)["answer"]["text"]


def test_a_missing_token_is_one_clear_line(head_env: dict[str, str], tmp_path: Path) -> None:
    address = head_of(head_env).address
    env = user_env(AEGIS_HOME=head_env["AEGIS_HOME"], RAY_ADDRESS=address, HOME=str(tmp_path))  # no ~/.ray
    started = time.monotonic()
    result = aegis("run", QUESTION, env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "requires token authentication" in result.stderr and "hint:" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert time.monotonic() - started < 15  # not Ray's 20 s of retries


def test_a_rejected_token_is_one_clear_line(head_env: dict[str, str], tmp_path: Path) -> None:
    env = {**head_env, "RAY_ADDRESS": head_of(head_env).address, "RAY_AUTH_TOKEN": "not-the-token"}
    result = aegis("run", QUESTION, env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "rejected the auth token from RAY_AUTH_TOKEN" in result.stderr and "Traceback" not in result.stderr


def test_an_unreachable_address_is_one_clear_line(tmp_path: Path) -> None:
    env = user_env(AEGIS_HOME=str(tmp_path / "home"), RAY_ADDRESS="127.0.0.1:9")
    result = aegis("run", QUESTION, env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "cannot reach the Ray cluster at 127.0.0.1:9" in result.stderr and "Traceback" not in result.stderr


def test_down_stops_every_process_and_leaves_no_file(head_env: dict[str, str], tmp_path: Path) -> None:
    head = head_of(head_env)
    home = Path(head_env["AEGIS_HOME"])
    down = aegis("down", env=head_env, cwd=tmp_path)
    assert down.returncode == 0, down.stderr
    assert "stopped the local cluster" in down.stderr
    assert head.processes() == []
    assert local_cluster.recorded(home) is None and not Path(head.temp_dir).exists()
    again = aegis("down", env=head_env, cwd=tmp_path)
    assert again.returncode == 0 and "no local cluster" in again.stderr


def test_up_with_several_nodes_spreads_work_and_down_stops_every_node(tmp_path: Path, token_file: Path) -> None:
    """`aegis up --nodes 3`: three raylets on this machine, factory workers on each of them, and
    `aegis down` takes every node's processes with the head's."""
    home = tmp_path / "home"
    env = user_env(AEGIS_HOME=str(home), RAY_AUTH_TOKEN_PATH=str(token_file))
    try:
        up = aegis("up", "--nodes", "3", "--num-cpus", "1", env=env, cwd=tmp_path)
        assert up.returncode == 0, up.stderr
        assert "3 nodes" in up.stderr
        head = local_cluster.recorded(home)
        assert head is not None and head.nodes == 3 and all(process_sessions.session_members(s, head.temp_dir)
                                                            for s in head.node_sessions)
        status = json.loads(aegis("status", "--json", env=env, cwd=tmp_path).stdout)
        alive = status["alive_nodes"]
        assert status["nodes"] == 3 and len(alive) == 3 and sum(node["head"] for node in alive) == 1
        assert all(node["cpus"] == 1 for node in alive)
        jobs = tmp_path / "jobs.jsonl"
        jobs.write_text("".join(json.dumps({"task": f"{QUESTION} ({i})"}) + "\n" for i in range(12)))
        factory = aegis("factory", "-f", str(jobs), "--workers", "3", "--concurrency", "2",
                        "-o", str(tmp_path / "out.jsonl"), env=env, cwd=tmp_path)
        assert factory.returncode == 0, factory.stderr
        with sqlite3.connect(home / "aegis.db") as db:
            workers = [row[0] for row in db.execute("SELECT worker FROM jobs WHERE status = 'done'")]
        assert len(workers) == 12
        nodes_used = {worker.split(":")[1] for worker in workers}  # "worker:<node id>:<actor>:<pid>"
        assert nodes_used <= {node["node_id"][:12] for node in alive} and len(nodes_used) >= 2, workers
        again = aegis("up", "--nodes", "2", env=env, cwd=tmp_path)
        assert again.returncode == 0 and "it has 3 node(s), not 2" in again.stderr
        down = aegis("down", env=env, cwd=tmp_path)
        assert down.returncode == 0, down.stderr
        assert head.processes() == [] and head.node_processes() == []
    finally:
        aegis("down", env=env, cwd=tmp_path)
        local_cluster.stop(home)


def test_autostart_keeps_the_first_runs_cluster_for_the_next(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = user_env(AEGIS_HOME=str(home), AEGIS_LOCAL_CLUSTER="keep")
    try:
        first = aegis("run", QUESTION, env=env, cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        assert "starting a local Ray cluster" in first.stderr and "Canberra" in first.stdout
        head = local_cluster.recorded(home)
        assert head is not None and head.up()
        second = aegis("run", QUESTION, env=env, cwd=tmp_path)
        assert second.returncode == 0, second.stderr
        assert "joining the local Aegis cluster" in second.stderr
        assert local_cluster.recorded(home) == head
    finally:
        aegis("down", env=env, cwd=tmp_path)
        local_cluster.stop(home)
    assert local_cluster.recorded(home) is None


def test_session_members_are_exactly_one_sessions_processes() -> None:
    own = process_sessions.session_members(os.getsid(0))
    assert os.getpid() in own
    assert process_sessions.session_members(2**22 + 12345) == []
    assert process_sessions.session_members(os.getsid(0), marker="no process has this in its command line") == []


def test_a_record_whose_processes_are_gone_is_dropped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.delenv(local_cluster.AUTOSTART_ENV, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    stale = local_cluster.LocalHead(address="127.0.0.1:9", session=2**22 + 4321, temp_dir=str(tmp_path / "gone"),
                                    started_at=0.0, sim_url="http://127.0.0.1:9", sim_session=2**22 + 4322)
    (home / local_cluster.RECORD).write_text(json.dumps(stale.__dict__))
    assert local_cluster.recorded(home) == stale
    assert local_cluster.running(home) is None and local_cluster.recorded(home) is None
    assert local_cluster.join_address(None, home) == (None, "ephemeral")
