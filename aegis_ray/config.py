"""Settings: one pydantic-settings model, env prefix `AEGIS_`, optional `aegis.toml`.

Precedence, highest first: constructor arguments, `AEGIS_*` environment variables (nested with
`__`, e.g. `AEGIS_RETRY__MAX_ATTEMPTS=5`), the TOML file (`AEGIS_CONFIG` or `./aegis.toml`),
defaults. Provider keys and base URLs also fall back to each SDK's own variables
(`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, `GEMINI_API_KEY`/`GOOGLE_API_KEY`, `*_BASE_URL`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from aegis_ray.errors import ConfigError
from aegis_ray.model_ref import ModelName
from aegis_ray.sandbox import SandboxBackend
from aegis_ray.sandbox.base import SandboxLimits

_SDK_KEY_VARS: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
}
_SDK_URL_VARS: dict[str, str] = {
    "openai": "OPENAI_BASE_URL",
    "anthropic": "ANTHROPIC_BASE_URL",
    "gemini": "GOOGLE_GEMINI_BASE_URL",
}


class Policy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RetryPolicy(Policy):
    """Retries for one model endpoint: exponential backoff with jitter, honouring `retry-after`."""

    max_attempts: int = Field(default=4, ge=1, le=20)
    initial_backoff_s: float = Field(default=0.5, ge=0)
    max_backoff_s: float = Field(default=20.0, ge=0)
    jitter_s: float = Field(default=0.25, ge=0)
    max_retry_after_s: float = Field(
        default=60.0, ge=0, description="A longer stated retry-after fails over instead of waiting."
    )


class BreakerPolicy(Policy):
    """Per-model circuit breaker: opens after N consecutive failures, one trial after cool-down."""

    failure_threshold: int = Field(default=5, ge=1)
    cooldown_s: float = Field(default=30.0, gt=0)
    trial_timeout_s: float = Field(
        default=120.0, gt=0,
        description="A half-open trial whose caller never reports back (its process died) is given up after this.",
    )


class RateLimitPolicy(Policy):
    """Token buckets shared by every caller of one model endpoint. None = unlimited."""

    requests_per_s: float | None = Field(default=None, gt=0)
    burst: int = Field(default=1, ge=1, description="Bucket capacity in requests.")
    tokens_per_minute: int | None = Field(default=None, gt=0)


class LeasePolicy(Policy):
    """How the processes of a cluster share one endpoint's limits and breaker without a round trip to
    its `ProviderActor` on every call (`aegis_ray/providers/admission.py`)."""

    valid_s: float = Field(default=1.0, gt=0, description=(
        "How long a lease's permits and its word that the breaker is healthy hold; never more than half "
        "the breaker's cool-down."))
    max_requests: int = Field(default=64, ge=1, description="Most requests one lease takes from a rate-limited bucket.")
    report_s: float = Field(default=0.25, gt=0, description="Longest delay before calls, usage and cost reach the "
                            "shared counters.")


class TelemetrySettings(Policy):
    """Where every process of a run exports its spans and GenAI client metrics (`aegis_ray.telemetry`);
    actor processes get these with the trace context of each call (`aegis_ray.tracing`)."""

    exporter: Literal["none", "console", "otlp"] = "none"
    otlp_endpoint: str = "http://127.0.0.1:4318/v1/traces"
    otlp_metrics_endpoint: str | None = Field(default=None, description=(
        "Where metrics go over OTLP/HTTP (default: otlp_endpoint with /v1/metrics for /v1/traces)."))
    max_queue_size: int = Field(default=2048, gt=0, description="Bound of the span export queue.")
    span_delay_ms: int = Field(default=500, gt=0, description="Longest wait before a finished span is exported.")
    metric_interval_s: float = Field(default=15.0, gt=0, description="How often metrics are exported.")

    @property
    def metrics_endpoint(self) -> str:
        if self.otlp_metrics_endpoint:
            return self.otlp_metrics_endpoint
        base = self.otlp_endpoint.rstrip("/")
        return base.removesuffix("/v1/traces") + "/v1/metrics"


class SandboxSettings(Policy):
    backend: SandboxBackend = "auto"
    image: str = Field(default="python:3.11-slim", description="Image for the docker backend.")
    limits: SandboxLimits = SandboxLimits()


class SecuritySettings(Policy):
    """The zero-trust layer every agent session runs under (`aegis_ray.security`). Fail closed:
    every tool's output is untrusted unless the tool is declared trusted."""

    enabled: bool = Field(default=True, description="Quarantine, capability policy, egress gate and DLP on tools.")
    untrusted_tools: list[str] = Field(default_factory=lambda: ["*"], description=(
        "Tools (fnmatch) whose output is untrusted: quarantined, never shown to the planner. A tool matched only by "
        "a pattern is exempted by trusted_tools; one named exactly (sessions name every MCP tool) never is."))
    trusted_tools: list[str] = Field(
        default_factory=lambda: ["write_file", "edit_file", "run_command", "run_python", "ledger_append"],
        description=("Tools (fnmatch) declared trusted: their output (what the planner's own actions report) reaches "
                     "the planner, labelled with any tainted argument it echoes. Declare e.g. the user's profile "
                     "and the clock; never a tool whose output a third party can write."))
    allow_hosts: list[str] = Field(default_factory=list, description="Egress allowlist ('*.example.com' allowed).")
    contacts: list[str] = Field(default_factory=list, description="Recipients a tainted value may still name.")
    sensitive_values: list[str] = Field(default_factory=list, description=(
        "Values the user declares sensitive (an account number, a passport number): scrubbed from what leaves."))
    sensitive_fields: list[str] = Field(default_factory=list, description=(
        "Field names whose values are sensitive wherever written 'field: value' (e.g. 'tax id'): scrubbed."))
    rules: list[dict[str, Any]] = Field(default_factory=list, description=(
        "Extra capability rules (`aegis_ray.security.policy.ArgumentRule` as data), checked before the defaults."))
    plan: bool = Field(default=True, description=(
        "When the user's request is known, a planning pass commits to the task's calls before any tool runs."))
    unplanned: Literal["approve", "block"] = Field(default="approve", description=(
        "A call outside the committed plan: ask a person (never the approval policy 'auto'), or block it."))
    unplanned_reads: bool = Field(default=True, description="Read-only calls outside the plan run (quarantined).")
    on_flag: Literal["approve", "block"] = Field(default="approve", description=(
        "A value from a source the injection detector flagged: ask a person, or block (flagged output is always "
        "quarantined)."))
    taint_context: Literal["shown", "produced"] = Field(default="shown", description=(
        "What taints the planner's context: what it was shown, or every untrusted output produced (as if the "
        "quarantine leaked)."))


