"""The cost governor: per-tenant and global limits in USD and tokens, per UTC day and month,
enforced before every model call through the store (so across processes and nodes).

`SpendGate.reserve` holds a call's worst case before it is sent: the request's estimated input
tokens plus its `max_tokens` of output, at the model's price (`providers.pricing`); a model with no
known price is held at zero USD, and its tokens still count. The call is refused with
`BudgetExhaustedError` (HTTP 402, CLI exit 6) if the hold would pass a limit; nothing is sent, so no
half-finished effect. `settle` replaces the hold by what the call really cost. Every refusal is
recorded in the audit log. With no limit configured for a call's scopes the gate costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aegis_ray.config import BudgetSettings, Price, SpendLimits
from aegis_ray.errors import AegisError
from aegis_ray.providers.endpoint import estimate_tokens
from aegis_ray.providers.pricing import cost_usd, price_for
from aegis_ray.types import Completion, ModelRequest, Usage

if TYPE_CHECKING:
    from aegis_ray.model_ref import ModelRef
    from aegis_ray.store import Store
    from aegis_ray.store.spend import Allowance

EVERYONE = "*"


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
            f"the {allowance.period.split(':')[0]}ly budget of {whose} ({limit}) is spent: ${spent.usd:.6f} and "
            f"{spent.tokens} tokens used, ${spent.held_usd:.6f} held by calls in flight; this call "
            f"(up to ${usd:.6f}, {worst.input_tokens + worst.output_tokens} tokens) was not made",
            hint="raise the limit in [budgets] of aegis.toml, or wait for the next period")

    async def settle(self, hold: Hold | None, completion: Completion | None) -> None:
        if hold is None:
            return
        usage = completion.usage if completion is not None else Usage()
        usd = (completion.cost_usd if completion is not None and completion.cost_usd is not None
               else cost_usd(hold.price, usage) or 0.0)
        await self.store.settle_spend(hold.hold_id, usd, usage.input_tokens + usage.output_tokens)


def spend_report(settings: BudgetSettings) -> dict[str, SpendLimits]:
    """Every configured limit by scope (for `/api/health` and `aegis status`)."""
    report = {EVERYONE: settings.all} if settings.all.any else {}
    return report | {tenant: limits for tenant, limits in settings.tenants.items() if limits.any}
