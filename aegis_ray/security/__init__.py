"""Zero-trust security: assume the model is compromised, and hold anyway.

Untrusted data carries provenance labels (`taint`), may never choose which side effects happen or
where data goes (`policy`, `egress`), is read only by a quarantined model that returns typed
values (`quarantine`), is marked and scanned before any model sees it (`spotlight`, `detector`),
and nothing secret leaves (`dlp`). One builder puts a set of tools under all of it (`guard`); the
red team measures it (`redteam`).

The public face, for the shells: masking secrets in logs (`scrub_logs`), and running the red team
and reporting it (`run_red_team`, `report_table`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aegis_ray.security.dlp import scrub_logs
    from aegis_ray.security.redteam.runner import report_table
    from aegis_ray.security.redteam.simulated import run_red_team

__all__ = ["report_table", "run_red_team", "scrub_logs"]

# Each name is imported from its module on first use (PEP 562): every import of a module of this
# package runs this file first, and the red team pulls the agent loop and the guard, which import
# this package themselves (a cycle) and which a process that only labels taint must not pay for.
_HOME = {"scrub_logs": "dlp", "report_table": "redteam.runner", "run_red_team": "redteam.simulated"}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    globals()[name] = value
    return value
