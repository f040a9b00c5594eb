"""Tenants on the live Serve app: each key names a tenant; a tenant lists, reads and decides only its
own runs, jobs, approvals and evals, and another tenant's are 404 (not 403: ids do not leak); only an
admin key flips the kill switch or reads the audit log, where every decision and flip is recorded
and the hash chain verifies; a revoked key is refused."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from aegis_ray.cli.common import store_call
from aegis_ray.config import Settings
from aegis_ray.evals import run_eval
from aegis_ray.evals.log import write_log
from aegis_ray.types import RunSpec
from tests.helpers import tenant_clients

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).parents[2] / "examples" / "evals"


@pytest.fixture(scope="module")
def clients(service: tuple) -> Iterator[dict[str, httpx.Client]]:
    with tenant_clients(*service, ("acme", "globex"), timeout_s=60) as made:
        yield made


def test_runs_and_approvals_are_seen_and_decided_by_their_tenant_only(service: tuple,
                                                                        clients: dict[str, httpx.Client]) -> None:
    _, settings = service
    acme, globex, admin = clients["acme"], clients["globex"], clients["admin"]
    mine = acme.post("/api/run", json={"task": "What is the capital of Peru?"}).json()["run_id"]
    theirs = globex.post("/api/run", json={"task": "What is the capital of Chile?"}).json()["run_id"]
    assert {r["run_id"] for r in acme.get("/api/runs").json()} & {mine, theirs} == {mine}
    assert {r["run_id"] for r in globex.get("/api/runs").json()} & {mine, theirs} == {theirs}
    assert {r["run_id"] for r in admin.get("/api/runs").json()} >= {mine, theirs}
    assert acme.get(f"/api/runs/{mine}").json()["spec"]["tenant"] == "acme"
    hidden = acme.get(f"/api/runs/{theirs}")
    assert hidden.status_code == 404 and hidden.json()["error"] == "NotFoundError"
    assert hidden.json() == acme.get("/api/runs/run_doesnotexist").json() | {"detail": hidden.json()["detail"]}

    parked = "run_parked_acme"

    async def park(store):
        await store.create_run(parked, RunSpec(task="write a file", tenant="acme"))
        await store.request_approval(f"{parked}/0", parked, {"tool": "write_file"})

    store_call(settings, park)
    assert globex.post(f"/api/runs/{parked}/approvals", json={"approved": True}).status_code == 404
    assert acme.post(f"/api/runs/{parked}/approvals", json={"approved": False}).json()["decided"] == 1
    approvals = admin.get(f"/api/runs/{parked}").json()["approvals"]
    assert [a["approved"] for a in approvals] == [False]
    audit = admin.get("/api/audit", params={"verify": "true", "limit": 1000}).json()
    decisions = [e for e in audit["entries"] if e["action"] == "approval.decide" and e["detail"]["run_id"] == parked]
    assert [(d["actor"].split(":")[:2], d["tenant"]) for d in decisions] == [(["api", "acme"], "acme")]
    assert audit["verified"]["ok"]


def test_jobs_and_evals_are_kept_by_tenant(service: tuple, clients: dict[str, httpx.Client]) -> None:
    _, settings = service
    acme, globex, admin = clients["acme"], clients["globex"], clients["admin"]
    before = globex.get("/api/queue").json()["counts"]
    enqueued = acme.post("/api/enqueue", json={"tasks": ["What is the capital of Peru? (tenant test)"]}).json()
    assert enqueued["added"] == 1
    assert globex.get("/api/queue").json()["counts"] == before  # acme's job is not in globex's counts
    assert acme.get("/api/queue").json()["counts"]["queued"] >= 1

    results = asyncio.run(run_eval(EXAMPLES / "facts", model="sim:sim-honest", limit=2,
                                   settings=Settings(home=settings.home / "tenant-evals")))
    log = results.log.model_copy(update={"spec": results.log.spec.model_copy(update={"tenant": "acme"})})
    write_log(log, settings.evals_dir / f"tenant_{log.eval_id}.json")
    assert log.eval_id in {e["eval_id"] for e in acme.get("/api/evals").json()}
    assert log.eval_id not in {e["eval_id"] for e in globex.get("/api/evals").json()}
    assert log.eval_id in {e["eval_id"] for e in admin.get("/api/evals").json()}
    assert acme.get(f"/api/evals/{log.eval_id}").status_code == 200
    for path in (f"/api/evals/{log.eval_id}", f"/api/evals/{log.eval_id}/report"):
        assert globex.get(path).status_code == 404


def test_only_an_admin_flips_the_switch_or_reads_the_audit_and_a_revoked_key_is_refused(
        service: tuple, clients: dict[str, httpx.Client]) -> None:
    url, settings = service
    acme, admin = clients["acme"], clients["admin"]
    refused = acme.post("/api/control/stop")
    assert refused.status_code == 403 and refused.json()["error"] == "ForbiddenError"
    assert "admin" in refused.json()["hint"]
    assert acme.get("/api/audit").status_code == 403
    try:
        assert admin.post("/api/control/stop").json()["kill_switch"] == "stopped"
        assert acme.post("/api/run", json={"task": "What is the capital of Peru?"}).status_code == 503
    finally:
        assert admin.post("/api/control/resume").json()["kill_switch"] == "running"
    flips = [e["action"] for e in admin.get("/api/audit", params={"limit": 1000}).json()["entries"]
             if e["action"].startswith("kill_switch")]
    assert flips[-2:] == ["kill_switch.stop", "kill_switch.resume"]

    made = store_call(settings, lambda s: s.create_key("initech"))
    store_call(settings, lambda s: s.revoke_key(made.key.key_id))
    denied = httpx.get(f"{url}/api/runs", headers={"authorization": f"Bearer {made.secret}"}, timeout=30)
    assert denied.status_code == 401
    audit = admin.get("/api/audit", params={"limit": 1000}).json()["entries"]
    assert any(e["action"] == "auth.denied" for e in audit)
