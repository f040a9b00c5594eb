"""A judge per claim: the one that knows the text, else the other.

The simulator's judge is a careful reader of its own fact table and of nothing else (outside it,
it is word containment). `RoutedJudge` gives it the claims it `knows` and everything else to the
offline evidence judge, which is how a simulated setup judges text the simulator never saw. The
caller supplies `knows` (the composition root, which may import the simulator; verification
never does).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aegis_ray.verify.judges.protocol import Judge, Judgement


class RoutedJudge:
    def __init__(self, known: Judge, other: Judge, knows: Callable[[str], bool]) -> None:
        self.known = known
        self.other = other
        self.knows = knows
        self.name = f"{known.name} (known text), else {other.name}"

    def _for(self, text: str) -> Judge:
        return self.known if self.knows(text) else self.other

    async def judge(self, claim: str, premises: Sequence[str], context: str = "") -> Judgement:
        return await self._for(claim).judge(claim, premises, context)

    async def decompose(self, question: str, answer: str, context: str = "") -> list[str]:
        return await self._for(answer).decompose(question, answer, context)

    async def answers(self, question: str, text: str) -> float:
        return await self._for(text).answers(question, text)
