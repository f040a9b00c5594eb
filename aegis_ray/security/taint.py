"""Provenance labels: where a value came from, how far it is trusted, and who may read it.

Every value that enters from a tool result, a file, a web page, an MCP server or another agent
gets a label; any value computed from labelled values (including a model's output after it read
them) gets their join: sources united, trust the lowest, readers the intersection. A value with
no label is trusted input (the user's task, the tool specs).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Trust(IntEnum):
    UNTRUSTED = 0
    TRUSTED = 1


class Label(BaseModel):
    model_config = ConfigDict(frozen=True)

    sources: frozenset[str] = Field(default_factory=frozenset, description="e.g. 'tool:fetch_url', 'file:notes.md'.")
    trust: Trust = Trust.TRUSTED
    readers: frozenset[str] | None = Field(default=None, description="Who may read it; None: anyone.")

    @property
    def tainted(self) -> bool:
        return self.trust is Trust.UNTRUSTED

    def join(self, other: Label) -> Label:
        readers = (other.readers if self.readers is None else self.readers if other.readers is None
                   else self.readers & other.readers)
        return Label(sources=self.sources | other.sources, trust=min(self.trust, other.trust), readers=readers)


TRUSTED = Label()


def untrusted(source: str, readers: Iterable[str] | None = None) -> Label:
    return Label(sources=frozenset({source}), trust=Trust.UNTRUSTED,
                 readers=frozenset(readers) if readers is not None else None)


def join_all(labels: Iterable[Label]) -> Label:
    result = TRUSTED
    for label in labels:
        result = result.join(label)
    return result


class Labelled(BaseModel, Generic[T]):
    """A value with its label; `derive` makes a new value whose label joins its inputs'."""

    model_config = ConfigDict(frozen=True)

    value: T
    label: Label = TRUSTED

    def derive(self, value: T, *others: Labelled) -> Labelled[T]:
        return Labelled(value=value, label=join_all([self.label, *(o.label for o in others)]))