class CompactionSettings(Policy):
    """When a session's context is compacted (`aegis_ray.memory.compaction`). Tokens are counted
    offline, approximately: words and punctuation marks, plus a few per message (no tokenizer, no
    network); a BPE tokenizer counts English prose within about a third of that, so leave headroom
    under the model's window."""

    enabled: bool = True
    budget_tokens: int = Field(default=24_000, ge=1_000, description=(
        "Most context a model call is sent (messages and tool specs); past it, older turns are summarised."))
    keep_recent_tokens: int = Field(default=6_000, ge=200, description="The latest turns kept verbatim.")
    tool_output_tokens: int = Field(default=1_500, ge=100, description=(
        "A longer tool output is shown cut, with a handle the model reads it again by (read_output)."))
    note_tokens: int = Field(default=1_000, ge=100, description="Most the summary note may take.")

    @model_validator(mode="after")
    def _fits(self) -> CompactionSettings:
        if self.keep_recent_tokens + 2 * self.note_tokens >= self.budget_tokens:
            raise ValueError("keep_recent_tokens plus twice note_tokens must stay under budget_tokens")
        return self


class MCPServerSettings(Policy):
    """One `[[mcp.servers]]` entry of aegis.toml: an MCP server mounted into every agent session."""

    name: str | None = Field(default=None, pattern=r"^[A-Za-z][A-Za-z0-9_]{0,20}$",
                             description="Prefix of its tools' names (default: from the command or URL).")
    command: list[str] = Field(default_factory=list, description="Launch it over stdio: the program and arguments.")
    url: str | None = Field(default=None, description="Or connect over streamable HTTP, e.g. http://HOST:PORT/mcp.")
    env: dict[str, str] = Field(default_factory=dict)
    trusted: bool = Field(default=False, description=(
        "Show its tools' output to the planner; by default it is untrusted (quarantined)."))

    @model_validator(mode="after")
    def _one_transport(self) -> MCPServerSettings:
        if bool(self.command) == bool(self.url):
            raise ValueError("give exactly one of command (stdio) or url (streamable HTTP)")
        return self


