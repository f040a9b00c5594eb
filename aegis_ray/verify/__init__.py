"""Verification: one module per method, each a pure async function; deterministic checks first.

The public face, for the shells: a verification policy of layers (`LAYERS` by name, the ones a
user chooses in `CHOSEN_LAYERS`) and `verify`, which runs one (`policy`); the panel of models a
policy checks with (`panel`); risk calibration (`risk`); the judges (`judges`: the `Judge`
protocol, `LLMJudge`, the offline `EvidenceJudge`, `RoutedJudge`); and the research API
(`research`: `verify_many` over items with their own corpora, AUROC, accept rates, risk at
coverage).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aegis_ray.lazy import lazy_exports

if TYPE_CHECKING:
    from aegis_ray.verify.base import Models
    from aegis_ray.verify.claims import Mode
    from aegis_ray.verify.judges.evidence import EvidenceJudge
    from aegis_ray.verify.judges.llm import LLMJudge
    from aegis_ray.verify.judges.protocol import Judge, Judgement
    from aegis_ray.verify.judges.routed import RoutedJudge
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
    from aegis_ray.verify.research import (
        Item,
        ItemPolicy,
        ItemResult,
        accept_rates,
        auroc,
        risk_at_coverage,
        risk_coverage,
        summary,
        verify_many,
    )
    from aegis_ray.verify.risk import LabelledScore, calibrate, clopper_pearson_upper

__all__ = [
    "CHOSEN_LAYERS",
    "LAYERS",
    "BestOfNLayer",
    "ClaimsLayer",
    "CoveLayer",
    "EnsembleLayer",
    "EntropyLayer",
    "EvidenceJudge",
    "Item",
    "ItemPolicy",
    "ItemResult",
    "Judge",
    "Judgement",
    "LLMJudge",
    "LabelledScore",
    "Layer",
    "Mode",
    "Models",
    "Panel",
    "RoutedJudge",
    "Verification",
    "VerificationPolicy",
    "accept_rates",
    "auroc",
    "calibrate",
    "clopper_pearson_upper",
    "plan_panel",
    "risk_at_coverage",
    "risk_coverage",
    "summary",
    "verify",
    "verify_many",
]

# Imported on first use: every engine import of a module of this package (the quarantine's
# `verify.base`, a session's `verify.execution`) runs this file first, and `policy` and `risk` pull
# numpy and scipy, which those must not pay for.
_ELSEWHERE = {"Panel": "panel", "plan_panel": "panel",
              "LabelledScore": "risk", "calibrate": "risk", "clopper_pearson_upper": "risk",
              "Mode": "claims", "Models": "base",
              "EvidenceJudge": "judges.evidence", "LLMJudge": "judges.llm", "Judge": "judges.protocol",
              "Judgement": "judges.protocol", "RoutedJudge": "judges.routed",
              **{name: "research" for name in ("Item", "ItemPolicy", "ItemResult", "accept_rates", "auroc",
                                               "risk_at_coverage", "risk_coverage", "summary", "verify_many")}}
__getattr__ = lazy_exports(__name__, {name: _ELSEWHERE.get(name, "policy") for name in __all__})
