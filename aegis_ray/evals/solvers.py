"""Solvers: how an eval turns a sample into the output its scorers judge, in a registry users
extend (`@solver("name")`).

A solver has two halves. `job` is the model call for one (sample, epoch): a `RunSpec` that a
factory job answers (`aegis_ray.runner.answer_task` through a gateway, on `FactoryWorker`s or in
this process), so the expensive part is durable, content-addressed and spread over the cluster.
`finish` turns the job's `RunResult` into the output; it may make more model calls through the
`Spending` it is given (over anything with the gateway's `complete`: a `Gateway`, or the cluster's
`VerifierPool`), which adds their cost to the sample's.

Built in: `answer` (the job's answer as it is), `verified` (the answer checked through a
`VerificationPolicy`, with the model that answered as the author and a panel that is never it; an
abstention is an empty output, and the verification's confidence goes to every score for AUROC and
risk at coverage), `session` (an agent session per sample, with tools in the sandbox, run to its
end by a factory worker: `aegis_ray.session_job`) and `orchestrate` (a DAG plan per sample, its
steps answered by the worker and their results synthesised: `aegis_ray.agent_jobs`).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, ValidationError

from aegis_ray.config import Settings
from aegis_ray.errors import BadInputError
from aegis_ray.evals.dataset import Sample
from aegis_ray.evals.errors import UnknownNameError
from aegis_ray.evals.task import SolverSpec
from aegis_ray.model_ref import ModelName, ModelRef, as_model_ref
from aegis_ray.types import Budget, Completion, Frozen, ModelRequest, RunResult, RunSpec

if TYPE_CHECKING:
    from aegis_ray.memory.retrieval import HybridIndex
    from aegis_ray.verify.base import Models
    from aegis_ray.verify.policy import VerificationPolicy


class Spending:
    """`Models` that adds up what every call through it cost: the runner hands one to each sample's
    `finish` and model-graded scorers, so the sample's cost is its job's and theirs."""

    def __init__(self, models: Models | None) -> None:
        self.models, self.cost_usd = models, 0.0

    async def complete(self, request: ModelRequest, models: Sequence[str] | None = None) -> Completion:
        if self.models is None:
            raise BadInputError("this eval makes model calls after the answer (a verified solver, a model-graded "
                                "scorer), and no models were given to make them", hint="pass models= to run_eval")
        completion = await self.models.complete(request, models)
        self.cost_usd += completion.cost_usd or 0.0
        return completion


class Solved(Frozen):
    """What `finish` made of a job's answer."""

    output: str = Field(description="What the scorers judge.")
    seconds: float = Field(default=0.0, ge=0, description="How long `finish` took.")
    confidence: float | None = Field(default=None, ge=0, le=1)
    abstained: bool = False
    note: str | None = Field(default=None, description="Why it abstained, if it did.")


@dataclass(frozen=True)
class SolverContext:
    """What a solver is built for: the eval's model chain (first choice first), its system prompt,
    and the settings (for a verification panel)."""

    chain: tuple[ModelRef, ...]
    system_prompt: str | None
    settings: Settings


class Solver:
    """The `answer` solver, and the base of the others."""

    metrics: tuple[str, ...] = ()
    """Metrics its outputs support beyond the scorers' own (those of the confidence it gives)."""

    def __init__(self, context: SolverContext) -> None:
        self.context = context

    @property
    def models(self) -> tuple[ModelRef, ...]:
        """Every model its job or `finish` may call: endpoints to configure before the run."""
        return self.context.chain

    @property
    def calls_models(self) -> bool:
        """Whether `finish` makes model calls (then its outcome is kept durably, and it needs `Models`)."""
        return False

    @property
    def fingerprint(self) -> str:
        """What `finish` depends on, beyond the job: part of the key its durable outcome is kept under."""
        return type(self).__name__

    def job(self, sample: Sample) -> RunSpec:
        chain = self.context.chain
        return RunSpec(task=sample.input, model=chain[0], fallback_models=chain[1:],
                       system_prompt=self.context.system_prompt)

    def job_payload(self, sample: Sample) -> dict[str, Any]:
        """What the factory job carries besides its spec (a session solver's session); part of its id."""
        return {}

    async def finish(self, sample: Sample, result: RunResult, models: Spending) -> Solved:
        """The output; further model calls go through `models`, which counts their cost."""
        return Solved(output=result.answer.text)


