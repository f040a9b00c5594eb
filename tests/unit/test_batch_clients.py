"""Each provider's batch client, over its official SDK, against the simulator's batch APIs: a round
trip (submit, poll, results mapped back by custom id and charged at the batch price), failures inside
a batch (queued faults and a failure rate), a completion delay, and refused input."""

from __future__ import annotations

import json

import openai
import pytest

from aegis_ray.errors import BadInputError, ProviderTimeoutError
from aegis_ray.model_ref import ModelRef
from aegis_ray.providers.batch import BatchItem, batch_client, check_batchable, wait_until_ended
from aegis_ray.providers.pricing import batch_price, cost_usd, price_for
from aegis_ray.sim import FaultKind, SimConfig, SimServer
from aegis_ray.sim.models import BatchProfile
from aegis_ray.types import Message, ModelRequest
from tests.helpers import sim_endpoint

pytestmark = pytest.mark.unit

PROVIDERS = ("sim", "openai", "anthropic", "gemini")
QUESTION = "What is the capital of Australia?"


def items(n: int, question: str = QUESTION) -> list[BatchItem]:
    request = ModelRequest(messages=(Message.system("Answer briefly."), Message.user(question)), max_tokens=64)
    return [BatchItem(custom_id=f"item-{i}", request=request) for i in range(n)]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_batch_round_trip_answers_every_item_at_the_batch_price(sim: SimServer, provider: str) -> None:
    client = batch_client(sim_endpoint(sim, "sim-honest", provider))
    try:
        batch_id = await client.submit(items(5))
        status = await wait_until_ended(client, batch_id, poll_s=0.05, timeout_s=10)
        assert status.ended and status.seconds is not None
        wanted = [f"item-{i}" for i in (3, 0, 4, 1, 2)]  # any order: results come back by custom id
        outcomes = await client.results(batch_id, wanted)
    finally:
        await client.aclose()
    assert [o.custom_id for o in outcomes] == wanted
    assert all(o.ok and o.completion is not None for o in outcomes)
    completion = outcomes[0].completion
    assert completion is not None and completion.text == "Canberra." and completion.simulated == (provider == "sim")
    online = cost_usd(price_for("sim-honest"), completion.usage)
    assert online and completion.cost_usd == pytest.approx(online / 2)
    assert completion.cost_usd == pytest.approx(cost_usd(batch_price(price_for("sim-honest")), completion.usage))
    protocols = {r.protocol for r in sim.requests("sim-honest")}
    assert protocols == {f"{'openai' if provider == 'sim' else provider}-batch"}, "every item went through the batch"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_requests_fail_alone_inside_a_batch(sim: SimServer, provider: str) -> None:
    sim.inject("sim-honest", FaultKind.SERVER_ERROR, times=2)
    sim.inject("sim-honest", FaultKind.RATE_LIMIT)
    client = batch_client(sim_endpoint(sim, "sim-honest", provider))
    try:
        batch_id = await client.submit(items(6))
        await wait_until_ended(client, batch_id, poll_s=0.05, timeout_s=10)
        outcomes = await client.results(batch_id, [f"item-{i}" for i in range(6)])
    finally:
        await client.aclose()
    failed = [o for o in outcomes if not o.ok]
    assert [o.custom_id for o in failed] == ["item-0", "item-1", "item-2"]  # the faults hit the first requests
    assert {o.status for o in failed} == {500, 429}
    assert {o.error.split(":")[0] for o in failed if o.error} == {"ProviderServerError", "RateLimitedError"}
    assert all(o.completion is not None and o.completion.text == "Canberra." for o in outcomes[3:])


async def test_a_failure_rate_and_a_completion_delay(sim: SimServer) -> None:
    sim.state.batches.profile = BatchProfile(completion_delay_s=0.5, failure_rate=0.5)
    client = batch_client(sim_endpoint(sim, "sim-honest", "anthropic"))
    try:
        batch_id = await client.submit(items(40))
        running = await client.status(batch_id)
        assert not running.ended and running.state == "in_progress"
        with pytest.raises(ProviderTimeoutError, match="has not ended"):
            await wait_until_ended(client, batch_id, poll_s=0.05, timeout_s=0.1)
        ended = await wait_until_ended(client, batch_id, poll_s=0.05, timeout_s=10)
        outcomes = await client.results(batch_id, [f"item-{i}" for i in range(40)])
    finally:
        await client.aclose()
    failed = sum(not o.ok for o in outcomes)
    assert ended.failed == failed and 8 <= failed <= 32
    assert ended.seconds is not None and ended.seconds >= 0.5


async def test_an_item_the_provider_returned_nothing_for_is_a_failure(sim: SimServer) -> None:
    client = batch_client(sim_endpoint(sim, "sim-honest", "openai"))
    try:
        batch_id = await client.submit(items(2))
        await wait_until_ended(client, batch_id, poll_s=0.05, timeout_s=10)
        outcomes = await client.results(batch_id, ["item-0", "never-sent"])
    finally:
        await client.aclose()
    assert outcomes[0].ok and not outcomes[1].ok and "no result" in (outcomes[1].error or "")


async def test_an_unknown_model_fails_each_item_not_the_batch(sim: SimServer) -> None:
    client = batch_client(sim_endpoint(sim, "no-such-model", "gemini"))
    try:
        batch_id = await client.submit(items(2))
        await wait_until_ended(client, batch_id, poll_s=0.05, timeout_s=10)
        outcomes = await client.results(batch_id, ["item-0", "item-1"])
    finally:
        await client.aclose()
    assert [o.status for o in outcomes] == [404, 404]
    assert all((o.error or "").startswith("UnknownModelError") for o in outcomes)


async def test_the_simulator_fails_a_bad_input_file_as_the_api_does(sim: SimServer) -> None:
    client = openai.AsyncOpenAI(api_key="k", base_url=f"{sim.base_url}/v1", max_retries=0)
    lines = [{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "sim-honest"}},
             {"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "sim-honest"}}]
    upload = await client.files.create(file=("in.jsonl", "\n".join(map(json.dumps, lines)).encode()), purpose="batch")
    batch = await client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                        completion_window="24h")
    assert batch.status == "failed" and batch.errors and batch.errors.data
    assert batch.errors.data[0].code == "duplicate_custom_id" and batch.errors.data[0].line == 2
    with pytest.raises(openai.NotFoundError):
        await client.batches.create(input_file_id="file-nope", endpoint="/v1/chat/completions", completion_window="24h")
    with pytest.raises(openai.BadRequestError, match="not '/v1/embeddings'"):
        await client.batches.create(input_file_id=upload.id, endpoint="/v1/embeddings", completion_window="24h")
    await client.close()


async def test_the_batch_apis_check_the_api_key() -> None:
    with SimServer(SimConfig(api_keys=["right"])) as sim:
        client = batch_client(sim_endpoint(sim, "sim-honest", "anthropic", api_key="wrong"))
        try:
            with pytest.raises(BadInputError, match="401"):
                await client.submit(items(1))
        finally:
            await client.aclose()


def test_providers_without_a_batch_api_are_refused_with_a_hint() -> None:
    for ref in (ModelRef(provider="openai-responses", model="gpt-4.1"),
                ModelRef(provider="openai-compatible", model="llama", base_url="http://127.0.0.1:1/v1")):
        with pytest.raises(BadInputError, match="has no batch API") as raised:
            check_batchable(ref)
        assert raised.value.hint and "--batch" in raised.value.hint
