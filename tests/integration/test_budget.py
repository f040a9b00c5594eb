"""The cost governor on the real store (SQLite and PostgreSQL): a call that would pass a limit is
refused before it is sent, with a typed error and an audit entry; a failed call's hold is released;
and two workers in two processes sharing one tenant's daily budget together never exceed it by more
than one call's reservation (in fact, not at all)."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import AsyncIterator, Iterator
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from aegis_ray.config import BudgetSettings, SpendLimits
from aegis_ray.control.budget import BudgetExhaustedError, SpendGate, periods
from aegis_ray.errors import ProviderServerError
from aegis_ray.providers import FunctionInfo, FunctionModel, Gateway
from aegis_ray.store import Store, open_store
from aegis_ray.types import Message, ModelRequest
from tests.helpers import postgres_schema

pytestmark = pytest.mark.integration

MODEL = "openai:gpt-4o-mini"  # priced: $0.15 in, $0.60 out per million tokens
REQUEST = ModelRequest(messages=(Message.user("What is the capital of Peru? " * 20),), max_tokens=200)


def settings(usd_per_day: float | None = None, tokens_per_day: int | None = None) -> BudgetSettings:
    return BudgetSettings(tenants={"acme": SpendLimits(usd_per_day=usd_per_day, tokens_per_day=tokens_per_day)})


def answer(_: tuple[Message, ...], __: FunctionInfo) -> str:
    return "Lima is the capital of Peru."


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "postgres":
        with postgres_schema() as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path / 'aegis.db'}"


@pytest.fixture
async def store(database: str, tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(database, tmp_path)
    yield opened
    await opened.close()


async def test_a_call_past_the_limit_is_never_sent(store: Store) -> None:
    sent: list[str] = []

    def counting(messages: tuple[Message, ...], info: FunctionInfo) -> str:
        sent.append(info.ref.name)
        return answer(messages, info)

    gateway = Gateway(lambda ref: FunctionModel(counting, ref), [MODEL], SpendGate(store, settings(tokens_per_day=900),
                                                                                   "acme"))
    answered = 0
    with pytest.raises(BudgetExhaustedError, match="budget of tenant acme") as refused:
        for _ in range(20):
            await gateway.complete(REQUEST)  # each holds ~350 tokens and uses fewer
            answered += 1
    assert refused.value.exit_code == 6 and "aegis.toml" in (refused.value.hint or "")
    day, _ = periods()
    [spent] = [s for s in await store.spent([day]) if s.scope == "acme"]
    assert answered >= 2 and len(sent) == answered  # the refused call was never sent
    assert spent.tokens <= 900 and spent.held_tokens == 0
    assert [e.action for e in await store.audit_entries(tenant="acme")][-1] == "budget.exhausted"
    other = Gateway(lambda ref: FunctionModel(answer, ref), [MODEL], SpendGate(store, settings(tokens_per_day=900),
                                                                               "globex"))
    await other.complete(REQUEST)  # another tenant's budget is its own


async def test_a_failed_call_releases_its_hold(store: Store) -> None:
    def failing(_: tuple[Message, ...], info: FunctionInfo) -> str:
        raise ProviderServerError("down", model=info.ref.name, status=503)

    gateway = Gateway(lambda ref: FunctionModel(failing, ref), [MODEL], SpendGate(store, settings(usd_per_day=1.0),
                                                                                  "acme"))
    with pytest.raises(ProviderServerError):
        await gateway.complete(REQUEST)
    day, _ = periods()
    [spent] = [s for s in await store.spent([day]) if s.scope == "acme"]
    assert (spent.usd, spent.held_usd) == (0.0, 0.0)


async def slow_answer(messages: tuple[Message, ...], info: FunctionInfo) -> str:
    await asyncio.sleep(0.02)  # a model takes time: the two workers' calls interleave
    return answer(messages, info)


def _worker(database: str, home: str, limit: float, start: Barrier, results: multiprocessing.Queue) -> None:
    async def work() -> None:
        store = await open_store(database, Path(home))
        gateway = Gateway(lambda ref: FunctionModel(slow_answer, ref), [MODEL],
                          SpendGate(store, settings(limit), "acme"))
        start.wait()

        async def one() -> int:
            try:
                await gateway.complete(REQUEST)
                return 1
            except BudgetExhaustedError:
                return 0

        made = 0
        while True:
            done = await asyncio.gather(*(one() for _ in range(8)))  # 8 calls in flight per worker
            made += sum(done)
            if not all(done):
                break
        await store.close()
        results.put(made)

    asyncio.run(work())


async def test_two_processes_share_one_tenant_budget_and_never_exceed_it(database: str, tmp_path: Path) -> None:
    per_call = 350 * 0.15 / 1e6 + 200 * 0.60 / 1e6  # at most: the estimated input and every output token
    limit = 60 * per_call
    context = multiprocessing.get_context("spawn")
    results, start = context.Queue(), context.Barrier(2)
    workers = [context.Process(target=_worker, args=(database, str(tmp_path), limit, start, results))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    made = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    assert all(w.exitcode == 0 for w in workers) and all(m > 0 for m in made), made  # both really worked
    store = await open_store(database, tmp_path)
    day, _ = periods()
    [spent] = [s for s in await store.spent([day]) if s.scope == "acme"]
    await store.close()
    assert spent.held_usd == 0 and spent.usd <= limit + per_call, (spent, limit)
    assert spent.usd <= limit  # holds are worst cases: the real spend stays under the limit itself
    assert spent.usd > limit / 4  # and the budget was really used, not refused from the start


async def test_the_report_shows_each_limit_with_its_spend(store: Store) -> None:
    from aegis_ray.control.budget import budget_report

    budgets = BudgetSettings(all=SpendLimits(usd_per_month=100.0),
                             tenants={"acme": SpendLimits(tokens_per_day=5000)}, each_tenant=SpendLimits(usd_per_day=1))
    gateway = Gateway(lambda ref: FunctionModel(answer, ref), [MODEL], SpendGate(store, budgets, "acme"))
    await gateway.complete(REQUEST)
    lines = {(b.scope, b.period.split(":")[0]): b for b in await budget_report(store, budgets)}
    assert set(lines) == {("*", "month"), ("acme", "day")}
    assert lines[("acme", "day")].spent_tokens > 0 and not lines[("acme", "day")].exhausted
    assert lines[("*", "month")].spent_usd > 0 and lines[("*", "month")].limit_usd == 100.0
    globex = {(b.scope, b.period.split(":")[0]) for b in await budget_report(store, budgets, "globex")}
    assert globex == {("*", "month"), ("globex", "day")}  # a tenant sees its own limits (and the global one)
