"""Semantic entropy (Farquhar et al., 2024): uncertainty over meanings, not over strings.

N answers are sampled from one model at temperature > 0 and clustered by bidirectional
entailment; with p_c the share of samples in cluster c, the entropy H = -sum p_c ln p_c is the
uncertainty. A model that is randomly wrong scatters its samples (high H); a model that is
consistently wrong agrees with itself (low H), which is why entropy is one layer, not the whole
stack. Confidence is the share of samples that mean what the candidate means (its estimated
probability of being the model's answer); with no candidate, 1 - H / ln N (1: every sample means
the same). The entropy itself is in `detail`.
"""

from __future__ import annotations

import asyncio
import math

from aegis_ray.errors import BadInputError
from aegis_ray.verify.base import CallCounter, Models, Outcome, method_run
from aegis_ray.verify.equivalence import Equivalence, cluster
from aegis_ray.verify.prompts import answer_request, is_abstention


def entropy_of(cluster_sizes: list[int]) -> float:
    total = sum(cluster_sizes)
    return -sum((n / total) * math.log(n / total) for n in cluster_sizes if n)


async def semantic_entropy(question: str, models: Models, model: str, equivalence: Equivalence, *,
                           samples: int = 10, temperature: float = 1.0, max_entropy: float = 0.5,
                           candidate: str | None = None) -> Outcome:
    """Accept the majority meaning when H <= `max_entropy` (nats) and it is an answer, not a refusal;
    with a `candidate`, it must also fall in the majority cluster."""
    if samples < 2:
        raise BadInputError("semantic entropy needs at least 2 samples")
    if temperature <= 0:
        raise BadInputError("semantic entropy samples at a temperature above 0")
    counted = CallCounter(models)
    with method_run("semantic_entropy", question) as run:
        replies = await asyncio.gather(*(counted.complete(answer_request(question, temperature), [model])
                                         for _ in range(samples)))
        texts = [r.text for r in replies]
        if candidate is not None:
            texts.append(candidate)
        clusters = await cluster(texts, equivalence, question)
        sampled = [[i for i in c if i < samples] for c in clusters]
        sizes = sorted((len(c) for c in sampled if c), reverse=True)
        entropy = entropy_of(sizes)
        majority = max(sampled, key=len)
        best = candidate if candidate is not None else texts[majority[0]]
        if candidate is None:
            confidence = max(0.0, 1.0 - entropy / math.log(samples))
            in_majority = True
        else:
            own = [i for i in next(c for c in clusters if samples in c) if i < samples]
            confidence = len(own) / samples
            in_majority = bool(set(majority) & set(own))
        if is_abstention(texts[majority[0]]):
            accepted, reason = False, "the model mostly says it does not know"
        elif not in_majority:
            accepted, reason = False, "the candidate is not the model's majority meaning"
        elif entropy > max_entropy:
            accepted, reason = False, f"semantic entropy {entropy:.2f} > {max_entropy:.2f}: the answers disagree"
        else:
            accepted, reason = True, f"semantic entropy {entropy:.2f} <= {max_entropy:.2f}"
        detail = {"entropy": entropy, "clusters": sizes, "samples": samples}
        return run.finish(Outcome(method="semantic_entropy", accepted=accepted, answer=best, confidence=confidence,
                                  reason=reason, detail=detail))
