"""Processes by POSIX session: the live members of a session, and stopping all of them.

A process started with `setsid` leads a session that every process it forks (and they fork) joins,
daemons included: the one handle that finds all of a Ray head's processes and nothing else.
Read from /proc where there is one (no dependency, and fast), else through psutil.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

STOP_GRACE_S = 1.0


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        import psutil

        with contextlib.suppress(psutil.Error):
            return " ".join(psutil.Process(pid).cmdline())
        return ""


def session_members(session: int, marker: str | None = None) -> list[int]:
    """The live processes of session `session` (zombies left out); none unless one of them has
    `marker` in its command line, when a marker is given (a session whose processes all died frees
    its id for reuse: the marker tells ours from a stranger's)."""
    members = _session_pids(session)
    if marker is not None and not any(marker in _cmdline(pid) for pid in members):
        return []
    return members


def _session_pids(session: int) -> list[int]:
    proc = Path("/proc")
    if not proc.is_dir():  # macOS and friends
        import psutil

        found = []
        for process in psutil.process_iter(["status"]):
            with contextlib.suppress(psutil.Error, OSError):
                if process.info["status"] != psutil.STATUS_ZOMBIE and os.getsid(process.pid) == session:
                    found.append(process.pid)
        return found
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_bytes()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp session ...": comm may hold spaces and parentheses.
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 3 and fields[0] != b"Z" and int(fields[3]) == session:
            members.append(int(entry.name))
    return members


def _signal_all(pids: list[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signum)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def kill_session(session: int, marker: str | None, grace_s: float = STOP_GRACE_S) -> int:
    """SIGTERM every process of `session` (if it is ours: see `session_members`), SIGKILL what is
    left after `grace_s`; how many there were. (Ray's GCS drains for up to 30 s on SIGTERM; a local
    head has nothing worth that wait.)"""
    members = session_members(session, marker)
    if not members:
        return 0
    _signal_all(members, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        for pid in members:
            _reap(pid)
        if not _session_pids(session):
            return len(members)
        time.sleep(0.05)
    for _ in range(50):  # workers can still be forking when the first signal lands
        left = _session_pids(session)
        if not left:
            break
        _signal_all(left, signal.SIGKILL)
        for pid in left:
            _reap(pid)
        time.sleep(0.05)
    return len(members)
