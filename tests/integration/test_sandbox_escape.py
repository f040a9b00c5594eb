"""Escape suite against the bubblewrap backend: every attack is a real attempt from inside.

Each payload tags its processes with a unique marker in their command line, so the test can prove,
by scanning every pid on the host, that nothing the sandbox started is left running.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from aegis_ray.errors import (
    SandboxCommandFailedError,
    SandboxError,
    SandboxMemoryLimitError,
    SandboxOutputLimitError,
    SandboxProcessLimitError,
    SandboxTimeoutError,
)
from aegis_ray.sandbox import SandboxLimits
from aegis_ray.sandbox.bubblewrap import BubblewrapSandbox

pytestmark = pytest.mark.integration

LIMITS = SandboxLimits(wall_s=5, cpu_s=5, memory_mb=256, max_processes=32, output_bytes=1_000_000)


def live_pids_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.fixture(scope="module")
def sandbox() -> BubblewrapSandbox:
    return BubblewrapSandbox()


@pytest.fixture
def host_listener() -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    yield server.getsockname()[1]
    try:
        server.accept()
        pytest.fail("the sandbox reached a listener on the host's loopback")
    except TimeoutError:
        pass
    finally:
        server.close()


async def attack(sandbox: BubblewrapSandbox, workspace: Path, code: str,
                 limits: SandboxLimits = LIMITS) -> tuple[type[SandboxError], str]:
    marker = f"aegis-escape-{uuid.uuid4().hex}"
    result = await sandbox.run(["python3", "-c", f"# {marker}\n{code}", marker], workspace, limits)
    await asyncio.sleep(0.2)
    assert live_pids_with(marker) == [], "a sandboxed process outlived its run"
    with pytest.raises(SandboxError) as caught:
        result.raise_for_outcome()
    return type(caught.value), result.stderr + result.stdout


async def test_tcp_to_a_host_loopback_listener_is_refused(sandbox, tmp_path: Path, host_listener: int) -> None:
    kind, output = await attack(sandbox, tmp_path, f"""
import socket
socket.create_connection(("127.0.0.1", {host_listener}), timeout=2)""")
    assert kind is SandboxCommandFailedError and "Connection refused" in output


async def test_dns_lookup_fails(sandbox, tmp_path: Path) -> None:
    kind, output = await attack(sandbox, tmp_path, "import socket; socket.getaddrinfo('pypi.org', 443)")
    assert kind is SandboxCommandFailedError and "gaierror" in output


async def test_only_loopback_exists_inside(sandbox, tmp_path: Path) -> None:
    result = await sandbox.run(["python3", "-c", "import socket; print(socket.if_nameindex())"], tmp_path, LIMITS)
    assert result.raise_for_outcome().stdout.strip() == "[(1, 'lo')]"


async def test_secrets_and_files_outside_the_workspace_are_unreadable(sandbox, tmp_path: Path) -> None:
    secret = tmp_path.parent / f"secret-{uuid.uuid4().hex}.txt"
    secret.write_text("top secret")
    try:
        for target in ("/etc/shadow", str(secret), "/root/.ray/auth_token", "/proc/1/environ"):
            kind, output = await attack(sandbox, tmp_path / "ws", f"print(open({target!r}).read())")
            assert kind is SandboxCommandFailedError, target
            assert "top secret" not in output
    finally:
        secret.unlink()


async def test_writes_outside_the_workspace_do_not_land(sandbox, tmp_path: Path) -> None:
    outside = tmp_path / f"escaped-{uuid.uuid4().hex}"
    workspace = tmp_path / "ws"
    workspace.mkdir()
    for target in (str(outside), "/usr/escaped", "/etc/escaped", "/escaped"):
        kind, _ = await attack(sandbox, workspace, f"open({target!r}, 'w').write('x')")
        assert kind is SandboxCommandFailedError, target
    assert not outside.exists() and not Path("/usr/escaped").exists()
    result = await sandbox.run(["python3", "-c", "open('/tmp/x', 'w').write('x'); open('in.txt', 'w').write('ok')"],
                               workspace, LIMITS)
    assert result.outcome == "ok" and (workspace / "in.txt").read_text() == "ok"


async def test_fork_bomb_is_contained(sandbox, tmp_path: Path) -> None:
    kind, _ = await attack(sandbox, tmp_path, "import os\nwhile True:\n    os.fork()")
    assert kind in (SandboxProcessLimitError, SandboxTimeoutError)


async def test_allocating_past_the_memory_limit_fails(sandbox, tmp_path: Path) -> None:
    kind, _ = await attack(sandbox, tmp_path, "block = bytearray(1024 * 1024 * 1024)")
    assert kind is SandboxMemoryLimitError


async def test_a_double_forked_child_dies_with_the_timeout(sandbox, tmp_path: Path) -> None:
    code = """
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(600)   # the daemon: must not outlive the run
    os._exit(0)
time.sleep(600)"""
    kind, _ = await attack(sandbox, tmp_path, code, LIMITS.model_copy(update={"wall_s": 1.0}))
    assert kind is SandboxTimeoutError


async def test_a_100_mb_stdout_flood_is_cut(sandbox, tmp_path: Path) -> None:
    code = "import sys\nfor _ in range(1600):\n    sys.stdout.write('x' * 65536)"
    kind, output = await attack(sandbox, tmp_path, code)
    assert kind is SandboxOutputLimitError
    assert len(output) <= LIMITS.output_bytes


async def test_the_sandbox_runs_unprivileged_without_capabilities(sandbox, tmp_path: Path) -> None:
    code = "import os; print(os.getuid(), open('/proc/self/status').read().split('CapEff:')[1].split()[0])"
    result = (await sandbox.run(["python3", "-c", code], tmp_path, LIMITS)).raise_for_outcome()
    assert result.stdout.split() == ["65534", "0000000000000000"]
