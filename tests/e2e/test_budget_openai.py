"""The cost governor on the OpenAI-compatible endpoint of the live Serve app: `/v1/chat/completions`
(model `aegis`, whole or streamed, and `aegis-verified` with its verification calls on the replica's
VerifierPool) counts against the caller's tenant as `/api/run` does; past the tenant's limit a call
is HTTP 402 with the API's error body (one line and a hint), never sent to the model; the spend
recorded is what the answered calls cost; other tenants go on."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import httpx
import pytest

from aegis_ray.cli.common import store_call
from aegis_ray.config import Settings, SpendLimits
from aegis_ray.control.budget import periods
from aegis_ray.sim import SimServer
from aegis_ray.store.spend import Spent
from tests.helpers import budgeted_service, tenant_clients

pytestmark = pytest.mark.e2e

FRUGAL, VERIFIED, OTHER = "frugal", "frugal-verified", "globex"
# A `/v1` call holds its worst case, about $0.00206 (1024 output tokens of sim-honest at $2/M), and really
# costs ~$0.00002: a few calls fit under FRUGAL's limit, then the next one's hold would pass it. Under
# VERIFIED's, the author's call fits, and one verification call (512 output tokens, ~$0.0011) at a time.
LIMITS = {FRUGAL: SpendLimits(usd_per_day=0.0022), VERIFIED: SpendLimits(usd_per_day=0.00207)}
QUESTION = [{"role": "user", "content": "What is the capital of Australia?"}]


@pytest.fixture(scope="module")
def budgeted(service: tuple[str, Settings]) -> Iterator[tuple[str, Settings]]:
    """The session's Serve app redeployed with per-tenant limits (restored after the module)."""
    with budgeted_service(service, LIMITS) as limited:
        yield limited


@pytest.fixture(scope="module")
def clients(budgeted: tuple[str, Settings]) -> Iterator[dict[str, httpx.Client]]:
    with tenant_clients(*budgeted, (FRUGAL, VERIFIED, OTHER)) as made:
        yield made


def spent(settings: Settings, tenant: str) -> Spent:
    day, _ = periods()
    return next(s for s in store_call(settings, lambda store: store.spent([day])) if s.scope == tenant)


def assert_refused(response: httpx.Response, tenant: str) -> None:
    body = response.json()
    assert response.status_code == 402, response.text
    assert set(body) == {"detail", "hint", "error"} and body["error"] == "BudgetExhaustedError"
    assert f"budget of tenant {tenant}" in body["detail"] and "\n" not in body["detail"]
    assert "aegis.toml" in body["hint"]


def test_v1_calls_past_the_tenants_limit_are_402_and_never_sent(budgeted: tuple[str, Settings],
                                                                clients: dict[str, httpx.Client],
                                                                sim: SimServer) -> None:
    _, settings = budgeted
    frugal = clients[FRUGAL]
    costs = []
    for _ in range(50):
        response = frugal.post("/v1/chat/completions", json={"model": "aegis", "messages": QUESTION})
        if response.status_code != 200:
            break
        costs.append(response.json()["aegis"]["cost_usd"])
    assert_refused(response, FRUGAL)
    streamed = frugal.post("/v1/chat/completions", json={"model": "aegis", "messages": QUESTION, "stream": True})
    assert_refused(streamed, FRUGAL)  # refused before the stream began, not a 200 cut short
    assert_refused(frugal.post("/v1/chat/completions", json={"model": "aegis-verified", "messages": QUESTION}),
                   FRUGAL)
    assert len(costs) >= 2 and len(sim.requests()) == len(costs)  # the refused calls never reached the model

    recorded = spent(settings, FRUGAL)
    assert math.isclose(recorded.usd, sum(costs), rel_tol=1e-9) and recorded.held_usd == 0
    assert recorded.usd <= LIMITS[FRUGAL].usd_per_day

    other = clients[OTHER].post("/v1/chat/completions", json={"model": "aegis", "messages": QUESTION})
    assert other.status_code == 200 and other.json()["choices"][0]["message"]["content"] == "Canberra."
    admin = clients["admin"]
    assert admin.post("/v1/chat/completions", json={"model": "aegis", "messages": QUESTION}).status_code == 200
    assert spent(settings, FRUGAL) == recorded  # their calls are not frugal's
    audit = admin.get("/api/audit", params={"limit": 1000}).json()["entries"]
    assert [e["detail"]["scope"] for e in audit if e["action"] == "budget.exhausted"][-3:] == [FRUGAL] * 3


def test_the_verified_models_verification_calls_count_against_the_caller(budgeted: tuple[str, Settings],
                                                                        clients: dict[str, httpx.Client],
                                                                        sim: SimServer) -> None:
    _, settings = budgeted
    author = clients["admin"].post("/v1/chat/completions", json={"model": "aegis", "messages": QUESTION}).json()
    sim.reset()
    client = clients[VERIFIED]
    for _ in range(5):  # the author's call fits VERIFIED's limit, but no two verification calls at once do
        response = client.post("/v1/chat/completions", json={"model": "aegis-verified", "messages": QUESTION})
        if response.status_code != 200:
            break
    assert_refused(response, VERIFIED)
    for _ in range(50):  # a verification call in flight when a sibling was refused settles soon after
        recorded = spent(settings, VERIFIED)
        if recorded.held_usd == 0:
            break
        time.sleep(0.1)
    assert recorded.held_usd == 0 and recorded.usd <= LIMITS[VERIFIED].usd_per_day
    audit = clients["admin"].get("/api/audit", params={"limit": 1000}).json()["entries"]
    refused = {e["detail"]["model"] for e in audit if e["action"] == "budget.exhausted" and e["tenant"] == VERIFIED}
    assert refused - {author["aegis"]["answered_by"]}, refused  # a verifier call (a VerifierActor's) was refused
    # what was sent for VERIFIED is charged to it: the author's calls and the verification calls that fitted
    authors = [r for r in sim.requests() if f"sim:{r.model}" == author["aegis"]["answered_by"]]
    assert len(sim.requests()) > len(authors) and recorded.tokens > len(authors) * author["usage"]["total_tokens"]
