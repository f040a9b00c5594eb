"""Every batch the simulator holds, whatever its protocol: its requests' outcomes, and when it ends.

A batch's requests are answered when it is created, by the same world (personas, scripts, queued
faults) that answers online calls, so a batch says what an online call says; the outcomes show only
once the batch ends, `BatchProfile.completion_delay_s` after it was created. A request fails alone,
as the real APIs report it, when a fault queued for its model fails a call with an error status, or
at the profile's `failure_rate` (a 500); a request that does not parse, or names a model the server
lacks, fails alone too (400, 404).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aegis_ray.sim.models import BatchProfile, Fault, FaultKind, SimConfig
from aegis_ray.sim.wire.base import WireCodec
from aegis_ray.sim.world import FAULT_STATUS, SimWorld

Record = Callable[[str, str, int, Fault | None], None]
"""Logs one request: (model, protocol, HTTP status, fault)."""


@dataclass(frozen=True)
class Outcome:
    """One request of a batch: its custom id, and the response (status 200) or error body it got."""

    custom_id: str
    status: int
    body: dict[str, Any]
    model: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class SimBatch:
    id: str
    created: float = field(default_factory=time.time)
    ends: float = 0.0
    outcomes: list[Outcome] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    """What a protocol keeps beside the outcomes (OpenAI: endpoint, input and output files)."""

    @property
    def ended(self) -> bool:
        return time.time() >= self.ends

    @property
    def succeeded(self) -> int:
        return sum(o.ok for o in self.outcomes)

    @property
    def failed(self) -> int:
        return len(self.outcomes) - self.succeeded


@dataclass(frozen=True)
class SimFile:
    """An uploaded or generated file (OpenAI's Files API)."""

    id: str
    filename: str
    purpose: str
    content: bytes
    created: int = field(default_factory=lambda: int(time.time()))


class BatchBook:
    """The batches and files of one server; thread-safe."""

    def __init__(self, config: SimConfig) -> None:
        self.profile: BatchProfile = config.batch
        self._configured = config.batch
        self._seed = config.seed
        self.batches: dict[str, SimBatch] = {}
        self.files: dict[str, SimFile] = {}
        self._rng = random.Random(f"{self._seed}:batch")
        self._lock = threading.Lock()

    def reset(self) -> None:
        """No batches or files, the configured profile, the random stream from its seed."""
        with self._lock:
            self.profile = self._configured
            self.batches.clear()
            self.files.clear()
            self._rng = random.Random(f"{self._seed}:batch")

    def answer(self, world: SimWorld, record: Record, codec: WireCodec, protocol: str, custom_id: str,
               body: dict[str, Any], model: str | None = None) -> Outcome:
        """One request of a batch answered by `world` (see the module docstring)."""
        try:
            request = codec.parse(body, model)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return Outcome(custom_id, 400, codec.error(400, f"malformed request: {exc}"), model or "")
        found = world.profile(request.model)
        if found is None:
            record(request.model, protocol, 404, None)
            return Outcome(custom_id, 404, codec.error(
                404, f"the model '{request.model}' does not exist on this simulated server"), request.model)
        pattern, profile = found
        fault = world.take_fault(request.model, pattern, profile)
        status = FAULT_STATUS.get(fault.kind, 200) if fault else 200
        with self._lock:
            if status == 200 and self.profile.failure_rate and self._rng.random() < self.profile.failure_rate:
                status, fault = 500, Fault(kind=FaultKind.SERVER_ERROR)
        record(request.model, protocol, status, fault)
        if status != 200:
            message = f"simulated {fault.kind.value} inside the batch"  # type: ignore[union-attr]
            return Outcome(custom_id, status, codec.error(status, message), request.model)
        # A batch has no stream to drop or body to break: only broken tool arguments carry over.
        kept = fault if fault is not None and fault.kind is FaultKind.MALFORMED_TOOL_ARGS else None
        reply = world.reply(request, pattern, profile, kept)
        return Outcome(custom_id, 200, codec.response(reply, request), request.model)

    def open(self, prefix: str, outcomes: list[Outcome], **extra: Any) -> SimBatch:
        """A new batch of these outcomes, ending after the profile's completion delay."""
        batch = SimBatch(id=f"{prefix}{uuid.uuid4().hex[:24]}", outcomes=outcomes, extra=extra)
        batch.ends = batch.created + self.profile.completion_delay_s
        with self._lock:
            self.batches[batch.id] = batch
        return batch

    def get(self, batch_id: str) -> SimBatch | None:
        with self._lock:
            return self.batches.get(batch_id)

    def shuffled(self, outcomes: list[Outcome]) -> list[Outcome]:
        """Outcomes out of request order, as OpenAI and Anthropic return them (clients match custom ids)."""
        copy = list(outcomes)
        with self._lock:
            self._rng.shuffle(copy)
        return copy

    def add_file(self, filename: str, purpose: str, content: bytes) -> SimFile:
        file = SimFile(id=f"file-{uuid.uuid4().hex[:24]}", filename=filename, purpose=purpose, content=content)
        with self._lock:
            self.files[file.id] = file
        return file

    def file(self, file_id: str) -> SimFile | None:
        with self._lock:
            return self.files.get(file_id)


class BatchInputError(ValueError):
    """A batch request the API refuses as a whole: answered with `status` and the protocol's error body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
