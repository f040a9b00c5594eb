"""What the HTTP routes do, apart from HTTP: answers, checks, the queue, runs, health, the kill switch.

The kill switch lives in the store, so it survives restarts and is shared by every replica; it
fails closed: when the store cannot be read, the service refuses work rather than assume. Refusals
are typed Aegis errors (`ServiceUnavailableError`, `NotFoundError`); `api.py` maps them to HTTP.

Model calls made for a tenant (`run`, `stream`, `verified_answer`, `verify`, `supervise`,
`orchestrate`, `team`) are within the cost governor's limits for that tenant: the replica's own
calls through `gate`, the calls of its `VerifierPool` through the pool's view for the tenant
(`VerifierPool.for_tenant`), and those of plan steps and role agents, made in other processes, with
the replica's `Governor` and the tenant handed to them; a refused call raises
`BudgetExhaustedError` (HTTP 402) and is never sent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from functools import cached_property

import ray

from actors.orchestrator import orchestrate
from actors.registry import ActorEndpoint
from actors.team import run_team
from actors.verifier_actor import VerifierPool
from aegis_ray.checks import run_checks
from aegis_ray.config import Settings
from aegis_ray.control import SwitchState, read_switch, set_switch
from aegis_ray.control.budget import Governor, SpendGate, budget_report
from aegis_ray.control.canary import canary_router
from aegis_ray.control.drift import OutcomeLog
from aegis_ray.control.watch import watch
from aegis_ray.errors import NotFoundError, ServiceUnavailableError
from aegis_ray.evals.catalog import EvalSummary, find_log, list_logs
from aegis_ray.evals.log import EvalLog
from aegis_ray.factory import FactoryJob, job_payload
from aegis_ray.model_ref import ModelLike
from aegis_ray.plan.patterns import SynthesisedOrchestration, synthesised
from aegis_ray.plan.supervise import Supervision, critic_model, supervise
from aegis_ray.plan.team import TeamAnswer, team_judge, team_roles
from aegis_ray.profiles import get_profile, profile_dirs
from aegis_ray.providers import EndpointCache, Gateway
from aegis_ray.runner import answer_recorded, endpoint_configurer, plan_models, run_kind
from aegis_ray.store import RunRecord, Store, open_store
from aegis_ray.telemetry import configure_tracing
from aegis_ray.types import (
    Completion,
    Message,
    ModelRequest,
    RunResult,
    RunSpec,
    StreamEvent,
)
from aegis_ray.verify import LAYERS, Panel, Verification, VerificationPolicy, plan_panel
from aegis_ray.verify import verify as run_policy
from serve_app.auth import Principal
from serve_app.models import (
    VERIFIED_MODE,
    ApprovalRecord,
    CheckResult,
    EnqueueResponse,
    Frontier,
    HealthResponse,
    OrchestrateRequest,
    RunDetail,
    RunSummary,
    ScoreItem,
    SuperviseRequest,
    TeamRequest,
    VerifyRequest,
    VerifyResponse,
)
from serve_app.sessions import SessionHub, run_steps


class AegisService:
    def __init__(self, settings: Settings, sim_url: str | None) -> None:
        configure_tracing(settings.telemetry)  # this replica's exporter; the actors it calls get it with each call
        self.settings = settings
        self.chain = plan_models(settings).chain
        self.governor = Governor.of(settings)  # None: no limit is configured, nothing to gate
        self._configure = self.configure = endpoint_configurer(settings, sim_url)
        self._endpoints = EndpointCache(lambda model: ActorEndpoint(self._configure(model)))
        self._store: Store | None = None
        self._verifiers: VerifierPool | None = None
        self.sessions = SessionHub(self)
        # canary routes (None when none is configured: nothing on the hot path); verified answers' outcomes
        # feed drift and the canaries
        self.canary = canary_router(settings.canary, self.store)
        self.outcomes = OutcomeLog(listeners=(self.canary.record_outcome,) if self.canary else ())

    async def store(self) -> Store:
        if self._store is None:
            self._store = await open_store(self.settings.database_dsn, self.settings.home)
        return self._store

    async def kill_switch(self) -> str:
        return (await read_switch(await self.store())).value

    async def ensure_running(self) -> None:
        """Refuse work while stopped, and when the switch cannot be read (fail closed)."""
        try:
            state = await self.kill_switch()
        except Exception as exc:
            raise ServiceUnavailableError(f"the store cannot be read, so the service refuses work: {exc}") from exc
        if state == "stopped":
            raise ServiceUnavailableError("the service is stopped (kill switch); POST /api/control/resume to resume")

    async def set_kill_switch(self, state: str, actor: str) -> str:
        return (await set_switch(await self.store(), SwitchState(state), actor=actor)).value

    def gateway(self, model: ModelLike | None) -> Gateway:
        return Gateway(self._endpoints, plan_models(self.settings, model).chain if model else self.chain,
                       router=self.canary)

    async def run(self, task: str, model: ModelLike | None, tenant: str | None = None) -> RunResult:
        """One answer, recorded in the store under the run id it returns (a failed one too, with why),
        as `tenant`'s run."""
        await self.ensure_running()
        spec = RunSpec(task=task, model=model, tenant=tenant)
        return await answer_recorded(self.gateway(spec.model).gated(await self.gate(tenant)), spec,
                                     await self.store())

    async def gate(self, tenant: str | None) -> SpendGate | None:
        """The cost governor's gate for `tenant`'s calls (None: no limit applies to them)."""
        return self.governor.gate(await self.store(), tenant) if self.governor is not None else None

    async def stream(self, messages: tuple[Message, ...], model: str | None,
                     tenant: str | None = None) -> AsyncIterator[StreamEvent]:
        """Stream an answer for `tenant`. Callers check `ensure_running` first: a streamed HTTP
        response has already begun (200) by the time this generator runs, too late to refuse with
        503 (or 402: `started` awaits the first event, where a refused call is raised)."""
        async for event in self.gateway(model).gated(await self.gate(tenant)).stream(ModelRequest(messages=messages)):
            yield event

    @staticmethod
    async def started(events: AsyncIterator[StreamEvent]) -> AsyncIterator[StreamEvent]:
        """`events` begun: its first event is awaited now (so a refusal is raised before an HTTP
        response starts), then the stream, that event first."""
        first = await anext(events)

        async def replay() -> AsyncIterator[StreamEvent]:
            yield first
            async for event in events:
                yield event

        return replay()

    @cached_property
    def panel(self) -> Panel:
        """Judge and voters for the service's author; decided at first use, so a service without
        verification settings still serves plain answers (and says what is missing when asked)."""
        return plan_panel(self.settings, self.chain[0])

    def verifiers(self) -> VerifierPool:
        """This replica's VerifierPool, started on first use (a replica that never verifies pays nothing)."""
        if self._verifiers is None:
            models = (*self.chain, *self.panel.models)
            self._verifiers = VerifierPool({m.name: self._configure(m) for m in dict.fromkeys(models)},
                                           self.settings.verification.pool_size, self.governor)
        return self._verifiers

    async def verify(self, request: VerifyRequest, tenant: str | None = None) -> VerifyResponse:
        outcomes = run_checks(tuple(request.checks), request.answer)
        passed = all(o.passed for o in outcomes)
        checked = None
        if request.question is not None:
            await self.ensure_running()
            policy = self.policy(request.layers, request.mode)
            author = request.author or self.chain[0]
            checked = await run_policy(policy, request.question, self.verifiers().for_tenant(tenant), author,
                                       answer=request.answer, checks=tuple(request.checks))
            await self.outcomes.record_outcome(str(author), abstained=checked.answer.abstained)
            passed = passed and not checked.answer.abstained
        return VerifyResponse(passed=passed, results=[CheckResult(**o.model_dump()) for o in outcomes],
                              verification=checked)

    def policy(self, layers: Sequence[str] = ("claims",), mode: str = "repair") -> VerificationPolicy:
        """`layers` by name; the claims layer in `mode` (detect: the answer as given; repair: stripped)."""
        chosen = tuple(LAYERS[name](mode=mode) if name == "claims" else LAYERS[name]() for name in layers)
        return VerificationPolicy(layers=chosen, judge=self.panel.judge, voters=self.panel.voters,
                                  calibration=self.settings.verification.calibration)

    async def verified_answer(self, messages: tuple[Message, ...], tenant: str | None = None
                              ) -> tuple[Completion, Verification]:
        """The `aegis-verified` pipeline for `tenant`: answer, then verify claim by claim in `detect`
        mode (the answer as given: one unsupported claim rejects it); the caller reports an
        abstention as such."""
        gateway = self.gateway(None).gated(await self.gate(tenant))
        completion = await gateway.complete(ModelRequest(messages=messages))
        question = next((m.content for m in reversed(messages) if m.role == "user"), "")
        checked = await run_policy(self.policy(mode=VERIFIED_MODE), question, self.verifiers().for_tenant(tenant),
                                   completion.model, answer=completion.text)
        await self.outcomes.record_outcome(completion.model, abstained=checked.answer.abstained)
        return completion, checked

    async def orchestrate(self, request: OrchestrateRequest, tenant: str | None = None) -> SynthesisedOrchestration:
        """A plan for `tenant`: the planning and the synthesis through this replica's gate, each step's
        call (a Ray task, anywhere on the cluster) within the same limits (`Governor`) for `tenant`."""
        await self.ensure_running()
        gateway = self.gateway(request.model).gated(await self.gate(tenant))
        planned = await orchestrate(request.goal, gateway, {m.name: self._configure(m) for m in gateway.chain},
                                    self.settings.database_dsn, str(self.settings.home), request.retries,
                                    governor=self.governor, tenant=tenant)
        return await synthesised(gateway, request.goal, planned)

    def system_prompt(self, profile: str | None) -> str | None:
        """An agent profile's system prompt (a `BadInputError` naming the profiles there are)."""
        return get_profile(profile, profile_dirs(self.settings.home)).system_prompt if profile else None

    async def supervise(self, request: SuperviseRequest, tenant: str | None = None) -> Supervision:
        await self.ensure_running()
        gate = await self.gate(tenant)
        worker = self.gateway(request.model).gated(gate)
        critic = self.gateway(critic_model(self.settings, worker.chain[0], request.critic)).gated(gate)
        return await supervise(worker, critic, request.task, self.settings, gate=request.gate,
                               checks=request.checks, rounds=request.rounds,
                               system_prompt=self.system_prompt(request.profile))

    async def team(self, request: TeamRequest, tenant: str | None = None) -> TeamAnswer:
        """A team for `tenant`: its role agents' and judge's calls within `tenant`'s limits."""
        await self.ensure_running()
        roles = team_roles(self.settings, request.roles, request.model)
        judge = team_judge(self.settings, request.judge, roles)
        models = dict.fromkeys((*(m for _, chain in roles for m in chain), judge))
        return await run_team(request.task, roles, (judge,), {m.name: self._configure(m) for m in models},
                              request.rounds, system_prompt=self.system_prompt(request.profile),
                              governor=self.governor, tenant=tenant)

    async def enqueue(self, tasks: list[str], model: str | None, tenant: str | None = None) -> EnqueueResponse:
        await self.ensure_running()
        chain = self.gateway(model).chain
        jobs = [FactoryJob(task=t, model=model) for t in tasks]
        added = await (await self.store()).enqueue([(j.job_id, job_payload(j, chain, tenant)) for j in jobs])
        return EnqueueResponse(job_ids=[j.job_id for j in jobs], added=added)

    async def evals(self, limit: int, scope: str | None = None) -> list[EvalSummary]:
        """The newest eval logs in the eval log directory (`scope`'s only, if given; reading files:
        off the event loop)."""
        return await asyncio.to_thread(list_logs, self.settings.evals_dir, limit, scope)

    async def eval_log(self, eval_id: str, scope: str | None = None) -> EvalLog:
        return await asyncio.to_thread(find_log, self.settings.evals_dir, eval_id, scope)

    async def runs(self, limit: int, scope: str | None = None) -> list[RunSummary]:
        records = await (await self.store()).list_runs(limit, tenant=scope)
        return [RunSummary(run_id=r.run_id, status=r.status.value, kind=run_kind(r), task=r.spec.task,
                           steps=r.step_count, updated=r.updated) for r in records]

    async def owned_run(self, run_id: str, scope: str | None) -> RunRecord:
        """The run, if it exists and is `scope`'s (any tenant's for None); another tenant's run is
        not found, so run ids do not leak across tenants."""
        record = await (await self.store()).load_run(run_id)
        if record is None or (scope is not None and record.tenant != scope):
            raise NotFoundError(f"no run {run_id!r}", hint="GET /api/runs lists the recent runs")
        return record

    async def decide(self, run_id: str, approved: bool, principal: Principal) -> int:
        """Decide the run's pending approvals (its tenant's caller, or an admin); audited."""
        await self.owned_run(run_id, principal.scope)
        store = await self.store()
        decided = await store.decide_approval(run_id, approved=approved)
        await store.audit(principal.actor, "approval.decide", {"run_id": run_id, "approved": approved,
                                                                "requests": decided}, tenant=principal.tenant)
        return decided

    async def run_detail(self, run_id: str, scope: str | None = None) -> RunDetail:
        store = await self.store()
        record = await self.owned_run(run_id, scope)
        steps = await run_steps(store, record)
        state = record.state
        return RunDetail(
            run_id=run_id, kind=run_kind(record), status=record.status.value, task=record.spec.task,
            spec=record.spec.model_dump(mode="json"), model=state.model if state else None,
            simulated=state.simulated if state else False, usage=state.usage.model_dump() if state else {},
            cost_usd=state.cost_usd if state else 0.0, elapsed_s=state.elapsed_s if state else 0.0,
            updated=record.updated, answer=state.answer.model_dump(mode="json") if state and state.answer else None,
            steps=[s.model_dump(mode="json") for s in steps],
            approvals=[ApprovalRecord(**a) for a in await store.run_approvals(run_id)])

    async def health(self, scope: str | None = None) -> HealthResponse:
        budgets = []
        try:
            switch, store_state = await self.kill_switch(), "ok"
            budgets = await budget_report(await self.store(), self.settings.budgets, scope)
        except Exception as exc:
            switch, store_state = "unknown", f"error: {exc}"
        providers = []
        for endpoint in self._endpoints.endpoints.values():
            try:
                providers.append((await endpoint.stats()).model_dump(mode="json"))  # type: ignore[attr-defined]
            except Exception as exc:
                providers.append({"error": str(exc)})
        resources = ray.cluster_resources()
        cluster = {"nodes": len([n for n in ray.nodes() if n.get("Alive")]), "cpus": resources.get("CPU", 0)}
        status = "ok" if store_state == "ok" and switch == "running" else ("stopped" if switch == "stopped"
                                                                         else "degraded")
        return HealthResponse(status=status, store=store_state, kill_switch=switch, cluster=cluster,
                              providers=providers, chain=[m.name for m in self.chain], budgets=budgets,
                              models=await watch(self._endpoints.endpoints, self.settings.slo, self.outcomes),
                              canaries=self.canary.report() if self.canary else [])

    def frontier(self) -> Frontier:
        """Each trust and performance property with its latest measured value and where it came from
        (the benchmarks' results, read from `settings.results_dir`)."""
        results = self.settings.results_dir
        items = []
        for name, label, pick in [
            ("gateway_overhead", "gateway + ProviderActor overhead, ms at p50",
             lambda r: round(r["overhead_p50_ms"], 2)),
            ("sandbox_latency", "sandbox cold start added, ms", lambda r: round(r["added_ms"], 1)),
            ("factory_throughput", "factory jobs/s as a share of ideal, by concurrency",
             lambda r: {f"C={row['concurrency']}": round(row["factory_vs_ideal"], 2) for row in r["rows"]}),
            ("serve_throughput", "/api/run req/s vs a bare Serve deployment, by replicas",
             lambda r: {f"replicas={row['replicas']}": round(row["ratio"], 2) for row in r["rows"]}),
        ]:
            try:
                if results is None:
                    raise FileNotFoundError(name)
                value = pick(json.loads((results / f"{name}.json").read_text()))
            except FileNotFoundError:
                source = f"not measured yet: run benchmarks/{name}.py"
                items.append(ScoreItem(property=label, value=None, source=source))
            except (OSError, ValueError, KeyError, TypeError) as exc:  # an older or damaged results file
                source = f"unreadable results ({type(exc).__name__}): run benchmarks/{name}.py again"
                items.append(ScoreItem(property=label, value=None, source=source))
            else:
                items.append(ScoreItem(property=label, value=value, source=f"benchmarks/{name}.py"))
        return Frontier(items=items)