SolverFactory = Callable[..., Solver]
"""`(context, **options) -> Solver`."""


@dataclass(frozen=True)
class RegisteredSolver:
    name: str
    factory: SolverFactory


SOLVERS: dict[str, RegisteredSolver] = {}


def solver(name: str, *, replace: bool = False) -> Callable[[SolverFactory], SolverFactory]:
    """Register a solver factory under `name`; a taken name is refused unless `replace`."""
    def register(factory: SolverFactory) -> SolverFactory:
        if name in SOLVERS and not replace:
            raise BadInputError(f"a solver named {name!r} is already registered", hint="pass replace=True")
        SOLVERS[name] = RegisteredSolver(name, factory)
        return factory
    return register


def build_solver(spec: SolverSpec, context: SolverContext) -> Solver:
    """The solver `spec` names, built for `context`; an unknown name or a bad option says which."""
    if spec.name not in SOLVERS:
        raise UnknownNameError(f"no solver named {spec.name!r}", hint=f"known solvers: {', '.join(sorted(SOLVERS))}")
    try:
        return SOLVERS[spec.name].factory(context, **spec.options)
    except TypeError as exc:
        raise BadInputError(f"bad options for solver {spec.name!r}: {exc}") from exc
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(map(str, error["loc"])) or "(root)"
        raise BadInputError(f"solver {spec.name!r}: option {field!r}: {error['msg']}",
                            hint="see aegis_ray/evals/solvers.py for the solver's options") from exc


@solver("answer")
def answer(context: SolverContext) -> Solver:
    """One gateway call; the answer is the output."""
    return Solver(context)


# --- verified --------------------------------------------------------------------------------


class VerifiedOptions(Frozen):
    """The `verified` solver's options (`solver = { name = "verified", options = { ... } }`): the
    policy's layers (default: claim by claim, as `aegis run --verify`), and who checks (default:
    `[verification]` settings, else simulated verifiers for a simulated author)."""

    layers: tuple[dict[str, Any], ...] = ({"method": "claims"},)
    judge: ModelName | None = None
    voters: tuple[ModelName, ...] = ()
    equivalence: Literal["normalised", "embedding", "entailment"] = "entailment"
    calibration: Path | None = None


@cache
def _corpus_index(directory: str) -> HybridIndex:
    """A sample's corpus as lexical evidence for the claims layer, indexed once per directory."""
    from aegis_ray.memory.corpus import load_corpus
    from aegis_ray.memory.retrieval import HybridIndex

    return HybridIndex(load_corpus(Path(directory)))


class VerifiedSolver(Solver):
    metrics = ("auroc", "risk_at_coverage")

    def __init__(self, context: SolverContext, policy: VerificationPolicy, panel: tuple[ModelRef, ...]) -> None:
        super().__init__(context)
        self.policy, self._panel = policy, panel

    @property
    def models(self) -> tuple[ModelRef, ...]:
        return tuple(dict.fromkeys((*self.context.chain, *self._panel)))

    @property
    def calls_models(self) -> bool:
        return True

    @property
    def fingerprint(self) -> str:
        return "verified:" + hashlib.sha256(self.policy.model_dump_json().encode()).hexdigest()[:16]

    async def finish(self, sample: Sample, result: RunResult, models: Spending) -> Solved:
        from aegis_ray.verify.policy import verify

        started = time.perf_counter()
        checked = await verify(self.policy, sample.input, models, as_model_ref(result.model), answer=result.answer.text,
                               index=_corpus_index(sample.corpus) if sample.corpus else None)
        verdict = checked.answer
        return Solved(output="" if verdict.abstained else verdict.text, seconds=time.perf_counter() - started,
                      confidence=verdict.confidence, abstained=verdict.abstained, note=verdict.reason)


