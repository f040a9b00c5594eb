"""Verification: one module per method, each a pure async function; deterministic checks first.

The public face, for the shells: a verification policy of layers (`LAYERS` by name, the ones a
user chooses in `CHOSEN_LAYERS`) and `verify`, which runs one (`policy`); the panel of models a
policy checks with (`panel`); risk calibration (`risk`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aegis_ray.lazy import lazy_exports

if TYPE_CHECKING:
    from aegis_ray.verify.panel import Panel, plan_panel
    from aegis_ray.verify.policy import (
        CHOSEN_LAYERS,
        LAYERS,
        BestOfNLayer,
        ClaimsLayer,
        CoveLayer,
        EnsembleLayer,
        EntropyLayer,
        Layer,
        Verification,
        VerificationPolicy,
        verify,
    )
    from aegis_ray.verify.risk import LabelledScore, calibrate, clopper_pearson_upper

__all__ = [
    "CHOSEN_LAYERS", "LAYERS", "BestOfNLayer", "ClaimsLayer", "CoveLayer", "EnsembleLayer", "EntropyLayer",
    "LabelledScore", "Layer", "Panel", "Verification", "VerificationPolicy", "calibrate", "clopper_pearson_upper",
    "plan_panel", "verify",
]

# Imported on first use: every engine import of a module of this package (the quarantine's
# `verify.base`, a session's `verify.execution`) runs this file first, and `policy` and `risk` pull
# numpy and scipy, which those must not pay for.
_ELSEWHERE = {"Panel": "panel", "plan_panel": "panel",
              "LabelledScore": "risk", "calibrate": "risk", "clopper_pearson_upper": "risk"}
__getattr__ = lazy_exports(__name__, {name: _ELSEWHERE.get(name, "policy") for name in __all__})
