"""The `session` solver: each sample an agent session (write a program, run it in the bubblewrap
sandbox, report), as a factory job on the cluster's workers (`aegis eval run`) and in-process
(`run_eval`), on the simulated coder. The coder's answers are simulated: this checks the plumbing
(sessions in jobs, sandbox, scoring), not a model's skill."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aegis_ray.config import Settings
from aegis_ray.evals import read_log, run_eval
from aegis_ray.evals.task import resolve_task
from aegis_ray.sim import SimServer
from tests.helpers import aegis, clean_env

pytestmark = pytest.mark.e2e

CODING = Path(__file__).parents[2] / "examples" / "evals" / "coding"


def test_a_session_eval_runs_on_the_cluster_workers(sim_server: SimServer, cluster_address: str,
                                                    tmp_path: Path) -> None:
    env = clean_env(RAY_ADDRESS=cluster_address, AEGIS_HOME=str(tmp_path / "home"), AEGIS_SIM_URL=sim_server.base_url)
    ran = aegis("eval", "run", str(CODING), "--model", "sim:sim-coder", "--limit", "4", "--log-dir",
                str(tmp_path / "logs"), "--json", env=env, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    log = read_log(json.loads(ran.stdout)["log"])
    assert len(log.results) == 4 and log.metrics["numeric/accuracy"].value == 1.0
    assert all(r.cost_usd > 0 and r.simulated for r in log.results)  # the whole session's calls, labelled


async def test_a_session_eval_runs_in_process_and_redoes_nothing(tmp_path: Path) -> None:
    samples = tmp_path / "task"
    samples.mkdir()
    (samples / "s.jsonl").write_text(json.dumps({"id": "fib", "input": "Compute the 20th Fibonacci number.",
                                                 "target": "6765", "metadata": {"files": {"notes/readme.txt": "hi"}}})
                                     + "\n")
    (samples / "task.toml").write_text('name = "one"\ndataset = "s.jsonl"\n[solver]\nname = "session"\n'
                                       '[[scorers]]\nname = "numeric"\n')
    results = await run_eval(samples, model="sim:sim-coder", settings=Settings(home=tmp_path / "home"))
    assert results.metrics["numeric/accuracy"].value == 1.0
    again = await run_eval(resolve_task(samples), model="sim:sim-coder", settings=Settings(home=tmp_path / "home"))
    assert again.results[0].job_id == results.results[0].job_id  # content-addressed: nothing redone


async def test_a_session_job_starts_in_a_workspace_holding_its_files() -> None:
    from aegis_ray.errors import BadInputError
    from aegis_ray.providers import FunctionInfo, FunctionModel, FunctionReply, Gateway
    from aegis_ray.session import SessionSpec
    from aegis_ray.session_job import SessionJob, run_session_job
    from aegis_ray.types import Message, RunSpec

    def agent(messages: tuple[Message, ...], _: FunctionInfo) -> FunctionReply | str:
        if messages[-1].role != "tool":
            return FunctionReply(tool_calls=[("run_command", {"command": "cat notes/readme.txt"})])
        return messages[-1].content.strip().splitlines()[-1]  # what the program printed, as the verifier wants

    spec = SessionSpec(workspace=".", chain=("sim:agent",), approval="auto", approvals="park")
    job = SessionJob(session=spec, files={"notes/readme.txt": "seeded by the job"})
    result = await run_session_job(RunSpec(task="What does notes/readme.txt say?"), job,
                                   Gateway(lambda ref: FunctionModel(agent, ref), ["sim:agent"]))
    assert "seeded by the job" in result.answer.text, result
    with pytest.raises(BadInputError, match="relative path"):
        SessionJob(session=spec, files={"../escape.txt": "no"})


async def test_the_orchestrate_solver_plans_runs_steps_and_synthesises(tmp_path: Path) -> None:
    task = tmp_path / "plans"
    task.mkdir()
    (task / "s.jsonl").write_text(json.dumps({"id": "q1", "input": "What are the capitals of France and Spain?",
                                              "target": "Madrid"}) + "\n")
    (task / "task.toml").write_text('name = "plans"\ndataset = "s.jsonl"\n[solver]\nname = "orchestrate"\n'
                                    '[[scorers]]\nname = "includes"\n')
    results = await run_eval(task, model="sim:sim-honest", settings=Settings(home=tmp_path / "home"))
    [result] = results.results
    # The simulated planner splits the goal into one step per capital; its synthesis joins their
    # results (simulated: this checks plan, steps and synthesis as one job, not a model's reasoning).
    assert "Paris" in (result.output or "") and "Madrid" in (result.output or "") and result.error is None
    assert result.cost_usd > 0 and result.simulated