@solver("verified")
def verified(context: SolverContext, **options: Any) -> Solver:
    """The answer through a `VerificationPolicy` (see `VerifiedOptions`); the panel is planned now,
    so a judge that is the author, or a missing key, fails before anything runs."""
    from pydantic import TypeAdapter

    from aegis_ray.verify.panel import plan_panel
    from aegis_ray.verify.policy import Layer, VerificationPolicy

    chosen = VerifiedOptions.model_validate(options)
    layers = TypeAdapter(tuple[Layer, ...]).validate_python(chosen.layers)
    panel = plan_panel(context.settings, context.chain[0], chosen.judge, chosen.voters)
    policy = VerificationPolicy(layers=layers, judge=panel.judge, voters=panel.voters,
                                equivalence=chosen.equivalence,
                                calibration=chosen.calibration or context.settings.verification.calibration)
    return VerifiedSolver(context, policy, panel.models)


# --- session --------------------------------------------------------------------------------


class SessionOptions(Frozen):
    """The `session` solver's options: an agent session per sample, with tools in the sandbox."""

    max_steps: int = Field(default=12, ge=1, le=200)
    approval: Literal["auto", "deny"] = Field(default="auto", description=(
        "Writing and executing tools: run them (in the sandbox, in a throwaway workspace) or refuse."))
    tools: tuple[str, ...] | None = Field(default=None, description="fnmatch patterns of the tools offered.")
    files: str = Field(default="files", description="The sample's metadata field holding {path: text} to seed "
                                                    "the workspace with.")


class SessionSolver(Solver):
    """Each sample is an agent session run to its end by a factory worker (`aegis_ray.session_job`);
    the output is its final answer, the cost and latency the whole session's."""

    def __init__(self, context: SolverContext, options: SessionOptions) -> None:
        super().__init__(context)
        self.options = options

    @property
    def fingerprint(self) -> str:
        return "session:" + hashlib.sha256(self.options.model_dump_json().encode()).hexdigest()[:16]

    def job(self, sample: Sample) -> RunSpec:
        return super().job(sample).model_copy(update={"budget": Budget(max_steps=self.options.max_steps)})

    def job_payload(self, sample: Sample) -> dict[str, Any]:
        from aegis_ray.session import session_from_settings
        from aegis_ray.session_job import SessionJob

        files = sample.metadata.get(self.options.files) or {}
        if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
            raise BadInputError(f"sample {sample.id!r}: metadata field {self.options.files!r} must map paths to text",
                                hint='e.g. "metadata": {"files": {"data.csv": "a,b\\n1,2\\n"}}')
        session = session_from_settings(self.context.settings, self.context.chain, Path("."), self.options.approval,
                                        "park", tools=self.options.tools)
        return {"session": SessionJob(session=session, files=files).model_dump(mode="json")}


@solver("session")
def session(context: SolverContext, **options: Any) -> Solver:
    """An agent session per sample (tools, sandbox, security layer, as `run --code`); see `SessionOptions`."""
    return SessionSolver(context, SessionOptions.model_validate(options))


# --- orchestrate ------------------------------------------------------------------------------


class OrchestrateSolver(Solver):
    """Each sample is a plan (`aegis_ray.agent_jobs.run_plan_job`): the first model plans the input
    as a DAG, a factory worker answers the steps as they become ready and the synthesis of their
    results (spotlighted as data) is the output; the cost is the plan's, steps' and synthesis's."""

    @property
    def fingerprint(self) -> str:
        return "orchestrate"

    def job_payload(self, sample: Sample) -> dict[str, Any]:
        return {"plan": {}}


@solver("orchestrate")
def orchestrate(context: SolverContext) -> Solver:
    """A DAG plan per sample, with a synthesis of its steps' results."""
    return OrchestrateSolver(context)


def job_key(spec: RunSpec, sample: Sample, epoch: int, extra: dict[str, Any] | None = None) -> str:
    """The factory job id of one (sample, epoch): a hash of what its answer depends on (the input,
    the model chain, the system prompt, and a session job's session and budget), the sample's id and
    the epoch. Scorers, metrics, limit and shuffle are not in it, so re-scoring an eval or widening
    its limit redoes no finished answer."""
    chain = [m.name for m in (spec.model, *spec.fallback_models) if m is not None]
    parts: list[Any] = [spec.task, chain, spec.system_prompt, sample.id, epoch]
    if extra:  # appended only when present: the ids of answer jobs stay what they were
        parts.append([extra, spec.budget.model_dump(mode="json")])
    content = json.dumps(parts, ensure_ascii=False, sort_keys=True)
    return "eval_" + hashlib.sha256(content.encode()).hexdigest()[:24]

