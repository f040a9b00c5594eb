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

from typing import TYPE_CHECKING

from aegis_ray.lazy import lazy_exports

if TYPE_CHECKING:
    from aegis_ray.security.dlp import scrub_logs
    from aegis_ray.security.redteam.runner import report_table
    from aegis_ray.security.redteam.simulated import run_red_team

__all__ = ["report_table", "run_red_team", "scrub_logs"]

# Imported on first use: the red team pulls the agent loop and the guard, which import this
# package themselves (a cycle), and which a process that only labels taint must not pay for.
__getattr__ = lazy_exports(__name__, {"scrub_logs": "dlp", "report_table": "redteam.runner",
                                      "run_red_team": "redteam.simulated"})
