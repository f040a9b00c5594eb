"""The cost governor as a user meets it: `aegis run` past the day's token budget is refused before
the model is called (exit 6, one line and a hint), the run is recorded as failed with that reason,
and the refusal is in the audit log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aegis_ray.sim import SimServer
from tests.helpers import aegis, clean_env

pytestmark = pytest.mark.e2e


def test_a_run_past_the_budget_exits_6_and_is_audited(sim_server: SimServer, cluster_address: str,
                                                     tmp_path: Path) -> None:
    env = clean_env(RAY_ADDRESS=cluster_address, AEGIS_HOME=str(tmp_path / "home"), AEGIS_SIM_URL=sim_server.base_url,
                    AEGIS_BUDGETS__ALL__TOKENS_PER_DAY="100")
    refused = aegis("run", "What is the capital of Peru?", env=env, cwd=tmp_path)
    assert refused.returncode == 6, refused.stderr
    assert "daily budget of all tenants together" in refused.stderr and "[budgets]" in refused.stderr
    assert "Traceback" not in refused.stderr
    [run] = json.loads(aegis("runs", "--json", env=env, cwd=tmp_path).stdout)
    assert run["status"] == "failed"
    audit = json.loads(aegis("audit", "--json", env=env, cwd=tmp_path).stdout)["entries"]
    assert [e["action"] for e in audit] == ["budget.exhausted"]
    assert audit[0]["detail"]["scope"] == "*" and audit[0]["detail"]["period"].startswith("day:")


def test_factory_workers_govern_as_the_command_that_started_them(sim: SimServer, cluster_address: str,
                                                                 tmp_path: Path) -> None:
    """The limit is set in the command's environment only: the `FactoryWorker` actors, in worker
    processes of a cluster that never saw it, still refuse every call past it (the command hands
    them its governor), and nothing reaches the model."""
    env = clean_env(RAY_ADDRESS=cluster_address, AEGIS_HOME=str(tmp_path / "home"), AEGIS_SIM_URL=sim.base_url,
                    AEGIS_BUDGETS__ALL__TOKENS_PER_DAY="100")
    output = tmp_path / "results.jsonl"
    ran = aegis("factory", "What is the capital of Peru?", "Who wrote Dune?", "--workers", "2", "-o", str(output),
                env=env, cwd=tmp_path)
    assert ran.returncode == 1, ran.stderr
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [line["status"] for line in lines] == ["failed", "failed"]
    assert all(line["error"].startswith("BudgetExhaustedError: the daily budget of all tenants together")
               for line in lines)
    assert not [record for record in sim.state.log if record.status == 200]  # never sent
    audit = json.loads(aegis("audit", "--json", env=env, cwd=tmp_path).stdout)["entries"]
    assert {e["action"] for e in audit} == {"budget.exhausted"}
