"""Agent profiles as data: what an agent is for (`coding`, `research`, `sre`), as a TOML file each.

A profile names the tools its agent is offered (fnmatch patterns over tool names, MCP servers'
`SERVER_TOOL` included; none given: every tool), its system prompt, its approval policy and its
budgets. The shipped ones are package data (`aegis_ray/profiles/data/*.toml`); a user adds or
overrides one with a file of the same shape in `<AEGIS_HOME>/profiles/NAME.toml` (the file's stem
is the profile's name). `--profile NAME` on `run --code`, `chat`, `supervise` and `team`, and
`"profile"` in `POST /api/sessions`, select one.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from aegis_ray.errors import BadInputError
from aegis_ray.types import Budget, Frozen

SHIPPED = Path(__file__).parent / "data"
ProfileName = str


class Profile(Frozen):
    """One kind of agent: its tools, system prompt, approvals and budgets."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")
    description: str = Field(min_length=1, max_length=300)
    system_prompt: str = Field(min_length=1, max_length=20_000)
    tools: tuple[str, ...] | None = Field(default=None, description="fnmatch patterns of the tools offered; "
                                                                     "None: every tool.")
    approval: Literal["ask", "auto", "deny"] | None = Field(default=None, description="None: the caller's policy.")
    budget: Budget = Budget()

    def budget_with(self, max_steps: int | None = None, max_usd: float | None = None) -> Budget:
        """The profile's budget, with the limits a caller gave instead of its own."""
        return self.budget.model_copy(update={k: v for k, v in (("max_steps", max_steps), ("max_usd", max_usd))
                                              if v is not None})


def profile_dirs(home: Path) -> tuple[Path, ...]:
    """Where profiles come from, later ones overriding earlier ones: the shipped, then the user's."""
    return SHIPPED, home / "profiles"


def _read(path: Path) -> Profile:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return Profile.model_validate({"name": path.stem, **data})
    except OSError as exc:
        raise BadInputError(f"cannot read profile {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise BadInputError(f"profile {path} is not valid TOML: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise BadInputError(f"profile {path}: {where}: {first['msg']}",
                            hint="see the shipped profiles in aegis_ray/profiles/data for the shape") from exc


def load_profiles(dirs: Iterable[Path]) -> dict[ProfileName, Profile]:
    """Every profile in `dirs` (a name in a later directory overrides an earlier one)."""
    found: dict[ProfileName, Profile] = {}
    for directory in dirs:
        if directory.is_dir():
            for path in sorted(directory.glob("*.toml")):
                found[path.stem] = _read(path)
    return found


def get_profile(name: str, dirs: Sequence[Path]) -> Profile:
    """The profile `name`, or a `BadInputError` listing the ones there are."""
    profiles = load_profiles(dirs)
    if name not in profiles:
        raise BadInputError(f"no agent profile {name!r}",
                            hint=f"the profiles are {', '.join(sorted(profiles))}; add one as "
                                 f"{dirs[-1] / (name + '.toml')}")
    return profiles[name]


__all__ = ["SHIPPED", "Profile", "get_profile", "load_profiles", "profile_dirs"]
