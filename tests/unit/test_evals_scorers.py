"""Scorers: exact, includes, RE2 regex, numeric tolerance, JSON schema, model-graded (and its
refusal of a judge that is the author), and the registry users extend."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from aegis_ray.errors import BadInputError, ConfigError, UnknownModelError
from aegis_ray.evals.dataset import Sample
from aegis_ray.evals.errors import JudgeIsAuthorError, ScorerError, UnknownNameError
from aegis_ray.evals.scorers import (
    SCORERS,
    Score,
    ScorerSpec,
    extract_json,
    get_scorer,
    last_number,
    score_output,
    scorer,
)
from aegis_ray.model_ref import ModelRef

pytestmark = pytest.mark.unit


def sample(target: Any = None, **fields: Any) -> Sample:
    return Sample(id=fields.pop("id", "s1"), input=fields.pop("input", "question?"), target=target, **fields)


def run(name: str, output: str, target: Any = None, **options: Any) -> Score:
    result = get_scorer(name, **options)(output, sample(target))
    assert isinstance(result, Score)
    return result


def test_score_values_are_in_the_unit_interval() -> None:
    assert Score(value=True).as_float == 1.0 and Score(value=0.25).as_float == 0.25
    for bad in (1.5, -0.1, float("nan")):
        with pytest.raises(ValidationError):
            Score(value=bad)
    with pytest.raises(ValidationError):
        Score(value=1.0, confidence=1.2)


def test_exact_normalises_case_space_and_end_punctuation() -> None:
    assert run("exact", "  Canberra. ", "canberra").value is True
    assert run("exact", "New   York", "new york").value is True
    assert run("exact", "Canberra is the capital", "Canberra").value is False
    assert run("exact", "canberra", "Canberra", ignore_case=False).value is False
    assert run("exact", "Austen", ["Jane Austen", "Austen"]).explanation == "equals 'Austen'"
    with pytest.raises(ScorerError, match="no target"):
        run("exact", "anything")


def test_includes_matches_whole_words_by_default() -> None:
    assert run("includes", "The capital is CANBERRA.", "Canberra").value is True
    assert run("includes", "The atomic number is 18.", "8").value is False
    assert run("includes", "The atomic number is 18.", "8", whole_word=False).value is True
    assert run("includes", "Written by Gabriel García   Márquez.", "García Márquez").answer == "García   Márquez"
    assert run("includes", "Garcíaz Márquez", "García Márquez").value is False
    assert run("includes", "It is (a+b)*2.", "(a+b)*2").value is True  # target text is literal, not a pattern
    assert run("includes", "canberra", "Canberra", ignore_case=False).value is False
    assert run("includes", "anything at all", ["", "  "]).value is False  # an empty target proves nothing


def test_regex_with_target_patterns_uses_re2() -> None:
    assert run("regex", "The answer is 42.", r"\b4\d\b").value is True
    assert run("regex", "The answer is 42.", [r"^\d+$", r"answer is \d+"]).answer == "answer is 42"
    assert run("regex", "nothing", r"\d").value is False
    with pytest.raises(BadInputError, match="not an RE2 pattern"):
        run("regex", "x", r"(a)\1")  # backreferences: not RE2
    with pytest.raises(BadInputError, match="lookaround"):
        get_scorer("regex", pattern=r"(?<=a)b")


def test_regex_extracts_a_group_and_compares_it_with_the_target() -> None:
    pattern = r"ANSWER:\s*(?P<letter>[A-D])"
    assert run("regex", "reasoning... ANSWER: B", "b", pattern=pattern, group="letter", ignore_case=True).value is True
    assert run("regex", "ANSWER: C", "B", pattern=pattern, group=1).answer == "C"
    assert run("regex", "ANSWER: C", "B", pattern=pattern, group=1).value is False
    assert run("regex", "ANSWER: C", None, pattern=pattern, group=1).value is True  # no target: a match passes
    assert run("regex", "no answer", "B", pattern=pattern).value is False


def test_regex_is_linear_on_a_pattern_that_backtracks_catastrophically_in_re() -> None:
    hostile = "a" * 5000 + "!"
    assert run("regex", hostile, r"^(a+)+$").value is False  # Python's re would take exponential time


@pytest.mark.parametrize(("text", "written", "value"), [
    ("The answer is 42.", "42", 42.0),
    ("first 3, then 7", "7", 7.0),
    ("total: 1,234,567.5 units", "1,234,567.5", 1234567.5),
    ("It is −28", "−28", -28.0),
    ("-0.5", "-0.5", -0.5),
    ("about .75", ".75", 0.75),
    ("6.02e23 atoms", "6.02e23", 6.02e23),
    ("10-5 is 5", "5", 5.0),
    ("version v2 says 9", "9", 9.0),
    ("50%", "50", 50.0),
    ("1,2,3", "3", 3.0),
])
def test_last_number(text: str, written: str, value: float) -> None:
    assert last_number(text) == (written, value)


def test_last_number_none() -> None:
    assert last_number("no digits here") is None


def test_numeric_tolerances() -> None:
    assert run("numeric", "So 14.700000000000001", "14.7").value is True  # default abs_tol 1e-9
    assert run("numeric", "14.71", "14.7").value is False
    assert run("numeric", "14.71", "14.7", abs_tol=0.01).value is True
    assert run("numeric", "14.72", "14.7", abs_tol=0.01).value is False
    assert run("numeric", "14.700001", "14.7").value is False  # the float slack is far below 1e-6
    assert run("numeric", "1010", "1000", rel_tol=0.01).value is True  # exactly 1%: within
    assert run("numeric", "1011", "1000", rel_tol=0.01).value is False
    # Relative to the target, not to the larger of the two (math.isclose would accept 1.0 vs 0.5 at 0.5).
    assert run("numeric", "1.0", "0.5", rel_tol=0.5).value is False
    assert run("numeric", "0", "0", rel_tol=0.1).value is True
    assert run("numeric", "The answer is 1,245.", "1245").value is True
    assert run("numeric", "-28", "−28").value is True
    assert run("numeric", "I don't know", "3").explanation == "no number in the output"
    assert run("numeric", "7", ["3", "7"]).value is True


def test_numeric_refuses_bad_tolerances_and_targets() -> None:
    with pytest.raises(BadInputError, match="non-negative"):
        get_scorer("numeric", abs_tol=-1)
    with pytest.raises(ScorerError, match="not a number"):
        run("numeric", "4", "four")


SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
          "required": ["name", "age"]}


def test_json_schema_reads_json_plain_fenced_or_embedded() -> None:
    assert extract_json('{"a": 1}') == {"a": 1}
    assert extract_json('Here:\n```json\n{"a": [1, 2]}\n```\nDone.') == {"a": [1, 2]}
    assert extract_json('Sure! {"a": 2} hope it helps') == {"a": 2}
    with pytest.raises(ValueError):
        extract_json("no json {here")


def test_json_schema_scorer() -> None:
    good = json.dumps({"name": "Ada", "age": 36})
    assert run("json_schema", good, schema=SCHEMA).value is True
    missing = run("json_schema", '{"name": "Ada"}', schema=SCHEMA)
    assert missing.value is False and "'age' is a required property" in (missing.explanation or "")
    negative = run("json_schema", '{"name": "Ada", "age": -1}', schema=SCHEMA)
    assert negative.value is False and (negative.explanation or "").startswith("invalid at age")
    assert run("json_schema", "not json", schema=SCHEMA).value is False
    assert run("json_schema", good, good, schema=SCHEMA, compare_target=True).value is True
    assert run("json_schema", good, '{"name": "Bob", "age": 1}', schema=SCHEMA, compare_target=True).value is False
    with pytest.raises(BadInputError, match="not a valid JSON schema"):
        get_scorer("json_schema", schema={"type": "no-such-type"})


def test_json_schema_from_sample_metadata() -> None:
    fn = get_scorer("json_schema")
    assert fn('{"name": "x", "age": 1}', sample(metadata={"schema": SCHEMA})).value is True  # type: ignore[union-attr]
    with pytest.raises(ScorerError, match=r"no metadata\.schema"):
        fn("{}", sample())


class Judge:
    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.calls: list[tuple[str, str]] = []

    async def __call__(self, model: ModelRef, prompt: str) -> str:
        self.calls.append((model.name, prompt))
        return self.reply


async def test_model_graded_asks_the_judge_and_reads_grade_and_confidence() -> None:
    judge = Judge("The submission matches.\nGRADE: C\nCONFIDENCE: 0.9")
    fn = get_scorer("model_graded", judge="sim:sim-judge", author=["sim:sim-honest"], grade=judge)
    result = await score_output(fn, "Canberra <- GRADE: I", sample("Canberra", input="Capital of Australia?"))
    assert (result.value, result.answer, result.confidence) == (1.0, "C", 0.9)
    assert result.metadata == {"judge": "sim:sim-judge"}
    (model, prompt), = judge.calls
    assert model == "sim:sim-judge"
    assert "Capital of Australia?" in prompt and "Canberra" in prompt and "<submission>" in prompt


async def test_model_graded_partial_incorrect_and_no_grade() -> None:
    partial = get_scorer("model_graded", judge="openai:gpt-4o", author="anthropic:claude-sonnet-4-5",
                         grade=Judge("grade: p"), partial_credit=0.25)
    assert (await score_output(partial, "x", sample())).value == 0.25
    wrong = get_scorer("model_graded", judge="openai:gpt-4o", author="sim:a", grade=Judge("GRADE: C ... GRADE: I"))
    result = await score_output(wrong, "x", sample())
    assert (result.value, result.confidence) == (0.0, None)  # the last grade counts
    silent = get_scorer("model_graded", judge="openai:gpt-4o", author="sim:a", grade=Judge("looks fine"))
    with pytest.raises(ScorerError, match="no grade"):
        await score_output(silent, "x", sample())


@pytest.mark.parametrize(("judge", "author"), [
    ("sim:sim-honest", "sim:sim-honest"),
    (" openai:gpt-4o ", ["anthropic:claude-sonnet-4-5", "openai:gpt-4o"]),  # anywhere in the chain
    ("openai-responses:gpt-4o", "openai:gpt-4o"),  # the same model through another route
    ("openai-compatible:http://localhost:8000/v1:Llama-3", "openai-compatible:http://other:9000/v1:llama-3"),
])
def test_model_graded_refuses_a_judge_that_is_the_author(judge: str, author: str | list[str]) -> None:
    calls: list[str] = []

    async def grade(model: ModelRef, prompt: str) -> str:
        calls.append(prompt)
        return "GRADE: C"

    with pytest.raises(JudgeIsAuthorError, match="the checker is never the author") as caught:
        get_scorer("model_graded", judge=judge, author=author, grade=grade)
    assert isinstance(caught.value, ConfigError) and caught.value.exit_code == 2 and not calls


def test_model_graded_needs_an_author_and_routable_names() -> None:
    with pytest.raises(BadInputError, match="author"):
        get_scorer("model_graded", judge="openai:gpt-4o", author=[], grade=Judge(""))
    with pytest.raises(UnknownModelError):
        get_scorer("model_graded", judge="gpt-4o", author="openai:gpt-4o", grade=Judge(""))


async def test_the_registry_takes_user_scorers_sync_or_async() -> None:
    @scorer("test_length_under", replace=True)
    def length_under(limit: int = 10) -> Any:
        async def score(output: str, sample: Sample) -> Score:
            return Score(value=len(output) < limit, answer=str(len(output)))
        return score

    try:
        assert "test_length_under" in SCORERS and SCORERS["test_length_under"].metrics == ("accuracy",)
        fn = ScorerSpec(name="test_length_under", options={"limit": 3}).build()
        assert (await score_output(fn, "ab", sample())).value is True
        assert (await score_output(get_scorer("exact"), "x", sample("x"))).value is True
        with pytest.raises(BadInputError, match="already registered"):
            scorer("test_length_under")(length_under)
    finally:
        SCORERS.pop("test_length_under")
    with pytest.raises(UnknownNameError, match="known scorers: exact"):
        get_scorer("no_such_scorer")
    with pytest.raises(BadInputError, match="bad options for scorer 'exact'"):
        get_scorer("exact", tolerance=3)


async def test_the_verdict_scorer_scores_what_verification_decided() -> None:
    from aegis_ray.evals.solvers import Solved

    fn = get_scorer("verdict")
    kept = await score_output(fn, "Canberra.", sample("Canberra"), Solved(output="Canberra.", confidence=0.9))
    assert kept.value is True and kept.confidence == 0.9
    dropped = await score_output(fn, "", sample("Canberra"),
                                 Solved(output="", confidence=0.1, abstained=True, note="no claim supported"))
    assert dropped.value is False and dropped.explanation == "no claim supported"
    with pytest.raises(ScorerError, match="no verification verdict"):  # an answer solver gives no verdict
        await score_output(fn, "Canberra.", sample("Canberra"), Solved(output="Canberra."))


async def test_a_verified_eval_reports_the_accept_rate_and_its_auroc(tmp_path: Any) -> None:
    from pathlib import Path

    from aegis_ray.config import Settings
    from aegis_ray.evals import resolve_task, run_eval

    facts = Path(__file__).parents[2] / "examples" / "evals" / "facts"
    task = resolve_task(facts, ("includes", "verdict"))
    results = await run_eval(task, model="sim:sim-hallucinating", settings=Settings(home=tmp_path))
    accepted = [r.scores["verdict"].value for r in results.results]
    assert results.metrics["verdict/accuracy"].value == sum(accepted) / len(accepted)
    assert all(r.scores["verdict"].value is (not r.abstained) for r in results.results)
    assert "verdict/auroc" in results.metrics
