"""A local Ray cluster that outlives the command that started it.

`start` runs `ray start --head` in a session of its own (`setsid`): every process of the head (GCS,
raylet, agents, the workers it spawns, detached actors included) carries that session id, which is
how `stop` finds exactly them and nothing else (never `ray stop`, which stops every Ray process on
the machine). The head gets a temp dir of its own, `/tmp/aegis-<uid>/<hash of the Aegis home>`: Ray
writes its `ray_current_cluster` file there, not in `/tmp/ray`, so a plain `ray.init()` elsewhere
(a test suite, a notebook) never joins it by accident. Its address and session are recorded in
`<home>/cluster.json`; a record whose processes are gone is dropped on the next look.

With `nodes` above one, worker nodes join the head on this same machine (`ray start --address`),
each with its own raylet, object store and CPUs, each in a session of its own recorded beside the
head's: a cluster of several nodes to try placement and node failure on before a real one.

The head starts in token-authentication mode, with a token (`actors.ray_auth`, which also
prepares joining any cluster by address); its processes are found and stopped by session
(`actors.process_sessions`).

Nothing here imports Ray at module level: `aegis down` and `aegis status` stay instant.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from actors.process_sessions import kill_session, session_members
from actors.ray_auth import ClusterError, head_token_env

RECORD = "cluster.json"
LOCK = "cluster.lock"
START_LOG = "cluster-start.log"
SIM_LOG = "cluster-sim.log"
START_TIMEOUT_S = 180.0
# How a run joins: `RAY_ADDRESS`/`AEGIS_RAY_ADDRESS` first, else a running local head, else (when
# `AEGIS_LOCAL_CLUSTER=keep`) a head started for it, else a cluster of its own for that one command.
AUTOSTART_ENV = "AEGIS_LOCAL_CLUSTER"


@dataclass(frozen=True)
class LocalHead:
    """A running local head, as recorded in the Aegis home."""

    address: str  # the GCS, host:port: what `RAY_ADDRESS` would name
    session: int  # the session id of its processes (the pid of the `ray start` that made it)
    temp_dir: str
    started_at: float
    num_cpus: int | None = None
    sim_url: str | None = None  # the simulated model server that lives as long as the head
    sim_session: int | None = None
    node_sessions: tuple[int, ...] = ()  # the worker nodes on this machine, one session each

    def __post_init__(self) -> None:
        object.__setattr__(self, "node_sessions", tuple(self.node_sessions))  # a list, read back from JSON

    @property
    def nodes(self) -> int:
        return 1 + len(self.node_sessions)

    def head_processes(self) -> list[int]:
        return session_members(self.session, self.temp_dir)

    def node_processes(self) -> list[int]:
        """Every live process of the worker nodes."""
        return [pid for session in self.node_sessions for pid in session_members(session, self.temp_dir)]

    def sim_processes(self) -> list[int]:
        return session_members(self.sim_session, _sim_marker(self.sim_url)) if self.sim_session else []

    def processes(self) -> list[int]:
        """Every live process of the head, of its worker nodes and of its simulator."""
        return self.head_processes() + self.node_processes() + self.sim_processes()

    def up(self) -> bool:
        """Whether the head's processes live and its GCS takes connections."""
        return bool(self.head_processes()) and _port_open(self.address)


def temp_dir(home: Path) -> Path:
    """The head's Ray temp dir: short (Unix socket paths under it stay far below ~107 bytes), one per
    user and Aegis home, and never `/tmp/ray`."""
    digest = hashlib.sha256(str(home.expanduser().resolve()).encode()).hexdigest()[:10]
    return Path("/tmp") / f"aegis-{os.getuid()}" / digest


def autostart_enabled() -> bool:
    """Whether a command that needs Ray and finds no cluster starts a head that stays up."""
    return os.environ.get(AUTOSTART_ENV, "").strip().lower() in ("keep", "1", "true", "yes", "on")


def _sim_marker(url: str | None) -> str:
    return f"'127.0.0.1', {url.rpartition(':')[2]})" if url else "serve_forever("


def _port_open(address: str, timeout_s: float = 2.0) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            return True
    except (OSError, ValueError):
        return False


# -- the record -----------------------------------------------------------------------------------

