"""Canary routing: a share of a route's calls go to a candidate model, which is rolled back when it
does worse than the stable model and promoted when it does as well.

A route (`[canary.NAME]` in aegis.toml: `stable`, `candidate`, `percent`) applies to every call
whose first model is `stable` and that names no models of its own (the gateway's `Router` hook):
`percent` of them try `candidate` first, then the chain as it was. Which calls is decided by a hash
of the route and the request's first user message, so a conversation (which keeps its first
message) stays on one side, and a retried request lands where it landed before.

Each side's calls (errors, latency) are counted as the gateway sees them, and its verification
outcomes (abstentions) as verified answers report them (`record_outcome`, an `OutcomeLog`
listener). Once both sides have `min_calls`, the candidate is **rolled back** if its error rate is
higher by more than `max_error_rate_increase`, its p95 latency more than `max_latency_ratio` times
stable's (and more than `latency_slack_s` above it), or (with `min_calls` verified answers on both
sides) its abstention rate higher by more than `max_abstention_increase`; it is **promoted** (every
call of the route goes to it) once it has `promote_after` calls and none of that holds. A decision
is kept in the store (the flag `canary:NAME`, JSON) and written to the audit log
(`canary.rollback`, `canary.promote`), so it survives restarts and reaches every process: each
reads the flags again every `refresh_s`.

Each process counts only the calls it made; the first decision in the store wins, and a process
that finds one there follows it instead of deciding again. A route whose stable or candidate model
changes in the configuration is a new canary: a stored decision about another pair is ignored.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from aegis_ray.config import CanarySettings
from aegis_ray.errors import ConfigError, ProviderError
from aegis_ray.model_ref import ModelRef
from aegis_ray.providers.window import CallSample, WindowBucket
from aegis_ray.types import ModelRequest

if TYPE_CHECKING:
    from aegis_ray.store import Store

logger = logging.getLogger(__name__)

FLAG_PREFIX = "canary:"
CanaryStatus = Literal["active", "rolled_back", "promoted"]
Side = Literal["stable", "candidate"]


class Decision(BaseModel):
    action: Literal["rollback", "promote"]
    reason: str


class CanaryState(BaseModel):
    """A route's canary as the store keeps it."""

    route: str
    stable: str
    candidate: str
    percent: float
    status: CanaryStatus = "active"
    decided_at: float | None = Field(default=None, description="Unix time of the rollback or promotion.")
    reason: str | None = None
    stable_seen: WindowBucket = Field(default_factory=WindowBucket, description="Stable's calls, as last judged.")
    candidate_seen: WindowBucket = Field(default_factory=WindowBucket)


def judge(stable: WindowBucket, candidate: WindowBucket, settings: CanarySettings) -> Decision | None:
    """Roll back, promote, or (None) keep watching; see the module docstring."""
    enough = settings.min_calls
    if stable.calls < enough or candidate.calls < enough:
        return None
    worse = []
    assert stable.error_rate is not None and candidate.error_rate is not None
    if candidate.error_rate - stable.error_rate > settings.max_error_rate_increase:
        worse.append(f"error rate {candidate.error_rate:.1%} against stable's {stable.error_rate:.1%}")
    stable_p95, candidate_p95 = stable.latency_quantile(0.95), candidate.latency_quantile(0.95)
    if (stable_p95 is not None and candidate_p95 is not None
            and candidate_p95 > max(stable_p95 * settings.max_latency_ratio, stable_p95 + settings.latency_slack_s)):
        worse.append(f"p95 latency {candidate_p95:.3f} s against stable's {stable_p95:.3f} s")
    verified = stable.verified >= enough and candidate.verified >= enough
    if verified:
        assert stable.abstention_rate is not None and candidate.abstention_rate is not None
        if candidate.abstention_rate - stable.abstention_rate > settings.max_abstention_increase:
            worse.append(f"verification abstained on {candidate.abstention_rate:.1%} of its answers against "
                         f"stable's {stable.abstention_rate:.1%}")
    if worse:
        return Decision(action="rollback", reason="; ".join(worse))
    unverified = stable.verified == 0 and candidate.verified == 0
    if candidate.calls >= settings.promote_after and (verified or unverified):
        return Decision(action="promote", reason=f"as good as stable after {candidate.calls} calls")
    return None


