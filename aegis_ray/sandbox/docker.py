"""The Docker backend, for machines with a Docker engine (`pip install "aegis-ray[docker]"`).

`--network none`, a non-root user, a read-only root filesystem with a tmpfs `/tmp`, the workspace as
the only writable bind, all capabilities dropped, no-new-privileges, memory / CPU / pids limits, and
the container killed and removed on timeout. The docker SDK is blocking, so it runs in a thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aegis_ray.errors import SandboxUnavailableError
from aegis_ray.sandbox.base import ExecResult, SandboxLimits, classify

DEFAULT_IMAGE = "python:3.11-slim"


def container_options(argv: Sequence[str], workspace: Path, limits: SandboxLimits, image: str,
                      env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The `containers.run` keyword arguments for one sandboxed command."""
    return {
        "image": image, "command": list(argv), "detach": True, "network_mode": "none",
        "user": "65534:65534", "read_only": True, "tmpfs": {"/tmp": "rw,size=64m"},
        "volumes": {str(workspace.resolve()): {"bind": "/workspace", "mode": "rw"}}, "working_dir": "/workspace",
        "environment": {"HOME": "/workspace", "PYTHONDONTWRITEBYTECODE": "1", **(env or {})},
        "cap_drop": ["ALL"], "security_opt": ["no-new-privileges"], "mem_limit": f"{limits.memory_mb}m",
        "memswap_limit": f"{limits.memory_mb}m", "pids_limit": limits.max_processes, "nano_cpus": 1_000_000_000,
        "ulimits": _ulimits(limits),
    }


def _ulimits(limits: SandboxLimits) -> list[Any]:
    from docker.types import Ulimit

    return [Ulimit(name="cpu", soft=limits.cpu_s, hard=limits.cpu_s + 1),
            Ulimit(name="fsize", soft=limits.file_size_mb * 2**20, hard=limits.file_size_mb * 2**20)]


class DockerSandbox:
    backend = "docker"

    def __init__(self, image: str = DEFAULT_IMAGE) -> None:
        try:
            import docker

            self._client = docker.from_env()
            self._client.ping()
        except Exception as exc:  # ImportError, or the engine is not reachable
            raise SandboxUnavailableError(f"no usable Docker engine: {exc}",
                                          hint='install docker and "aegis-ray[docker]", or use bubblewrap') from exc
        self.image = image

    def _run_blocking(self, argv: Sequence[str], workspace: Path, limits: SandboxLimits,
                      env: Mapping[str, str] | None) -> ExecResult:
        started = time.perf_counter()
        container = self._client.containers.run(**container_options(argv, workspace, limits, self.image, env))
        timed_out = False
        try:
            try:
                exit_code = int(container.wait(timeout=limits.wall_s)["StatusCode"])
            except Exception:  # requests' ReadTimeout: the wall clock ran out
                timed_out, exit_code = True, None
                container.kill()
            stdout = container.logs(stdout=True, stderr=False)
            stderr = container.logs(stdout=False, stderr=True)
            oom = bool(container.attrs.get("State", {}).get("OOMKilled"))
        finally:
            container.remove(force=True)
        flooded = len(stdout) + len(stderr) > limits.output_bytes
        stdout, stderr = stdout[: limits.output_bytes], stderr[: max(0, limits.output_bytes - len(stdout))]
        text_err = stderr.decode("utf-8", "replace") + ("\nout of memory" if oom else "")
        outcome = classify(exit_code, text_err, timed_out=timed_out, flooded=flooded, forks_refused=False)
        return ExecResult(argv=tuple(argv), outcome=outcome, exit_code=exit_code,
                          stdout=stdout.decode("utf-8", "replace"), stderr=text_err,
                          wall_s=time.perf_counter() - started, backend=self.backend)

    async def run(self, argv: Sequence[str], workspace: Path, limits: SandboxLimits,
                  env: Mapping[str, str] | None = None) -> ExecResult:
        return await asyncio.to_thread(self._run_blocking, argv, workspace, limits, env)
