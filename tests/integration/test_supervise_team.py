"""`supervise`, `team` and `orchestrate`'s synthesis on the cluster, on simulator personas: as commands
(the CLI as a subprocess joining the test cluster) and as routes of the live Serve app. A hallucinating
worker is corrected by an honest critic; a consistent liar is caught, never accepted; a team of liars
is decided rightly by an honest judge; the synthesis carries the join of its inputs' labels."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from aegis_ray.plan.supervise import Supervision
from aegis_ray.plan.team import TeamAnswer
from aegis_ray.sim.facts import fact_table
from tests.helpers import SERVE_KEY, aegis, clean_env, sim_cli_server

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("ray_cluster")]

FRANCE = "What is the capital of France?"


def truth(question: str) -> str:
    return fact_table().lookup(question).answer


def post(service: tuple, path: str, body: dict) -> dict:
    url, _ = service
    response = httpx.post(f"{url}{path}", json=body, headers={"Authorization": f"Bearer {SERVE_KEY}"}, timeout=180)
    assert response.status_code == 200, response.text
    return response.json()


def test_aegis_supervise_corrects_a_hallucinating_worker_with_an_honest_critic(cluster_address: str,
                                                                              tmp_path: Path) -> None:
    with sim_cli_server({}, tmp_path) as sim_url:  # a fresh server: the persona's seeded draws, in order
        done = aegis("supervise", FRANCE, "-m", "sim:sim-hallucinating", "--critic", "sim:sim-honest-critic",
                     "--rounds", "4", "--check", "regex:\\w", "--json",
                     env=clean_env(RAY_ADDRESS=cluster_address, AEGIS_SIM_URL=sim_url, AEGIS_HOME=str(tmp_path)),
                     cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = Supervision.model_validate_json(done.stdout)
    first, last = result.rounds[0], result.rounds[-1]
    assert not first.critique.accept and truth(FRANCE) not in first.draft and "refuted" in first.critique.feedback
    assert result.accepted and last.critique.accept and truth(FRANCE) in result.answer
    assert result.worker == "sim:sim-hallucinating" and result.critic == "sim:sim-honest-critic"


def test_aegis_supervise_refuses_a_critic_that_is_the_worker(tmp_path: Path) -> None:
    same = aegis("supervise", FRANCE, "-m", "sim:sim-honest", "--critic", "sim:sim-honest", env=clean_env(
        AEGIS_HOME=str(tmp_path)), cwd=tmp_path)
    assert same.returncode == 2 and "never the author" in same.stderr
    bad = aegis("supervise", FRANCE, "--check", "startswith:Paris", cwd=tmp_path)
    assert bad.returncode == 2 and "contains, equals, regex" in bad.stderr


def test_api_supervise_catches_a_consistent_liar_and_accepts_the_truth(service: tuple) -> None:
    questions = [f"What is the capital of {c}?" for c in ("Spain", "France", "Japan", "Kenya", "Peru", "Italy")]
    verdicts = {}
    for question in questions:
        result = post(service, "/api/supervise", {"task": question, "model": "sim:sim-consistent-liar",
                                                  "critic": "sim:sim-honest-critic", "rounds": 2})
        verdicts[question] = result["accepted"]
        assert result["accepted"] == (truth(question) in result["answer"]), result  # never accepts a lie
        assert all(r["author"] == "sim:sim-consistent-liar" for r in result["rounds"])
    assert set(verdicts.values()) == {True, False}  # it lies on some, consistently, and is caught on those


def test_api_team_of_liars_is_decided_by_an_honest_judge_and_carries_the_board_taint(service: tuple) -> None:
    question = "What is the capital of Spain?"
    answer = TeamAnswer.model_validate(post(service, "/api/team", {
        "task": question, "roles": ["proposer", "skeptic=sim:sim-hallucinating"], "model": "sim:sim-consistent-liar",
        "judge": "sim:sim-honest-judge", "rounds": 2}))
    assert truth(question) in answer.answer and answer.judge == "sim:sim-honest-judge"
    assert [(c.role, c.round, c.model) for c in answer.board] == [
        ("proposer", 1, "sim:sim-consistent-liar"), ("skeptic", 1, "sim:sim-hallucinating"),
        ("proposer", 2, "sim:sim-consistent-liar"), ("skeptic", 2, "sim:sim-hallucinating")]
    assert answer.label.tainted and answer.label.sources == {f"agent:{r}/r{n}" for r in ("proposer", "skeptic")
                                                             for n in (1, 2)}
    url, _ = service
    on_team = httpx.post(f"{url}/api/team", json={"task": question, "judge": "sim:sim-honest", "roles": [
        "proposer", "skeptic=sim:sim-honest"], "model": "sim:sim-consistent-liar"},
                         headers={"Authorization": f"Bearer {SERVE_KEY}"}, timeout=60)
    assert on_team.status_code == 400 and "never judges its own work" in on_team.json()["detail"]


def test_api_orchestrate_synthesises_with_the_join_of_its_inputs_labels(service: tuple) -> None:
    result = post(service, "/api/orchestrate", {"goal": "What are the capitals of France, Japan and Kenya?"})
    synthesis = result["synthesis"]
    steps = result["outcome"]["steps"]
    assert synthesis["used"] == list(steps) and synthesis["missing"] == []
    joined = set().union(*(step["label"]["sources"] for step in steps.values()))
    assert set(synthesis["label"]["sources"]) == joined == {f"agent:{s}" for s in steps}
    assert synthesis["label"]["trust"] == 0  # untrusted, like every worker's output
    json.dumps(result)  # the whole reply is plain JSON
