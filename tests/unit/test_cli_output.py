"""What the CLI prints, without running it: the verification report of `run --verify` and
`verify-claims`, results (the answer alone on stdout), tables fitted to the terminal, and
validation errors as one line."""

from __future__ import annotations

import io

import pytest
from pydantic import ValidationError
from rich.console import Console

from aegis_ray.cli import output
from aegis_ray.cli.common import bad_input
from aegis_ray.cli.output import print_result, print_verification, table_lines
from aegis_ray.types import Answer, Claim, Evidence, RunResult, RunSpec, RunStatus, Usage, Verdict

pytestmark = pytest.mark.unit

CITED = Evidence(source="australia.md", span="Canberra is the capital of Australia.\nSydney is larger.", start=13,
                 end=68)


def _captured() -> tuple[Console, io.StringIO]:
    text = io.StringIO()
    return Console(file=text, width=60, highlight=False), text


def _verified(abstained: bool = False) -> Answer:
    kept = Claim(text="Canberra is the capital of Australia.", citations=(CITED,))
    return Answer(
        text="" if abstained else kept.text, claims=(kept,), citations=(CITED,), confidence=0.9, abstained=abstained,
        reason="claims: no claim is supported" if abstained else None,
        verdicts=(Verdict(claim=kept, status="refuted" if abstained else "supported", method="evidence",
                          confidence=0.9, evidence=(CITED,)),
                  Verdict(claim=Claim(text="Sydney is the capital."), status="refuted", method="evidence",
                          confidence=0.95, evidence=(CITED,)),
                  Verdict(claim=Claim(text="It has 30 million people."), status="unsupported", method="consensus",
                          confidence=0.3)))


def test_the_report_says_it_was_verified_and_what_became_of_each_claim_and_the_citations() -> None:
    console, text = _captured()
    print_verification(_verified(), console)
    assert text.getvalue().splitlines() == [
        "verified: yes (1 claim kept, 1 refuted and stripped, 1 unsupported and stripped) · confidence 0.90",
        "         kept (evidence) Canberra is the capital of Australia. australia.md[13:68]",
        "      refuted (evidence) Sydney is the capital. australia.md[13:68]",
        "  unsupported (consensus) It has 30 million people.",
        "citations:",
        '  australia.md[13:68]  "Canberra is the capital of Australia. Sydney is larger."',
    ]


def test_an_abstention_says_it_was_not_verified() -> None:
    console, text = _captured()
    print_verification(_verified(abstained=True), console)
    assert text.getvalue().splitlines()[0] == ("verified: no, abstained (0 claims kept, 2 refuted and stripped, "
                                               "1 unsupported and stripped) · confidence 0.90")


def _result(answer: Answer, status: RunStatus = RunStatus.SUCCEEDED) -> RunResult:
    return RunResult(run_id="run_1", task="What is the capital of Australia?", status=status, answer=answer,
                     model="sim:sim-honest", simulated=True, usage=Usage(input_tokens=40, output_tokens=2),
                     cost_usd=0.0, latency_s=0.3)


@pytest.fixture
def printed(monkeypatch: pytest.MonkeyPatch) -> tuple[io.StringIO, io.StringIO]:
    """What `out` (stdout) and `err` (stderr) print."""
    stdout, stderr = io.StringIO(), io.StringIO()
    monkeypatch.setattr(output, "out", Console(file=stdout, width=60, highlight=False))
    monkeypatch.setattr(output, "err", Console(file=stderr, width=60, highlight=False))
    return stdout, stderr


def test_a_verified_result_keeps_stdout_to_the_answer_and_reports_on_stderr(
        printed: tuple[io.StringIO, io.StringIO]) -> None:
    stdout, stderr = printed
    print_result(_result(_verified()))
    assert stdout.getvalue() == "Canberra is the capital of Australia.\n"
    assert stderr.getvalue().startswith("verified: yes (1 claim kept, 1 refuted and stripped")
    assert "model sim:sim-honest (simulated)" in stderr.getvalue().splitlines()[-1]


def test_an_abstained_result_prints_nothing_on_stdout(printed: tuple[io.StringIO, io.StringIO]) -> None:
    stdout, stderr = printed
    print_result(_result(_verified(abstained=True), RunStatus.ABSTAINED))
    assert stdout.getvalue() == ""
    assert stderr.getvalue().splitlines()[:2] == ["abstained: claims: no claim is supported",
                                                  "verified: no, abstained (0 claims kept, 2 refuted and stripped, "
                                                  "1 unsupported and stripped) · confidence 0.90"]


def test_an_unverified_result_has_no_report(printed: tuple[io.StringIO, io.StringIO]) -> None:
    print_result(_result(Answer(text="Canberra.")))
    assert "verified" not in printed[1].getvalue()


HEADERS = ["run", "status", "task"]
ROWS = [["run_1", "succeeded", "What is the capital of Australia?"], ["run_22", "failed", "Say\nhi"]]


def test_a_table_that_fits_is_aligned_columns() -> None:
    assert table_lines(HEADERS, ROWS, 80) == ["run     status     task",
                                              "run_1   succeeded  What is the capital of Australia?",
                                              "run_22  failed     Say hi"]


def test_without_a_width_the_table_keeps_every_character() -> None:
    assert table_lines(HEADERS, ROWS, None) == table_lines(HEADERS, ROWS, 1000)


def test_a_narrow_terminal_cuts_the_free_text_column() -> None:
    lines = table_lines(HEADERS, ROWS, 40, squeeze=2)
    assert lines[1] == "run_1   succeeded  What is the capital…" and max(map(len, lines)) <= 40


def test_too_narrow_a_terminal_gets_one_plain_line_per_row() -> None:
    assert table_lines(HEADERS, ROWS, 25, squeeze=2) == [
        "run_1: status succeeded, task What is the capital of Australia?", "run_22: status failed, task Say hi"]


@pytest.mark.parametrize(("task", "message", "hint"), [
    ("   ", "invalid task: the task is empty: say what the agent should do", None),
    ("x" * 100_001, "invalid task: 100,001 characters, at most 100,000", "shorten it to 100,000 characters or fewer"),
])
def test_a_validation_error_is_one_line_naming_the_field(task: str, message: str, hint: str | None) -> None:
    with pytest.raises(ValidationError) as caught:
        RunSpec(task=task)
    error = bad_input(caught.value)
    assert (error.message, error.hint, error.exit_code) == (message, hint, 2)


def test_the_layers_the_cli_offers_are_the_policys() -> None:
    from aegis_ray.cli.verify import LAYER_NAMES
    from aegis_ray.verify.policy import CHOSEN_LAYERS

    assert sorted(LAYER_NAMES) == sorted(CHOSEN_LAYERS)