class MCPSettings(Policy):
    servers: list[MCPServerSettings] = Field(default_factory=list)


class SpendLimits(Policy):
    """Most that may be spent on model calls per UTC day and per UTC month (None: no limit)."""

    usd_per_day: float | None = Field(default=None, ge=0)
    usd_per_month: float | None = Field(default=None, ge=0)
    tokens_per_day: int | None = Field(default=None, ge=0)
    tokens_per_month: int | None = Field(default=None, ge=0)

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.usd_per_day, self.usd_per_month, self.tokens_per_day,
                                           self.tokens_per_month))


class BudgetSettings(Policy):
    """The cost governor (`aegis_ray.control.budget`): limits checked in the store before every
    model call, so they hold across processes and nodes."""

    all: SpendLimits = Field(default_factory=SpendLimits, description="Everything, every tenant together.")
    tenants: dict[str, SpendLimits] = Field(default_factory=dict, description="Per tenant, by name.")
    each_tenant: SpendLimits = Field(default_factory=SpendLimits, description="A tenant not named in `tenants`.")
    hold_s: float = Field(default=600.0, gt=0, description=(
        "How long a call's reservation holds if its process dies before settling it."))

    def for_tenant(self, tenant: str | None) -> SpendLimits:
        return self.tenants.get(tenant, self.each_tenant) if tenant else SpendLimits()


class WindowPolicy(Policy):
    """How a model endpoint's calls are kept by time (`aegis_ray.providers.window`)."""

    bucket_s: float = Field(default=30.0, gt=0, description="Width of one bucket: the finest window edge.")
    retain_s: float = Field(default=8 * 3600.0, gt=0, description="How far back buckets are kept.")


class SloObjective(Policy):
    """One endpoint's objectives (None: that objective is not set)."""

    latency_p95_s: float | None = Field(default=None, gt=0, description="95% of calls finish within this.")
    error_rate: float | None = Field(default=None, gt=0, lt=1, description="Most calls that may fail (after retries).")


class BurnWindow(Policy):
    """A multi-window burn-rate alert: it fires when the error budget burns faster than `burn_rate`
    times the sustainable rate over both the long and the short window (Google SRE workbook, ch. 5)."""

    name: str
    long_s: float = Field(gt=0)
    short_s: float = Field(gt=0)
    burn_rate: float = Field(gt=0)
    severity: Literal["page", "ticket"] = "page"


class DriftSettings(Policy):
    """Per-model drift: the last `current_s` against the `baseline_s` before it."""

    current_s: float = Field(default=3600.0, gt=0)
    baseline_s: float = Field(default=6 * 3600.0, gt=0)
    min_samples: int = Field(default=20, ge=1, description="Calls (or verified answers) each span needs.")
    abstention_increase: float = Field(default=0.10, ge=0, description="Most the abstention rate may rise.")
    refusal_increase: float = Field(default=0.05, ge=0, description="Most the refusal rate may rise.")
    cost_ratio: float = Field(default=1.5, gt=1, description="Most the cost per call may grow, as a multiple.")


def _sre_windows() -> list[BurnWindow]:
    return [BurnWindow(name="fast", long_s=3600, short_s=300, burn_rate=14.4, severity="page"),
            BurnWindow(name="slow", long_s=6 * 3600, short_s=1800, burn_rate=6.0, severity="ticket")]


