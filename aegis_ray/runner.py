"""The main job, engine side: which models answer a run, and one answer through the gateway.

`plan_models` decides the model chain before anything starts (so a bad model name or a missing key
fails in milliseconds with exit code 2, not after a cluster boots); `answer_task` sends the task
through whatever gateway it is given (in-process or over Ray actors).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

from aegis_ray.config import Settings
from aegis_ray.errors import AegisError, ConfigError
from aegis_ray.model_ref import ModelRef, as_model_ref
from aegis_ray.providers.endpoint_config import EndpointConfig, resolve_endpoint
from aegis_ray.providers.gateway import Gateway
from aegis_ray.types import (
    Answer,
    Completion,
    Message,
    ModelRequest,
    RunResult,
    RunSpec,
    RunState,
    RunStatus,
    Step,
    Usage,
    new_id,
)

if TYPE_CHECKING:
    from aegis_ray.store import RunRecord, Store

SIMULATED_DEFAULT_MODEL = "sim:sim-honest"
SIMULATED_CODER_MODEL = "sim:sim-coder"
EXIT_CODES: dict[RunStatus, int] = {RunStatus.SUCCEEDED: 0, RunStatus.ABSTAINED: 3, RunStatus.AWAITING_APPROVAL: 4,
                                    RunStatus.CANCELLED: 130}
"""Exit code by final status (4: parked, awaiting approval; 130: cancelled, as after Ctrl-C); every
other status is a failed run (1)."""
DEFAULT_SYSTEM_PROMPT = (
    "You are Aegis, a careful assistant. Answer concisely. If you do not know, say you don't know "
    "rather than guessing."
)


class ModelPlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    chain: tuple[ModelRef, ...]
    needs_simulator: bool

    @property
    def simulated(self) -> bool:
        return any(ref.simulated for ref in self.chain)


def plan_models(settings: Settings, model: ModelRef | str | None = None, fallbacks: Sequence[ModelRef | str] = (),
                simulated_default: str = SIMULATED_DEFAULT_MODEL) -> ModelPlan:
    """The fallback chain: `model` and its `fallbacks`, else the configured ones, else the simulator.
    A model whose key is missing fails here, before anything starts."""
    if model:
        chain = [model, *fallbacks]
    elif settings.model:
        chain = [settings.model, *settings.fallback_models]
    elif settings.configured_providers():
        providers = ", ".join(settings.configured_providers())
        raise ConfigError(f"a key is configured for {providers} but no model is chosen",
                          hint="pass --model provider:name (e.g. openai:gpt-4o-mini) or set AEGIS_MODEL")
    else:
        chain = [simulated_default]
    refs = tuple(map(as_model_ref, chain))
    for ref in refs:
        if not ref.simulated:
            resolve_endpoint(settings, ref)  # fails now, clearly, if its key is missing
    return ModelPlan(chain=refs, needs_simulator=any(r.simulated for r in refs) and not settings.sim_url)


def endpoint_configurer(settings: Settings, sim_url: str | None) -> Callable[[ModelRef], EndpointConfig]:
    return lambda ref: resolve_endpoint(settings, ref, sim_url)


async def answer_task(gateway: Gateway, spec: RunSpec, run_id: str | None = None) -> RunResult:
    """One model answer to the task, with what it cost, under `run_id` (a new one by default). (The
    agent loop builds on this.)"""
    started = time.perf_counter()
    request = ModelRequest(messages=(Message.system(spec.system_prompt or DEFAULT_SYSTEM_PROMPT),
                                     Message.user(spec.task)))
    completion = await gateway.complete(request)
    return RunResult(
        run_id=run_id or new_id("run"), task=spec.task, status=RunStatus.SUCCEEDED,
        answer=Answer(text=completion.text),
        model=completion.model, simulated=completion.simulated, usage=completion.usage,
        cost_usd=completion.cost_usd, latency_s=time.perf_counter() - started,
    )


# --- the store's record of a single-answer run -------------------------------------------------

RunKind = Literal["answer", "verified", "session"]


async def record_result(store: Store, spec: RunSpec, result: RunResult) -> None:
    """Record a finished single-answer run (`answer_task`, verified or not) under `result.run_id`, so
    the id it printed can be looked up (`aegis runs`, `GET /api/runs/{id}`): its spec, a step for the
    answer, one for the verification when the answer carries verdicts or abstained, and its final
    status (succeeded, abstained, failed or cancelled), in one transaction. Recording the same run twice is harmless."""
    answer = result.answer
    state = RunState(run_id=result.run_id, spec=spec, status=result.status, answer=answer, usage=result.usage,
                     cost_usd=result.cost_usd or 0.0, elapsed_s=result.latency_s, model=result.model,
                     simulated=result.simulated,
                     messages=[Message.system(spec.system_prompt or DEFAULT_SYSTEM_PROMPT), Message.user(spec.task)])
    steps: list[tuple[str, str, Completion | None]] = []  # (the loop's state name, detail, completion)
    if answer.text or result.status not in (RunStatus.FAILED, RunStatus.CANCELLED):
        completion = Completion(model=result.model, response_model=result.model, text=answer.text,
                                usage=result.usage, cost_usd=result.cost_usd, latency_s=result.latency_s,
                                simulated=result.simulated)
        steps.append(("act", f"answered by {result.model}", completion))
        state.messages.append(Message(role="assistant", content=answer.text))
        state.turns = 1
    if answer.verdicts or result.status is RunStatus.ABSTAINED:
        tally = Counter(v.status for v in answer.verdicts)
        detail = ", ".join(f"{n} {status}" for status, n in tally.items()) or "no claim checked"
        steps.append(("verify", f"{detail}; {'abstained' if answer.abstained else 'kept'}", None))
    final = {RunStatus.SUCCEEDED: "stop", RunStatus.ABSTAINED: "abstained",
             RunStatus.CANCELLED: "cancelled"}.get(result.status, "failed")
    steps.append((final, answer.reason or result.status.value, None))
    state.steps = [Step(index=i, state=name, detail=detail, completion=completion)
                   for i, (name, detail, completion) in enumerate(steps)]
    state.state = final
    await store.record_finished_run(state)


async def answer_recorded(gateway: Gateway, spec: RunSpec, store: Store, run_id: str | None = None,
                          then: Callable[[RunResult], Awaitable[RunResult]] | None = None) -> RunResult:
    """`answer_task` (followed by `then`, a verification say), recorded in `store` under `run_id` (a
    new one by default); a run that fails (with the error as its reason) or is cancelled (Ctrl-C, a
    client gone) is recorded too, then re-raised. Pass `run_id` to know it when the run is cancelled."""
    started = time.perf_counter()
    run_id = run_id or new_id("run")
    try:
        result = await answer_task(gateway, spec, run_id)
        if then is not None:
            result = await then(result)
    except (AegisError, asyncio.CancelledError) as error:
        cancelled = isinstance(error, asyncio.CancelledError)
        model = gateway.chain[0]
        ended = RunResult(run_id=run_id, task=spec.task,
                          status=RunStatus.CANCELLED if cancelled else RunStatus.FAILED,
                          answer=Answer(text="", reason="cancelled by the user" if cancelled else str(error)),
                          model=model.name, simulated=model.simulated, usage=Usage(), cost_usd=None,
                          latency_s=time.perf_counter() - started)
        await record_result(store, spec, ended)
        raise
    await record_result(store, spec, result)
    return result


def run_kind(record: RunRecord) -> RunKind:
    """What ran: an agent `session` (it has a session spec), a `verified` answer (a verify step, no
    session), or a plain `answer`."""
    if record.session is not None:
        return "session"
    steps = record.state.steps if record.state else []
    return "verified" if any(s.state == "verify" for s in steps) else "answer"
