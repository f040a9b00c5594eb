"""CPU time by process role during a measured phase: where a throughput benchmark's cycles go.

On a 2-core machine the load generator, the simulated model, Ray's own processes and the code
under test share the same cores, so a throughput ratio alone does not say what is slow. `CpuMeter`
reads every process's CPU time when it starts and when it stops (psutil: stop it before the
processes measured end) and reports milliseconds of CPU per unit of work (request, job) by role.
"""

from __future__ import annotations

import os

import psutil

ROLES = (  # (substring of the command line, role); first match wins
    ("ServeReplica", "serve replica"),
    ("ProxyActor", "serve proxy"),
    ("FactoryWorker", "factory workers"),
    ("ProviderActor", "provider actors"),
    ("sim serve", "simulator"),
    ("multiprocessing.spawn", "spawned benchmark processes"),
    ("raylet", "ray system"),
    ("gcs_server", "ray system"),
    ("ray/dashboard", "ray system"),
    ("ray::", "other ray workers"),
    ("default_worker.py", "other ray workers"),
)


def _role(process: psutil.Process) -> str:
    if process.pid == os.getpid():
        return "benchmark driver"
    try:
        command = " ".join(process.cmdline())
    except (psutil.Error, OSError):
        return "other"
    return next((role for needle, role in ROLES if needle in command), "other")


def _cpu_seconds() -> dict[int, tuple[str, float]]:
    seen: dict[int, tuple[str, float]] = {}
    for process in psutil.process_iter():
        try:
            times = process.cpu_times()
            seen[process.pid] = (_role(process), times.user + times.system)
        except (psutil.Error, OSError):
            continue
    return seen


class CpuMeter:
    """`meter = CpuMeter()`, the work, `meter.stop()`, then `meter.ms_per(units)`: CPU ms per unit by role."""

    def __init__(self) -> None:
        self._before = _cpu_seconds()
        self.seconds: dict[str, float] | None = None

    def stop(self) -> None:
        """Take the second reading (once: later calls keep the first)."""
        if self.seconds is not None:
            return
        after = _cpu_seconds()
        seconds: dict[str, float] = {}
        for pid, (role, total) in after.items():
            spent = total - self._before.get(pid, (role, 0.0))[1]
            seconds[role] = seconds.get(role, 0.0) + max(0.0, spent)
        self.seconds = seconds

    def ms_per(self, units: int) -> dict[str, float]:
        if self.seconds is None:
            raise RuntimeError("stop the meter first")
        shares = {role: round(1000 * s / units, 3) for role, s in sorted(self.seconds.items(), key=lambda x: -x[1])}
        return shares | {"total": round(1000 * sum(self.seconds.values()) / units, 3)}
