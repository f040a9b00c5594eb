"""What every verification method shares: the model protocol, call counting, the typed outcome.

A method is a plain async function over `Models` (anything with the gateway's `complete`): the
in-process `Gateway`, or the `VerifierPool` that fans calls out over `VerifierActor`s. Methods
never see which, so a notebook and a cluster run the same code.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol

from opentelemetry.trace import Span
from pydantic import Field

from aegis_ray.model_ref import ModelLike, ModelRef, as_model_ref
from aegis_ray.telemetry import tracer
from aegis_ray.types import Answer, Completion, Evidence, Frozen, ModelRequest, Verdict


class Models(Protocol):
    async def complete(self, request: ModelRequest, models: Sequence[str] | None = None) -> Completion: ...


_call_tallies: ContextVar[tuple[list[int], ...]] = ContextVar("aegis_verify_call_tallies", default=())


@contextmanager
def counting_calls() -> Iterator[list[int]]:
    """A tally (`tally[0]`) of the model calls made inside this block through any `CallCounter`,
    including calls made by tasks it spawns (they inherit the context)."""
    tally = [0]
    token = _call_tallies.set((*_call_tallies.get(), tally))
    try:
        yield tally
    finally:
        _call_tallies.reset(token)


class CallCounter:
    """Passes model calls through, adding each to every open `counting_calls` tally."""

    def __init__(self, models: Models) -> None:
        self.models: Models = models.models if isinstance(models, CallCounter) else models

    async def complete(self, request: ModelRequest, models: Sequence[str] | None = None) -> Completion:
        for tally in _call_tallies.get():
            tally[0] += 1
        return await self.models.complete(request, models)

    async def ask(self, model: str, request: ModelRequest) -> str:
        return (await self.complete(request, [model])).text


class Outcome(Frozen):
    """One method's decision on one question."""

    method: str
    accepted: bool
    answer: str = Field(description="The accepted answer; when abstaining, the best candidate seen.")
    confidence: float = Field(ge=0, le=1, description="The method's score that the answer is right.")
    reason: str
    calls: int = Field(default=0, ge=0, description="Model calls the method made.")
    verdicts: tuple[Verdict, ...] = ()
    citations: tuple[Evidence, ...] = ()
    detail: dict[str, Any] = Field(default_factory=dict, description="Method-specific figures (clusters, entropy).")

    def to_answer(self) -> Answer:
        claims = tuple(v.claim for v in self.verdicts)
        if self.accepted:
            return Answer(text=self.answer, claims=claims, citations=self.citations, verdicts=self.verdicts,
                          confidence=self.confidence)
        return Answer(text="", claims=claims, verdicts=self.verdicts, confidence=self.confidence, abstained=True,
                      reason=f"{self.method}: {self.reason}")


def model_identity(model: ModelLike) -> str:
    """The identity a vote counts under: one vote per distinct provider model."""
    return as_model_ref(model).name


def independent(voters: Sequence[ModelLike], author: ModelLike | None) -> list[ModelRef]:
    """Voters, one per identity, the author excluded: the checker is never the author."""
    author_id = model_identity(author) if author else None
    seen: dict[str, ModelRef] = {}
    for voter in voters:
        identity = model_identity(voter)
        if identity != author_id:
            seen.setdefault(identity, as_model_ref(voter))
    return list(seen.values())


class MethodRun:
    """The span and the call tally of one method's run; `finish` stamps both on the outcome."""

    def __init__(self, span: Span, tally: list[int]) -> None:
        self.span = span
        self.tally = tally

    def finish(self, outcome: Outcome) -> Outcome:
        outcome = outcome.model_copy(update={"calls": self.tally[0]})
        self.span.set_attributes({"aegis.verify.accepted": outcome.accepted,
                                  "aegis.verify.confidence": outcome.confidence, "aegis.verify.calls": outcome.calls})
        return outcome


@contextmanager
def method_run(method: str, question: str) -> Iterator[MethodRun]:
    """One OTel span and one call tally per verification method run."""
    with tracer().start_as_current_span(f"verify {method}", attributes={
            "aegis.verify.method": method, "aegis.verify.question_chars": len(question)}) as span, \
            counting_calls() as tally:
        yield MethodRun(span, tally)
