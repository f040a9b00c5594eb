"""`aegis` as a user runs it: a subprocess with a clean environment (no keys, no AEGIS_* settings)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from aegis_ray.types import RunResult
from tests.helpers import aegis, clean_env, sim_cli_server

pytestmark = pytest.mark.e2e

QUESTION = "What is the capital of Australia?"


def test_run_on_a_fresh_machine_answers_from_the_labelled_simulator(tmp_path: Path) -> None:
    result = aegis("run", QUESTION, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Canberra" in result.stdout
    assert "SIMULATED MODEL" in result.stderr and "OPENAI_API_KEY" in result.stderr
    assert "sim:sim-honest (simulated)" in result.stderr and "cost $" in result.stderr


def test_run_json_validates_against_the_result_model(tmp_path: Path) -> None:
    result = aegis("run", QUESTION, "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    parsed = RunResult.model_validate_json(result.stdout)
    assert parsed.simulated and parsed.model == "sim:sim-honest" and "Canberra" in parsed.answer.text
    assert parsed.usage.input_tokens > 0 and parsed.cost_usd is not None and parsed.cost_usd > 0


@pytest.mark.parametrize(("args", "message"), [
    (["run", "   "], "the task is empty"),
    (["run", "hi", "--model", "gpt-4o"], "cannot route model 'gpt-4o'"),
    (["run", "hi", "--model", "openai:gpt-4o-mini"], "no API key for openai:gpt-4o-mini"),
])
def test_bad_input_is_one_clear_line_and_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    result = aegis(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_unknown_model_on_a_live_endpoint_exits_2(cluster_address: str, tmp_path: Path) -> None:
    result = aegis("run", "hi", "--model", "sim:no-such-model", env=clean_env(RAY_ADDRESS=cluster_address),
                   cwd=tmp_path)
    assert result.returncode == 2
    assert "404" in result.stderr and "no-such-model" in result.stderr and "Traceback" not in result.stderr


def test_unreachable_endpoint_is_a_failed_run(cluster_address: str, tmp_path: Path) -> None:
    env = clean_env(RAY_ADDRESS=cluster_address, AEGIS_RETRY__MAX_ATTEMPTS="2")
    result = aegis("run", "hi", "--model", "openai-compatible:http://127.0.0.1:9/v1:llama", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "cannot reach" in result.stderr and "Traceback" not in result.stderr


@pytest.fixture
def locked_sim(tmp_path: Path) -> Iterator[str]:
    """`aegis sim serve` in its own process, requiring an API key."""
    with sim_cli_server({"api_keys": ["right-key"]}, tmp_path) as url:
        yield url


def test_bad_key_exits_2_and_the_right_key_answers(locked_sim: str, cluster_address: str, tmp_path: Path) -> None:
    model = f"openai-compatible:{locked_sim}/v1:sim-honest"
    wrong = aegis("run", QUESTION, "--model", model, cwd=tmp_path,
                  env=clean_env(RAY_ADDRESS=cluster_address, OPENAI_API_KEY="wrong-key"))
    assert wrong.returncode == 2 and "401" in wrong.stderr and "check the API key" in wrong.stderr
    right = aegis("run", QUESTION, "--model", model, "--json", cwd=tmp_path,
                  env=clean_env(RAY_ADDRESS=cluster_address, OPENAI_API_KEY="right-key"))
    assert right.returncode == 0, right.stderr
    assert RunResult.model_validate_json(right.stdout).answer.text == "Canberra."


def test_models_lists_the_capability_matrix(tmp_path: Path) -> None:
    result = aegis("models", "--json", cwd=tmp_path)
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert report["providers_with_keys"] == [] and report["capabilities"]["openai-responses"]["responses_api"]


def test_run_code_writes_runs_and_answers_in_the_sandbox(cluster_address: str, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    result = aegis("run", "--code", "Compute the 20th Fibonacci number", "--approve", "auto", "--workspace",
                   str(workspace), env=clean_env(RAY_ADDRESS=cluster_address), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "6765"
    for state in ("plan", "act", "observe", "reflect", "verify", "stop"):
        assert f"{state} " in result.stderr  # live events, as they happened
    assert "run_command ok 6765" in result.stderr and "SIMULATED MODEL" in result.stderr
    assert (workspace / "solution.py").exists()


def test_without_a_terminal_a_run_parks_and_resumes_after_approve(cluster_address: str, tmp_path: Path) -> None:
    env = clean_env(RAY_ADDRESS=cluster_address, AEGIS_HOME=str(tmp_path / "home"))
    parked = aegis("run", "--code", "Compute the 20th Fibonacci number", "--workspace", str(tmp_path / "ws"),
                   "--json", env=env, cwd=tmp_path)
    assert parked.returncode == 4, parked.stderr
    run = RunResult.model_validate_json(parked.stdout)
    assert run.status.value == "awaiting_approval" and f"aegis approve {run.run_id}" in parked.stderr
    assert not (tmp_path / "ws" / "solution.py").exists()
    listed = json.loads(aegis("runs", "--json", env=env, cwd=tmp_path).stdout)
    assert listed[0]["run_id"] == run.run_id and listed[0]["status"] == "awaiting_approval"
    # Each approval is a new process: the run resumes from the store, then parks at the next action.
    assert aegis("approve", run.run_id, env=env, cwd=tmp_path).returncode == 4
    assert (tmp_path / "ws" / "solution.py").exists()
    done = aegis("approve", run.run_id, "--json", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert RunResult.model_validate_json(done.stdout).answer.text == "6765"


def test_orchestrate_plans_a_goal_and_runs_its_steps(cluster_address: str, tmp_path: Path) -> None:
    from aegis_ray.plan.patterns import SynthesisedOrchestration

    result = aegis("orchestrate", "Who wrote Dune, and what is the capital of Peru?", "--json",
                   env=clean_env(RAY_ADDRESS=cluster_address), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    orchestration = SynthesisedOrchestration.model_validate_json(result.stdout)
    assert [s.task for s in orchestration.plan.steps] == ["Who wrote Dune?", "What is the capital of Peru?"]
    assert orchestration.outcome.succeeded and orchestration.outcome.steps["s1"].output == "Frank Herbert."
    synthesis = orchestration.synthesis
    assert synthesis is not None and synthesis.used == ("s1", "s2")
    assert synthesis.label.tainted and synthesis.label.sources == {"agent:s1", "agent:s2"}
