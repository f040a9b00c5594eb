"""Verification fanned out over `VerifierActor`s on a real Ray cluster."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Iterator
from typing import TypeVar

import pytest

from actors.verifier_actor import VerifierPool
from aegis_ray.sim import ModelProfile, SimServer
from aegis_ray.sim.models import SimConfig, default_models
from aegis_ray.verify.best_of_n import JudgeScorer, best_of_n
from aegis_ray.verify.ensemble import ensemble
from aegis_ray.verify.equivalence import NormalisedMatch
from aegis_ray.verify.policy import ClaimsLayer, EnsembleLayer, VerificationPolicy
from tests.helpers import sim_endpoint

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("ray_cluster")]

T = TypeVar("T")
LATENCY_MS = 600
SLOW = "sim:sim-slow-author"
JUDGE = "sim:sim-honest-judge"
VOTERS = tuple(f"sim:sim-slow-voter-{i}" for i in range(5))


@pytest.fixture(scope="module")
def slow_sim() -> Iterator[SimServer]:
    """Every `sim-slow-*` model takes LATENCY_MS per call, so concurrency shows in wall time."""
    config = SimConfig(models={"sim-slow*": ModelProfile(latency_ms=LATENCY_MS), **default_models()})
    with SimServer(config) as server:
        yield server


@pytest.fixture(scope="module")
def pool(slow_sim: SimServer) -> VerifierPool:
    names = (SLOW, JUDGE, *VOTERS)
    return VerifierPool({m: sim_endpoint(slow_sim, m.split(":", 1)[1]) for m in names}, size=2)


async def timed(work: Awaitable[T]) -> tuple[float, T]:
    started = time.perf_counter()
    result = await work
    return time.perf_counter() - started, result


async def test_best_of_n_generates_its_candidates_concurrently_on_the_pool(pool: VerifierPool) -> None:
    question = "What is the capital of Norway?"
    await best_of_n(question, pool, SLOW, JudgeScorer(pool, JUDGE), n=1)  # warm the provider actors
    one, _ = await timed(best_of_n(question, pool, SLOW, JudgeScorer(pool, JUDGE), n=1))
    five, picked = await timed(best_of_n(question, pool, SLOW, JudgeScorer(pool, JUDGE), n=5))
    assert picked.accepted and "Oslo" in picked.answer and len(picked.detail["scores"]) == 5
    assert one >= LATENCY_MS / 1000
    # Sequential would take 5x; at most half of that (on 2 busy cores) shows they ran at once.
    assert five < 2.5 * one, f"N=5 took {five:.2f}s, N=1 {one:.2f}s: the candidates did not run concurrently"


async def test_ensemble_votes_run_concurrently_on_the_pool(pool: VerifierPool) -> None:
    question = "What is the capital of Kenya?"
    await ensemble(question, pool, VOTERS, NormalisedMatch())  # start every voter's provider actor
    one, _ = await timed(ensemble(question, pool, VOTERS[:1], NormalisedMatch()))
    five, outcome = await timed(ensemble(question, pool, VOTERS, NormalisedMatch(), candidate="Nairobi."))
    assert outcome.accepted and outcome.detail["agreeing"] == 5
    assert five < 2.5 * one, f"5 voters took {five:.2f}s, 1 voter {one:.2f}s"


async def test_a_whole_verification_runs_on_one_actor_of_the_pool(pool: VerifierPool) -> None:
    policy = VerificationPolicy(layers=(EnsembleLayer(), ClaimsLayer()), judge=JUDGE, voters=VOTERS[:3])
    result = await pool.verify(policy, "What is the capital of Chile?", SLOW)
    assert not result.answer.abstained and "Santiago" in result.answer.text
    assert [o.method for o in result.layers] == ["ensemble", "claims"]
    refused = await pool.verify(policy, "What is the capital of Chile?", SLOW, answer="Lima.")
    assert refused.answer.abstained and "quorum not reached" in refused.answer.reason
