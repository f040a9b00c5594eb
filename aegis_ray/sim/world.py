"""What the simulated models know and say, with no wire protocol.

Shared by the HTTP server (`aegis_ray.sim.server`) and the in-process model function
(`aegis_ray.sim.inprocess`), so both answer alike for the same seed. A `SimWorld` holds the config,
the queued faults and one random stream per model pattern (seeded from the config's and the
profile's seeds); `SimWorld.reply` asks the persona for its turn, applies the request's tool choice
and a malformed-tool-arguments fault, and counts tokens, giving the neutral `SimReply` that each
transport renders its own way.
"""

from __future__ import annotations

import fnmatch
import json
import random
import threading

from aegis_ray.sim.models import Fault, FaultKind, ModelProfile, SimConfig, ToolCallTurn, Turn
from aegis_ray.sim.personas import respond
from aegis_ray.sim.wire.base import SimReply, SimRequest, approx_tokens

FAULT_STATUS: dict[FaultKind, int] = {
    FaultKind.RATE_LIMIT: 429, FaultKind.SERVER_ERROR: 500, FaultKind.UNAVAILABLE: 503,
}
"""The HTTP status of each fault that fails a call with an error status."""


class SimWorld:
    """The simulated models of `config`: which profile answers a name, the faults queued for them,
    and their random streams."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self._faults: list[tuple[str, Fault]] = []
        self._rngs: dict[str, random.Random] = {}
        self._lock = threading.Lock()

    def profile(self, model: str) -> tuple[str, ModelProfile] | None:
        """The first (pattern, profile) whose fnmatch pattern matches `model`; None: no such model."""
        for pattern, profile in self.config.models.items():
            if fnmatch.fnmatchcase(model, pattern):
                return pattern, profile
        return None

    def rng(self, pattern: str, profile: ModelProfile) -> random.Random:
        """The random stream of the models matching `pattern`, made on first use."""
        if pattern not in self._rngs:
            self._rngs[pattern] = random.Random(f"{self.config.seed}:{profile.seed}:{pattern}")
        return self._rngs[pattern]

    def inject(self, model: str, fault: Fault | FaultKind, times: int = 1) -> None:
        """Fail the next `times` calls to models matching `model` (an fnmatch pattern) with `fault`."""
        fault = fault if isinstance(fault, Fault) else Fault(kind=fault)
        with self._lock:
            self._faults.extend([(model, fault)] * times)

    def take_fault(self, model: str, pattern: str, profile: ModelProfile) -> Fault | None:
        """The first fault queued for `model`, else one drawn at the profile's `fault_rate`, else None."""
        with self._lock:
            for i, (want, fault) in enumerate(self._faults):
                if fnmatch.fnmatchcase(model, want):
                    del self._faults[i]
                    return fault
        rng = self.rng(pattern, profile)
        if profile.fault_rate and rng.random() < profile.fault_rate:
            return Fault(kind=rng.choice(profile.random_faults), retry_after_s=0.05, delay_s=2.0)
        return None

    def reset(self) -> None:
        """Drop queued faults and restart the random streams."""
        with self._lock:
            self._faults.clear()
            self._rngs.clear()

    def reply(self, request: SimRequest, pattern: str, profile: ModelProfile, fault: Fault | None) -> SimReply:
        """The persona's answer to `request`, after its tool choice and `fault`, with token counts."""
        turn = apply_tool_choice(respond(profile, request, self.rng(pattern, profile)), request)
        malformed = fault is not None and fault.kind is FaultKind.MALFORMED_TOOL_ARGS
        if malformed and not turn.tool_calls and request.tools:
            turn = Turn(text=turn.text, tool_calls=[ToolCallTurn(name=request.tools[0], arguments={"x": 1})])
        input_tokens = sum(approx_tokens(m.text) for m in request.messages) + 3 * len(request.messages)
        output_tokens = approx_tokens(turn.text or "") + sum(
            approx_tokens(json.dumps(c.arguments)) + 3 for c in turn.tool_calls)
        return SimReply(turn=turn, input_tokens=input_tokens, output_tokens=max(1, output_tokens),
                        malformed_tool_args=malformed)


def apply_tool_choice(turn: Turn, request: SimRequest) -> Turn:
    """`turn` as the request's tool choice allows: no tool calls for "none", a call when one is forced."""
    if request.tool_choice == "none" and turn.tool_calls:
        return Turn(text=turn.text or "")
    forced = request.tool_choice not in ("auto", "none")
    if forced and not turn.tool_calls and request.tools:
        name = request.tool_choice if request.tool_choice in request.tools else request.tools[0]
        return Turn(tool_calls=[ToolCallTurn(name=name)])
    return turn


def delay_s(profile: ModelProfile, fault: Fault | None) -> float:
    """How long a call waits before it answers: the profile's latency and jitter, plus a timeout fault's delay."""
    # The jitter comes from the global generator, not the pattern's stream, so latency settings
    # never shift the seeded answers.
    delay_ms = profile.latency_ms + random.uniform(0, profile.latency_jitter_ms)
    if fault and fault.kind is FaultKind.TIMEOUT:
        delay_ms += fault.delay_s * 1000
    return delay_ms / 1000
