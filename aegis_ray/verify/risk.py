"""Selective prediction with risk control: accept only above a threshold calibrated so that the
error rate among accepted answers is at most alpha, with probability at least 1 - delta.

Learn-then-Test (Angelopoulos et al., 2021) with fixed-sequence testing: candidate thresholds are
tested from the strictest down; at each, H0 "risk > alpha" is rejected when the binomial p-value
P(Binom(n_accepted, alpha) <= errors) is at most delta, and testing stops at the first threshold
that fails. The last rejected threshold has the largest coverage with the finite-sample guarantee.
The sequence is fixed before any label is read: the distinct calibration confidences, strictest
first, skipping those that admit too few examples for any test to pass (fewer than
ln(delta) / ln(1 - alpha), where even zero errors cannot reject), since testing those first would
stop the sequence at once. With no rejection the controller abstains on
everything: fail closed until calibrated. Calibrations persist as JSON. (scipy is imported by the
two functions that compute with it: loading a calibration, which every verified session does, does
not need it.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from pydantic import Field, ValidationError

from aegis_ray.errors import BadInputError
from aegis_ray.types import Frozen


class LabelledScore(Frozen):
    """One calibration example: a method's confidence, and whether its answer was right."""

    confidence: float = Field(ge=0, le=1)
    correct: bool


class Calibration(Frozen):
    alpha: float = Field(gt=0, lt=1, description="Target error rate among accepted answers.")
    delta: float = Field(gt=0, lt=1, description="Allowed probability that the target is missed.")
    threshold: float | None = Field(description="Accept at confidence >= threshold; None: abstain on everything.")
    examples: int = Field(ge=0)
    coverage: float = Field(ge=0, le=1, description="Share of calibration examples accepted.")
    empirical_risk: float | None = Field(default=None, description="Error rate among accepted calibration examples.")
    method: str = Field(default="", description="Which verification method's confidence this calibrates.")

    def accepts(self, confidence: float) -> bool:
        return self.threshold is not None and confidence >= self.threshold

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=2), encoding="utf-8")


def load_calibration(path: Path) -> Calibration | None:
    """The calibration saved at `path`, or None when there is none yet (the caller fails closed)."""
    if not path.exists():
        return None
    try:
        return Calibration.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        raise BadInputError(f"calibration file {path} is not valid: {exc.errors()[0]['msg']}",
                            hint="re-run `aegis calibrate`") from exc


def p_value(errors: int, accepted: int, alpha: float) -> float:
    """P(X <= errors) for X ~ Binom(accepted, alpha): small when the risk is surely below alpha."""
    from scipy.special import bdtr

    return float(bdtr(errors, accepted, alpha))


def calibrate(examples: Sequence[LabelledScore], alpha: float, delta: float = 0.1, method: str = "") -> Calibration:
    if not 0 < alpha < 1 or not 0 < delta < 1:
        raise BadInputError("alpha and delta must lie strictly between 0 and 1")
    if not examples:
        raise BadInputError("calibration needs at least one labelled example")
    ordered = sorted(examples, key=lambda e: e.confidence, reverse=True)
    smallest_testable = math.ceil(math.log(delta) / math.log(1 - alpha))
    threshold: float | None = None
    accepted = errors = 0
    chosen = (0, 0)
    i = 0
    while i < len(ordered):
        level = ordered[i].confidence
        while i < len(ordered) and ordered[i].confidence == level:  # a threshold admits every tie
            accepted += 1
            errors += not ordered[i].correct
            i += 1
        if accepted < smallest_testable:
            continue
        if p_value(errors, accepted, alpha) > delta:
            break
        threshold, chosen = level, (accepted, errors)
    risk = chosen[1] / chosen[0] if chosen[0] else None
    return Calibration(alpha=alpha, delta=delta, threshold=threshold, examples=len(ordered),
                       coverage=chosen[0] / len(ordered), empirical_risk=risk, method=method)


def clopper_pearson_upper(errors: int, trials: int, confidence: float) -> float:
    """The one-sided upper confidence bound on an error rate (for reporting, not for the choice)."""
    if trials == 0 or errors >= trials:
        return 1.0
    from scipy.special import betaincinv

    return float(betaincinv(errors + 1, trials - errors, confidence))

