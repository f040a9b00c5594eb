"""The judge protocol and its judges: a model over the simulator's wire protocol, and the offline
evidence judge, which says *contradicted* when numbers, dates, names or negation disagree."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from aegis_ray.memory.minilm import MiniLMEmbedder
from aegis_ray.providers import EndpointCache, EndpointConfig, Gateway, ModelEndpoint
from aegis_ray.sim import SimServer
from aegis_ray.sim.facts import fact_table
from aegis_ray.verify.claims import as_judge
from aegis_ray.verify.equivalence import LLMEntailment
from aegis_ray.verify.judges.evidence import EvidenceJudge, claims_of
from aegis_ray.verify.judges.llm import LLMJudge, parse_judgement
from aegis_ray.verify.judges.protocol import Judge

pytestmark = pytest.mark.unit

PASSAGE = ("Debian 1.1 (Buzz) was released on June 17, 1996, with 474 packages. Bruce Perens led the project at "
           "the time. The release did not include a graphical installer.")


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> EvidenceJudge:
    return EvidenceJudge(MiniLMEmbedder(tmp_path_factory.mktemp("models")))


@pytest.fixture
async def wire_models(sim: SimServer) -> AsyncIterator[Gateway]:
    """Models reached over HTTP, as an OpenAI-compatible server: the simulator's wire protocol."""
    cache = EndpointCache(lambda ref: ModelEndpoint(EndpointConfig(ref=ref, api_key=SecretStr("sim"),
                                                                   base_url=ref.base_url)))
    yield Gateway(cache, [f"openai-compatible:{sim.base_url}/v1:sim-honest"])
    await cache.aclose()


def test_every_judge_meets_the_protocol(offline: EvidenceJudge) -> None:
    assert isinstance(offline, Judge)
    assert isinstance(LLMJudge(None, "sim:sim-honest-judge"), Judge)  # type: ignore[arg-type]
    assert isinstance(as_judge(LLMEntailment(None, "sim:j")), LLMJudge)  # type: ignore[arg-type]


@pytest.mark.parametrize(("reply", "label", "probability"), [
    ("entailment 0.83", "entailment", 0.83), ("Entailment.", "entailment", 0.95), ("neutral", "neutral", 0.0),
    ("contradiction, p=0.9", "contradiction", 0.5), ("I cannot tell", "neutral", 0.0),
    ("entailment 1", "entailment", 1.0),
])
def test_a_model_reply_gives_a_label_and_a_probability(reply: str, label: str, probability: float) -> None:
    assert parse_judgement(reply) == (label, probability)


async def test_the_llm_judge_works_over_an_openai_compatible_wire(wire_models: Gateway, sim: SimServer) -> None:
    judge = LLMJudge(wire_models, f"openai-compatible:{sim.base_url}/v1:sim-honest-judge")
    fact, other = [f for f in fact_table().facts if f.relation == "capital"][:2]
    premise = f"{fact.claim()} It is well documented."
    right = await judge.judge(fact.claim(), ["Unrelated text about rivers.", premise])
    assert (right.label, right.premise, right.probability) == ("entailment", 1, 0.95)
    wrong = await judge.judge(fact.claim(other.answer), [premise])
    assert wrong.label == "contradiction" and wrong.probability == 0.0
    assert await judge.decompose(fact.question, fact.answer) == [fact.claim()]
    assert await judge.answers(fact.question, fact.claim()) > 0.5


TRUTHS = {  # each lie, and the same claim told right
    "Debian 1.1 was released on June 17, 1997.": "Debian 1.1 was released on June 17, 1996.",  # date
    "Debian 1.1 was released in July 1996.": "Debian 1.1 was released in June 1996.",  # month
    "Debian 1.1 shipped 475 packages.": "Debian 1.1 shipped 474 packages.",  # number
    "The release included a graphical installer.": "The release did not include a graphical installer.",  # negation
    "Ian Murdock led the project at the time.": "Bruce Perens led the project at the time.",  # name
}


@pytest.mark.parametrize("lie", TRUTHS)
def test_the_offline_judge_says_contradicted_when_the_evidence_disagrees(offline: EvidenceJudge, lie: str) -> None:
    judgement = offline.judge_now(lie, [PASSAGE])
    assert judgement.label == "contradiction", judgement.reason
    assert judgement.probability < 0.5
    assert judgement.probability < offline.judge_now(TRUTHS[lie], [PASSAGE]).probability


def test_the_offline_judge_supports_what_the_evidence_says_and_cites_the_sentence(offline: EvidenceJudge) -> None:
    judgement = offline.judge_now("The release did not include a graphical installer.", ["Other text.", PASSAGE])
    assert judgement.label == "entailment" and judgement.premise == 1 and judgement.span is not None
    assert PASSAGE[slice(*judgement.span)].endswith("did not include a graphical installer.")


def test_offline_probabilities_are_graded_and_unrelated_claims_are_neutral(offline: EvidenceJudge) -> None:
    unrelated = offline.judge_now("Python 3.12 removed the distutils package.", [PASSAGE])
    assert unrelated.label == "neutral" and unrelated.probability < 0.1
    scores = {offline.judge_now(c, [PASSAGE]).probability for c in (
        "Debian 1.1 was released in 1996.", "Bruce Perens led the project.", "Debian 1.1 was called Buzz.",
        "The release had 474 packages.")}
    assert len(scores) >= 3  # graded: not the two values of a label-only judge


def test_offline_decomposition_leaves_out_conversational_formulas_and_questions() -> None:
    said = "Sure! Debian 1.1 was released in 1996. Anything else? Hope that helps!"
    assert claims_of(said) == ["Debian 1.1 was released in 1996."]


async def test_relevance_is_judged_against_the_question_and_instructions_are_not_a_topic(
        offline: EvidenceJudge) -> None:
    question = "Debian 1.1 was released on what date?"
    assert await offline.answers(question, "Debian 1.1 was released on June 17, 1996.") > 0.5
    assert await offline.answers(question, "Bruce Perens led the project at the time.") < 0.5
    assert await offline.answers("Summarise this passage.", "Anything at all.") == 1.0


def test_weights_were_fitted_on_the_train_split_alone() -> None:
    from aegis_ray.verify.judges.evidence import load_params
    from aegis_ray.verify.realtext import checksum, load_items

    assert checksum(load_items("train")) in load_params().fitted_on
    assert Path(__file__).parents[2].joinpath("aegis_ray/verify/judges/evidence_params.json").exists()
