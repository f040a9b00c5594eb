"""Sandboxes for untrusted code: bubblewrap (default on Linux without Docker) and Docker.

`make_sandbox` builds the configured backend from the registry below; `auto` tries the backends in
registration order (bubblewrap, then a reachable Docker engine), and otherwise raises
`SandboxUnavailableError`: code never runs unsandboxed. A new backend is one `register` call (and
its name in `SandboxBackend`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from aegis_ray.errors import SandboxUnavailableError
from aegis_ray.sandbox.base import ExecResult, Sandbox, SandboxLimits

SandboxBackend = Literal["auto", "bubblewrap", "docker"]
SandboxFactory = Callable[[str | None], Sandbox]  # the image (for backends that use one) -> a sandbox

BACKENDS: dict[str, SandboxFactory] = {}
AUTO: list[str] = []  # what `auto` tries, in order


def register(name: str, factory: SandboxFactory, *, auto: bool = True) -> None:
    """Make `name` a backend; `factory` raises `SandboxUnavailableError` when it cannot run here."""
    BACKENDS[name] = factory
    if auto and name not in AUTO:
        AUTO.append(name)


def _bubblewrap(_: str | None) -> Sandbox:
    from aegis_ray.sandbox.bubblewrap import BubblewrapSandbox

    return BubblewrapSandbox()


def _docker(image: str | None) -> Sandbox:
    from aegis_ray.sandbox.docker import DEFAULT_IMAGE, DockerSandbox

    return DockerSandbox(image or DEFAULT_IMAGE)


register("bubblewrap", _bubblewrap)
register("docker", _docker)


def make_sandbox(backend: SandboxBackend = "auto", image: str | None = None) -> Sandbox:
    factory = BACKENDS.get(backend)
    if factory is not None:
        return factory(image)
    reasons = []
    for name in AUTO:
        try:
            return BACKENDS[name](image)
        except SandboxUnavailableError as exc:
            reasons.append(exc.message)
    raise SandboxUnavailableError("no sandbox backend is available: " + "; ".join(reasons),
                                  hint="apt-get install bubblewrap, or run a Docker engine")


__all__ = ["ExecResult", "Sandbox", "SandboxBackend", "SandboxLimits", "make_sandbox", "register"]
