"""The cost governor on the calls a `VerifierPool` makes (best-of-N candidates, ensemble votes,
judges, whole verifications), on real actors and the real store: each counts against the tenant the
pool's view is for; past that tenant's limit a call is refused in the actor with a typed
`BudgetExhaustedError`, audited, and never reaches the model (the simulator counts requests); the
spend recorded is what the calls answered cost; another tenant's calls go on."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from actors.verifier_actor import VerifierPool
from aegis_ray.config import BudgetSettings, SpendLimits
from aegis_ray.control.budget import BudgetExhaustedError, Governor, periods
from aegis_ray.sim import SimServer
from aegis_ray.store import Store, open_store
from aegis_ray.types import Message, ModelRequest
from aegis_ray.verify.best_of_n import JudgeScorer, best_of_n
from aegis_ray.verify.ensemble import ensemble
from aegis_ray.verify.equivalence import NormalisedMatch
from aegis_ray.verify.policy import EnsembleLayer, VerificationPolicy
from tests.helpers import sim_endpoint

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("ray_cluster")]

AUTHOR = "sim:sim-honest"  # priced: $1 in, $2 out per million tokens
JUDGE = "sim:sim-honest-judge"
VOTERS = tuple(f"sim:sim-honest-voter-{i}" for i in range(3))
TENANT, OTHER = "frugal", "globex"
# REQUEST holds its worst case, about $0.00026 (128 output tokens at $2/M), and really costs ~$0.00003: some
# calls fit, until the next one's hold would pass the limit; then no verification call fits either (each
# holds 512 output tokens, over $0.001).
LIMIT_USD = 0.0005
REQUEST = ModelRequest(messages=(Message.user("What is the capital of Peru?"),), max_tokens=128)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(f"sqlite:///{tmp_path / 'aegis.db'}", tmp_path)
    yield opened
    await opened.close()


@pytest.fixture
def pool(sim: SimServer, tmp_path: Path) -> VerifierPool:
    """A pool whose actors gate every call through the test's store: `TENANT` has a tiny daily limit."""
    governor = Governor(database_url=f"sqlite:///{tmp_path / 'aegis.db'}", home=str(tmp_path),
                        budgets=BudgetSettings(tenants={TENANT: SpendLimits(usd_per_day=LIMIT_USD)}))
    return VerifierPool({m: sim_endpoint(sim, m.split(":", 1)[1]) for m in (AUTHOR, JUDGE, *VOTERS)}, size=2,
                        governor=governor)


async def test_verifier_calls_past_the_tenants_limit_are_refused_before_they_are_sent(
        pool: VerifierPool, sim: SimServer, store: Store) -> None:
    frugal = pool.for_tenant(TENANT)
    costs: list[float] = []
    with pytest.raises(BudgetExhaustedError, match=f"daily budget of tenant {TENANT}") as refused:
        for _ in range(50):
            costs.append((await frugal.complete(REQUEST, [AUTHOR])).cost_usd or 0.0)
    assert refused.value.exit_code == 6 and "aegis.toml" in (refused.value.hint or "")
    assert len(costs) >= 2 and len(sim.requests()) == len(costs)  # the refused call never reached the model

    # every way verification calls models through the pool is refused too, and sends nothing
    with pytest.raises(BudgetExhaustedError):
        await ensemble("What is the capital of Peru?", frugal, VOTERS, NormalisedMatch())
    with pytest.raises(BudgetExhaustedError):
        await best_of_n("What is the capital of Peru?", frugal, AUTHOR, JudgeScorer(frugal, JUDGE), n=3)
    with pytest.raises(BudgetExhaustedError):  # a whole verification, run inside one actor
        await frugal.verify(VerificationPolicy(layers=(EnsembleLayer(),), judge=JUDGE, voters=VOTERS),
                            "What is the capital of Peru?", AUTHOR)
    assert len(sim.requests()) == len(costs)

    day, _ = periods()
    [spent] = [s for s in await store.spent([day]) if s.scope == TENANT]
    assert math.isclose(spent.usd, sum(costs), rel_tol=1e-9) and spent.usd <= LIMIT_USD  # what was sent, no more
    assert spent.held_usd == 0
    refusals = [e for e in await store.audit_entries(tenant=TENANT) if e.action == "budget.exhausted"]
    assert len(refusals) >= 4 and refusals[-1].detail["scope"] == TENANT

    # another tenant's calls, and calls for no tenant (only the global limits, none here), go on
    assert (await pool.for_tenant(OTHER).complete(REQUEST, [AUTHOR])).text
    assert (await pool.complete(REQUEST, [AUTHOR])).text
    assert len(sim.requests()) == len(costs) + 2
    assert {s.scope for s in await store.spent([day])} == {TENANT}  # nothing counted against frugal for them
    [after] = [s for s in await store.spent([day]) if s.scope == TENANT]
    assert after.usd == spent.usd
