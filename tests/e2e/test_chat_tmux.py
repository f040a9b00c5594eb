"""`aegis chat` as a person drives it: in a real terminal (Debian's `tmux`: send-keys, capture-pane),
on the simulated coder. Ask, approve, see the answer, save, exit, resume, follow up on the earlier
turn, /usage, cancel a turn with Ctrl-C and go on, exit with Ctrl-D (status 0)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import AEGIS, clean_env, sim_cli_server

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")]

SIM_CONFIG = {"models": {
    "sim-coder-slow*": {"persona": "coder", "latency_ms": 20000},
    "sim-coder*": {"persona": "coder"},
}}
PROMPT = "you›"


class Terminal:
    """One tmux server of its own, one window running a command; keys in, screen text out."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True,
                              timeout=30).stdout

    def start(self, command: list[str], env: dict[str, str], cwd: Path) -> None:
        exports = " ".join(shlex.quote(f"{k}={v}") for k, v in env.items())
        line = f"cd {shlex.quote(str(cwd))} && env -i {exports} {shlex.join(command)}; echo EXIT=$?; sleep 120"
        if self.alive():
            self.tmux("kill-server")
            deadline = time.monotonic() + 10
            while self.alive() and time.monotonic() < deadline:  # the old server takes a moment to go
                time.sleep(0.1)
            time.sleep(0.2)  # and its socket file with it
        self.tmux("new-session", "-d", "-x", "200", "-y", "50", "bash", "-c", line)

    def alive(self) -> bool:
        return subprocess.run(["tmux", "-L", self.socket, "has-session"], capture_output=True).returncode == 0

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", *keys)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-l", text)
        self.tmux("send-keys", "Enter")

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-J", "-S", "-")

    def wait_for(self, text: str, *, after: int = 0, timeout_s: float = 90.0) -> int:
        """Wait until `text` is on the screen past position `after`; where it ends."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            screen = self.screen()
            found = screen.find(text, after)
            if found >= 0:
                return found + len(text)
            time.sleep(0.2)
        pytest.fail(f"{text!r} never appeared; the screen:\n{self.screen()}")

    def prompt(self, after: int) -> int:
        """Wait for the next empty prompt (the chat waits for a message) past `after`."""
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            screen = self.screen()
            at = screen.rfind(PROMPT)
            if at >= after and not screen[at + len(PROMPT):].strip():
                return at
            time.sleep(0.2)
        pytest.fail(f"no prompt; the screen:\n{self.screen()}")


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    term = Terminal(f"aegis-test-{uuid.uuid4().hex[:8]}")
    yield term
    if term.alive():
        term.tmux("kill-server")


@pytest.fixture(scope="module")
def sim_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with sim_cli_server(SIM_CONFIG, tmp_path_factory.mktemp("sim")) as url:
        yield url


def test_a_person_chats_saves_resumes_cancels_and_exits(terminal: Terminal, cluster_address: str, sim_url: str,
                                                        tmp_path: Path) -> None:
    env = clean_env(RAY_ADDRESS=cluster_address, AEGIS_HOME=str(tmp_path / "home"), AEGIS_SIM_URL=sim_url,
                    TERM="xterm-256color")
    workspace = tmp_path / "ws"
    terminal.start([*AEGIS, "chat", "--workspace", str(workspace), "--model", "sim:sim-coder"], env, tmp_path)
    at = terminal.prompt(terminal.wait_for("/help for commands"))

    terminal.type("Compute the 20th Fibonacci number")
    at = terminal.wait_for("Allow write tool write_file(path='solution.py'", after=at)
    terminal.type("y")
    at = terminal.wait_for("Allow execute tool run_command(command='python3 solution.py')", after=at)
    terminal.type("y")
    at = terminal.wait_for("\n6765\n", after=at)  # the answer, on its own line
    at = terminal.prompt(at)
    assert "fib(20)" in (workspace / "solution.py").read_text()

    terminal.type("/save fib")
    at = terminal.prompt(terminal.wait_for("saved: resume it with `aegis chat --resume fib`", after=at))
    terminal.keys("C-d")
    terminal.wait_for("EXIT=0", after=at)

    terminal.start([*AEGIS, "chat", "--resume", "fib"], env, tmp_path)
    at = terminal.wait_for("you› Compute the 20th Fibonacci number")  # the recap of where it was
    at = terminal.prompt(at)
    terminal.type("What is that number plus 1?")  # needs the earlier turn
    at = terminal.wait_for("[y/N/a]", after=at)
    terminal.type("a")  # approve this and every later call
    at = terminal.prompt(terminal.wait_for("\n6766\n", after=at))

    terminal.type("/usage")
    at = terminal.prompt(terminal.wait_for("2 messages from you", after=at))
    assert "model calls" in terminal.screen()[at - 300:]

    terminal.type("/model sim:sim-coder-slow")  # 20 s a call: time to press Ctrl-C during the turn
    at = terminal.prompt(terminal.wait_for("model: sim:sim-coder-slow", after=at))
    terminal.type("What is 6 times 7?")
    time.sleep(3)
    terminal.keys("C-c")
    at = terminal.prompt(terminal.wait_for("turn cancelled", after=at, timeout_s=30))

    terminal.type("/model sim:sim-coder")
    at = terminal.prompt(terminal.wait_for("model: sim:sim-coder", after=at))
    terminal.type("What is that number plus 1?")  # the session goes on, its context whole
    at = terminal.prompt(terminal.wait_for("\n6767\n", after=at))
    terminal.keys("C-d")
    terminal.wait_for("EXIT=0", after=at)
    screen = terminal.screen()
    assert "Traceback" not in screen and "error:" not in screen
