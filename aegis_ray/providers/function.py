"""A model endpoint answered by a Python function: no server, no HTTP, no SDK.

Modelled on pydantic-ai's `FunctionModel`: you write the model as a function of the conversation,

    def model(messages: tuple[Message, ...], info: FunctionInfo) -> FunctionReply | str: ...

(or an `async def`), and `FunctionModel(model)` answers the gateway with it. `info` carries the
model reference called (`info.ref`), the whole request (tools, tool choice, limits) and whether the
caller streams. A reply is text, tool calls, or both; a plain `str` is a text reply. Tool calls
are `ToolCall`s or `(name, arguments)` pairs, arguments as a dict or as JSON text: text that is not
a JSON object raises `MalformedToolArgumentsError`, as a real adapter does. Usage, unless the reply
states it, is estimated from the text (words and punctuation), so budgets and costs work. Raising
a `ProviderError` (`RateLimitedError`, `ProviderServerError`, ...) is how a function fails the way
a provider fails: the endpoint's retries, the breaker and the gateway's fallback see it as such.

Two ways to use it:

* `FunctionModel(fn, "sim:x")` is an `Endpoint` (and an `Adapter`) on its own: the gateway calls
  it directly, with nothing in between (no retries, no cost).
* `function_endpoint(fn, "sim:x")` wraps it in a `ModelEndpoint`: admission, retries, breaker, and
  the cost of the usage at the price of the model reference, exactly as for a remote model.
  `function_models(fn)` is a resolver that makes one such endpoint per model reference asked for.

The model reference must be one the gateway routes (`sim:NAME`, `openai:gpt-4o-mini`, ...); it
decides the price and whether completions are labelled simulated (`sim:` ones are). Streaming
calls the same function and sends its text in `chunk_chars` pieces, then its tool calls. The
endpoint's `timeout_s` bounds each call (`ProviderTimeoutError`). A synchronous function runs on
the event loop, so it should be quick. `aegis_ray.sim.inprocess` answers with the simulator's
personas and scripts this way.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from aegis_ray.config import BreakerPolicy, Price, RateLimitPolicy, RetryPolicy
from aegis_ray.errors import ProviderTimeoutError
from aegis_ray.model_ref import ModelRef, parse_model_ref
from aegis_ray.providers.adapters.base import parse_tool_arguments
from aegis_ray.providers.endpoint import ModelEndpoint
from aegis_ray.providers.endpoint_config import EndpointConfig
from aegis_ray.providers.gateway import EndpointCache
from aegis_ray.types import (
    Completion,
    FinishReason,
    Message,
    ModelRequest,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    ToolSpec,
    Usage,
)

DEFAULT_MODEL = "sim:function"


@dataclass(frozen=True)
class FunctionInfo:
    """What a model function knows of the call besides the messages."""

    ref: ModelRef
    request: ModelRequest
    stream: bool = False

    @property
    def model(self) -> str:
        """The model reference called, e.g. `sim:sim-honest`."""
        return self.ref.name

    @property
    def tools(self) -> tuple[ToolSpec, ...]:
        return self.request.tools


RawToolCall = ToolCall | tuple[str, Mapping[str, Any] | str]


@dataclass(frozen=True)
class FunctionReply:
    """One answer of a model function. `usage=None`: estimated from the messages and the reply."""

    text: str = ""
    tool_calls: Sequence[RawToolCall] = ()
    usage: Usage | None = None
    finish_reason: FinishReason | None = None
    response_model: str | None = None


FunctionResult = FunctionReply | str
ModelFunction = Callable[[tuple[Message, ...], FunctionInfo], FunctionResult | Awaitable[FunctionResult]]
"""`(messages, info) -> reply`, plain or async."""


def approx_tokens(text: str) -> int:
    """Words and punctuation marks: a token estimate, not a real tokenizer."""
    return len(re.findall(r"\w+|[^\w\s]", text))


def estimate_usage(request: ModelRequest, text: str, tool_calls: Sequence[ToolCall]) -> Usage:
    def call_tokens(calls: Sequence[ToolCall]) -> int:
        return sum(approx_tokens(json.dumps(c.arguments)) + 3 for c in calls)

    prompt = sum(approx_tokens(m.content) + call_tokens(m.tool_calls) + 3 for m in request.messages)
    return Usage(input_tokens=prompt, output_tokens=max(1, approx_tokens(text) + call_tokens(tool_calls)))


class FunctionModel:
    """An `Endpoint` (and an `Adapter` for `ModelEndpoint`) answered by `function`."""

    def __init__(self, function: ModelFunction, model: str | ModelRef = DEFAULT_MODEL, *,
                 chunk_chars: int = 8, timeout_s: float | None = None) -> None:
        if chunk_chars <= 0:
            raise ValueError("chunk_chars must be positive")
        self.function = function
        self.ref = model if isinstance(model, ModelRef) else parse_model_ref(model)
        self.name = self.ref.name
        self.chunk_chars = chunk_chars
        self.timeout_s = timeout_s

    async def _call(self, request: ModelRequest, *, stream: bool) -> FunctionReply:
        info = FunctionInfo(ref=self.ref, request=request, stream=stream)
        try:
            async with asyncio.timeout(self.timeout_s):
                reply = self.function(request.messages, info)
                if inspect.isawaitable(reply):
                    reply = await reply
        except TimeoutError as exc:
            raise ProviderTimeoutError(f"{self.name} timed out", model=self.name) from exc
        if isinstance(reply, str):
            return FunctionReply(text=reply)
        if not isinstance(reply, FunctionReply):
            raise TypeError(f"the function behind {self.name} returned {type(reply).__name__}, "
                            "not a FunctionReply or a str")
        return reply

    def _tool_calls(self, reply: FunctionReply) -> tuple[ToolCall, ...]:
        calls: list[ToolCall] = []
        batch = uuid.uuid4().hex[:12]
        for i, call in enumerate(reply.tool_calls):
            if isinstance(call, ToolCall):
                calls.append(call)
                continue
            name, arguments = call
            calls.append(ToolCall(id=f"call_{batch}_{i}", name=name,
                                  arguments=parse_tool_arguments(arguments, name=name, model=self.name)))
        return tuple(calls)

    def _completion(self, request: ModelRequest, reply: FunctionReply, calls: tuple[ToolCall, ...]) -> Completion:
        return Completion(
            model=self.name, response_model=reply.response_model or self.ref.model, text=reply.text,
            tool_calls=calls, finish_reason=reply.finish_reason or ("tool_calls" if calls else "stop"),
            usage=reply.usage or estimate_usage(request, reply.text, calls), simulated=self.ref.simulated,
        )

    async def complete(self, request: ModelRequest) -> Completion:
        reply = await self._call(request, stream=False)
        return self._completion(request, reply, self._tool_calls(reply))

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        reply = await self._call(request, stream=True)
        for start in range(0, len(reply.text), self.chunk_chars):
            yield TextDelta(text=reply.text[start:start + self.chunk_chars])
        calls = self._tool_calls(reply)  # after the text, as a wire adapter parses them
        for call in calls:
            yield ToolCallEvent(tool_call=call)
        yield StreamEnd(completion=self._completion(request, reply, calls))

    async def aclose(self) -> None:
        return None


def function_endpoint(function: ModelFunction, model: str | ModelRef = DEFAULT_MODEL, *,
                      retry: RetryPolicy | None = None, breaker: BreakerPolicy | None = None,
                      rate_limit: RateLimitPolicy | None = None, prices: Mapping[str, Price] | None = None,
                      timeout_s: float = 60.0, chunk_chars: int = 8) -> ModelEndpoint:
    """`function` as the model `model`, behind the admission, retries, breaker and pricing of a
    `ModelEndpoint` (`prices` add to the shipped price table)."""
    ref = model if isinstance(model, ModelRef) else parse_model_ref(model)
    config = EndpointConfig(ref=ref, api_key=SecretStr("function"), timeout_s=timeout_s,
                            retry=retry or RetryPolicy(), breaker=breaker or BreakerPolicy(),
                            rate_limit=rate_limit or RateLimitPolicy(), prices=dict(prices or {}))
    return ModelEndpoint(config, adapter=FunctionModel(function, ref, chunk_chars=chunk_chars, timeout_s=timeout_s))


def function_models(function: ModelFunction, **endpoint: Any) -> EndpointCache:
    """A resolver answering every model reference with `function` (one `function_endpoint` per
    reference, made on first use; `endpoint` are its keyword arguments). Close it with `aclose`."""
    return EndpointCache(lambda model: function_endpoint(function, model, **endpoint))
