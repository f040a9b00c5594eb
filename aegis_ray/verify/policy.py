"""A verification policy is data: which layers run, in which order, with which thresholds.

`verify` runs a policy on a question (and an answer, if one is given): each layer must accept, the
first abstention ends the run (fail closed), and the confidence is the lowest any layer gave. If
the policy names a calibration file, the risk-control layer accepts only at or above the
calibrated threshold, and abstains on everything while no calibration exists. A policy with no
answer to check gets its candidate from its first best-of-N layer, else from the author once.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import Field, model_validator

from aegis_ray.checks import Verifier, declared_checks, run_checks
from aegis_ray.errors import BadInputError
from aegis_ray.memory.embeddings import Embedder
from aegis_ray.memory.retrieval import HybridIndex
from aegis_ray.model_ref import ModelLike, ModelName
from aegis_ray.types import Answer, Check, Frozen, RunState
from aegis_ray.verify.base import CallCounter, Models, Outcome, counting_calls, method_run
from aegis_ray.verify.best_of_n import CheckScorer, JudgeScorer, best_of_n
from aegis_ray.verify.claims import ClaimVerifier, Mode, verify_claims
from aegis_ray.verify.cove import chain_of_verification
from aegis_ray.verify.ensemble import Quorum, ensemble
from aegis_ray.verify.entropy import semantic_entropy
from aegis_ray.verify.equivalence import EmbeddingSimilarity, Equivalence, LLMEntailment, NormalisedMatch
from aegis_ray.verify.judges.protocol import Judge
from aegis_ray.verify.prompts import answer_request
from aegis_ray.verify.risk import load_calibration


class DeterministicLayer(Frozen):
    method: Literal["deterministic"] = "deterministic"


class EnsembleLayer(Frozen):
    method: Literal["ensemble"] = "ensemble"
    quorum: Quorum = Quorum()


class EntropyLayer(Frozen):
    method: Literal["semantic_entropy"] = "semantic_entropy"
    samples: int = Field(default=10, ge=2, le=100)
    temperature: float = Field(default=1.0, gt=0, le=2)
    max_entropy: float = Field(default=0.5, ge=0)


class CoveLayer(Frozen):
    method: Literal["cove"] = "cove"
    answerer: ModelName | None = Field(default=None,
                                       description="Answers the verification questions (default: author).")
    max_questions: int = Field(default=5, ge=1, le=20)


class BestOfNLayer(Frozen):
    method: Literal["best_of_n"] = "best_of_n"
    n: int = Field(default=5, ge=1, le=64)
    temperature: float = Field(default=1.0, ge=0, le=2)
    min_score: float = Field(default=0.7, ge=0, le=1)


class ClaimsLayer(Frozen):
    method: Literal["claims"] = "claims"
    top_k: int = Field(default=3, ge=1, le=20)
    consensus: bool = Field(default=True, description="Fall back to the voters when no evidence decides a claim.")
    mode: Mode = Field(default="repair", description="detect: judge the answer as given (never rewritten); "
                                                     "repair: strip unsupported claims and say so.")


LayerKind = DeterministicLayer | EnsembleLayer | EntropyLayer | CoveLayer | BestOfNLayer | ClaimsLayer
Layer = Annotated[LayerKind, Field(discriminator="method")]

LAYERS: dict[str, type[LayerKind]] = {kind.model_fields["method"].default: kind for kind in get_args(LayerKind)}
"""Every layer by its `method` name, read off the `Layer` union: the one list the CLI and the API offer."""
CHOSEN_LAYERS: tuple[str, ...] = tuple(name for name in LAYERS if name != "deterministic")
"""The layers a user chooses by name (the deterministic layer runs the declared checks, and is no choice)."""


class VerificationPolicy(Frozen):
    layers: tuple[Layer, ...] = Field(min_length=1)
    judge: ModelName | None = Field(default=None, description="Entailment judge, decomposer, planner and grader.")
    voters: tuple[ModelName, ...] = Field(default=(), description="Independent models for ensembles and consensus.")
    equivalence: Literal["normalised", "embedding", "entailment"] = "entailment"
    embedding_threshold: float = Field(default=0.9, gt=0, le=1)
    calibration: Path | None = Field(default=None, description="Risk control: a file written by `aegis calibrate`.")

    @model_validator(mode="after")
    def _complete(self) -> VerificationPolicy:
        needs_judge = {"cove", "best_of_n", "claims"} | ({"ensemble", "semantic_entropy"}
                                                         if self.equivalence == "entailment" else set())
        used = {layer.method for layer in self.layers}
        if used & needs_judge and not self.judge:
            raise ValueError(f"layers {sorted(used & needs_judge)} need a judge model (policy.judge)")
        if "ensemble" in used and not self.voters:
            raise ValueError("the ensemble layer needs voters (policy.voters)")
        return self


class Verification(Frozen):
    question: str
    author: ModelName
    answer: Answer
    layers: tuple[Outcome, ...]
    calls: int


async def verify(policy: VerificationPolicy, question: str, models: Models, author: ModelLike, *,
                 answer: str | None = None, index: HybridIndex | None = None, checks: Sequence[Check] = (),
                 embedder: Embedder | None = None, evidence_judge: Judge | None = None) -> Verification:
    """`evidence_judge` judges claims against the corpus (default: the policy's judge model)."""
    counted = CallCounter(models)
    judge = LLMEntailment(counted, policy.judge) if policy.judge else None
    equivalence = _equivalence(policy, judge, embedder)
    outcomes: list[Outcome] = []
    with counting_calls() as tally:
        candidate = answer
        if candidate is None and policy.layers[0].method != "best_of_n":
            candidate = (await counted.complete(answer_request(question), [author])).text
        for layer in policy.layers:
            outcome = await _run_layer(layer, policy, question, candidate, counted, author, judge, equivalence,
                                       index, tuple(checks), evidence_judge)
            candidate = candidate if candidate is not None else outcome.answer
            outcomes.append(outcome)
            if not outcome.accepted:
                break
        final = _combine(outcomes, candidate or "")
        if final.accepted and policy.calibration is not None:
            final = _risk_control(policy.calibration, final)
        return Verification(question=question, author=author, answer=final.to_answer(), layers=tuple(outcomes),
                            calls=tally[0])


def policy_verifier(policy: VerificationPolicy, models: Models, *, index: HybridIndex | None = None,
                    embedder: Embedder | None = None) -> Verifier:
    """The agent loop's verify state running `policy`: the task's declared checks first, then every
    layer, with the model that answered as the author (so it never verifies itself)."""

    async def check(state: RunState, answer: str) -> Answer:
        declared = await declared_checks(state, answer)
        if declared.abstained:
            return declared
        result = await verify(policy, state.spec.task, models, state.model or "", answer=answer, index=index,
                              checks=state.spec.checks, embedder=embedder)
        return result.answer

    return check


def _equivalence(policy: VerificationPolicy, judge: LLMEntailment | None, embedder: Embedder | None) -> Equivalence:
    if policy.equivalence == "entailment":
        assert judge is not None
        return judge
    if policy.equivalence == "embedding":
        if embedder is None:
            raise BadInputError("embedding equivalence needs an embedder", hint="install the embeddings extra")
        return EmbeddingSimilarity(embedder, policy.embedding_threshold)
    return NormalisedMatch()


async def _run_layer(layer: Layer, policy: VerificationPolicy, question: str, candidate: str | None, models: Models,
                     author: ModelLike, judge: LLMEntailment | None, equivalence: Equivalence,
                     index: HybridIndex | None, checks: tuple[Check, ...],
                     evidence_judge: Judge | None = None) -> Outcome:
    match layer:
        case DeterministicLayer():
            return _deterministic(question, candidate or "", checks)
        case EnsembleLayer():
            return await ensemble(question, models, policy.voters, equivalence, candidate=candidate, author=author,
                                  quorum=layer.quorum)
        case EntropyLayer():
            return await semantic_entropy(question, models, author, equivalence, samples=layer.samples,
                                          temperature=layer.temperature, max_entropy=layer.max_entropy,
                                          candidate=candidate)
        case CoveLayer():
            assert judge is not None and policy.judge is not None
            return await chain_of_verification(question, candidate or "", models, planner=policy.judge,
                                               answerer=layer.answerer or author, judge=judge,
                                               max_questions=layer.max_questions)
        case BestOfNLayer():
            assert policy.judge is not None
            scorer = CheckScorer(checks) if checks else JudgeScorer(models, policy.judge)
            picked = await best_of_n(question, models, author, scorer, n=layer.n, temperature=layer.temperature,
                                     min_score=layer.min_score)
            if candidate is not None and picked.accepted and not await equivalence.equivalent(
                    picked.answer, candidate, question):
                return picked.model_copy(update={"accepted": False, "answer": candidate,
                                                 "reason": f"the best of {layer.n} ({picked.answer!r}) differs"})
            return picked
        case ClaimsLayer():
            assert judge is not None and policy.judge is not None
            verifier = ClaimVerifier(models, evidence_judge or judge, index=index, author=author, top_k=layer.top_k,
                                     voters=policy.voters if layer.consensus else ())
            return await verify_claims(question, candidate or "", models, verifier, decomposer=policy.judge,
                                       mode=layer.mode)


def _deterministic(question: str, candidate: str, checks: tuple[Check, ...]) -> Outcome:
    with method_run("deterministic", question) as run:
        outcomes = run_checks(checks, candidate)
        failed = [o.reason for o in outcomes if not o.passed]
        reason = "; ".join(failed) if failed else f"{len(outcomes)} declared checks passed"
        return run.finish(Outcome(method="deterministic", accepted=not failed and bool(candidate.strip()),
                                  answer=candidate, confidence=0.0 if failed else 1.0, reason=reason))


def _combine(outcomes: list[Outcome], candidate: str) -> Outcome:
    last = outcomes[-1]
    confidence = min(o.confidence for o in outcomes)
    if not last.accepted:
        return last.model_copy(update={"confidence": confidence})
    claims = next((o for o in outcomes if o.method == "claims"), None)
    answer = claims.answer if claims else candidate
    verdicts = claims.verdicts if claims else ()
    citations = claims.citations if claims else ()
    reason = "; ".join(f"{o.method}: {o.reason}" for o in outcomes)
    return Outcome(method="policy", accepted=True, answer=answer, confidence=confidence, reason=reason,
                   verdicts=verdicts, citations=citations)


def _risk_control(path: Path, outcome: Outcome) -> Outcome:
    calibration = load_calibration(path)
    if calibration is None:
        return outcome.model_copy(update={"accepted": False, "method": "risk_control",
                                          "reason": f"not calibrated ({path} is missing): run `aegis calibrate`"})
    if not calibration.accepts(outcome.confidence):
        threshold = "none reaches the target" if calibration.threshold is None else f"{calibration.threshold:.3f}"
        return outcome.model_copy(update={"accepted": False, "method": "risk_control", "reason": (
            f"confidence {outcome.confidence:.3f} is below the threshold calibrated for error <= "
            f"{calibration.alpha} ({threshold})")})
    return outcome
