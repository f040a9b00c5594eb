"""A local Ray cluster that outlives the command that started it, and joining clusters with Ray's
token authentication.

`start` runs `ray start --head` in a session of its own (`setsid`): every process of the head (GCS,
raylet, agents, the workers it spawns, detached actors included) carries that session id, which is
how `stop` finds exactly them and nothing else (never `ray stop`, which stops every Ray process on
the machine). The head gets a temp dir of its own, `/tmp/aegis-<uid>/<hash of the Aegis home>`: Ray
writes its `ray_current_cluster` file there, not in `/tmp/ray`, so a plain `ray.init()` elsewhere
(a test suite, a notebook) never joins it by accident. Its address and session are recorded in
`<home>/cluster.json`; a record whose processes are gone is dropped on the next look.

Ray 2.60 turns token authentication on for the clusters it starts, and a process that joins by
address (`RAY_ADDRESS`) sends its token only when `RAY_AUTH_MODE=token`: without it, `ray.init`
retries for about 20 s and raises a bare `ConnectionError`. `prepare_join` switches token mode on
when a token exists (Ray's own lookup: `RAY_AUTH_TOKEN`, `RAY_AUTH_TOKEN_PATH`, `~/.ray/auth_token`)
and asks the cluster's GCS once, in milliseconds, whether it lets this process in: a missing or
rejected token and an unreachable address are one clear error each, with a hint.

Nothing here imports Ray at module level: `aegis down` and `aegis status` stay instant.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from aegis_ray.errors import AegisError, ConfigError

RECORD = "cluster.json"
LOCK = "cluster.lock"
START_LOG = "cluster-start.log"
SIM_LOG = "cluster-sim.log"
START_TIMEOUT_S = 180.0
STOP_GRACE_S = 1.0
AUTH_MODE = "RAY_AUTH_MODE"
DEFAULT_TOKEN = Path("~/.ray/auth_token")
# How a run joins: `RAY_ADDRESS`/`AEGIS_RAY_ADDRESS` first, else a running local head, else (when
# `AEGIS_LOCAL_CLUSTER=keep`) a head started for it, else a cluster of its own for that one command.
AUTOSTART_ENV = "AEGIS_LOCAL_CLUSTER"


class ClusterError(AegisError):
    """The Ray cluster cannot be started, reached or joined."""


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

    def head_processes(self) -> list[int]:
        return session_members(self.session, self.temp_dir)

    def sim_processes(self) -> list[int]:
        return session_members(self.sim_session, _sim_marker(self.sim_url)) if self.sim_session else []

    def processes(self) -> list[int]:
        """Every live process of the head and of its simulator."""
        return self.head_processes() + self.sim_processes()

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


# -- processes ------------------------------------------------------------------------------------

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


def _kill_session(session: int, marker: str | None, grace_s: float = STOP_GRACE_S) -> int:
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


# -- token authentication -------------------------------------------------------------------------

def token_source() -> str:
    """Where Ray looks for the token first, in words."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return "RAY_AUTH_TOKEN"
    if os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return f"RAY_AUTH_TOKEN_PATH ({os.environ['RAY_AUTH_TOKEN_PATH']})"
    return str(DEFAULT_TOKEN)


def _has_token() -> bool:
    from ray._raylet import AuthenticationTokenLoader

    loader = AuthenticationTokenLoader.instance()
    loader.reset_cache()  # the environment may have changed since Ray first looked
    return bool(loader.has_token(ignore_auth_mode=True))


def _token_mode() -> bool:
    return os.environ.get(AUTH_MODE, "").strip().lower() == "token"


def _enable_token_mode() -> None:
    from ray._private.authentication.authentication_token_setup import _enable_token_auth

    _enable_token_auth()  # RAY_AUTH_MODE=token, for this process and what it starts


def _ensure_head_token() -> dict[str, str]:
    """The auth environment for a new head: token mode (unless `RAY_AUTH_MODE` says otherwise) with
    a token, created at ~/.ray/auth_token, as `ray.init()` does, if there is none."""
    if os.environ.get(AUTH_MODE) is not None and not _token_mode():
        return {}
    if not _has_token():
        if os.environ.get("RAY_AUTH_TOKEN_PATH"):
            raise ConfigError(f"RAY_AUTH_TOKEN_PATH names {os.environ['RAY_AUTH_TOKEN_PATH']}, which holds no token",
                              hint="write a token there (`ray get-auth-token --generate` makes one) or unset it")
        from ray._private.authentication.authentication_token_setup import generate_and_save_token

        generate_and_save_token()
    return {AUTH_MODE: "token"}


def _probeable(address: str) -> bool:
    return "://" not in address and address not in ("auto", "local") and ":" in address


