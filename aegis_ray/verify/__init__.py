"""Verification: one module per method, each a pure async function; deterministic checks first.

The public face, for the shells: a verification policy of layers (`LAYERS` by name, the ones a
user chooses in `CHOSEN_LAYERS`) and `verify`, which runs one (`policy`); the panel of models a
policy checks with (`panel`); risk calibration (`risk`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

# Each name is imported from its module on first use (PEP 562): every engine import of a module of
# this package (the quarantine's `verify.base`, a session's `verify.execution`) runs this file
# first, and `policy` and `risk` pull numpy and scipy, which those must not pay for; it also keeps
# this file out of import cycles.
_HOME = {"Panel": "panel", "plan_panel": "panel",
         "LabelledScore": "risk", "calibrate": "risk", "clopper_pearson_upper": "risk"}  # the rest: policy


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOME.get(name, 'policy')}"), name)
    globals()[name] = value
    return value