def in_canary(route: str, request: ModelRequest, percent: float) -> bool:
    """Whether this request is in the route's canary share (stable per route and first user message)."""
    key = next((m.content for m in request.messages if m.role == "user"), request.messages[0].content)
    digest = hashlib.sha256(f"{route}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10_000 < percent * 100


class CanaryRouter:
    """The gateway's `Router` for the configured canary routes (and an `OutcomeLog` listener)."""

    def __init__(self, routes: Mapping[str, CanarySettings],
                 store: Store | Callable[[], Awaitable[Store]] | None = None, *,
                 refresh_s: float = 1.0, clock: Callable[[], float] = time.time) -> None:
        """`store`: an open store, a coroutine function opening one on first use, or None (decisions
        kept in this process only)."""
        self.routes = dict(routes)
        self._opener = store if callable(store) else None
        self.store: Store | None = None if callable(store) else store
        self.refresh_s = refresh_s
        self._clock = clock
        self._by_stable: dict[str, str] = {}
        for name, route in self.routes.items():
            if route.stable.name in self._by_stable:
                raise ConfigError(f"canary routes {self._by_stable[route.stable.name]!r} and {name!r} share the "
                                  f"stable model {route.stable}", hint="give each stable model one [canary.ROUTE]")
            self._by_stable[route.stable.name] = name
        self.states = {name: self._fresh(name) for name in self.routes}
        self.seen: dict[str, dict[Side, WindowBucket]] = {
            name: {"stable": WindowBucket(), "candidate": WindowBucket()} for name in self.routes}
        self._read_at = float("-inf")
        self._lock = asyncio.Lock()

    def _fresh(self, name: str) -> CanaryState:
        route = self.routes[name]
        return CanaryState(route=name, stable=route.stable.name, candidate=route.candidate.name, percent=route.percent)

    def route(self, chain: tuple[ModelRef, ...], request: ModelRequest) -> tuple[ModelRef, ...]:
        name = self._by_stable.get(chain[0].name)
        if name is None:
            return chain
        status, route = self.states[name].status, self.routes[name]
        if status == "promoted" or (status == "active" and in_canary(name, request, route.percent)):
            return (route.candidate, *(m for m in chain if m != route.candidate))
        return chain

    def _sides(self, model: str) -> list[tuple[str, Side]]:
        """The active routes `model` is a side of."""
        found: list[tuple[str, Side]] = []
        for name, route in self.routes.items():
            if self.states[name].status != "active":
                continue
            if model == route.stable.name:
                found.append((name, "stable"))
            elif model == route.candidate.name:
                found.append((name, "candidate"))
        return found

    async def observe(self, ref: ModelRef, latency_s: float, error: ProviderError | None) -> None:
        await self.refresh()
        sides = self._sides(ref.name)
        if not sides:
            return
        sample = CallSample(at=self._clock(), latency_s=latency_s, error=type(error).__name__ if error else None)
        for name, side in sides:
            self.seen[name][side].add(sample)
            await self._judge(name)

    async def record_outcome(self, model: str, abstained: bool, refused: bool = False) -> None:
        """A verified answer of `model` (the `OutcomeLog` listener's signature)."""
        for name, side in self._sides(model):
            self.seen[name][side].add_verdict(abstained=abstained, refused=refused)
            await self._judge(name)

    async def _judge(self, name: str) -> None:
        seen = self.seen[name]
        decision = judge(seen["stable"], seen["candidate"], self.routes[name])
        if decision is not None:
            await self._decide(name, decision)

    async def _decide(self, name: str, decision: Decision) -> None:
        async with self._lock:
            if self.states[name].status != "active":
                return
            store = await self._open()
            if store is not None:
                stored = await self._stored(name)
                if stored is not None and stored.status != "active":  # another process decided first
                    self.states[name] = stored
                    return
            seen = self.seen[name]
            state = self.states[name].model_copy(update={
                "status": "rolled_back" if decision.action == "rollback" else "promoted",
                "decided_at": self._clock(), "reason": decision.reason,
                "stable_seen": seen["stable"].model_copy(deep=True),
                "candidate_seen": seen["candidate"].model_copy(deep=True)})
            self.states[name] = state
            logger.warning("canary %s: %s %s (%s)", name, decision.action, state.candidate, decision.reason)
            if store is not None:
                await store.set_flag(FLAG_PREFIX + name, state.model_dump_json())
                await store.audit("system", f"canary.{decision.action}", {
                    "route": name, "stable": state.stable, "candidate": state.candidate, "reason": decision.reason,
                    "stable_calls": seen["stable"].calls, "candidate_calls": seen["candidate"].calls,
                    "stable_abstained": seen["stable"].abstained, "candidate_abstained": seen["candidate"].abstained,
                    "stable_verified": seen["stable"].verified, "candidate_verified": seen["candidate"].verified})

    async def _open(self) -> Store | None:
        if self.store is None and self._opener is not None:
            self.store = await self._opener()
        return self.store

    async def _stored(self, name: str) -> CanaryState | None:
        """The route's state in the store, if it is about the configured pair."""
        assert self.store is not None
        text = await self.store.flag(FLAG_PREFIX + name)
        if text is None:
            return None
        state = CanaryState.model_validate_json(text)
        fresh = self._fresh(name)
        return state if (state.stable, state.candidate) == (fresh.stable, fresh.candidate) else None

    async def refresh(self, force: bool = False) -> None:
        """Read the routes' states from the store (at most every `refresh_s`, unless `force`). A
        store that cannot be read leaves the states as they were (and says so in the log)."""
        if (self.store is None and self._opener is None) or (
                not force and self._clock() - self._read_at < self.refresh_s):
            return
        self._read_at = self._clock()
        for name in self.routes:
            try:
                await self._open()
                stored = await self._stored(name)
            except Exception as exc:  # routing goes on as last known; the next refresh tries again
                logger.warning("cannot read the canary state of %s: %s", name, exc)
                return
            if stored is not None:
                self.states[name] = stored

    def report(self) -> list[CanaryState]:
        """Every route's state, with what this process has seen of each side while it is active."""
        return [state if state.status != "active" else state.model_copy(update={
            "stable_seen": self.seen[name]["stable"], "candidate_seen": self.seen[name]["candidate"]})
            for name, state in self.states.items()]


def canary_router(routes: Mapping[str, CanarySettings],
                  store: Store | Callable[[], Awaitable[Store]] | None = None) -> CanaryRouter | None:
    """The router for `routes`, or None when there are none (then the gateway pays nothing)."""
    return CanaryRouter(routes, store) if routes else None
