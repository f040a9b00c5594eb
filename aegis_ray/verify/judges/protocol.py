"""The judge protocol: what claim-level verification asks of whoever judges.

A judge does three things: it breaks an answer into claims (`decompose`), says whether evidence
supports a claim, with a probability (`judge`), and whether a text addresses a question at all
(`answers`). Implementations: `LLMJudge` (any configured model, simulator included), and
`EvidenceJudge` (offline: MiniLM alignment plus explicit consistency checks, fitted on the
real-text train split). `as_judge` turns the older `LLMEntailment` into a judge.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from pydantic import Field

from aegis_ray.types import Frozen
from aegis_ray.verify.prompts import Entailment


class Judgement(Frozen):
    """A judge's word on one claim against a list of premises."""

    label: Entailment = Field(description="entailment: supported; contradiction: the evidence disagrees; "
                                          "neutral: the evidence does not say.")
    probability: float = Field(ge=0, le=1, description="P(the claim is supported by the premises).")
    premise: int | None = Field(default=None, description="Index of the premise the verdict rests on.")
    span: tuple[int, int] | None = Field(default=None, description="Character offsets of the evidence inside "
                                                                   "that premise (None: all of it).")
    reason: str = ""


@runtime_checkable
class Judge(Protocol):
    name: str

    async def judge(self, claim: str, premises: Sequence[str], context: str = "") -> Judgement:
        """Whether `premises` support `claim` (read in the light of `context`: the question, the dialogue)."""
        ...

    async def decompose(self, question: str, answer: str, context: str = "") -> list[str]:
        """The atomic claims `answer` makes (an empty list when it makes none)."""
        ...

    async def answers(self, question: str, text: str) -> float:
        """P(`text` addresses `question`, right or wrong)."""
        ...
