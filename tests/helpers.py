"""Helpers shared by tests: endpoints on the simulated server or on its in-process twin, a stand-in
factory answer."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from aegis_ray.config import BreakerPolicy, RateLimitPolicy, RetryPolicy
from aegis_ray.errors import ProviderServerError
from aegis_ray.providers import EndpointCache, EndpointConfig, ModelEndpoint, ModelRef
from aegis_ray.sim import SimServer
from aegis_ray.sim.inprocess import InProcessSim
from aegis_ray.types import Answer, RunResult, RunSpec, RunStatus, Usage, new_id

FAST_RETRY = RetryPolicy(max_attempts=3, initial_backoff_s=0.01, max_backoff_s=0.05, jitter_s=0.01)
PROVIDERS = ("openai", "openai-responses", "anthropic", "gemini")


def sim_endpoint(sim: SimServer, model: str = "sim-honest", provider: str = "sim", *,
                 retry: RetryPolicy = FAST_RETRY, breaker: BreakerPolicy | None = None,
                 rate_limit: RateLimitPolicy | None = None, timeout_s: float = 10.0,
                 api_key: str = "test-key") -> EndpointConfig:
    """An endpoint config for `provider:model` served by the simulated server."""
    base = sim.base_url + ("/v1" if provider in ("sim", "openai", "openai-responses") else "")
    return EndpointConfig(
        ref=ModelRef(provider=provider, model=model), api_key=SecretStr(api_key), base_url=base,
        timeout_s=timeout_s, retry=retry, breaker=breaker or BreakerPolicy(),
        rate_limit=rate_limit or RateLimitPolicy(),
    )


def sim_models(sim: SimServer) -> EndpointCache:
    """In-process endpoints for any `sim:<name>` model the server hosts (close with `aclose`)."""
    return EndpointCache(lambda ref: ModelEndpoint(sim_endpoint(sim, ref.model)))


def local_models(sim: InProcessSim) -> EndpointCache:
    """In-process endpoints for any `sim:<name>` model of `sim`, the simulator's personas and scripts
    as a model function: no server, no HTTP (close with `aclose`)."""
    return sim.models(retry=FAST_RETRY, timeout_s=10.0)


POSTGRES_URL = os.environ.get("AEGIS_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh schema on the real PostgreSQL server; yields a URL whose search_path is that schema."""
    import psycopg

    schema = f"aegis_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


SERVE_KEY = "test-key-0123456789"


def deploy_aegis(settings: object) -> None:
    """Deploy (or redeploy) the Aegis Serve application on the running Serve instance."""
    from ray import serve

    from serve_app.deployment import QUIET, build_application

    serve.run(build_application(settings, None), name="aegis", route_prefix="/", logging_config=QUIET)


@contextlib.contextmanager
def budgeted_service(service: tuple[str, Any], limits: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """The session's Serve app (`service`) redeployed with per-tenant spend `limits`; restored after."""
    from aegis_ray.config import BudgetSettings

    url, settings = service
    limited = settings.model_copy(update={"budgets": BudgetSettings(tenants=limits)})
    deploy_aegis(limited)
    try:
        yield url, limited
    finally:
        deploy_aegis(settings)


@contextlib.contextmanager
def tenant_clients(url: str, settings: Any, tenants: Iterable[str], timeout_s: float = 120
                   ) -> Iterator[dict[str, Any]]:
    """An HTTP client per tenant, each with an API key of its own made in the store, and `admin`'s
    (the operator key)."""
    import httpx

    from aegis_ray.cli.common import store_call

    keys = {t: store_call(settings, lambda s, t=t: s.create_key(t)).secret for t in tenants}
    made = {t: httpx.Client(base_url=url, headers={"authorization": f"Bearer {k}"}, timeout=timeout_s)
            for t, k in (*keys.items(), ("admin", SERVE_KEY))}
    try:
        yield made
    finally:
        for client in made.values():
            client.close()


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


AEGIS = [sys.executable, "-m", "aegis_ray"]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a fresh machine: no keys, no AEGIS_* settings, no cluster address."""
    drop = ("AEGIS_", "RAY_ADDRESS", "OPENAI_", "ANTHROPIC_", "GEMINI_", "GOOGLE_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return {**env, **extra}


def aegis(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`aegis ARGS` as a user runs it: a subprocess."""
    return subprocess.run([*AEGIS, *args], capture_output=True, text=True, timeout=180,
                          env=env or clean_env(), cwd=cwd)


def answering(delay_s: float, answered: Counter[str],
              fail_first: str | None = None) -> Callable[[RunSpec], Awaitable[RunResult]]:
    """A factory `Answer` that counts each task it answers ("done: TASK" after `delay_s`); the task
    `fail_first` fails its first attempt with a 503."""
    async def answer(spec: RunSpec) -> RunResult:
        answered[spec.task] += 1
        await asyncio.sleep(delay_s)
        if spec.task == fail_first and answered[spec.task] == 1:
            raise ProviderServerError("503", model="sim:sim-honest", status=503)
        return RunResult(run_id=new_id("run"), task=spec.task, status=RunStatus.SUCCEEDED,
                         answer=Answer(text=f"done: {spec.task}"), model="sim:sim-honest", simulated=True,
                         usage=Usage(), cost_usd=0.0, latency_s=delay_s)
    return answer


@contextlib.contextmanager
def sim_cli_server(config: dict, directory: Path) -> Iterator[str]:
    """`aegis sim serve` with `config`, in its own process (as a user starts it); yields its URL."""
    import json
    import time

    import httpx

    path = directory / "sim.json"
    path.write_text(json.dumps(config))
    port = free_port()
    server = subprocess.Popen([*AEGIS, "sim", "serve", "--port", str(port), "--config", str(path)],
                              env=clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(f"{url}/_sim/health").raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)
