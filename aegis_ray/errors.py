"""The one exception hierarchy of Aegis.

Every error says what was wrong and, where it helps, what to do (`hint`). Each class carries the
CLI exit code it maps to (1 failed run, 2 bad input, 3 abstained), and pickles with
all its fields so that it crosses Ray actor boundaries intact.
"""

from __future__ import annotations

from typing import Any


def _rebuild(cls: type[AegisError], state: dict[str, Any]) -> AegisError:
    error = cls.__new__(cls)
    Exception.__init__(error, state["message"])
    error.__dict__.update(state)
    return error


class AegisError(Exception):
    """Base of every error Aegis raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), dict(self.__dict__)))

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class BadInputError(AegisError):
    """The caller gave something invalid: an empty task, an unparseable model name, bad config."""

    exit_code = 2


class ConfigError(BadInputError):
    """Settings are missing or inconsistent (no API key for a chosen provider, bad aegis.toml)."""


# --- providers -------------------------------------------------------------------------------


class ProviderError(AegisError):
    """A model endpoint failed. `model` is the model reference that failed."""

    retryable = False

    def __init__(self, message: str, *, model: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.model = model


class UnknownModelError(ProviderError, BadInputError):
    """The endpoint does not serve this model (HTTP 404), or the name cannot be routed."""

    exit_code = 2


class AuthenticationError(ProviderError, BadInputError):
    """The endpoint refused our credentials (HTTP 401/403)."""

    exit_code = 2


class ProviderRequestError(ProviderError, BadInputError):
    """The endpoint rejected the request as malformed (HTTP 400/422)."""

    exit_code = 2


class CapabilityError(ProviderError, BadInputError):
    """The request needs a capability (tools, streaming, JSON mode) the model lacks."""

    exit_code = 2


class RateLimitedError(ProviderError):
    """HTTP 429. `retry_after_s` is the server's stated delay, if it gave one."""

    retryable = True

    def __init__(self, message: str, *, model: str, retry_after_s: float | None = None) -> None:
        super().__init__(message, model=model)
        self.retry_after_s = retry_after_s


class ProviderServerError(ProviderError):
    """HTTP 5xx from the endpoint."""

    retryable = True

    def __init__(self, message: str, *, model: str, status: int) -> None:
        super().__init__(message, model=model)
        self.status = status


class ProviderTimeoutError(ProviderError):
    """The endpoint did not answer within the request timeout."""

    retryable = True


class ProviderConnectionError(ProviderError):
    """The endpoint could not be reached (refused, DNS, reset)."""

    retryable = True


class MalformedResponseError(ProviderError):
    """The endpoint answered 2xx with a body that is not the protocol's JSON."""

    retryable = True


class StreamInterruptedError(ProviderError):
    """A streamed response ended before its completion event (dropped connection)."""

    retryable = True


class MalformedToolArgumentsError(ProviderError):
    """The model emitted a tool call whose arguments are not a JSON object. `tool_name` is None
    when the provider does not say which tool (Gemini reports only MALFORMED_FUNCTION_CALL)."""

    def __init__(self, message: str, *, model: str, tool_name: str | None, raw_arguments: str) -> None:
        super().__init__(message, model=model)
        self.tool_name = tool_name
        self.raw_arguments = raw_arguments


class CircuitOpenError(ProviderError):
    """The model's circuit breaker is open: the call was rejected without touching the endpoint."""

    def __init__(self, message: str, *, model: str, retry_in_s: float) -> None:
        super().__init__(message, model=model)
        self.retry_in_s = retry_in_s


class AllModelsFailedError(AegisError):
    """Every model in the fallback chain failed. `errors` maps each model to its error."""

    def __init__(self, errors: dict[str, AegisError]) -> None:
        lines = "; ".join(f"{model}: {error}" for model, error in errors.items())
        super().__init__(f"every model in the fallback chain failed: {lines}")
        self.errors = errors

    @property
    def exit_code(self) -> int:  # type: ignore[override]
        # When every failure was the caller's doing (bad key, unknown model) it is bad input.
        return 2 if all(isinstance(e, BadInputError) for e in self.errors.values()) else 1


# --- store -----------------------------------------------------------------------------------


class FencedOutError(AegisError):
    """A write for a run this worker no longer owns (its lease was taken over); a job's outcome is
    fenced per job instead (`Store.record_jobs`)."""


class EffectOutcomeUnknownError(AegisError):
    """A non-idempotent effect was started before a crash and never recorded: it may have happened."""


# --- tools and sandbox -----------------------------------------------------------------------


class ToolError(AegisError):
    """A tool call could not be carried out; the model sees the message as the tool's result."""


class ToolArgumentsError(ToolError, BadInputError):
    """A tool was called with arguments that do not validate against its schema."""


class PathConfinementError(ToolError, BadInputError):
    """A path points outside the session workspace (traversal, absolute, symlink escape, device)."""


class ApprovalDeniedError(ToolError):
    """A human (or the policy) refused a mutating or executing tool call."""


class ApprovalPendingError(AegisError):
    """No one is there to decide now: the run parks (awaiting_approval) until someone does."""


class SandboxError(ToolError):
    """Untrusted code did not finish normally inside the sandbox. `outcome` names why."""

    outcome = "failed"

    def __init__(self, message: str, *, exit_code: int | None = None, stderr_tail: str = "") -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.stderr_tail = stderr_tail


class SandboxUnavailableError(ConfigError):
    """No sandbox backend can run here; Aegis never falls back to running code unsandboxed."""


class SandboxCommandFailedError(SandboxError):
    """The command exited non-zero (denied syscalls, missing files and refused connections end here)."""


class SandboxTimeoutError(SandboxError):
    outcome = "timeout"


class SandboxOutputLimitError(SandboxError):
    outcome = "output_limit"


class SandboxMemoryLimitError(SandboxError):
    outcome = "memory_limit"


class SandboxCpuLimitError(SandboxError):
    outcome = "cpu_limit"


class SandboxProcessLimitError(SandboxError):
    outcome = "process_limit"


class SandboxFileSizeLimitError(SandboxError):
    outcome = "file_size_limit"


# --- service ---------------------------------------------------------------------------------


class NotFoundError(BadInputError):
    """The caller named something that does not exist (a run id)."""


class ServiceUnavailableError(AegisError):
    """The service refuses work for now: stopped by the kill switch, still starting, or its store
    cannot be read (it fails closed)."""