def _probe(address: str, header: dict[str, str], timeout_s: float = 5.0) -> str:
    """One GCS call (GetClusterId) with this token: "ok", "unauthenticated" or "unreachable"."""
    import grpc
    from ray.core.generated import gcs_service_pb2, gcs_service_pb2_grpc

    metadata = tuple((k.lower(), v) for k, v in header.items())
    with grpc.insecure_channel(address) as channel:
        stub = gcs_service_pb2_grpc.NodeInfoGcsServiceStub(channel)
        try:
            stub.GetClusterId(gcs_service_pb2.GetClusterIdRequest(), timeout=timeout_s, metadata=metadata,
                              wait_for_ready=False)
        except grpc.RpcError as error:
            return "unauthenticated" if error.code() == grpc.StatusCode.UNAUTHENTICATED else "unreachable"
    return "ok"


def prepare_join(address: str) -> None:
    """Before `ray.init(address)`: token mode on when a token exists and `RAY_AUTH_MODE` is unset;
    then one quick question to the cluster, so that a missing or rejected token and an unreachable
    address fail now, clearly, and not after Ray's 20 s of retries with a traceback."""
    has_token = _has_token()
    if os.environ.get(AUTH_MODE) is None and has_token:
        _enable_token_mode()
    if _token_mode() and not has_token:
        raise ConfigError(
            f"RAY_AUTH_MODE=token but no Ray auth token was found (looked in {token_source()})",
            hint="copy the cluster's token (`ray get-auth-token` on its head) to ~/.ray/auth_token, "
                 "or set RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH")
    if not _probeable(address):
        return
    from ray._raylet import AuthenticationTokenLoader

    header = (AuthenticationTokenLoader.instance().get_token_for_http_header(ignore_auth_mode=True)
              if _token_mode() else {})
    outcome = _probe(address, header)
    if outcome == "unreachable":
        raise ClusterError(f"cannot reach the Ray cluster at {address}",
                           hint="check RAY_ADDRESS (host:port of the head's GCS) and that the head is up; "
                                "unset it to use a local cluster")
    if outcome == "unauthenticated" and header:
        raise ConfigError(
            f"the Ray cluster at {address} rejected the auth token from {token_source()}",
            hint="use the cluster's own token: `ray get-auth-token` on its head, then put it in "
                 "~/.ray/auth_token or RAY_AUTH_TOKEN")
    if outcome == "unauthenticated":
        hint = ("set RAY_AUTH_MODE=token (the token exists)" if has_token else
                "copy the cluster's token (`ray get-auth-token` on its head) to ~/.ray/auth_token, "
                "or set RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH")
        raise ConfigError(f"the Ray cluster at {address} requires token authentication and no token was "
                          f"sent (looked in {token_source()})", hint=hint)


# -- start and stop -------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_command(tmp: Path, num_cpus: int | None, object_store_bytes: int | None) -> list[str]:
    command = [
        sys.executable, "-c", "from ray.scripts.scripts import main; main()", "start", "--head",
        "--port=0", f"--temp-dir={tmp}", "--include-dashboard=false", "--disable-usage-stats",
        # The Ray Client server defaults to port 10001, which another cluster may hold.
        f"--ray-client-server-port={_free_port()}",
        # Drivers join with log_to_driver=False: nobody reads what the log monitor would stream.
        "--include-log-monitor=false",
    ]
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
        _kill_session(head.sim_session, _sim_marker(head.sim_url), grace_s=0.5)
    _kill_session(head.session, head.temp_dir)


def start(home: Path, *, num_cpus: int | None = None, object_store_bytes: int | None = None,
          timeout_s: float = START_TIMEOUT_S) -> tuple[LocalHead, bool]:
    """The local head of `home` and its simulator, started (detached, token auth on) unless they
    are up; and whether this call started them."""
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
        env.update(_ensure_head_token(), RAY_USAGE_STATS_ENABLED="0")
        sim, sim_url = _start_sim(home, env)  # starts while Ray does
        log = home / START_LOG
        with log.open("w", encoding="utf-8") as out:
            launcher = subprocess.Popen(_start_command(tmp, num_cpus, object_store_bytes), env=env, cwd=tmp,
                                        stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        try:
            try:
                code = launcher.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                code = None
            address_file = tmp / "ray_current_cluster"
            if code != 0 or not address_file.exists():
                tail = " | ".join(log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:])
                why = "timed out" if code is None else f"exited {code}"
                raise ClusterError(f"the local Ray head did not start ({why}): {tail[-400:]}",
                                   hint=f"the full log is {log}")
            _await_sim(sim, sim_url)
        except BaseException:  # a failure, or Ctrl-C: leave nothing behind
            _kill_session(sim.pid, None, grace_s=0.5)  # sessions of this process's own children
            _kill_session(launcher.pid, None)
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        head = LocalHead(address=address_file.read_text(encoding="utf-8").strip(), session=launcher.pid,
                         temp_dir=str(tmp), started_at=time.time(), num_cpus=num_cpus, sim_url=sim_url,
                         sim_session=sim.pid)
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
            _kill_session(current.sim_session, _sim_marker(current.sim_url), grace_s=0.5)
        env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
        sim, sim_url = _start_sim(home, env)
        try:
            _await_sim(sim, sim_url)
        except BaseException:
            _kill_session(sim.pid, None, grace_s=0.5)
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
