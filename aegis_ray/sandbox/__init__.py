"""Sandboxes for untrusted code: bubblewrap (default on Linux without Docker) and Docker.

`make_sandbox` picks the configured backend; `auto` prefers bubblewrap, then a reachable Docker
engine, and otherwise raises `SandboxUnavailableError`: code never runs unsandboxed.
"""

from __future__ import annotations

from typing import Literal

from aegis_ray.errors import SandboxUnavailableError
from aegis_ray.sandbox.base import ExecResult, Sandbox, SandboxLimits

SandboxBackend = Literal["auto", "bubblewrap", "docker"]


def make_sandbox(backend: SandboxBackend = "auto", image: str | None = None) -> Sandbox:
    from aegis_ray.sandbox.bubblewrap import BubblewrapSandbox
    from aegis_ray.sandbox.docker import DEFAULT_IMAGE, DockerSandbox

    if backend == "bubblewrap":
        return BubblewrapSandbox()
    if backend == "docker":
        return DockerSandbox(image or DEFAULT_IMAGE)
    reasons = []
    for make in (BubblewrapSandbox, lambda: DockerSandbox(image or DEFAULT_IMAGE)):
        try:
            return make()
        except SandboxUnavailableError as exc:
            reasons.append(exc.message)
    raise SandboxUnavailableError("no sandbox backend is available: " + "; ".join(reasons),
                                  hint="apt-get install bubblewrap, or run a Docker engine")


__all__ = ["ExecResult", "Sandbox", "SandboxBackend", "SandboxLimits", "make_sandbox"]
