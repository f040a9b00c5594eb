"""Lazy public faces (PEP 562): a package's exported names, each imported from its module on first use.

A package's `__init__` runs before any of its modules is imported, so a face that imported its
names eagerly would make every light module of the package pay for the heavy ones (numpy, scipy,
the agent loop) and could close import cycles. (scientific-python's `lazy_loader` does this too;
one function is not worth a dependency.)
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` for `package`: `homes` maps each exported name to the module, relative
    to the package, that defines it; a name is imported once, then kept in the package."""
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{homes[name]}"), name)
        namespace[name] = value
        return value

    return __getattr__
