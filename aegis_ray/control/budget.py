"""The cost governor: per-tenant and global limits in USD and tokens, per UTC day and month,
enforced before every model call through the store (so across processes and nodes).

`SpendGate.reserve` holds a call's worst case before it is sent: the request's estimated input
tokens plus its `max_tokens` of output, at the model's price (`providers.pricing`); a model with no
known price is held at zero USD, and its tokens still count. The call is refused with
`BudgetExhaustedError` (HTTP 402, CLI exit 6) if the hold would pass a limit; nothing is sent, so no
half-finished effect. `settle` replaces the hold by what the call really cost. Every refusal is
recorded in the audit log. With no limit configured for a call's scopes the gate costs nothing.

`Governor` carries the limits to a process that makes calls for another (a `VerifierActor`): it
opens the same store and gates each call with `spend_gate` for the tenant the call is made for.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from aegis_ray.config import BudgetSettings, Price
from aegis_ray.errors import AegisError
from aegis_ray.providers.endpoint import estimate_tokens
from aegis_ray.providers.pricing import cost_usd, price_for
from aegis_ray.types import Completion, ModelRequest, Usage

if TYPE_CHECKING:
    from aegis_ray.config import Settings
    from aegis_ray.model_ref import ModelRef
    from aegis_ray.store import Store
    from aegis_ray.store.spend import Allowance

EVERYONE = "*"
ADJECTIVE = {"day": "daily", "month": "monthly"}


class BudgetExhaustedError(AegisError):
    """A spending limit would be passed: the call was not made."""

    exit_code = 6


def periods(now: datetime | None = None) -> tuple[str, str]:
    """This UTC day's and month's period names."""
    now = now or datetime.now(UTC)
    return f"day:{now:%Y-%m-%d}", f"month:{now:%Y-%m}"


def allowances(settings: BudgetSettings, tenant: str | None, now: datetime | None = None) -> list[Allowance]:
    """Every limit a call of `tenant` counts against, now."""
    from aegis_ray.store.spend import Allowance

    day, month = periods(now)
    found = []
    for scope, limits in ((EVERYONE, settings.all), (tenant, settings.for_tenant(tenant))):
        if scope is None or not limits.any:
            continue
        for period, usd, tokens in ((day, limits.usd_per_day, limits.tokens_per_day),
                                    (month, limits.usd_per_month, limits.tokens_per_month)):
            if usd is not None or tokens is not None:
                found.append(Allowance(scope=scope, period=period, usd=usd, tokens=tokens))
    return found


@dataclass(frozen=True)
class Hold:
    hold_id: str
    price: Price | None


class SpendGate:
    """Reserve before a call and settle after it, for one tenant (None: only the global limits)."""

    def __init__(self, store: Store, settings: BudgetSettings, tenant: str | None = None,
                 prices: dict[str, Price] | None = None) -> None:
        self.store, self.settings, self.tenant, self.prices = store, settings, tenant, prices

    async def reserve(self, ref: ModelRef, request: ModelRequest) -> Hold | None:
        limits = allowances(self.settings, self.tenant)
        if not limits:
            return None
        price = price_for(ref.model, self.prices)
        input_tokens = estimate_tokens(request) - request.max_tokens
        worst = Usage(input_tokens=input_tokens, output_tokens=request.max_tokens)
        usd = cost_usd(price, worst) or 0.0
        held = await self.store.reserve_spend(limits, usd, worst.input_tokens + worst.output_tokens,
                                              self.settings.hold_s)
        if isinstance(held, str):
            return Hold(held, price)
        allowance, spent = held.allowance, held.spent
        whose = "all tenants together" if allowance.scope == EVERYONE else f"tenant {allowance.scope}"
        limit = (f"${allowance.usd:g}" if allowance.usd is not None else "") + (
            f"{' / ' if allowance.usd is not None else ''}{allowance.tokens} tokens" if allowance.tokens is not None
            else "")
        await self.store.audit("system", "budget.exhausted", {
            "scope": allowance.scope, "period": allowance.period, "model": ref.name, "spent_usd": spent.usd,
            "spent_tokens": spent.tokens, "held_usd": spent.held_usd, "call_usd": usd}, tenant=self.tenant)
        raise BudgetExhaustedError(
            f"the {ADJECTIVE[allowance.period.split(':')[0]]} budget of {whose} ({limit}) is spent: "
            f"${spent.usd:.6f} and {spent.tokens} tokens used, ${spent.held_usd:.6f} held by calls in flight; "
            f"this call (up to ${usd:.6f}, {worst.input_tokens + worst.output_tokens} tokens) was not made",
            hint="raise the limit in [budgets] of aegis.toml, or wait for the next period")

    async def settle(self, hold: Hold | None, completion: Completion | None) -> None:
        if hold is None:
            return
        usage = completion.usage if completion is not None else Usage()
        usd = (completion.cost_usd if completion is not None and completion.cost_usd is not None
               else cost_usd(hold.price, usage) or 0.0)
        await self.store.settle_spend(hold.hold_id, usd, usage.input_tokens + usage.output_tokens)


def spend_gate(store: Store, settings: BudgetSettings, tenant: str | None = None,
               prices: dict[str, Price] | None = None) -> SpendGate | None:
    """The gate for `tenant`'s calls, or None when no limit could apply to them (no cost at all)."""
    if not (settings.all.any or settings.for_tenant(tenant).any):
        return None
    return SpendGate(store, settings, tenant, prices)


