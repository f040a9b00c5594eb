"""What every adapter shares: the adapter protocol, SDK error translation, tool-argument parsing.

Adapters translate; they never retry (the SDKs' own retries are off too): retries, breaker and
limits live in one place, `providers/endpoint.py`.

The `openai` and `anthropic` clients run on the SDKs' own aiohttp transport (`DefaultAioHttpClient`):
with many calls in flight their default httpx2 pool scans every connection for each request, and a
call cost 2.2 ms of CPU against 1.5 ms on aiohttp (64 in flight, `benchmarks/factory_throughput.py`).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx
from pydantic import ValidationError

from aegis_ray.errors import (
    AuthenticationError,
    MalformedResponseError,
    MalformedToolArgumentsError,
    ProviderConnectionError,
    ProviderError,
    ProviderRequestError,
    ProviderServerError,
    ProviderTimeoutError,
    RateLimitedError,
    StreamInterruptedError,
    UnknownModelError,
)
from aegis_ray.types import Completion, ModelRequest, StreamEvent, ToolCall

try:  # the openai and anthropic SDKs run on httpx2, a fork of httpx with its own exception classes
    import httpx2

    _TIMEOUTS: tuple[type[BaseException], ...] = (httpx.TimeoutException, httpx2.TimeoutException, TimeoutError)
    _TRANSPORT: tuple[type[BaseException], ...] = (httpx.TransportError, httpx2.TransportError, ConnectionError)
except ImportError:  # pragma: no cover - depends on the installed SDK versions
    _TIMEOUTS = (httpx.TimeoutException, TimeoutError)
    _TRANSPORT = (httpx.TransportError, ConnectionError)


class Adapter(Protocol):
    async def complete(self, request: ModelRequest) -> Completion: ...
    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]: ...
    async def aclose(self) -> None: ...


Classifier = Callable[[BaseException], ProviderError | None]


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (delta-seconds or an HTTP date)."""
    if not headers:
        return None
    if headers.get("retry-after-ms"):
        with contextlib.suppress(ValueError):
            return float(headers["retry-after-ms"]) / 1000
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        with contextlib.suppress(TypeError, ValueError):
            from datetime import UTC, datetime

            return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    return None


def status_error(status: int, message: str, headers: Any, model: str) -> ProviderError:
    text = f"HTTP {status} from {model}: {message}"
    if status in (401, 403):
        return AuthenticationError(text, model=model, hint="check the API key for this provider")
    if status == 404:
        return UnknownModelError(text, model=model, hint="check the model name and the endpoint's base URL")
    if status == 429:
        return RateLimitedError(text, model=model, retry_after_s=retry_after_seconds(headers))
    if status == 408:
        return ProviderTimeoutError(text, model=model)
    if status >= 500:
        return ProviderServerError(text, model=model, status=status)
    return ProviderRequestError(text, model=model)


def stainless_classifier(sdk: Any, model: str) -> Classifier:
    """Error classes of the OpenAI and Anthropic SDKs, which share one generator and one shape."""

    def classify(exc: BaseException) -> ProviderError | None:
        if isinstance(exc, sdk.APIStatusError):
            return status_error(exc.status_code, exc.message, exc.response.headers, model)
        if isinstance(exc, sdk.APITimeoutError) and not _refused(exc):
            return ProviderTimeoutError(f"{model} timed out", model=model)
        if isinstance(exc, sdk.APIResponseValidationError):
            return MalformedResponseError(f"{model} sent a response that does not parse: {exc}", model=model)
        if isinstance(exc, sdk.APIConnectionError):
            return ProviderConnectionError(f"cannot reach {model}: {exc.__cause__ or exc}", model=model)
        return None

    return classify


def _refused(exc: BaseException) -> bool:
    """A refused connection somewhere in the cause chain: the SDKs' aiohttp transport reports one
    as a connect timeout."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return True
        cause = cause.__cause__ or getattr(cause, "os_error", None)
    return False


def _generic(exc: BaseException, model: str) -> ProviderError | None:
    if isinstance(exc, _TIMEOUTS):
        return ProviderTimeoutError(f"{model} timed out", model=model)
    if isinstance(exc, _TRANSPORT):
        return ProviderConnectionError(f"connection to {model} failed: {exc}", model=model)
    if isinstance(exc, ValueError | ValidationError | KeyError | TypeError | AttributeError | IndexError):
        return MalformedResponseError(f"{model} sent a response that does not parse: {exc}", model=model)
    return None


@contextlib.contextmanager
def translated_errors(model: str, classify: Classifier, *, mid_stream: bool = False) -> Iterator[None]:
    """Re-raise SDK and transport errors as Aegis `ProviderError`s; a broken stream after its first
    event becomes `StreamInterruptedError`."""
    try:
        yield
    except ProviderError:
        raise
    except Exception as exc:
        mapped = classify(exc) or _generic(exc, model)
        if mapped is None:
            raise
        if mid_stream and isinstance(mapped, ProviderConnectionError | ProviderTimeoutError | MalformedResponseError):
            mapped = StreamInterruptedError(f"the stream from {model} broke off: {mapped.message}", model=model)
        raise mapped from exc


def parse_tool_arguments(raw: Any, *, name: str, model: str) -> dict[str, Any]:
    """A tool call's arguments as a dict, or `MalformedToolArgumentsError` naming the tool."""
    if isinstance(raw, dict):
        return raw
    if raw is None or raw == "":
        return {}
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise MalformedToolArgumentsError(
            f"{model} called tool '{name}' with arguments that are not a JSON object: {str(raw)[:200]!r}",
            model=model, tool_name=name, raw_arguments=str(raw),
        )
    return parsed


def stream_ended_early(model: str) -> StreamInterruptedError:
    return StreamInterruptedError(f"the stream from {model} ended without its completion event", model=model)


def tool_call_payload(call: ToolCall) -> str:
    return json.dumps(call.arguments, separators=(",", ":"))
