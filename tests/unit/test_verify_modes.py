"""Detect and repair modes, decontextualisation, per-item corpora, and the research helpers, with the
offline evidence judge (no model call)."""

from __future__ import annotations

import numpy as np
import pytest

from aegis_ray.memory.collection import Corpus
from aegis_ray.memory.minilm import MiniLMEmbedder
from aegis_ray.types import Message
from aegis_ray.verify import EvidenceJudge, Item, ItemPolicy, auroc, risk_at_coverage, risk_coverage, verify_many
from aegis_ray.verify.claims import ClaimVerifier, self_contained_claims, verify_claims
from aegis_ray.verify.decontext import decontextualise, is_bare

pytestmark = pytest.mark.unit

DEBIAN = ("Debian was founded by Ian Murdock in 1993. Debian 1.1 (Buzz) was released on June 17, 1996, with 474 "
          "packages. The release did not include a graphical installer.")
BEATLES = "The Beatles released Abbey Road in 1969. The album was recorded at EMI Studios in London."


@pytest.fixture(scope="module")
def judge(tmp_path_factory: pytest.TempPathFactory) -> EvidenceJudge:
    return EvidenceJudge(MiniLMEmbedder(tmp_path_factory.mktemp("models")))


@pytest.mark.parametrize(("claim", "question", "expected"), [
    ("1993", "Debian was founded in what year?", "Debian was founded in 1993."),
    ("Ian Murdock", "Who founded Debian?", "Ian Murdock founded Debian."),
    ("474", "Debian 1.1 shipped how many packages?", "Debian 1.1 shipped 474 packages."),
    ("1996.", "When was Debian 1.1 released?", "When was Debian 1.1 released? 1996."),
    ("no", "Did Debian 1.1 include a graphical installer?",
     "Did Debian 1.1 include a graphical installer: no, it is not the case."),
    ("Debian 1.1 was released in 1996.", "When was Debian 1.1 released?", "Debian 1.1 was released in 1996."),
])
def test_a_bare_answer_becomes_a_claim_about_what_was_asked(claim: str, question: str, expected: str) -> None:
    assert decontextualise(claim, question) == expected


def test_the_dialogue_supplies_the_question_when_none_is_given() -> None:
    history = (Message.user("Debian was founded in what year?"), Message(role="assistant", content="Let me check."))
    assert decontextualise("1993", "", history) == "Debian was founded in 1993."
    assert is_bare("1975") and is_bare("no") and not is_bare("Debian was founded in 1993.")


async def test_a_bare_answer_is_judged_against_the_question_not_cited_from_an_unrelated_document(
        judge: EvidenceJudge) -> None:
    corpus = Corpus.from_texts({"debian.txt": DEBIAN, "beatles.txt": BEATLES}, judge.embedder)
    verifier = ClaimVerifier(None, judge, index=corpus.index)
    question = "Debian was founded in what year?"
    assert await self_contained_claims(judge, question, "1969") == ["Debian was founded in 1969."]
    wrong = await verify_claims(question, "1969", None, verifier, mode="detect")
    assert not wrong.accepted and wrong.verdicts[0].status == "refuted"
    right = await verify_claims(question, "1993", None, verifier, mode="detect")
    assert right.accepted and {c.source for c in right.citations} == {"debian.txt"}
    assert right.citations[0].span == "Debian was founded by Ian Murdock in 1993."


async def test_detect_judges_the_answer_as_given_and_repair_strips_and_says_so(judge: EvidenceJudge) -> None:
    corpus = Corpus.from_texts([DEBIAN], judge.embedder)
    verifier = ClaimVerifier(None, judge, index=corpus.index)
    question = "What happened with Debian 1.1?"
    answer = "Debian 1.1 was released on June 17, 1996. The release included a graphical installer."
    detect = await verify_claims(question, answer, None, verifier, mode="detect")
    assert not detect.accepted and detect.answer == answer  # never rewritten
    assert "1 of 2 claim(s) not supported" in detect.reason and detect.confidence < 0.1
    repair = await verify_claims(question, answer, None, verifier, mode="repair")
    assert repair.accepted and repair.answer == "Debian 1.1 was released on June 17, 1996."
    assert "1 stripped (repaired answer)" in repair.reason
    assert repair.detail["stripped"] == ["The release included a graphical installer."]
    honest = await verify_claims(question, answer.split(" The")[0], None, verifier, mode="detect")
    assert honest.accepted and honest.confidence > detect.confidence


async def test_verify_many_keeps_every_citation_inside_the_items_own_corpus(judge: EvidenceJudge) -> None:
    items = [Item(id="a", question="Who founded Debian?", answer="Ian Murdock", documents={"a.txt": DEBIAN},
                  hallucinated=False),
             Item(id="b", question="The Beatles released which album in 1969?", answer="Abbey Road",
                  documents={"b.txt": BEATLES}, hallucinated=False),
             Item(id="c", question="The Beatles recorded Abbey Road in which city?", answer="Liverpool",
                  documents={"c.txt": BEATLES}, hallucinated=True)]
    results = await verify_many(items, ItemPolicy(judge=judge, embedder=judge.embedder), progress=False)
    assert [r.id for r in results] == ["a", "b", "c"]
    assert [r.accepted for r in results] == [True, True, False]
    for item, result in zip(items, results, strict=True):
        assert {c.source for c in result.citations} <= set(item.documents)
    assert results[2].confidence < min(results[0].confidence, results[1].confidence)


def test_auroc_and_risk_at_coverage() -> None:
    scores, right = [0.9, 0.8, 0.7, 0.6, 0.2], [True, True, False, True, False]
    assert auroc(scores, right) == pytest.approx(5 / 6)
    assert auroc([0.5, 0.5], [True, True]) is None
    assert risk_at_coverage(scores, right, 0.4) == 0.0
    assert risk_at_coverage(scores, right, 0.8) == 0.25
    coverage, risk = risk_coverage(scores, right)
    assert np.allclose(coverage, [0.2, 0.4, 0.6, 0.8, 1.0]) and risk[-1] == pytest.approx(0.4)