class SloSettings(Policy):
    """Latency and error-rate objectives per endpoint, judged by multi-window burn rates on the
    gateway's measurements, and per-model drift (`aegis_ray.control.slo`, `aegis_ray.control.drift`)."""

    default: SloObjective = Field(default_factory=lambda: SloObjective(latency_p95_s=30.0, error_rate=0.05))
    endpoints: dict[str, SloObjective] = Field(default_factory=dict, description=(
        'By model reference, e.g. [slo.endpoints."openai:gpt-4o-mini"]; fields left out come from `default`.'))
    windows: list[BurnWindow] = Field(default_factory=_sre_windows)
    min_calls: int = Field(default=10, ge=1, description="Calls a long window needs before it is judged.")
    drift: DriftSettings = DriftSettings()

    @model_validator(mode="after")
    def _fits_the_window(self) -> SloSettings:
        kept = WindowPolicy().retain_s
        longest = max([w.long_s for w in self.windows] + [self.drift.current_s + self.drift.baseline_s])
        if longest > kept:
            raise ValueError(f"SLO and drift windows reach back {longest:g} s; measurements are kept {kept:g} s")
        if any(w.short_s > w.long_s for w in self.windows):
            raise ValueError("a burn window's short_s must not exceed its long_s")
        return self

    def objective(self, model: str) -> SloObjective:
        own = self.endpoints.get(model)
        return self.default if own is None else self.default.model_copy(update=own.model_dump(exclude_unset=True))


class CanarySettings(Policy):
    """One `[canary.ROUTE]`: a share of the calls whose first model is `stable` go to `candidate`,
    until the candidate is rolled back (worse than stable beyond a threshold) or promoted
    (`aegis_ray.control.canary`)."""

    stable: ModelName
    candidate: ModelName
    percent: float = Field(default=10.0, ge=0, le=100, description="Share of the route's calls sent to candidate.")
    min_calls: int = Field(default=20, ge=1, description="Calls each side needs before anything is decided.")
    promote_after: int = Field(default=100, ge=1, description="Candidate calls after which, as good, it is promoted.")
    max_error_rate_increase: float = Field(default=0.05, ge=0)
    max_latency_ratio: float = Field(default=1.5, gt=1, description="Most the candidate's p95 latency may be, as a "
                                                                    "multiple of stable's.")
    latency_slack_s: float = Field(default=0.25, ge=0, description=(
        "A p95 latency within this of stable's is never worse (milliseconds of noise are not a regression)."))
    max_abstention_increase: float = Field(default=0.10, ge=0, description="Most the verification abstention rate "
                                                                           "may rise (on verified routes).")

    @model_validator(mode="after")
    def _two_models(self) -> CanarySettings:
        if self.stable == self.candidate:
            raise ValueError("a canary's candidate must differ from its stable model")
        return self


class ServeSettings(Policy):
    num_replicas: int | Literal["auto"] = 1
    max_ongoing_requests: int = Field(default=256, gt=0)
    autoscaling: dict[str, Any] | None = Field(default=None, description="Ray Serve autoscaling_config.")


class ProviderCredentials(Policy):
    api_key: SecretStr | None = None
    base_url: str | None = None


class Price(Policy):
    """USD per million tokens, online and through the provider's batch API."""

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    batch_input_per_mtok: float | None = Field(default=None, ge=0, description="None: half of input_per_mtok.")
    batch_output_per_mtok: float | None = Field(default=None, ge=0, description="None: half of output_per_mtok.")


