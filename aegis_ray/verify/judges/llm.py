"""A judge that asks a model: any configured provider, an OpenAI-compatible server, or the simulator.

Every task is one request in the prompts of `aegis_ray.verify.prompts`. The entailment reply may
carry a probability (`entailment 0.83`); a judge that states none gets the fixed values below, which
are what claim verification used before judges stated probabilities.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

from aegis_ray.model_ref import ModelLike
from aegis_ray.verify.base import CallCounter, Models
from aegis_ray.verify.judges.protocol import Judgement
from aegis_ray.verify.prompts import (
    Entailment,
    VerifyTask,
    parse_entailment,
    parse_lines,
    parse_yes,
    task_request,
)

LABEL_PROBABILITY: dict[Entailment, float] = {"entailment": 0.95, "neutral": 0.0, "contradiction": 0.0}
"""P(supported) for a reply that states a label alone."""
ANSWERS_PROBABILITY = {True: 0.95, False: 0.0}
_PROBABILITY = re.compile(r"(?<![\d.])(0?\.\d+|1(?:\.0+)?|0)(?![\d.])")


def parse_judgement(reply: str) -> tuple[Entailment, float]:
    """The label, and the probability the reply states (else the label's fixed value)."""
    label = parse_entailment(reply)
    stated = _PROBABILITY.search(reply)
    probability = float(stated.group(1)) if stated else LABEL_PROBABILITY[label]
    if label == "contradiction":
        probability = min(probability, 0.5)
    return label, probability


class LLMJudge:
    """One model judges: decomposition, entailment per premise (concurrently), answers-the-question."""

    def __init__(self, models: Models, model: ModelLike) -> None:
        self.models = CallCounter(models)
        self.model = model
        self.name = f"llm:{model}"

    async def entails(self, premise: str, hypothesis: str, context: str = "") -> tuple[Entailment, float]:
        fields = {"Context": context} if context else {}
        request = task_request(VerifyTask.ENTAILMENT, {**fields, "Premise": premise, "Hypothesis": hypothesis})
        return parse_judgement(await self.models.ask(self.model, request))

    async def judge(self, claim: str, premises: Sequence[str], context: str = "") -> Judgement:
        replies = await asyncio.gather(*(self.entails(p, claim, context) for p in premises))
        for wanted in ("entailment", "contradiction"):
            found = [(i, p) for i, (label, p) in enumerate(replies) if label == wanted]
            if found:
                i, probability = max(found, key=lambda f: f[1]) if wanted == "entailment" else found[0]
                return Judgement(label=wanted, probability=probability, premise=i)
        best = max(range(len(replies)), key=lambda i: replies[i][1], default=None)
        return Judgement(label="neutral", probability=replies[best][1] if best is not None else 0.0, premise=best)

    async def decompose(self, question: str, answer: str, context: str = "") -> list[str]:
        fields = {"Question": question, "Answer": answer}
        reply = await self.models.ask(self.model, task_request(VerifyTask.DECOMPOSE, fields))
        return list(dict.fromkeys(parse_lines(reply)))

    async def answers(self, question: str, text: str) -> float:
        request = task_request(VerifyTask.ANSWERS_QUESTION, {"Question": question, "Text": text})
        return ANSWERS_PROBABILITY[parse_yes(await self.models.ask(self.model, request))]
