"""What every office tool module shares: the empty argument model and looking an item up."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from aegis_ray.errors import ToolError
from aegis_ray.tools.base import ToolArgs

T = TypeVar("T")


class NoArgs(ToolArgs):
    pass


def find(items: Iterable[T], key: str, value: str, what: str) -> T:
    """The item whose `key` equals `value` (case-insensitive), or a `ToolError` the model can read."""
    for item in items:
        if str(getattr(item, key)).casefold() == value.strip().casefold():
            return item
    raise ToolError(f"no {what} {value!r}")


def matches(query: str, *texts: str) -> bool:
    """Every word of `query` occurs in one of `texts` (case-insensitive)."""
    haystack = " ".join(texts).casefold()
    return all(word in haystack for word in query.casefold().split())