@contextlib.contextmanager
def _locked(home: Path) -> Iterator[None]:
    """One `aegis` process at a time starts or stops the head of one home."""
    import fcntl

    home.mkdir(parents=True, exist_ok=True)
    with (home / LOCK).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def recorded(home: Path) -> LocalHead | None:
    try:
        return LocalHead(**json.loads((home / RECORD).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def _write_record(home: Path, head: LocalHead) -> None:
    path = home / RECORD
    staged = path.with_suffix(".tmp")
    staged.write_text(json.dumps(asdict(head), indent=2), encoding="utf-8")
    staged.replace(path)


def _forget(home: Path, head: LocalHead | None) -> None:
    with contextlib.suppress(FileNotFoundError):
        (home / RECORD).unlink()
    if head is not None:
        shutil.rmtree(head.temp_dir, ignore_errors=True)
        with contextlib.suppress(OSError):
            Path(head.temp_dir).parent.rmdir()  # /tmp/aegis-<uid>, once no home has a head


def running(home: Path) -> LocalHead | None:
    """The local head of `home` if it is up and its GCS takes connections. The record of a head
    whose processes are all gone is cleaned up (with its simulator); one that lives but does not
    answer is left for `aegis down` (or the next `aegis up`, which replaces it)."""
    head = recorded(home)
    if head is None:
        return None
    if head.up():
        return head
    if not head.head_processes():
        with _locked(home):
            if recorded(home) == head:  # nobody restarted it meanwhile
                _stop_head(head)
                _forget(home, head)
    return None


# -- start and stop -------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_command(tmp: Path, num_cpus: int | None, object_store_bytes: int | None,
                   head_address: str | None = None) -> list[str]:
    """`ray start` for the head, or (with `head_address`) for a worker node joining it."""
    command = [sys.executable, "-c", "from ray.scripts.scripts import main; main()", "start",
               f"--temp-dir={tmp}", "--disable-usage-stats",
               # Drivers join with log_to_driver=False: nobody reads what the log monitor would stream.
               "--include-log-monitor=false"]
    if head_address is None:
        command += ["--head", "--port=0", "--include-dashboard=false",
                    # The Ray Client server defaults to port 10001, which another cluster may hold.
                    f"--ray-client-server-port={_free_port()}"]
    else:
        command.append(f"--address={head_address}")
    if num_cpus is not None:
        command.append(f"--num-cpus={num_cpus}")
    if object_store_bytes is not None:
        command.append(f"--object-store-memory={object_store_bytes}")
    return command


def _start_sim(home: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """The simulated model server that lives as long as the head, in a session of its own (a
    Ctrl-C in the terminal that started it does not reach it); its process and URL. One server at
    one URL for the head's whole life: every run's `sim:` endpoints, and so their `ProviderActor`s,
    are the same ones."""
    port = _free_port()
    code = ("from aegis_ray.sim import SimConfig; from aegis_ray.sim.server import serve_forever; "
            f"serve_forever(SimConfig(), '127.0.0.1', {port})")
    with (home / SIM_LOG).open("w", encoding="utf-8") as out:
        server = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=home, stdin=subprocess.DEVNULL,
                                  stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return server, f"http://127.0.0.1:{port}"


def _sim_answers(url: str, timeout_s: float = 0.5) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/_sim/health", timeout=timeout_s) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


def _await_sim(server: subprocess.Popen[bytes], url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not _sim_answers(url):
        if server.poll() is not None or time.monotonic() > deadline:
            raise ClusterError("the local cluster's simulated model server did not start",
                               hint=f"its log is {SIM_LOG} in the Aegis home")
        time.sleep(0.05)


def _stop_head(head: LocalHead) -> None:
    if head.sim_session:
        kill_session(head.sim_session, _sim_marker(head.sim_url), grace_s=0.5)
    for session in head.node_sessions:  # before the head: a node whose head went first only retries
        kill_session(session, head.temp_dir, grace_s=0.5)
    kill_session(head.session, head.temp_dir)


def _launch(command: list[str], env: dict[str, str], tmp: Path, log: Path, timeout_s: float, what: str
            ) -> subprocess.Popen[bytes]:
    """Run a `ray start` in a session of its own until it has started what it starts (it then exits,
    leaving its daemons in that session); a clear error, with its log's last lines, if it failed."""
    with log.open("w", encoding="utf-8") as out:
        launcher = subprocess.Popen(command, env=env, cwd=tmp, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
    try:
        code = launcher.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        code = None
    except BaseException:
        kill_session(launcher.pid, None)
        raise
    if code != 0:
        kill_session(launcher.pid, None)
        tail = " | ".join(log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:])
        why = "timed out" if code is None else f"exited {code}"
        raise ClusterError(f"the local Ray {what} did not start ({why}): {tail[-400:]}",
                           hint=f"the full log is {log}")
    return launcher


def _await_nodes(address: str, nodes: int, env: dict[str, str], timeout_s: float) -> None:
    """Wait until the GCS at `address` counts `nodes` alive nodes (asked from a child process: this
    one may be a driver of another cluster, or none, and stays free of Ray)."""
    code = ("import ray, time, sys\n"
            f"ray.init(address={address!r}, log_to_driver=False, configure_logging=False)\n"
            f"deadline = time.monotonic() + {timeout_s}\n"
            f"while sum(n['Alive'] for n in ray.nodes()) < {nodes}:\n"
            "    if time.monotonic() > deadline: sys.exit(1)\n"
            "    time.sleep(0.2)\n")
    try:
        subprocess.run([sys.executable, "-c", code], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=timeout_s + 30, check=True)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise ClusterError(f"the local cluster did not reach {nodes} alive nodes",
                           hint="its logs are cluster-start*.log in the Aegis home") from exc


def start(home: Path, *, num_cpus: int | None = None, object_store_bytes: int | None = None,
          timeout_s: float = START_TIMEOUT_S, nodes: int = 1) -> tuple[LocalHead, bool]:
    """The local head of `home` and its simulator, started (detached, token auth on) unless they
    are up; and whether this call started them. With `nodes` > 1, that many nodes in all, each with
    `num_cpus` CPUs (default: the machine's CPUs shared out among them, at least one each)."""
    home = home.expanduser()
    head = running(home)
    if head is not None:
        return head, False
    with _locked(home):
        head = recorded(home)
        if head is not None and head.up():
            return head, False  # another command started it while this one waited
        if head is not None:
            _stop_head(head)
            _forget(home, head)
        tmp = temp_dir(home)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp.mkdir(mode=0o700)
        env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
        env.update(head_token_env(), RAY_USAGE_STATS_ENABLED="0")
        sim, sim_url = _start_sim(home, env)  # starts while Ray does
        sessions: list[int] = []
        if nodes > 1 and num_cpus is None:
            num_cpus = max(1, (os.cpu_count() or 1) // nodes)
        try:
            launcher = _launch(_start_command(tmp, num_cpus, object_store_bytes), env, tmp, home / START_LOG,
                               timeout_s, "head")
            sessions.append(launcher.pid)
            address_file = tmp / "ray_current_cluster"
            if not address_file.exists():
                raise ClusterError("the local Ray head started but wrote no address",
                                   hint=f"the full log is {home / START_LOG}")
            address = address_file.read_text(encoding="utf-8").strip()
            for i in range(1, nodes):
                node = _launch(_start_command(tmp, num_cpus, object_store_bytes, address), env, tmp,
                               home / f"cluster-start-node{i}.log", timeout_s, f"node {i}")
                sessions.append(node.pid)
            if nodes > 1:
                _await_nodes(address, nodes, env, timeout_s)
            _await_sim(sim, sim_url)
        except BaseException:  # a failure, or Ctrl-C: leave nothing behind
            kill_session(sim.pid, None, grace_s=0.5)  # sessions of this process's own children
            for session in reversed(sessions):
                kill_session(session, None)
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        head = LocalHead(address=address, session=sessions[0], temp_dir=str(tmp), started_at=time.time(),
                         num_cpus=num_cpus, sim_url=sim_url, sim_session=sim.pid, node_sessions=tuple(sessions[1:]))
        _write_record(home, head)
        return head, True


def simulator_url(home: Path) -> str | None:
    """The URL of the running local head's simulator (restarted if it died); None without a head."""
    home = home.expanduser()
    head = running(home)
    if head is None:
        return None
    if head.sim_url and _sim_answers(head.sim_url):
        return head.sim_url
    with _locked(home):
        current = recorded(home)
        if current is None:
            return None
        if current.sim_url and _sim_answers(current.sim_url):
            return current.sim_url
        if current.sim_session:
            kill_session(current.sim_session, _sim_marker(current.sim_url), grace_s=0.5)
        env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
        sim, sim_url = _start_sim(home, env)
        try:
            _await_sim(sim, sim_url)
        except BaseException:
            kill_session(sim.pid, None, grace_s=0.5)
            raise
        _write_record(home, replace(current, sim_url=sim_url, sim_session=sim.pid))
        return sim_url


def stop(home: Path) -> LocalHead | None:
    """Stop the local head of `home` (exactly its processes) and remove its files; the head that
    was running, if one was."""
    home = home.expanduser()
    with _locked(home):
        head = recorded(home)
        if head is None:
            return None
        _stop_head(head)
        _forget(home, head)
        return head


def join_address(explicit: str | None, home: Path) -> tuple[str | None, str]:
    """Where a command joins, and how: ("<address>", "explicit") for `RAY_ADDRESS` or
    `AEGIS_RAY_ADDRESS`, ("<address>", "local") for a running local head, (None, "start") when one
    is to be started first (`AEGIS_LOCAL_CLUSTER=keep`), (None, "ephemeral") for a cluster of the
    command's own. Reads files only: no Ray."""
    address = explicit or os.environ.get("RAY_ADDRESS") or None
    if address:
        return address, "explicit"
    head = running(home.expanduser())
    if head is not None:
        return head.address, "local"
    return None, "start" if autostart_enabled() else "ephemeral"
