"""`SandboxActor`s: sandboxed execution as a pool of Ray actors on the workspace's node.

A sandbox must run where the workspace's files are, so a pool is pinned to one node (the node of
the session that owns the workspace). `SandboxPool` speaks the engine's `Sandbox` protocol, so tools
cannot tell a pool from a local backend.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from aegis_ray.sandbox import ExecResult, SandboxBackend, SandboxLimits, make_sandbox
from aegis_ray.telemetry import flush_telemetry
from aegis_ray.tracing import TraceCarrier, inject, remote_span


@ray.remote(num_cpus=0, max_concurrency=16)
class SandboxActor:
    def __init__(self, backend: SandboxBackend, image: str | None) -> None:
        self._sandbox = make_sandbox(backend, image)

    async def run(self, argv: Sequence[str], workspace: str, limits: SandboxLimits,
                  env: Mapping[str, str] | None = None, trace: TraceCarrier | None = None) -> ExecResult:
        with remote_span(trace, "sandbox run") as span:  # the command line is code: never on the span
            result = await self._sandbox.run(argv, Path(workspace), limits, env)
            span.set_attributes({"aegis.sandbox.backend": result.backend, "aegis.sandbox.outcome": str(result.outcome),
                                 "process.exit.code": -1 if result.exit_code is None else result.exit_code})
            return result

    async def flush_telemetry(self) -> None:
        await asyncio.to_thread(flush_telemetry)


class SandboxPool:
    """Round-robin over `size` SandboxActors pinned to this node, started on first use (a session
    that never executes code never pays for them)."""

    backend = "actor-pool"

    def __init__(self, size: int, backend: SandboxBackend = "auto", image: str | None = None) -> None:
        self._size, self._backend, self._image = size, backend, image
        self._next: Iterator[ray.actor.ActorHandle] | None = None

    def _actors(self) -> Iterator[ray.actor.ActorHandle]:
        if self._next is None:
            here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
            self._next = itertools.cycle([SandboxActor.options(scheduling_strategy=here).remote(self._backend,
                                                                                                self._image)
                                          for _ in range(self._size)])
        return self._next

    async def run(self, argv: Sequence[str], workspace: Path, limits: SandboxLimits,
                  env: Mapping[str, str] | None = None) -> ExecResult:
        return await next(self._actors()).run.remote(list(argv), str(workspace), limits, dict(env or {}), inject())

    async def flush_telemetry(self) -> None:
        """Have every started sandbox export the spans it holds (before the session that owns them ends)."""
        if self._next is not None:
            await asyncio.gather(*(next(self._next).flush_telemetry.remote() for _ in range(self._size)))