class Governor(BaseModel):
    """The cost governor as another process (a Ray actor) needs it: the store every process shares,
    the limits and the prices. That process opens the store and gates its calls with `gate`."""

    model_config = ConfigDict(frozen=True)

    database_url: str | None
    home: str
    budgets: BudgetSettings
    prices: dict[str, Price] = Field(default_factory=dict)

    @classmethod
    def of(cls, settings: Settings) -> Governor | None:
        """`settings`' governor, or None when no limit is configured at all (nothing to govern)."""
        budgets = settings.budgets
        if not (budgets.all.any or budgets.each_tenant.any or any(t.any for t in budgets.tenants.values())):
            return None
        return cls(database_url=settings.database_dsn, home=str(settings.home), budgets=budgets,
                   prices=settings.prices)

    def gate(self, store: Store, tenant: str | None) -> SpendGate | None:
        return spend_gate(store, self.budgets, tenant, self.prices)


class GovernedProcess:
    """A `Governor` in a long-lived process that calls for others (a verifier, a role agent): the
    store every process shares, opened on the first call that needs it (once, however many calls
    arrive together), then each call's gate."""

    def __init__(self, governor: Governor | None) -> None:
        self.governor = governor
        self._store: Store | None = None
        self._opening = asyncio.Lock()

    async def gate(self, tenant: str | None) -> SpendGate | None:
        """The gate for a call made for `tenant` (None: no limit is configured)."""
        if self.governor is None:
            return None
        if self._store is None:
            async with self._opening:
                if self._store is None:
                    from aegis_ray.store import open_store

                    self._store = await open_store(self.governor.database_url, Path(self.governor.home))
        return self.governor.gate(self._store, tenant)


class BudgetLine(BaseModel):
    """One limit, what was spent against it, and what calls in flight hold."""

    scope: str = Field(description="`*`: everything; else a tenant.")
    period: str
    limit_usd: float | None
    limit_tokens: int | None
    spent_usd: float
    spent_tokens: int
    held_usd: float

    @property
    def exhausted(self) -> bool:
        return (self.limit_usd is not None and self.spent_usd + self.held_usd >= self.limit_usd) or (
            self.limit_tokens is not None and self.spent_tokens >= self.limit_tokens)


async def budget_report(store: Store, settings: BudgetSettings, scope: str | None = None) -> list[BudgetLine]:
    """Every configured limit of this day and month with its spend (for `/api/health`, `aegis
    status`); with `scope` (a tenant), only the limits that tenant's calls count against."""
    scopes = {EVERYONE: settings.all} | {t: limits for t, limits in settings.tenants.items()}
    if scope is not None:
        scopes = {s: limits for s, limits in scopes.items() if s in (EVERYONE, scope)} | (
            {scope: settings.each_tenant} if scope not in scopes else {})
    found = {(a.scope, a.period): a for name, limits in scopes.items() if limits.any
             for a in allowances(BudgetSettings(all=limits) if name == EVERYONE else
                                 BudgetSettings(tenants={name: limits}), None if name == EVERYONE else name)}
    if not found:
        return []
    spent = {(s.scope, s.period): s for s in await store.spent(periods())}
    lines = []
    for (name, period), allowance in sorted(found.items()):
        used = spent.get((name, period))
        lines.append(BudgetLine(scope=name, period=period, limit_usd=allowance.usd, limit_tokens=allowance.tokens,
                                spent_usd=used.usd if used else 0.0, spent_tokens=used.tokens if used else 0,
                                held_usd=used.held_usd if used else 0.0))
    return lines
