"""The simulator without its server: personas, scripts and faults answering as a model function.

`InProcessSim(config)` is a `ModelFunction` (`aegis_ray.providers.function`) over the same
`SimWorld` (`aegis_ray.sim.world`) the server answers from: it turns the gateway's request into the
neutral `SimRequest` the wire codecs produce and lets the world reply (persona, tool choice,
usage), with the same per-model random streams, so a run is reproducible in the same way. So a
unit test gets the same personas, the same scripted turns and the same costs with no HTTP, no SDK
and no thread:

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
from typing import Any

from aegis_ray.errors import MalformedResponseError, ProviderConnectionError
from aegis_ray.model_ref import ModelRef
from aegis_ray.providers.adapters.base import status_error
from aegis_ray.providers.function import FunctionInfo, FunctionReply, function_endpoint
from aegis_ray.providers.gateway import EndpointCache
from aegis_ray.sim.models import FaultKind, ModelProfile, SimConfig, ToolCallTurn
from aegis_ray.sim.wire.base import SimMessage, SimRequest
from aegis_ray.sim.world import FAULT_STATUS, SimWorld, delay_s
from aegis_ray.types import Message, ModelRequest, Usage


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


class InProcessSim(SimWorld):
    """The simulated models of `config` as one model function (see the module docstring)."""

    async def __call__(self, messages: tuple[Message, ...], info: FunctionInfo) -> FunctionReply:
        model, name = info.ref.model, info.model
        found = self.profile(model)
        if found is None:
            raise status_error(404, f"the model '{model}' does not exist on this simulated server", None, name)
        pattern, profile = found
        fault = self.take_fault(model, pattern, profile)
        delay = delay_s(profile, fault)
        if delay:
            await asyncio.sleep(delay)
        if fault and fault.kind in FAULT_STATUS:
            headers = {"retry-after": f"{fault.retry_after_s:g}"} if fault.kind is FaultKind.RATE_LIMIT else None
            raise status_error(FAULT_STATUS[fault.kind], f"simulated {fault.kind.value}", headers, name)
        if fault and fault.kind is FaultKind.MALFORMED_JSON:
            raise MalformedResponseError(f"{name} sent a response that does not parse: simulated malformed_json",
                                         model=name)
        if fault and fault.kind is FaultKind.DROP_STREAM:
            raise ProviderConnectionError(f"connection to {name} failed: simulated dropped connection", model=name)
        reply = self.reply(sim_request(info.request, model, stream=info.stream), pattern, profile, fault)
        # Whole arguments go as they are (a dict is not round-tripped through JSON); broken ones
        # as the truncated text a wire codec would send.
        calls: list[tuple[str, dict[str, Any] | str]] = [
            (call.name, text if reply.malformed_tool_args else call.arguments)
            for call, (_, _, text) in zip(reply.turn.tool_calls, reply.tool_calls(), strict=True)]
        return FunctionReply(text=reply.turn.text or "", tool_calls=calls,
                             usage=Usage(input_tokens=reply.input_tokens, output_tokens=reply.output_tokens))

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
