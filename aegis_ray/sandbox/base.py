"""The sandbox contract: limits in, a typed result out, shared by every backend.

A backend runs `argv` with the session workspace mounted read-write at `/workspace` and nothing
else writable, no network, as an unprivileged user, under `SandboxLimits`. What happened is an
`ExecResult` whose `outcome` says why it ended; `raise_for_outcome` turns anything but `ok` into the
matching `SandboxError`.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from aegis_ray.errors import (
    SandboxCommandFailedError,
    SandboxCpuLimitError,
    SandboxError,
    SandboxFileSizeLimitError,
    SandboxMemoryLimitError,
    SandboxOutputLimitError,
    SandboxProcessLimitError,
    SandboxTimeoutError,
)

Outcome = Literal["ok", "failed", "timeout", "output_limit", "memory_limit", "cpu_limit", "process_limit",
                  "file_size_limit"]

_ERRORS: dict[str, type[SandboxError]] = {
    "failed": SandboxCommandFailedError, "timeout": SandboxTimeoutError, "output_limit": SandboxOutputLimitError,
    "memory_limit": SandboxMemoryLimitError, "cpu_limit": SandboxCpuLimitError,
    "process_limit": SandboxProcessLimitError, "file_size_limit": SandboxFileSizeLimitError,
}
_MEMORY_SIGNS = ("MemoryError", "Cannot allocate memory", "std::bad_alloc", "out of memory")
_FORK_SIGNS = ("Resource temporarily unavailable", "fork: retry", "can't fork", "BlockingIOError")


class SandboxLimits(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    wall_s: float = Field(default=30.0, gt=0, description="Wall clock; the whole process tree is killed.")
    cpu_s: int = Field(default=20, gt=0)
    memory_mb: int = Field(default=512, ge=32, description="Address space per process.")
    file_size_mb: int = Field(default=64, gt=0)
    max_processes: int = Field(default=64, gt=1)
    output_bytes: int = Field(default=1_000_000, gt=0, description="stdout + stderr kept; more kills the run.")


class ExecResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    argv: tuple[str, ...]
    outcome: Outcome
    exit_code: int | None
    stdout: str
    stderr: str
    wall_s: float
    backend: str

    def raise_for_outcome(self) -> ExecResult:
        if self.outcome == "ok":
            return self
        detail = {"timeout": "ran past its wall-clock limit and was killed with its whole process tree",
                  "output_limit": "printed more than the output limit and was killed",
                  "failed": f"exited with status {self.exit_code}"}.get(self.outcome, f"hit its {self.outcome}")
        raise _ERRORS[self.outcome](f"sandboxed `{' '.join(self.argv)[:120]}` {detail}",
                                    exit_code=self.exit_code, stderr_tail=self.stderr[-2000:])


def classify(exit_code: int | None, stderr: str, *, timed_out: bool, flooded: bool, forks_refused: bool) -> Outcome:
    """Why a sandboxed run ended, from what the harness saw (its own kills first)."""
    if timed_out:
        return "timeout"
    if flooded:
        return "output_limit"
    if exit_code == 0:
        return "ok"
    if exit_code is not None and exit_code < 0:
        sig = -exit_code
        if sig == signal.SIGXCPU:
            return "cpu_limit"
        if sig == signal.SIGXFSZ:
            return "file_size_limit"
    if forks_refused or any(s in stderr for s in _FORK_SIGNS):
        return "process_limit"
    if any(s in stderr for s in _MEMORY_SIGNS):
        return "memory_limit"
    return "failed"


async def read_capped(streams: Sequence[asyncio.StreamReader], cap: int,
                      on_flood: Callable[[], None]) -> tuple[list[bytes], bool]:
    """Read every stream to its end, keeping at most `cap` bytes in all. Past the cap `on_flood`
    is called (it kills the writer) and the result says so."""
    kept = [bytearray() for _ in streams]
    total = 0
    flooded = asyncio.Event()

    async def drain(index: int, stream: asyncio.StreamReader) -> None:
        nonlocal total
        while chunk := await stream.read(65536):  # to EOF even past the cap, so the pipes close
            keep = chunk[:max(cap - total, 0)]
            kept[index] += keep
            total += len(keep)
            if len(keep) < len(chunk) and not flooded.is_set():
                flooded.set()
                on_flood()

    await asyncio.gather(*(drain(i, s) for i, s in enumerate(streams)))
    return [bytes(k) for k in kept], flooded.is_set()


class Sandbox(Protocol):
    backend: str

    async def run(self, argv: Sequence[str], workspace: Path, limits: SandboxLimits,
                  env: Mapping[str, str] | None = None) -> ExecResult: ...
