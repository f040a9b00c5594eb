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
from aegis_ray.providers.endpoint_config import resolve_endpoint
from aegis_ray.providers.routing import parse_model_ref
from aegis_ray.types import Frozen
from aegis_ray.verify.base import independent, model_identity

SIMULATED_JUDGE = "sim:sim-honest-judge"
SIMULATED_VOTERS = ("sim:sim-honest-voter-a", "sim:sim-honest-voter-b", "sim:sim-hallucinating-voter-c")


class Panel(Frozen):
    author: str
    judge: str
    voters: tuple[str, ...]

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.author, self.judge, *self.voters)))

    @property
    def simulated(self) -> bool:
        return any(parse_model_ref(m).simulated for m in self.models)


def plan_panel(settings: Settings, author: str, judge: str | None = None, voters: Sequence[str] = ()) -> Panel:
    simulated_author = parse_model_ref(author).simulated
    judge = judge or settings.verification.judge or (SIMULATED_JUDGE if simulated_author else None)
    chosen = tuple(voters) or tuple(settings.verification.voters) or (SIMULATED_VOTERS if simulated_author else ())
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
    names = [parse_model_ref(m).name for m in (author, judge, *panel)]
    for ref in map(parse_model_ref, names):
        if not ref.simulated:
            resolve_endpoint(settings, ref)  # a missing key fails now, clearly
    return Panel(author=names[0], judge=names[1], voters=tuple(names[2:]))
