"""`run_eval(..., batch=...)` against the simulator's batch APIs, on a real SQLite store: every sample
answered by a batch at the batch price, for each provider; requests that failed inside a batch
answered online at the online price; a driver that crashed after submitting collects its batch on
the next run instead of submitting it again; inputs the batch path refuses."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from pydantic import SecretStr

from aegis_ray.config import ProviderCredentials, Settings
from aegis_ray.errors import BadInputError
from aegis_ray.evals import read_log, run_eval
from aegis_ray.evals.batch import BatchOptions, BatchStage
from aegis_ray.evals.run import EvalOptions, execute, plan_eval
from aegis_ray.evals.task import resolve_task
from aegis_ray.factory import WorkerOptions, drain
from aegis_ray.model_ref import parse_model_ref
from aegis_ray.providers import EndpointCache, Gateway, ModelEndpoint, resolve_endpoint
from aegis_ray.providers.batch import BatchClient, BatchItem, batch_client
from aegis_ray.providers.pricing import batch_price, cost_usd, price_for
from aegis_ray.runner import answer_task
from aegis_ray.sim import FaultKind, SimServer
from aegis_ray.sim.models import BatchProfile
from aegis_ray.store import open_store
from aegis_ray.types import RunResult, RunSpec, Usage

pytestmark = pytest.mark.unit

FACTS = Path(__file__).parents[2] / "examples" / "evals" / "facts" / "facts.jsonl"
FAST = BatchOptions(poll_s=0.05, timeout_s=30)


def settings_for(sim: SimServer, home: Path) -> Settings:
    """Every provider pointed at the simulator, as a user points an SDK at a proxy."""
    return Settings(home=home, sim_url=sim.base_url,
                    openai=ProviderCredentials(api_key=SecretStr("k"), base_url=f"{sim.base_url}/v1"),
                    anthropic=ProviderCredentials(api_key=SecretStr("k"), base_url=sim.base_url),
                    gemini=ProviderCredentials(api_key=SecretStr("k"), base_url=sim.base_url))


def batches(sim: SimServer) -> list[str]:
    return list(sim.state.batches.batches)


@pytest.mark.parametrize("model", ["sim:sim-honest", "openai:sim-honest", "anthropic:sim-honest",
                                   "gemini:sim-honest"])
async def test_every_sample_is_answered_by_a_batch_at_the_batch_price(sim: SimServer, tmp_path: Path,
                                                                      model: str) -> None:
    results = await run_eval(FACTS, model=model, settings=settings_for(sim, tmp_path), batch=FAST,
                             log_dir=tmp_path / "logs")
    log = results.log
    assert log.batch is not None and log.batch.batch_ids == tuple(batches(sim)) and len(batches(sim)) == 1
    assert (log.batch.provider, log.batch.model.name, log.batch.answered, log.batch.failed) == (
        model.split(":")[0], model, 10, 0)
    assert log.batch.price == batch_price(price_for("sim-honest"))
    assert log.metrics["includes/accuracy"].value == 1.0
    online = [r.protocol for r in sim.requests() if not r.protocol.endswith("-batch")]
    assert online == [], "no sample was answered online"
    assert all(r.batch_id == log.batch.batch_ids[0] and r.error is None for r in log.results)
    online_log = (await run_eval(FACTS, model=model, settings=settings_for(sim, tmp_path / "online"))).log
    assert online_log.batch is None and all(r.batch_id is None for r in online_log.results)
    online_cost = {r.sample_id: r.cost_usd for r in online_log.results}
    for result in log.results:  # the same tokens (the simulator is deterministic), at half the price
        assert result.cost_usd == pytest.approx(online_cost[result.sample_id] / 2) and result.cost_usd > 0
    assert results.path is not None and read_log(results.path).batch == log.batch


async def test_requests_that_fail_inside_a_batch_are_answered_online(sim: SimServer, tmp_path: Path) -> None:
    sim.inject("sim-honest", FaultKind.SERVER_ERROR, times=3)
    results = await run_eval(FACTS, model="sim:sim-honest", settings=settings_for(sim, tmp_path), batch=FAST)
    log = results.log
    assert log.batch is not None and (log.batch.answered, log.batch.failed) == (7, 3)
    online = [r for r in log.results if r.batch_id is None]
    assert len(online) == 3 and all(r.error is None and r.output for r in online)
    assert len([r for r in sim.requests() if r.protocol == "openai-chat"]) == 3
    assert log.metrics["includes/accuracy"].value == 1.0


class DriverKilled(Exception):
    pass


class CrashAfterSubmit:
    """A batch client whose driver dies right after the provider accepted the batch."""

    def __init__(self, client: BatchClient) -> None:
        self.client, self.config = client, client.config

    async def submit(self, items: Sequence[BatchItem]) -> str:
        return await self.client.submit(items)

    async def status(self, batch_id: str) -> object:
        raise DriverKilled

    async def results(self, batch_id: str, custom_ids: Sequence[str]) -> object:
        raise AssertionError("never reached")

    async def aclose(self) -> None:
        await self.client.aclose()


async def test_a_driver_that_crashed_after_submitting_collects_its_batch(sim: SimServer, tmp_path: Path) -> None:
    sim.state.batches.profile = BatchProfile(completion_delay_s=0.3)
    settings = settings_for(sim, tmp_path)
    ref = parse_model_ref("anthropic:sim-honest")
    plan = plan_eval(resolve_task(FACTS), [ref], settings, EvalOptions())
    store = await open_store(None, tmp_path)
    endpoints = EndpointCache(lambda r: ModelEndpoint(resolve_endpoint(settings, r)))
    gateway = Gateway(endpoints, [ref])

    async def answer(spec: RunSpec) -> RunResult:
        return await answer_task(gateway, spec)

    def workers() -> object:
        return drain(store, answer, "w", WorkerOptions())

    crashing = CrashAfterSubmit(batch_client(resolve_endpoint(settings, ref)))
    try:
        with pytest.raises(DriverKilled):
            await execute(plan, store, workers, batch=BatchStage(crashing, FAST))  # type: ignore[arg-type]
        await crashing.aclose()
        submitted = batches(sim)
        assert len(submitted) == 1 and [b.batch_id for b in await store.batches_of("eval:facts:" + ref.name)] \
            == submitted
        client = batch_client(resolve_endpoint(settings, ref))
        results = await execute(plan, store, workers, batch=BatchStage(client, FAST))
        await client.aclose()
    finally:
        await store.close()
        await endpoints.aclose()
    assert batches(sim) == submitted, "the batch was collected, not submitted again"
    log = results.log
    assert log.batch is not None and log.batch.batch_ids == tuple(submitted) and log.batch.answered == 10
    assert all(r.batch_id == submitted[0] for r in log.results)
    assert [r.protocol for r in sim.requests()].count("anthropic") == 0, "nothing went online"


async def test_the_batch_path_refuses_what_it_cannot_send(sim: SimServer, tmp_path: Path) -> None:
    settings = settings_for(sim, tmp_path)
    with pytest.raises(BadInputError, match="cannot be combined"):
        await run_eval(FACTS, model="sim:sim-honest", settings=settings, batch=FAST, max_usd=1.0)
    with pytest.raises(BadInputError, match="has no batch API"):
        await run_eval(FACTS, model="openai-responses:sim-honest", settings=settings, batch=FAST)
    assert batches(sim) == []


def test_a_batch_costs_half_the_online_price() -> None:
    price = price_for("gpt-4o-mini")
    assert price is not None and batch_price(price) is not None
    usage = Usage(input_tokens=1000, output_tokens=500)
    assert cost_usd(batch_price(price), usage) == pytest.approx(cost_usd(price, usage) / 2)  # type: ignore[operator]
