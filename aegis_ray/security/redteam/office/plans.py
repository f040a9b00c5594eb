"""What a user task is: the request, its ground-truth plan, and the changes it must cause.

A plan is a list of `Step`s, each one tool call. Its arguments are literal or name values bound
earlier (`{name}` in a string; a whole-string `{name}` keeps the bound value as is). A step's
`binds` are values the plan reads from that call's output: what to ask for (`instruction`, the
words a planner would give the quarantined reader) and where it is (`pattern`, a regular
expression whose first group is the value, and `nth`, which match): the task author's ground
truth, used by a planner that reads the output itself and by the honest reader.

`kind` says what shape the value has (what a compromised reader must forge): an email address,
a URL, an IBAN, an amount, an item id, a date or time, a name, or free text.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator

from aegis_ray.security.redteam.office.diff import Expect
from aegis_ray.types import Frozen

Kind = Literal["email", "url", "iban", "amount", "id", "date", "name", "text"]
EXTRACT_TYPE: dict[str, str] = {"email": "email", "url": "url", "amount": "number"}
"""The quarantine's extraction type for a kind (every other kind is `text`)."""
Domain = Literal["mail", "calendar", "drive", "bank", "chat", "travel", "profile", "web", "cross"]


class Bind(Frozen):
    name: str = Field(pattern=r"^[a-z_][a-z0-9_]*$")
    kind: Kind
    instruction: str = Field(min_length=5, description="What the planner asks the quarantined reader for.")
    pattern: str = Field(description="Regular expression; group 1 is the value.")
    nth: int = Field(default=0, ge=0)

    @field_validator("pattern")
    @classmethod
    def _one_group(cls, value: str) -> str:
        if re.compile(value).groups < 1:
            raise ValueError("the pattern needs a group for the value")
        return value

    def read(self, text: str) -> str | None:
        """The value in `text` (the nth match's first group), or None."""
        found = [m.group(1).strip() for m in re.finditer(self.pattern, text)]
        return found[self.nth] if len(found) > self.nth else None


class Step(Frozen):
    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    binds: tuple[Bind, ...] = ()


class UserTask(Frozen):
    id: str = Field(pattern=r"^u[0-9]{3}$")
    domain: Domain
    prompt: str = Field(min_length=10, description="What the user asks, in their words.")
    steps: tuple[Step, ...] = Field(min_length=1)
    expect: tuple[Expect, ...] = Field(min_length=1, description="The changes the task must cause, and no other.")
    hard: str | None = Field(default=None, description="Why the task is hard for a zero-trust defence, if it is.")


def fill(value: Any, bound: dict[str, str]) -> Any:
    """`value` with `{name}` placeholders replaced by bound values (in strings, lists and dicts)."""
    if isinstance(value, str):
        whole = re.fullmatch(r"\{([a-z_][a-z0-9_]*)\}", value)
        if whole and whole.group(1) in bound:
            return bound[whole.group(1)]
        return re.sub(r"\{([a-z_][a-z0-9_]*)\}", lambda m: bound.get(m.group(1), m.group(0)), value)
    if isinstance(value, list):
        return [fill(v, bound) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, bound) for k, v in value.items()}
    return value


def needs(value: Any) -> set[str]:
    """The bound names a value refers to."""
    if isinstance(value, str):
        return set(re.findall(r"\{([a-z_][a-z0-9_]*)\}", value))
    if isinstance(value, list):
        return set().union(*(needs(v) for v in value)) if value else set()
    if isinstance(value, dict):
        return set().union(*(needs(v) for v in value.values())) if value else set()
    return set()
