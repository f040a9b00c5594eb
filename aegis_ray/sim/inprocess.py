"""The simulator without its server: personas, scripts and faults answering as a model function.

`InProcessSim(config)` is a `ModelFunction` (`aegis_ray.providers.function`): it turns the
gateway's request into the neutral `SimRequest` the wire codecs produce, asks the same
`personas.respond` the server asks, applies the tool choice, and reports usage by the server's
formula; the server's per-model random streams (seeded alike) make a run reproducible in the same
way. So a unit test gets the same personas, the same scripted turns and the same costs with no
HTTP, no SDK and no thread:

    sim = InProcessSim(SimConfig(models={"sim-honest-fib": ModelProfile(script=...)}))
    gateway = Gateway(sim.models(), ["sim:sim-honest-fib"])

Faults queued with `inject` (or drawn at the profile's `fault_rate`) fail the call as the wire
adapters report them: 429, 500 and 503 as `RateLimitedError` / `ProviderServerError`, malformed
JSON as `MalformedResponseError`, malformed tool arguments as `MalformedToolArgumentsError`, a
timeout as a delay that the endpoint's `timeout_s` cuts. A dropped connection fails the call before
any output (`ProviderConnectionError`); cuts in the middle of a stream, API keys and the request
log are the server's, tested over HTTP.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import random
import threading
from typing import Any

from aegis_ray.errors import MalformedResponseError, ProviderConnectionError
from aegis_ray.model_ref import ModelRef
from aegis_ray.providers.adapters.base import status_error
from aegis_ray.providers.function import FunctionInfo, FunctionReply, function_endpoint
from aegis_ray.providers.gateway import EndpointCache
from aegis_ray.sim.models import Fault, FaultKind, ModelProfile, SimConfig, ToolCallTurn, Turn
from aegis_ray.sim.personas import respond
from aegis_ray.sim.wire.base import SimMessage, SimRequest, approx_tokens
from aegis_ray.types import Message, ModelRequest, Usage

_STATUS = {FaultKind.RATE_LIMIT: 429, FaultKind.SERVER_ERROR: 500, FaultKind.UNAVAILABLE: 503}


def sim_request(request: ModelRequest, model: str, *, stream: bool = False) -> SimRequest:
    """What the OpenAI chat codec parses from this request as the `sim` adapter sends it."""
    return SimRequest(
        model=model,
        messages=tuple(SimMessage(m.role, m.content, tuple(ToolCallTurn(name=c.name, arguments=c.arguments)
                                                           for c in m.tool_calls))
                       for m in request.messages),
        tools=tuple(t.name for t in request.tools),
        tool_descriptions=tuple(t.description for t in request.tools),
        tool_choice=request.tool_choice,
        stream=stream,
        include_usage=stream,
    )


def apply_tool_choice(turn: Turn, request: SimRequest) -> Turn:
    if request.tool_choice == "none" and turn.tool_calls:
        return Turn(text=turn.text or "")
    forced = request.tool_choice not in ("auto", "none")
    if forced and not turn.tool_calls and request.tools:
        name = request.tool_choice if request.tool_choice in request.tools else request.tools[0]
        return Turn(tool_calls=[ToolCallTurn(name=name)])
    return turn


class InProcessSim:
    """The simulated models of `config` as one model function (see the module docstring)."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self._faults: list[tuple[str, Fault]] = []
        self._rngs: dict[str, random.Random] = {}
        self._lock = threading.Lock()

    def profile(self, model: str) -> tuple[str, ModelProfile] | None:
        for pattern, profile in self.config.models.items():
            if fnmatch.fnmatchcase(model, pattern):
                return pattern, profile
        return None

    def _rng(self, pattern: str, profile: ModelProfile) -> random.Random:
        if pattern not in self._rngs:
            self._rngs[pattern] = random.Random(f"{self.config.seed}:{profile.seed}:{pattern}")
        return self._rngs[pattern]

    def inject(self, model: str, fault: Fault | FaultKind, times: int = 1) -> None:
        """Fail the next `times` calls to models matching `model` (an fnmatch pattern) with `fault`."""
        fault = fault if isinstance(fault, Fault) else Fault(kind=fault)
        with self._lock:
            self._faults.extend([(model, fault)] * times)

    def reset(self) -> None:
        """Drop queued faults and restart the random streams."""
        with self._lock:
            self._faults.clear()
            self._rngs.clear()

    def _take_fault(self, model: str, pattern: str, profile: ModelProfile) -> Fault | None:
        with self._lock:
            for i, (want, fault) in enumerate(self._faults):
                if fnmatch.fnmatchcase(model, want):
                    del self._faults[i]
                    return fault
        rng = self._rng(pattern, profile)
        if profile.fault_rate and rng.random() < profile.fault_rate:
            return Fault(kind=rng.choice(profile.random_faults), retry_after_s=0.05, delay_s=2.0)
        return None

    async def __call__(self, messages: tuple[Message, ...], info: FunctionInfo) -> FunctionReply:
        model, name = info.ref.model, info.model
        found = self.profile(model)
        if found is None:
            raise status_error(404, f"the model '{model}' does not exist on this simulated server", None, name)
        pattern, profile = found
        fault = self._take_fault(model, pattern, profile)
        delay_ms = profile.latency_ms + random.uniform(0, profile.latency_jitter_ms)
        if fault and fault.kind is FaultKind.TIMEOUT:
            delay_ms += fault.delay_s * 1000
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        if fault and fault.kind in _STATUS:
            headers = {"retry-after": f"{fault.retry_after_s:g}"} if fault.kind is FaultKind.RATE_LIMIT else None
            raise status_error(_STATUS[fault.kind], f"simulated {fault.kind.value}", headers, name)
        if fault and fault.kind is FaultKind.MALFORMED_JSON:
            raise MalformedResponseError(f"{name} sent a response that does not parse: simulated malformed_json",
                                         model=name)
        if fault and fault.kind is FaultKind.DROP_STREAM:
            raise ProviderConnectionError(f"connection to {name} failed: simulated dropped connection", model=name)
        request = sim_request(info.request, model, stream=info.stream)
        turn = apply_tool_choice(respond(profile, request, self._rng(pattern, profile)), request)
        malformed = fault is not None and fault.kind is FaultKind.MALFORMED_TOOL_ARGS
        if malformed and not turn.tool_calls and request.tools:
            turn = Turn(text=turn.text, tool_calls=[ToolCallTurn(name=request.tools[0], arguments={"x": 1})])
        input_tokens = sum(approx_tokens(m.text) for m in request.messages) + 3 * len(request.messages)
        output_tokens = approx_tokens(turn.text or "") + sum(
            approx_tokens(json.dumps(c.arguments)) + 3 for c in turn.tool_calls)
        calls: list[tuple[str, dict[str, Any] | str]] = []
        for call in turn.tool_calls:
            arguments = call.arguments
            if malformed:  # a truncated JSON object is never valid
                text = arguments if isinstance(arguments, str) else json.dumps(arguments)
                arguments = text[: max(1, len(text) // 2)]
            calls.append((call.name, arguments))
        return FunctionReply(text=turn.text or "", tool_calls=calls,
                             usage=Usage(input_tokens=input_tokens, output_tokens=max(1, output_tokens)))

    def models(self, **endpoint: Any) -> EndpointCache:
        """A resolver with one in-process `ModelEndpoint` per `sim:NAME` asked for (keyword arguments
        go to `function_endpoint`: retry, breaker, rate_limit, prices, timeout_s). Close it with `aclose`."""
        def make(ref: ModelRef) -> Any:
            found = self.profile(ref.model)
            chunk_chars = found[1].stream_chunk_chars if found else 8
            return function_endpoint(self, ref, **{"chunk_chars": chunk_chars, **endpoint})

        return EndpointCache(make)


def sim_function(profile_or_config: ModelProfile | SimConfig | None = None) -> InProcessSim:
    """The simulator as a model function: a `SimConfig`, or one `ModelProfile` for every model name
    (None: the default personas, `sim-honest*`, `sim-compromised*`, ...)."""
    if isinstance(profile_or_config, ModelProfile):
        profile_or_config = SimConfig(models={"*": profile_or_config})
    return InProcessSim(profile_or_config)
