"""`aegis verify`, `aegis verify-claims` and `aegis calibrate` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aegis_ray.types import RunResult, RunStatus
from aegis_ray.verify.policy import Verification
from aegis_ray.verify.risk import Calibration
from tests.helpers import aegis, clean_env

pytestmark = pytest.mark.e2e

QUESTION = "What is the capital of Australia?"


def test_verify_accepts_an_honest_answer_and_reports_every_layer(cluster_address: str, tmp_path: Path) -> None:
    result = aegis("verify", QUESTION, "--json", env=clean_env(RAY_ADDRESS=cluster_address), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    verification = Verification.model_validate_json(result.stdout)
    assert verification.answer.text == "Canberra." and not verification.answer.abstained
    assert [o.method for o in verification.layers] == ["best_of_n", "ensemble", "cove"]
    assert all(o.accepted for o in verification.layers) and verification.calls >= 10
    assert "SIMULATED MODEL" in result.stderr


def test_verify_claims_abstains_on_a_false_answer_with_exit_3_and_cites_the_corpus(
        cluster_address: str, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "australia.md").write_text("# Australia\n\nCanberra is the capital of Australia. Sydney is larger.\n")
    env = clean_env(RAY_ADDRESS=cluster_address)
    wrong = aegis("verify-claims", QUESTION, "--corpus", str(corpus), "--answer", "The capital of Australia is Vienna.",
                  env=env, cwd=tmp_path)
    assert wrong.returncode == 3, wrong.stderr
    assert "refuted (evidence) The capital of Australia is Vienna. australia.md[13:68]" in wrong.stderr
    assert "abstained: claims: no claim is supported" in wrong.stderr
    right = aegis("verify-claims", QUESTION, "--corpus", str(corpus), "--json", env=env, cwd=tmp_path)
    assert right.returncode == 0, right.stderr
    (citation,) = Verification.model_validate_json(right.stdout).answer.citations
    assert citation.source == "australia.md" and citation.span.startswith("Canberra is the capital of Australia.")


def test_calibrate_writes_a_threshold_that_verify_then_enforces(cluster_address: str, tmp_path: Path) -> None:
    data = tmp_path / "scores.jsonl"
    rows = [{"confidence": 1.0, "correct": True}] * 200 + [{"confidence": 0.5, "correct": i % 2 == 0}
                                                          for i in range(200)]
    data.write_text("\n".join(json.dumps(r) for r in rows))
    saved = tmp_path / "calibration.json"
    fitted = aegis("calibrate", "--data", str(data), "--alpha", "0.05", "--out", str(saved), cwd=tmp_path)
    assert fitted.returncode == 0, fitted.stderr
    assert "threshold 1.0000 · coverage 50.0%" in fitted.stdout
    assert Calibration.model_validate_json(saved.read_text()).threshold == 1.0
    env = clean_env(RAY_ADDRESS=cluster_address)
    missing = aegis("verify", QUESTION, "--layers", "ensemble", "--calibration", str(tmp_path / "none.json"),
                    env=env, cwd=tmp_path)
    assert missing.returncode == 3 and "not calibrated" in missing.stderr
    enforced = aegis("verify", QUESTION, "--layers", "ensemble", "--calibration", str(saved), env=env, cwd=tmp_path)
    assert enforced.returncode == 3 and "below the threshold" in enforced.stderr  # 2 of 3 voters: 0.67 < 1.0


@pytest.mark.parametrize(("args", "message"), [
    (["verify", QUESTION, "--layers", "magic"], "unknown layer 'magic'"),
    (["verify", QUESTION, "--judge", "sim:sim-honest"], "is the author: the checker is never the author"),
    (["verify", QUESTION, "--model", "openai:gpt-4o-mini"], "no API key for openai:gpt-4o-mini"),
    (["verify-claims", QUESTION, "--corpus", "/nonexistent"], "is not a directory"),
    (["calibrate", "--data", "/nonexistent", "--alpha", "0.1"], "cannot read /nonexistent"),
])
def test_bad_input_is_one_clear_line_and_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    result = aegis(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_malformed_calibration_row_names_its_line(tmp_path: Path) -> None:
    data = tmp_path / "scores.jsonl"
    data.write_text('{"confidence": 0.9, "correct": true}\n{"confidence": 7, "correct": true}\n')
    result = aegis("calibrate", "--data", str(data), "--alpha", "0.1", cwd=tmp_path)
    assert result.returncode == 2 and f"{data}:2 is not a labelled score" in result.stderr


def test_run_verify_abstains_on_a_liars_answer_with_exit_3(cluster_address: str, tmp_path: Path) -> None:
    result = aegis("run", QUESTION, "--model", "sim:sim-consistent-liar", "--verify", "--json",
                   env=clean_env(RAY_ADDRESS=cluster_address), cwd=tmp_path)
    assert result.returncode == 3, result.stderr  # the consistent liar is always wrong on this question
    parsed = RunResult.model_validate_json(result.stdout)
    assert parsed.status is RunStatus.ABSTAINED and parsed.answer.verdicts[0].status == "refuted"


def test_run_corpus_needs_verify(tmp_path: Path) -> None:
    result = aegis("run", QUESTION, "--corpus", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2 and "--corpus is the evidence for --verify" in result.stderr
