"""The bubblewrap backend: the default on Linux machines without a Docker engine.

Each run gets new user, pid, network, ipc, uts and cgroup namespaces (`--unshare-all`; the network
namespace has only `lo`), read-only system directories, a tmpfs `/tmp`, the workspace as the only
writable mount, an unprivileged uid with no capabilities, and `--die-with-parent`. Limits:

- memory (address space), CPU time and file size: rlimits set by `prlimit` around bwrap;
- processes: a fresh cgroup `pids` group when the cgroup filesystem is writable (rlimit NPROC is a
  backstop only: the kernel does not apply it to processes whose real uid is root);
- wall clock: the whole tree is killed: bwrap's own process group, and with it (PR_SET_PDEATHSIG,
  then the pid namespace's teardown) every process inside, double-forked daemons included;
- output: stdout + stderr past the cap kill the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from aegis_ray.errors import SandboxUnavailableError
from aegis_ray.sandbox.base import ExecResult, SandboxLimits, classify, read_capped

SANDBOX_UID = 65534
_SYSTEM_DIRS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")
_ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/alternatives")
_PATH = "/usr/local/bin:/usr/bin:/bin"


class PidsCgroup:
    """A cgroup `pids` group per run (v1 `pids` controller or v2 unified), where writable."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def find(cls) -> PidsCgroup | None:
        for candidate in (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup")):
            if (candidate / "cgroup.procs").exists() and os.access(candidate, os.W_OK):
                probe = candidate / f"aegis-probe-{uuid.uuid4().hex[:8]}"
                try:
                    probe.mkdir()
                    usable = (probe / "pids.max").exists()
                    probe.rmdir()
                except OSError:
                    continue
                if usable:
                    return cls(candidate)
        return None

    def create(self, max_processes: int) -> Path:
        group = self.root / f"aegis-{uuid.uuid4().hex[:12]}"
        group.mkdir()
        (group / "pids.max").write_text(str(max_processes))
        return group

    @staticmethod
    def refused_forks(group: Path) -> bool:
        with contextlib.suppress(OSError):
            for line in (group / "pids.events").read_text().splitlines():
                name, _, count = line.partition(" ")
                if name == "max" and int(count) > 0:
                    return True
        return False

    @staticmethod
    def _kill_members(group: Path) -> bool:
        """SIGKILL everything in the group (cgroupfs: in-kernel, instant); True once it is empty."""
        try:
            pids = [int(p) for p in (group / "cgroup.procs").read_text().split()]
        except OSError:
            return True
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return not pids

    @staticmethod
    def _remove(group: Path) -> None:
        with contextlib.suppress(OSError):
            group.rmdir()

    @classmethod
    async def destroy(cls, group: Path) -> None:
        """Kill whatever is still in the group, then remove it, waiting without blocking the event
        loop that other sandbox runs of the same actor share."""
        for _ in range(50):
            if cls._kill_members(group):
                break
            await asyncio.sleep(0.01)
        cls._remove(group)


class BubblewrapSandbox:
    backend = "bubblewrap"

    def __init__(self, bwrap: str | None = None) -> None:
        found = bwrap or shutil.which("bwrap")
        prlimit = shutil.which("prlimit")
        if not found or not prlimit:
            missing = "bwrap (apt-get install bubblewrap)" if not found else "prlimit (util-linux)"
            raise SandboxUnavailableError(f"the bubblewrap sandbox needs {missing}",
                                          hint="install it, or use the docker backend on a machine with an engine")
        self._bwrap = found
        self._prlimit = prlimit
        self._cgroups = PidsCgroup.find()

    @property
    def limits_processes(self) -> bool:
        return self._cgroups is not None or os.getuid() != 0

    def _mounts(self, workspace: Path) -> list[str]:
        args: list[str] = []
        for name in _SYSTEM_DIRS:
            path = Path("/") / name
            if path.is_symlink():
                args += ["--symlink", os.readlink(path), str(path)]
            elif path.is_dir():
                args += ["--ro-bind", str(path), str(path)]
        for etc in _ETC_FILES:
            if Path(etc).exists():
                args += ["--ro-bind", etc, etc]
        # The root is bwrap's own tmpfs: remount it read-only last, so that only /workspace and /tmp
        # take writes (a write to /etc would otherwise land, harmlessly but surprisingly, in that tmpfs).
        return [*args, "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
                "--bind", str(workspace.resolve()), "/workspace", "--chdir", "/workspace", "--remount-ro", "/"]

    def command(self, argv: Sequence[str], workspace: Path, limits: SandboxLimits,
                env: Mapping[str, str] | None = None, cgroup: Path | None = None) -> list[str]:
        environment = {"PATH": _PATH, "HOME": "/workspace", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
                       **(env or {})}
        bwrap = [self._bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
                 "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", "aegis-sandbox",
                 *self._mounts(workspace), "--clearenv"]
        for key, value in environment.items():
            bwrap += ["--setenv", key, value]
        memory = limits.memory_mb * 2**20
        rlimits = [self._prlimit, f"--as={memory}:{memory}", f"--cpu={limits.cpu_s}:{limits.cpu_s + 1}",
                   f"--fsize={limits.file_size_mb * 2**20}", f"--nproc={limits.max_processes}", "--"]
        inner = [*rlimits, *bwrap, "--", *argv]
        if cgroup is None:
            return inner
        # The shell joins the group before exec'ing the rest, so nothing it starts is ever outside it.
        return ["/bin/sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', str(cgroup), *inner]

    async def run(self, argv: Sequence[str], workspace: Path, limits: SandboxLimits,
                  env: Mapping[str, str] | None = None) -> ExecResult:
        cgroup = self._cgroups.create(limits.max_processes) if self._cgroups else None
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            *self.command(argv, workspace, limits, env, cgroup), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True)

        def kill() -> None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

        assert process.stdout is not None and process.stderr is not None
        reading = asyncio.ensure_future(read_capped([process.stdout, process.stderr], limits.output_bytes, kill))
        timed_out = False
        try:
            await asyncio.wait_for(asyncio.shield(reading), limits.wall_s)
        except TimeoutError:
            timed_out = True
            kill()
        try:
            (stdout, stderr), flooded = await reading
            exit_code = await process.wait()
        finally:
            kill()
            refused = cgroup is not None and PidsCgroup.refused_forks(cgroup)
            if cgroup is not None:
                await PidsCgroup.destroy(cgroup)
        text_err = stderr.decode("utf-8", "replace")
        outcome = classify(exit_code, text_err, timed_out=timed_out, flooded=flooded, forks_refused=refused)
        return ExecResult(argv=tuple(argv), outcome=outcome, exit_code=exit_code,
                          stdout=stdout.decode("utf-8", "replace"), stderr=text_err,
                          wall_s=time.perf_counter() - started, backend=self.backend)
