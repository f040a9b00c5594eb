"""The Orchestrator actor runs a plan's ready steps as parallel Ray tasks through a ProviderActor."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.orchestrator import Orchestrator
from aegis_ray.sim import ModelProfile, SimConfig, SimServer
from aegis_ray.types import Plan, PlanStep
from tests.helpers import sim_endpoint

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("ray_cluster")]


async def test_plan_steps_fan_out_across_the_cluster(tmp_path: Path) -> None:
    capitals = ["France", "Japan", "Kenya"]
    steps = [PlanStep(id=f"w1_{c}", task=f"What is the capital of {c}?") for c in capitals]
    steps += [PlanStep(id=f"w2_{c}", task=f"What is the capital of {c}?", depends_on=(f"w1_{c}",)) for c in capitals]
    steps += [PlanStep(id="w3", task="What is the capital of Peru?", depends_on=tuple(f"w2_{c}" for c in capitals))]
    # each call far longer than what a loaded machine adds between two steps' starts (a store write,
    # a worker process to start): at 400 ms the CI machine once started a wave's last step after its
    # first had finished
    config = SimConfig(models={"sim-honest-slow": ModelProfile(latency_ms=1500)})
    with SimServer(config) as sim:
        endpoint = sim_endpoint(sim, "sim-honest-slow")
        orchestrator = Orchestrator.remote({endpoint.ref.name: endpoint}, (endpoint.ref.name,), None,
                                           str(tmp_path))
        outcome = await orchestrator.run.remote(Plan(goal="capitals", steps=tuple(steps)), "plan-x")
    assert outcome.succeeded
    assert outcome.steps["w1_Kenya"].output == "Nairobi." and outcome.steps["w3"].output == "Lima."
    s = outcome.steps
    for wave in ([s[f"w1_{c}"] for c in capitals], [s[f"w2_{c}"] for c in capitals]):
        assert max(o.started for o in wave) < min(o.finished for o in wave)  # each wave ran concurrently
    for c in capitals:
        assert s[f"w2_{c}"].started >= s[f"w1_{c}"].finished  # and only after what it depends on
    assert s["w3"].started >= max(s[f"w2_{c}"].finished for c in capitals)
