"""What an operator is shown of each model in use: its SLOs, its drift, its pin (`/api/health`,
`aegis status`, the dashboard's tile)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Mapping
from typing import Protocol

from pydantic import BaseModel

from aegis_ray.config import SloSettings
from aegis_ray.control.drift import DriftReport, OutcomeLog, evaluate_drift
from aegis_ray.control.slo import SloReport, evaluate_slo
from aegis_ray.model_ref import as_model_ref
from aegis_ray.providers.window import CallWindow, combined


class Windowed(Protocol):
    """An endpoint that keeps its calls by time (`ModelEndpoint`, `ActorEndpoint`)."""

    def window(self) -> Awaitable[CallWindow]: ...


class ModelWatch(BaseModel):
    model: str
    version: str | None
    slo: SloReport
    drift: DriftReport


def watch_model(model: str, window: CallWindow, settings: SloSettings, outcomes: OutcomeLog | None = None,
                now: float | None = None) -> ModelWatch:
    now = time.time() if now is None else now
    seen = combined(window, outcomes.window(model)) if outcomes is not None else window
    return ModelWatch(model=model, version=as_model_ref(model).version,
                      slo=evaluate_slo(model, window, settings, now), drift=evaluate_drift(model, seen, settings.drift,
                                                                                           now))


async def watch(endpoints: Mapping[object, object], settings: SloSettings,
                outcomes: OutcomeLog | None = None) -> list[ModelWatch]:
    """Every endpoint of `endpoints` (by model) that keeps a window; one that cannot be read is left out."""
    found = []
    for model, endpoint in endpoints.items():
        window = getattr(endpoint, "window", None)
        if window is None:
            continue
        try:
            measured = await window()
        except Exception:  # an endpoint whose actor is restarting: the next look sees it again
            continue
        found.append(watch_model(str(model), measured, settings, outcomes))
    return found
