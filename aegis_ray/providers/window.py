"""A bounded, time-bucketed record of one model's calls: what SLOs, drift and canaries are judged on.

Each call to an endpoint leaves a `CallSample` (when, how long, which error if any, cost, tokens,
whether the provider refused). Samples are added to a `CallWindow`: one `WindowBucket` of counters
per `bucket_s` of wall time, kept for `retain_s`, so memory is bounded whatever the traffic (at the
defaults, at most 960 buckets of a few dozen integers). Any span of the window sums to one
`WindowBucket`, from which rates, cost per call and latency quantiles are read. Verification
outcomes (answers checked, abstentions) go into the same buckets (`record_verdict`), so one model's
drift is read from one window.

Latency is kept as a histogram over log-spaced bins (each 20% wider than the one before, from 1 ms
to about an hour), so a quantile or the share of calls slower than a threshold is known to within a
bin (about 10%). Written here rather than taken from a sketch library (DDSketch, HdrHistogram):
buckets must be pydantic models that cross Ray, merge by adding, and answer "how many were slower
than X", which is a dozen lines over a dict.

Wall time (not a monotonic clock) is used: samples come from many processes and nodes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from aegis_ray.config import WindowPolicy

_BASE_S = 0.001
_GROWTH = 1.2
_LAST_BIN = 90  # _BASE_S * _GROWTH ** 90: about 3.9 hours


def latency_bin(latency_s: float) -> int:
    """Bin 0 holds latencies up to 1 ms; bin i > 0 those in (1 ms * 1.2^(i-1), 1 ms * 1.2^i]."""
    if latency_s <= _BASE_S:
        return 0
    return min(_LAST_BIN, math.ceil(math.log(latency_s / _BASE_S, _GROWTH) - 1e-9))


def bin_bounds(index: int) -> tuple[float, float]:
    return (0.0 if index == 0 else _BASE_S * _GROWTH ** (index - 1), _BASE_S * _GROWTH ** index)


class CallSample(BaseModel):
    """One finished call to a model endpoint (after its retries)."""

    model_config = ConfigDict(frozen=True)

    at: float = Field(description="Unix time the call finished.")
    latency_s: float = Field(ge=0)
    error: str | None = Field(default=None, description="The error's type when the call failed.")
    cost_usd: float = 0.0
    tokens: int = 0
    refused: bool = Field(default=False, description="The provider refused to answer (a content filter).")


class WindowBucket(BaseModel):
    """Counters of some calls and verification outcomes; buckets add up (`merge`)."""

    calls: int = 0
    errors: int = 0
    error_kinds: dict[str, int] = Field(default_factory=dict)
    latency: dict[int, int] = Field(default_factory=dict, description="Calls by latency bin (`latency_bin`).")
    cost_usd: float = 0.0
    tokens: int = 0
    refusals: int = 0
    verified: int = Field(default=0, description="Answers of this model that verification decided.")
    abstained: int = Field(default=0, description="Of those, the ones verification abstained on.")

    def add(self, sample: CallSample) -> None:
        self.calls += 1
        if sample.error is not None:
            self.errors += 1
            self.error_kinds[sample.error] = self.error_kinds.get(sample.error, 0) + 1
        key = latency_bin(sample.latency_s)
        self.latency[key] = self.latency.get(key, 0) + 1
        self.cost_usd += sample.cost_usd
        self.tokens += sample.tokens
        self.refusals += sample.refused

    def add_verdict(self, *, abstained: bool, refused: bool = False) -> None:
        self.verified += 1
        self.abstained += abstained
        self.refusals += refused

    def merge(self, other: WindowBucket) -> None:
        for name in ("calls", "errors", "cost_usd", "tokens", "refusals", "verified", "abstained"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for kind, count in other.error_kinds.items():
            self.error_kinds[kind] = self.error_kinds.get(kind, 0) + count
        for key, count in other.latency.items():
            self.latency[key] = self.latency.get(key, 0) + count

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.calls if self.calls else None

    @property
    def abstention_rate(self) -> float | None:
        return self.abstained / self.verified if self.verified else None

    @property
    def refusal_rate(self) -> float | None:
        """Refusals per call (per verified answer when no call was seen here)."""
        seen = self.calls or self.verified
        return self.refusals / seen if seen else None

    @property
    def cost_per_call(self) -> float | None:
        return self.cost_usd / self.calls if self.calls else None

    def latency_quantile(self, q: float) -> float | None:
        """The `q` quantile of latency (the upper edge of its bin), None with no calls."""
        total = sum(self.latency.values())
        if not total:
            return None
        seen = 0
        for key in sorted(self.latency):
            seen += self.latency[key]
            if seen >= q * total:
                return bin_bounds(key)[1]
        return bin_bounds(max(self.latency))[1]

    def share_slower(self, threshold_s: float) -> float | None:
        """The share of calls slower than `threshold_s` (the bin holding it counted pro rata)."""
        total = sum(self.latency.values())
        if not total:
            return None
        slower = 0.0
        for key, count in self.latency.items():
            low, high = bin_bounds(key)
            if low >= threshold_s:
                slower += count
            elif high > threshold_s:
                slower += count * (high - threshold_s) / (high - low)
        return slower / total


class CallWindow(BaseModel):
    """Buckets of one model's calls by time, the oldest dropped past `retain_s`."""

    policy: WindowPolicy = WindowPolicy()
    buckets: dict[int, WindowBucket] = Field(default_factory=dict, description="By `int(time // bucket_s)`.")

    def _bucket(self, at: float) -> WindowBucket:
        key = int(at // self.policy.bucket_s)
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = WindowBucket()
            oldest = key - int(self.policy.retain_s // self.policy.bucket_s)
            for stale in [k for k in self.buckets if k < oldest]:
                del self.buckets[stale]
        return bucket

    def add(self, samples: Iterable[CallSample]) -> None:
        for sample in samples:
            self._bucket(sample.at).add(sample)

    def record_verdict(self, *, abstained: bool, refused: bool = False, at: float | None = None) -> None:
        self._bucket(time.time() if at is None else at).add_verdict(abstained=abstained, refused=refused)

    def merge(self, other: CallWindow) -> None:
        for key, bucket in other.buckets.items():
            self._bucket(key * other.policy.bucket_s).merge(bucket)

    def span(self, start: float, end: float) -> WindowBucket:
        """The buckets from the one holding `start` up to, not including, the one holding `end`: two
        spans that meet at a time never share a bucket."""
        first, stop = int(start // self.policy.bucket_s), int(end // self.policy.bucket_s)
        total = WindowBucket()
        for key, bucket in self.buckets.items():
            if first <= key < stop:
                total.merge(bucket)
        return total

    def last(self, seconds: float, now: float | None = None) -> WindowBucket:
        """The most recent `seconds` up to `now`, the bucket now being filled included."""
        now = time.time() if now is None else now
        return self.span(now - seconds, now + self.policy.bucket_s)


def combined(*windows: CallWindow) -> CallWindow:
    """One window holding all of `windows`' buckets (in the first one's policy)."""
    total = CallWindow(policy=windows[0].policy) if windows else CallWindow()
    for window in windows:
        total.merge(window)
    return total
