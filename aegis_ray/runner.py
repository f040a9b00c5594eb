"""The main job, engine side: which models answer a run, and one answer through the gateway.

`plan_models` decides the model chain before anything starts (so a bad model name or a missing key
fails in milliseconds with exit code 2, not after a cluster boots); `answer_task` sends the task
through whatever gateway it is given (in-process or over Ray actors).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict

from aegis_ray.config import Settings
from aegis_ray.errors import ConfigError
from aegis_ray.providers.endpoint_config import EndpointConfig, resolve_endpoint
from aegis_ray.providers.gateway import Gateway
from aegis_ray.providers.routing import parse_model_ref
from aegis_ray.types import Answer, Message, ModelRequest, RunResult, RunSpec, RunStatus, new_id

SIMULATED_DEFAULT_MODEL = "sim:sim-honest"
SIMULATED_CODER_MODEL = "sim:sim-coder"
EXIT_CODES: dict[RunStatus, int] = {RunStatus.SUCCEEDED: 0, RunStatus.ABSTAINED: 3, RunStatus.AWAITING_APPROVAL: 4}
"""Exit code by final status (4: parked, awaiting approval); every other status is a failed run (1)."""
DEFAULT_SYSTEM_PROMPT = (
    "You are Aegis, a careful assistant. Answer concisely. If you do not know, say you don't know "
    "rather than guessing."
)


class ModelPlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    chain: tuple[str, ...]
    needs_simulator: bool

    @property
    def simulated(self) -> bool:
        return any(parse_model_ref(m).simulated for m in self.chain)


def plan_models(settings: Settings, spec: RunSpec, simulated_default: str = SIMULATED_DEFAULT_MODEL) -> ModelPlan:
    """The fallback chain for `spec`: its own model, else the configured one, else the simulator."""
    if spec.model:
        chain = [spec.model, *spec.fallback_models]
    elif settings.model:
        chain = [settings.model, *settings.fallback_models]
    elif settings.configured_providers():
        providers = ", ".join(settings.configured_providers())
        raise ConfigError(f"a key is configured for {providers} but no model is chosen",
                          hint="pass --model provider:name (e.g. openai:gpt-4o-mini) or set AEGIS_MODEL")
    else:
        chain = [simulated_default]
    refs = [parse_model_ref(m) for m in chain]
    for ref in refs:
        if not ref.simulated:
            resolve_endpoint(settings, ref)  # fails now, clearly, if its key is missing
    needs_simulator = any(r.simulated for r in refs) and not settings.sim_url
    return ModelPlan(chain=tuple(r.name for r in refs), needs_simulator=needs_simulator)


def endpoint_configurer(settings: Settings, sim_url: str | None) -> Callable[[str], EndpointConfig]:
    return lambda model: resolve_endpoint(settings, parse_model_ref(model), sim_url)


async def answer_task(gateway: Gateway, spec: RunSpec) -> RunResult:
    """One model answer to the task, with what it cost. (The agent loop builds on this.)"""
    started = time.perf_counter()
    request = ModelRequest(messages=(Message.system(spec.system_prompt or DEFAULT_SYSTEM_PROMPT),
                                     Message.user(spec.task)))
    completion = await gateway.complete(request)
    return RunResult(
        run_id=new_id("run"), task=spec.task, status=RunStatus.SUCCEEDED, answer=Answer(text=completion.text),
        model=completion.model, simulated=completion.simulated, usage=completion.usage,
        cost_usd=completion.cost_usd, latency_s=time.perf_counter() - started,
    )
