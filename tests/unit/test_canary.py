"""Canary routing, rollback and promotion, with simulator personas behind a verified route.

The route's stable model is `sim:sim-honest`; the candidate answers half its calls. Every answer is
checked claim by claim by honest simulated voters (a real `VerificationPolicy` through
`aegis_ray.verify`), and each outcome reported to the `OutcomeLog` the router listens to. A
`hallucinating` candidate is caught more often than stable and rolled back; an `honest` one is
promoted. Both decisions are in the store and its audit log.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aegis_ray.config import CanarySettings, RetryPolicy
from aegis_ray.control.canary import FLAG_PREFIX, CanaryRouter, in_canary, judge
from aegis_ray.control.drift import OutcomeLog
from aegis_ray.errors import ConfigError, ProviderServerError
from aegis_ray.providers import EndpointCache, Gateway
from aegis_ray.providers.window import CallSample, WindowBucket
from aegis_ray.sim.facts import fact_table
from aegis_ray.sim.inprocess import InProcessSim
from aegis_ray.store import Store, open_store
from aegis_ray.types import Message, ModelRequest
from aegis_ray.verify import ClaimsLayer, VerificationPolicy, verify
from tests.helpers import local_models

pytestmark = pytest.mark.unit

STABLE = "sim:sim-honest"
POLICY = VerificationPolicy(layers=(ClaimsLayer(mode="detect"),), judge="sim:sim-honest-judge",
                            voters=("sim:sim-honest-a", "sim:sim-honest-b", "sim:sim-honest-c"))
QUESTIONS = [f.question for f in fact_table().facts if f.relation == "capital"]


def route(candidate: str, **overrides: object) -> CanarySettings:
    return CanarySettings(stable=STABLE, candidate=candidate, **{  # type: ignore[arg-type]
        "percent": 50, "min_calls": 10, "promote_after": 25, **overrides})


def bucket(calls: int, *, errors: int = 0, latency_s: float = 0.1, verified: int = 0,
           abstained: int = 0) -> WindowBucket:
    found = WindowBucket()
    for i in range(calls):
        found.add(CallSample(at=0.0, latency_s=latency_s, error="ProviderServerError" if i < errors else None))
    for i in range(verified):
        found.add_verdict(abstained=i < abstained)
    return found


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(None, tmp_path)
    yield opened
    await opened.close()


@pytest.fixture
async def models() -> AsyncIterator[EndpointCache]:
    cache = local_models(InProcessSim())
    yield cache
    await cache.aclose()


async def serve_verified(gateway: Gateway, checkers: Gateway, outcomes: OutcomeLog, questions: list[str]) -> None:
    """What a verified route does: answer, verify, report the outcome."""
    for question in questions:
        completion = await gateway.complete(ModelRequest(messages=(Message.user(question),)))
        checked = await verify(POLICY, question, checkers, completion.model, answer=completion.text)
        await outcomes.record_outcome(completion.model, abstained=checked.answer.abstained)


# --- the decision rule ------------------------------------------------------------------------


def test_nothing_is_decided_before_both_sides_have_enough_calls() -> None:
    assert judge(bucket(9), bucket(100, errors=100), route("sim:sim-x")) is None
    assert judge(bucket(100), bucket(9, errors=9), route("sim:sim-x")) is None


def test_a_candidate_failing_more_latency_or_abstaining_more_is_rolled_back() -> None:
    settings = route("sim:sim-x")
    errors = judge(bucket(40, errors=1), bucket(20, errors=3), settings)
    assert errors is not None and errors.action == "rollback" and "error rate" in errors.reason
    slow = judge(bucket(40, latency_s=0.2), bucket(20, latency_s=0.6), settings)
    assert slow is not None and slow.action == "rollback" and "latency" in slow.reason
    caught = judge(bucket(40, verified=40, abstained=2), bucket(20, verified=20, abstained=5), settings)
    assert caught is not None and caught.action == "rollback" and "abstained on 25.0%" in caught.reason


def test_within_the_thresholds_a_candidate_is_promoted_only_after_enough_calls() -> None:
    settings = route("sim:sim-x")
    assert judge(bucket(40, errors=1), bucket(20, errors=1), settings) is None  # 5% vs 2.5%: within, too few
    promoted = judge(bucket(40, errors=1, verified=40), bucket(25, errors=1, latency_s=0.12, verified=25), settings)
    assert promoted is not None and promoted.action == "promote"
    # on a verified route, promotion waits for verified answers from the candidate too
    assert judge(bucket(40, verified=40), bucket(25, verified=3), settings) is None


def test_the_canary_share_is_deterministic_per_conversation_and_near_the_percent() -> None:
    requests = [ModelRequest(messages=(Message.user(q),)) for q in QUESTIONS]
    chosen = [in_canary("main", r, 10) for r in requests]
    assert chosen == [in_canary("main", r, 10) for r in requests]
    assert 0.03 < sum(chosen) / len(chosen) < 0.2
    first = requests[0]
    reply = Message(role="assistant", content="Kabul.")
    later = ModelRequest(messages=(*first.messages, reply, Message.user("And its population?")))
    assert in_canary("main", later, 50) == in_canary("main", first, 50)
    assert not any(in_canary("main", r, 0) for r in requests) and all(in_canary("main", r, 100) for r in requests)


def test_two_routes_cannot_share_a_stable_model() -> None:
    with pytest.raises(ConfigError):
        CanaryRouter({"a": route("sim:sim-x"), "b": route("sim:sim-y")})


# --- the routes, end to end -------------------------------------------------------------------


async def test_a_hallucinating_canary_on_a_verified_route_is_rolled_back(models: EndpointCache, store: Store) -> None:
    router = CanaryRouter({"answers": route("sim:sim-hallucinating")}, store)
    outcomes = OutcomeLog(listeners=(router.record_outcome,))
    plain = Gateway(models, [STABLE])
    await serve_verified(plain.routed(router), plain, outcomes, QUESTIONS[:80])

    (state,) = router.report()
    assert state.status == "rolled_back" and "verification abstained" in (state.reason or "")
    assert state.candidate_seen.abstention_rate > state.stable_seen.abstention_rate + 0.1  # type: ignore[operator]
    (entry,) = [e for e in await store.audit_entries() if e.action.startswith("canary.")]
    assert entry.action == "canary.rollback" and entry.actor == "system"
    assert entry.detail["candidate"] == "sim:sim-hallucinating" and entry.detail["route"] == "answers"
    assert (await store.verify_audit()).ok

    # once rolled back, every call goes to stable, in this process and in one started afresh
    again = CanaryRouter({"answers": route("sim:sim-hallucinating")}, store)
    await again.refresh(force=True)
    assert again.report()[0].status == "rolled_back"
    for question in QUESTIONS[80:100]:
        answer = await plain.routed(again).complete(ModelRequest(messages=(Message.user(question),)))
        assert answer.model == STABLE


async def test_an_honest_canary_on_a_verified_route_is_promoted(models: EndpointCache, store: Store) -> None:
    router = CanaryRouter({"answers": route("sim:sim-honest-next")}, store)
    outcomes = OutcomeLog(listeners=(router.record_outcome,))
    plain = Gateway(models, [STABLE])
    await serve_verified(plain.routed(router), plain, outcomes, QUESTIONS[:80])

    (state,) = router.report()
    assert state.status == "promoted", state.reason
    assert [e.action for e in await store.audit_entries() if e.action.startswith("canary.")] == ["canary.promote"]
    answer = await plain.routed(router).complete(ModelRequest(messages=(Message.user(QUESTIONS[0]),)))
    assert answer.model == "sim:sim-honest-next"
    assert "promoted" in (await store.flag(FLAG_PREFIX + "answers") or "")


async def test_a_failing_candidate_falls_back_to_stable_and_is_rolled_back(store: Store) -> None:
    from aegis_ray.providers import function_models

    def model(messages: tuple[Message, ...], info: object) -> str:
        if getattr(info, "model", "") == "sim:sim-broken":
            raise ProviderServerError("simulated 500", model="sim:sim-broken", status=500)
        return "Canberra."

    cache = function_models(model, retry=RetryPolicy(max_attempts=1))
    router = CanaryRouter({"answers": route("sim:sim-broken", min_calls=5)}, store)
    gateway = Gateway(cache, [STABLE]).routed(router)
    for question in QUESTIONS[:40]:
        answer = await gateway.complete(ModelRequest(messages=(Message.user(question),)))
        assert answer.model == STABLE  # the candidate failed over to stable: no caller saw its errors
    assert router.report()[0].status == "rolled_back"
    await cache.aclose()


async def test_a_decision_another_process_stored_first_is_followed(store: Store) -> None:
    first = CanaryRouter({"answers": route("sim:sim-x")}, store)
    second = CanaryRouter({"answers": route("sim:sim-x")}, store)
    for _ in range(10):
        await first.record_outcome(STABLE, abstained=False)
    first.seen["answers"]["stable"].merge(bucket(10))
    first.seen["answers"]["candidate"].merge(bucket(10, errors=5))
    await first.record_outcome("sim:sim-x", abstained=False)
    assert first.report()[0].status == "rolled_back"
    second.seen["answers"]["stable"].merge(bucket(30))
    second.seen["answers"]["candidate"].merge(bucket(30))
    await second.observe(first.routes["answers"].candidate, 0.1, None)  # reads the store: follows, decides nothing
    assert second.report()[0].status == "rolled_back"
    assert len([e for e in await store.audit_entries() if e.action.startswith("canary.")]) == 1
