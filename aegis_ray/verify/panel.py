"""Who verifies: the judge and the voters for an author model, decided before anything starts.

Flags win over settings (`[verification]` in aegis.toml, `AEGIS_VERIFICATION__JUDGE`, ...). With a
simulated author and nothing configured, simulated verifiers on distinct model names stand in
(labelled as simulated like every simulated answer); with a real author, verifiers must be named,
since Aegis will not quietly let a model check itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from aegis_ray.config import Settings
from aegis_ray.errors import ConfigError
from aegis_ray.model_ref import ModelLike, ModelName, ModelRef, as_model_ref
from aegis_ray.providers.endpoint_config import resolve_endpoint
from aegis_ray.types import Frozen
from aegis_ray.verify.base import independent, model_identity

SIMULATED_JUDGE = "sim:sim-honest-judge"
SIMULATED_VOTERS = ("sim:sim-honest-voter-a", "sim:sim-honest-voter-b", "sim:sim-hallucinating-voter-c")


class Panel(Frozen):
    author: ModelName
    judge: ModelName
    voters: tuple[ModelName, ...]

    @property
    def models(self) -> tuple[ModelRef, ...]:
        return tuple(dict.fromkeys((self.author, self.judge, *self.voters)))

    @property
    def simulated(self) -> bool:
        return any(ref.simulated for ref in self.models)


def plan_panel(settings: Settings, author: ModelLike, judge: ModelLike | None = None,
               voters: Sequence[ModelLike] = ()) -> Panel:
    author = as_model_ref(author)
    judge = judge or settings.verification.judge or (SIMULATED_JUDGE if author.simulated else None)
    chosen = tuple(voters) or tuple(settings.verification.voters) or (SIMULATED_VOTERS if author.simulated else ())
    if judge is None:
        raise ConfigError("verification needs a judge model that is not the author",
                          hint="pass --judge provider:model or set AEGIS_VERIFICATION__JUDGE")
    if model_identity(judge) == model_identity(author):
        raise ConfigError(f"the judge {judge} is the author: the checker is never the author",
                          hint="pass a different --judge")
    panel = independent(chosen, author)
    if not panel:
        raise ConfigError("verification needs at least one voter that is not the author",
                          hint="pass --voter provider:model (repeatable) or set AEGIS_VERIFICATION__VOTERS")
    judge = as_model_ref(judge)
    for ref in (author, judge, *panel):
        if not ref.simulated:
            resolve_endpoint(settings, ref)  # a missing key fails now, clearly
    return Panel(author=author, judge=judge, voters=tuple(panel))