class VerificationSettings(Policy):
    """Which models verify (never the author), and where the risk-control calibration lives."""

    judge: ModelName | None = Field(default=None, description="Entailment judge, decomposer, planner and grader.")
    voters: list[ModelName] = Field(default_factory=list, description="Independent models for ensembles and consensus.")
    pool_size: int = Field(default=2, ge=1, le=64, description="VerifierActors that fan model calls out.")
    calibration: Path | None = Field(default=None, description="Default: ~/.aegis/calibration.json.")
    evidence_judge: Literal["auto", "model", "offline"] = Field(default="auto", description=(
        "Who judges claims against the corpus: the judge model; the offline evidence judge (MiniLM alignment "
        "and consistency checks, no model call); or auto: the model, except that a simulated judge keeps only "
        "the claims its fact table knows and the offline judge takes the rest."))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AEGIS_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    home: Path = Field(default_factory=lambda: Path.home() / ".aegis")
    model: ModelName | None = Field(default=None, description="Default model reference, e.g. openai:gpt-4o-mini.")
    fallback_models: list[ModelName] = Field(default_factory=list)
    sim_url: str | None = Field(default=None, description="A running `aegis sim serve`, else one is started.")
    verification: VerificationSettings = VerificationSettings()
    database_url: SecretStr | None = None
    ray_address: str | None = None
    ray_object_store_mb: int = Field(default=512, ge=64, description="Object store of a local cluster.")

    openai: ProviderCredentials = ProviderCredentials()
    anthropic: ProviderCredentials = ProviderCredentials()
    gemini: ProviderCredentials = ProviderCredentials()

    request_timeout_s: float = Field(default=60.0, gt=0)
    retry: RetryPolicy = RetryPolicy()
    breaker: BreakerPolicy = BreakerPolicy()
    rate_limit: RateLimitPolicy = RateLimitPolicy()
    lease: LeasePolicy = LeasePolicy()
    telemetry: TelemetrySettings = TelemetrySettings()
    sandbox: SandboxSettings = SandboxSettings()
    security: SecuritySettings = SecuritySettings()
    compaction: CompactionSettings = CompactionSettings()
    mcp: MCPSettings = MCPSettings()
    budgets: BudgetSettings = BudgetSettings()
    slo: SloSettings = SloSettings()
    canary: dict[str, CanarySettings] = Field(default_factory=dict, description="Canary routes, by route name.")
    serve: ServeSettings = ServeSettings()
    api_key: SecretStr | None = Field(default=None, description="Require Authorization: Bearer on /api and /v1.")
    api_keys_file: Path | None = Field(default=None, description='JSON {"tenant": "key"} for several tenants.')
    approval: Literal["ask", "auto", "deny"] = Field(
        default="ask", description="Policy for mutating and executing tools.")
    prices: dict[str, Price] = Field(default_factory=dict, description="Overrides of the shipped table.")
    eval_log_dir: Path | None = Field(default=None, description=(
        "Where `aegis eval run` writes its logs and the dashboard lists them (default: HOME/evals)."))
    results_dir: Path | None = Field(
        default_factory=lambda: Path("benchmarks/results"),
        description="Where the benchmarks' results are read for /api/frontier; None: none measured yet.")

    @property
    def evals_dir(self) -> Path:
        """Where eval logs go (and are listed from)."""
        return self.eval_log_dir or self.home / "evals"

    @field_validator("results_dir")
    @classmethod
    def _resolved_here(cls, path: Path | None) -> Path | None:
        """Relative to the working directory of the process that reads the settings (a Serve
        replica may run elsewhere)."""
        return path.expanduser().absolute() if path is not None else None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("AEGIS_CONFIG", "aegis.toml"))
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=toml_path))

    @property
    def database_dsn(self) -> str | None:
        """The database URL in clear, for the store; None means the embedded SQLite default."""
        return self.database_url.get_secret_value() if self.database_url else None

    def known_secrets(self) -> list[str]:
        """Every credential these settings hold: what DLP masks in logs and in anything that leaves."""
        values = [c.api_key for c in (self.openai, self.anthropic, self.gemini)] + [self.api_key, self.database_url]
        return [v.get_secret_value() for v in values if v is not None]

    def credentials(self, provider: str) -> ProviderCredentials:
        """Aegis's own settings for a provider, completed from the SDK's standard variables."""
        family = "openai" if provider in ("openai", "openai-responses") else provider
        own: ProviderCredentials = getattr(self, family, ProviderCredentials())
        key = own.api_key
        if key is None:
            for var in _SDK_KEY_VARS.get(family, ()):
                if os.environ.get(var):
                    key = SecretStr(os.environ[var])
                    break
        base_url = own.base_url or os.environ.get(_SDK_URL_VARS.get(family, ""), "") or None
        return ProviderCredentials(api_key=key, base_url=base_url)

    def configured_providers(self) -> list[str]:
        """Providers with an API key available."""
        return [p for p in _SDK_KEY_VARS if self.credentials(p).api_key is not None]


def load_settings(**overrides: object) -> Settings:
    """Load settings, turning a validation failure into one clear `ConfigError`."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise ConfigError(
            f"invalid setting {where}: {first['msg']}",
            hint="check AEGIS_* environment variables and aegis.toml",
        ) from exc
