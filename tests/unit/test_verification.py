"""Verification methods against simulated personas on distinct model names (in-process gateway and personas).

The personas: `sim-honest-*` answer from the fact table; `sim-hallucinating-*` are randomly wrong
30% of the time; `sim-consistent-liar-*` are wrong on the same 30% of questions every time.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from aegis_ray.memory.corpus import load_corpus
from aegis_ray.memory.retrieval import HybridIndex
from aegis_ray.providers import Gateway
from aegis_ray.sim.facts import Fact, fact_table
from aegis_ray.sim.inprocess import InProcessSim
from aegis_ray.types import EqualsCheck
from aegis_ray.verify.base import Models
from aegis_ray.verify.best_of_n import CheckScorer, JudgeScorer, best_of_n
from aegis_ray.verify.claims import ClaimVerifier, verify_claims
from aegis_ray.verify.cove import chain_of_verification
from aegis_ray.verify.deterministic import recompute_arithmetic
from aegis_ray.verify.ensemble import Quorum, ensemble
from aegis_ray.verify.entropy import entropy_of, semantic_entropy
from aegis_ray.verify.equivalence import LLMEntailment, NormalisedMatch, cluster
from aegis_ray.verify.policy import ClaimsLayer, EnsembleLayer, VerificationPolicy, verify
from aegis_ray.verify.risk import LabelledScore, calibrate
from tests.helpers import local_models

pytestmark = pytest.mark.unit

JUDGE = "sim:sim-honest-judge"
HONEST_VOTERS = ("sim:sim-honest-a", "sim:sim-honest-b", "sim:sim-honest-c")
LIAR = "sim:sim-consistent-liar"
RANDOM_LIAR = "sim:sim-hallucinating"
CAPITALS = [f for f in fact_table().facts if f.relation == "capital"]


@pytest.fixture
async def models(local_sim: InProcessSim) -> AsyncIterator[Gateway]:
    cache = local_models(local_sim)
    yield Gateway(cache, ["sim:sim-honest"])
    await cache.aclose()


def judge(models: Models) -> LLMEntailment:
    return LLMEntailment(models, JUDGE)


async def first_answer(models: Models, model: str, fact: Fact) -> str:
    from aegis_ray.verify.prompts import answer_request

    return (await models.complete(answer_request(fact.question), [model])).text


async def liar_mistakes(models: Models, facts: list[Fact]) -> list[tuple[Fact, str]]:
    """(fact, wrong answer) for each fact the consistent liar gets wrong."""
    answers = [(f, await first_answer(models, LIAR, f)) for f in facts]
    return [(f, a) for f, a in answers if not f.accepts(a)]


def write_corpus(directory: Path, facts: list[Fact]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    body = "\n\n".join(f"{f.claim()} It is one of the facts of this handbook." for f in facts)
    (directory / "handbook.md").write_text(f"# Handbook\n\n{body}\n", encoding="utf-8")
    return directory


# --- the flagship: claim-level attributed verification ---------------------------------------


async def test_a_false_claim_is_refuted_by_evidence_and_the_answer_abstains(models: Gateway, tmp_path: Path) -> None:
    index = HybridIndex(load_corpus(write_corpus(tmp_path / "corpus", CAPITALS)))
    verifier = ClaimVerifier(models, judge(models), index=index, voters=HONEST_VOTERS, author=LIAR)
    outcome = await verify_claims("What is the capital of Australia?", "The capital of Australia is Vienna.",
                                  models, verifier, decomposer=JUDGE)
    assert not outcome.accepted and "no claim is supported" in outcome.reason
    (verdict,) = outcome.verdicts
    assert verdict.status == "refuted" and verdict.method == "evidence"
    assert "Canberra" in verdict.evidence[0].span and verdict.evidence[0].source == "handbook.md"


async def test_an_honest_answer_is_accepted_with_evidence_and_exact_citations(models: Gateway, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", CAPITALS)
    index = HybridIndex(load_corpus(corpus))
    verifier = ClaimVerifier(models, judge(models), index=index, voters=HONEST_VOTERS, author="sim:sim-honest")
    answer = "Canberra. The capital of France is Paris."
    outcome = await verify_claims("What is the capital of Australia?", answer, models, verifier, decomposer=JUDGE)
    assert outcome.accepted, outcome.reason
    assert [v.status for v in outcome.verdicts] == ["supported", "supported"]
    text = (corpus / "handbook.md").read_text(encoding="utf-8")
    for citation in outcome.citations:
        assert citation.source == "handbook.md" and text[citation.start:citation.end] == citation.span
    assert "Canberra" in outcome.citations[0].span and "Paris" in outcome.citations[1].span
    assert outcome.to_answer().text == "The capital of Australia is Canberra. The capital of France is Paris."


async def test_unsupported_claims_are_stripped_and_the_rest_must_still_answer(models: Gateway) -> None:
    verifier = ClaimVerifier(models, judge(models), voters=HONEST_VOTERS, author=LIAR)
    kept = await verify_claims("What is the capital of Australia?", "Canberra. The capital of France is Vienna.",
                               models, verifier, decomposer=JUDGE)
    assert kept.accepted and kept.answer == "The capital of Australia is Canberra."
    assert [v.status for v in kept.verdicts] == ["supported", "refuted"]
    assert all(v.method == "consensus" for v in kept.verdicts)
    lost = await verify_claims("What is the capital of Australia?", "Vienna. The capital of France is Paris.",
                               models, verifier, decomposer=JUDGE)
    assert not lost.accepted and "no longer answers the question" in lost.reason


async def test_arithmetic_claims_are_recomputed_without_a_model(models: Gateway) -> None:
    assert recompute_arithmetic("17 * 3 = 52").passed is False
    assert recompute_arithmetic("(2 + 3) ^ 2 = 25").passed is True
    assert recompute_arithmetic("the answer is 4") is None
    assert recompute_arithmetic("9 ** 999 = 1") is None  # too large to compute: not a decision
    verifier = ClaimVerifier(models, judge(models))
    verdict = await verifier.verify("12 * 12 = 144")
    assert verdict.status == "supported" and verdict.method == "deterministic"


# --- failure modes told apart -------------------------------------------------------------------


async def test_semantic_entropy_catches_random_errors_but_not_consistent_ones(models: Gateway) -> None:
    entailment = judge(models)
    caught = {RANDOM_LIAR: [], LIAR: []}
    for model in caught:
        for fact in CAPITALS[:45]:
            answer = await first_answer(models, model, fact)
            if fact.accepts(answer):
                continue
            outcome = await semantic_entropy(fact.question, models, model, entailment, samples=8, candidate=answer)
            caught[model].append(not outcome.accepted)
    assert len(caught[RANDOM_LIAR]) >= 5 and len(caught[LIAR]) >= 5  # both personas were wrong often enough
    assert sum(caught[RANDOM_LIAR]) / len(caught[RANDOM_LIAR]) >= 0.9
    assert sum(caught[LIAR]) == 0  # the consistent liar agrees with itself: entropy 0


async def test_the_consistent_liar_is_caught_by_the_ensemble_and_by_evidence(models: Gateway, tmp_path: Path) -> None:
    index = HybridIndex(load_corpus(write_corpus(tmp_path / "corpus", CAPITALS)))
    wrong = await liar_mistakes(models, CAPITALS[:45])
    assert len(wrong) >= 5
    entailment = judge(models)
    for fact, answer in wrong:
        voted = await ensemble(fact.question, models, HONEST_VOTERS, entailment, candidate=answer, author=LIAR)
        assert not voted.accepted and voted.confidence == 0
        verifier = ClaimVerifier(models, entailment, index=index, author=LIAR)
        cited = await verify_claims(fact.question, answer, models, verifier, decomposer=JUDGE)
        assert not cited.accepted and cited.verdicts[0].status == "refuted"


# --- ensemble, CoVe, best-of-N --------------------------------------------------------------------


async def test_the_author_never_votes_and_duplicate_voters_count_once(models: Gateway) -> None:
    question = "What is the capital of Japan?"
    outcome = await ensemble(question, models, [LIAR, "sim:sim-honest-a", "sim:sim-honest-a"], NormalisedMatch(),
                             candidate="Tokyo.", author=LIAR)
    assert outcome.detail["voters"] == ["sim:sim-honest-a"] and outcome.accepted
    with pytest.raises(Exception, match="at least one voter that is not the author"):
        await ensemble(question, models, [LIAR], NormalisedMatch(), author=LIAR)
    assert Quorum().reached(2, 3) and not Quorum().reached(1, 2) and not Quorum(min_votes=3).reached(2, 2)


async def test_ensemble_without_a_candidate_answers_by_majority(models: Gateway) -> None:
    outcome = await ensemble("What is the capital of Peru?", models, HONEST_VOTERS, judge(models))
    assert outcome.accepted and "Lima" in outcome.answer and outcome.confidence == 1.0
    unknown = await ensemble("Who painted the Mona Lisa?", models, HONEST_VOTERS, judge(models))
    assert not unknown.accepted


async def test_chain_of_verification_checks_the_draft_with_independent_answers(models: Gateway) -> None:
    entailment = judge(models)
    fact, draft = next(pair for pair in await liar_mistakes(models, CAPITALS[:45]))
    caught = await chain_of_verification(fact.question, draft, models, planner=JUDGE, answerer="sim:sim-honest-a",
                                         judge=entailment)
    assert not caught.accepted and "was answered" in caught.reason
    assert caught.detail["checks"][0]["question"] == fact.question  # the plan does not leak the draft
    honest = await chain_of_verification(fact.question, fact.answer, models, planner=JUDGE,
                                         answerer="sim:sim-honest-a", judge=entailment)
    assert honest.accepted and honest.confidence == 1.0
    # Factored CoVe with the liar answering its own questions repeats the same mistake.
    self_checked = await chain_of_verification(fact.question, draft, models, planner=JUDGE, answerer=LIAR,
                                               judge=entailment)
    assert self_checked.accepted


async def test_best_of_n_picks_by_an_independent_judge_and_abstains_on_low_scores_and_ties(models: Gateway) -> None:
    picked = await best_of_n("What is the capital of Kenya?", models, RANDOM_LIAR, JudgeScorer(models, JUDGE), n=5)
    assert picked.accepted and "Nairobi" in picked.answer and len(picked.detail["candidates"]) == 5
    unknown = await best_of_n("Who painted the Mona Lisa?", models, "sim:sim-honest", JudgeScorer(models, JUDGE))
    assert not unknown.accepted and "best score" in unknown.reason
    lenient = CheckScorer((EqualsCheck(value="anything"),))
    tie = await best_of_n("What is the capital of Kenya?", models, RANDOM_LIAR, lenient, n=12, min_score=0.0)
    assert not tie.accepted and "tie" in tie.reason
    with pytest.raises(Exception, match="must not be the generator"):
        await best_of_n("q", models, JUDGE, JudgeScorer(models, JUDGE))


# --- building blocks --------------------------------------------------------------------------------


async def test_clustering_merges_identical_answers_without_a_model_call(models: Gateway) -> None:
    from aegis_ray.verify.base import counting_calls

    entailment = judge(models)
    with counting_calls() as tally:
        groups = await cluster(["Canberra.", "canberra", "Sydney.", "I don't know."], entailment,
                               "What is the capital of Australia?")
    assert sorted(map(sorted, groups)) == [[0, 1], [2], [3]]
    assert tally[0] == 2  # one bidirectional entailment check: Canberra vs Sydney
    assert await entailment.equivalent("Canberra.", "The capital of Australia is Canberra.",
                                       "What is the capital of Australia?")
    assert entropy_of([5, 5]) == pytest.approx(0.6931, abs=1e-4) and entropy_of([10]) == 0


async def test_every_method_emits_a_span_with_its_decision(models: Gateway, spans: InMemorySpanExporter) -> None:
    await ensemble("What is the capital of Peru?", models, HONEST_VOTERS, NormalisedMatch())
    (span,) = [s for s in spans.get_finished_spans() if s.name == "verify ensemble"]
    assert span.attributes["aegis.verify.accepted"] is True and span.attributes["aegis.verify.calls"] == 3


async def test_a_policy_is_data_and_fails_closed_until_calibrated(models: Gateway, tmp_path: Path) -> None:
    policy = VerificationPolicy(layers=(EnsembleLayer(), ClaimsLayer()), judge=JUDGE, voters=HONEST_VOTERS,
                                calibration=tmp_path / "calibration.json")
    assert VerificationPolicy.model_validate_json(policy.model_dump_json()) == policy
    blocked = await verify(policy, "What is the capital of Chile?", models, "sim:sim-honest")
    assert blocked.answer.abstained and "not calibrated" in blocked.answer.reason
    calibrate([LabelledScore(confidence=1.0, correct=True)] * 100, alpha=0.1).save(tmp_path / "calibration.json")
    passed = await verify(policy, "What is the capital of Chile?", models, "sim:sim-honest")
    assert not passed.answer.abstained and "Santiago" in passed.answer.text
    assert [o.method for o in passed.layers] == ["ensemble", "claims"] and passed.calls >= 5
    with pytest.raises(ValueError, match="need a judge"):
        VerificationPolicy(layers=(ClaimsLayer(),))


# --- risk control -----------------------------------------------------------------------------------


def synthetic_scores(rng: random.Random, n: int) -> list[LabelledScore]:
    """Confidence uniform on [0, 1]; right with probability sqrt(confidence)."""
    return [LabelledScore(confidence=c, correct=rng.random() < c ** 0.5) for c in (rng.random() for _ in range(n))]


def test_risk_control_holds_over_200_random_splits() -> None:
    alpha, delta = 0.1, 0.1
    pool = synthetic_scores(random.Random(7), 40_000)
    violations = coverage = 0.0
    for split in range(200):
        rng = random.Random(split)
        picked = rng.sample(range(len(pool)), 11_000)
        calibration = calibrate([pool[i] for i in picked[:1000]], alpha, delta)
        accepted = [pool[i] for i in picked[1000:] if calibration.accepts(pool[i].confidence)]
        coverage += len(accepted) / 10_000 / 200
        violations += bool(accepted) and sum(not e.correct for e in accepted) / len(accepted) > alpha
    assert violations / 200 <= delta + 0.03  # "at most about delta": binomial noise on 200 splits
    assert coverage > 0.03  # it accepts something: the guarantee is not bought by abstaining always


def test_uncalibratable_data_abstains_on_everything() -> None:
    calibration = calibrate([LabelledScore(confidence=0.9, correct=False)] * 50, alpha=0.05)
    assert calibration.threshold is None and not calibration.accepts(1.0) and calibration.coverage == 0


async def test_the_agent_loop_verify_state_runs_a_policy_with_the_answering_model_as_author(
        models: Gateway, local_sim: InProcessSim, tmp_path: Path) -> None:
    from aegis_ray.loop.agent import AgentLoop
    from aegis_ray.tools.base import ToolContext
    from aegis_ray.tools.registry import ToolRegistry
    from aegis_ray.tools.workspace import Workspace
    from aegis_ray.types import RunSpec, RunStatus
    from aegis_ray.verify.policy import policy_verifier

    policy = VerificationPolicy(layers=(ClaimsLayer(),), judge=JUDGE, voters=(*HONEST_VOTERS, LIAR))
    fact, _ = (await liar_mistakes(models, CAPITALS[:45]))[0]
    context = ToolContext(workspace=Workspace(tmp_path / "ws"))
    cache = local_models(local_sim)
    for author, status, votes in ((LIAR, RunStatus.ABSTAINED, 3), ("sim:sim-honest", RunStatus.SUCCEEDED, 4)):
        loop = AgentLoop(Gateway(cache, [author]), ToolRegistry(()), context, verifier=policy_verifier(policy, models))
        state = await loop.run(RunSpec(task=fact.question))
        assert state.status is status, state.answer
        (verdict,) = state.answer.verdicts
        assert verdict.method == "consensus" and len(verdict.evidence) == votes  # the author never votes
    await cache.aclose()
    assert state.answer.text == fact.claim() and state.steps[-2].detail.startswith("answer accepted")


async def test_a_coding_answer_is_checked_by_re_running_the_program_on_a_copy(tmp_path: Path) -> None:
    from aegis_ray.checks import declared_checks
    from aegis_ray.loop.agent import AgentLoop
    from aegis_ray.sandbox import make_sandbox
    from aegis_ray.sim.inprocess import InProcessSim
    from aegis_ray.sim.models import ModelProfile, Script, SimConfig, ToolCallTurn, Turn
    from aegis_ray.tools import BUILTIN_TOOLS
    from aegis_ray.tools.base import ToolContext
    from aegis_ray.tools.registry import ToolRegistry
    from aegis_ray.tools.workspace import Workspace
    from aegis_ray.types import RunSpec, RunStatus
    from aegis_ray.verify.execution import execution_verifier

    def coder(reported: str) -> ModelProfile:
        return ModelProfile(script=Script(turns=[
            Turn(tool_calls=[ToolCallTurn(name="write_file", arguments={
                "path": "solution.py", "content": "open('runs.log', 'a').write('x')\nprint(6 * 7)\n"})]),
            Turn(tool_calls=[ToolCallTurn(name="run_command", arguments={"command": "python3 solution.py"})]),
            Turn(text=reported)]))

    cache = local_models(InProcessSim(SimConfig(models={"honest-coder": coder("42"),
                                                         "misreporting-coder": coder("41")})))
    for model, status in (("honest-coder", RunStatus.SUCCEEDED), ("misreporting-coder", RunStatus.ABSTAINED)):
        workspace = tmp_path / model
        context = ToolContext(workspace=Workspace(workspace), sandbox=make_sandbox("bubblewrap"))
        loop = AgentLoop(Gateway(cache, [f"sim:{model}"]), ToolRegistry(BUILTIN_TOOLS, policy="auto"), context,
                         verifier=execution_verifier(context, declared_checks))
        state = await loop.run(RunSpec(task="What is 6 * 7? Compute it."))
        assert state.status is status, state.answer
        assert (workspace / "runs.log").read_text() == "x"  # the re-run's side effect stayed in its copy
    assert "did not print '41'" in state.answer.reason and "42" in state.answer.reason
    await cache.aclose()


def test_layer_names_come_from_the_one_registry() -> None:
    from typing import get_args

    from aegis_ray.verify.policy import CHOSEN_LAYERS, LAYERS, VerificationPolicy
    from serve_app.models import VerifyLayerName

    assert set(CHOSEN_LAYERS) == set(LAYERS) - {"deterministic"}
    assert get_args(VerifyLayerName) == CHOSEN_LAYERS
    for name, kind in LAYERS.items():  # each name builds the layer a policy parses back from it
        policy = VerificationPolicy(layers=(kind(),), judge="sim:judge", voters=("sim:voter",))
        assert VerificationPolicy.model_validate_json(policy.model_dump_json()).layers[0].method == name
