"""HTTP throughput of `/api/run` (full stack, simulated model at 0 ms) vs a bare Serve deployment
that returns a fixed body, measured in the same run with the same client.

All run on one local Ray cluster behind one Serve proxy (access logs off), one after the other,
with the same number of replicas (`--replicas`: 1 and 2 by default, each measured separately):
the bare deployment; Serve plus the model call `/api/run` makes (the SDK to the same simulator) and
nothing else, the most any Serve app answering from a model can do here; and Aegis. The client
keeps C requests in flight over keep-alive connections. Prints req/s, p50/p99 and the CPU each kind
of process spent per request (`cpu_meter`), and writes `benchmarks/results/serve_throughput.json`.
Target: `/api/run` reaches at least 0.8 of the bare deployment's req/s.

    python benchmarks/serve_throughput.py [--requests 2000] [--concurrency 32] [--replicas 1 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from cpu_meter import CpuMeter
from fastapi import FastAPI
from ray import serve

RESULTS = Path(__file__).parent / "results" / "serve_throughput.json"
TARGET = 0.8
bare_app = FastAPI()


@bare_app.post("/api/run")
async def fixed() -> dict[str, str]:
    return {"answer": "Canberra."}


@serve.deployment(name="bare", max_ongoing_requests=256)  # as the Aegis deployment's default
@serve.ingress(bare_app)
class Bare:
    pass


model_call_app = FastAPI()


@serve.deployment(name="model-call", max_ongoing_requests=256)
@serve.ingress(model_call_app)
class ModelCall:
    """Serve plus the model call that `/api/run` makes (the `openai` SDK on the aiohttp transport the
    adapters use, to the same simulator) and nothing else: what any Serve app that answers from a
    model pays, so `/api/run` against it is what Aegis itself costs."""

    def __init__(self, sim_url: str) -> None:
        self._sim_url = sim_url
        self._client: Any = None

    @model_call_app.post("/api/run")
    async def run(self, body: dict[str, str]) -> dict[str, str]:
        import openai

        from aegis_ray.runner import DEFAULT_SYSTEM_PROMPT

        if self._client is None:  # made on the replica's event loop, as the SDK's aiohttp session must be
            self._client = openai.AsyncOpenAI(api_key="sim", base_url=f"{self._sim_url}/v1", max_retries=0,
                                              http_client=openai.DefaultAioHttpClient())
        completion = await self._client.chat.completions.create(model="sim-honest", messages=[
            {"role": "system", "content": DEFAULT_SYSTEM_PROMPT}, {"role": "user", "content": body["task"]}])
        return {"answer": completion.choices[0].message.content or ""}


async def load(url: str, requests: int, concurrency: int) -> dict[str, Any]:
    body = {"task": "What is the capital of Australia?"}
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        for _ in range(20):
            (await client.post(url, json=body)).raise_for_status()
        queue = asyncio.Queue[int]()
        for i in range(requests):
            queue.put_nowait(i)

        async def worker() -> None:
            while not queue.empty():
                queue.get_nowait()
                started = time.perf_counter()
                (await client.post(url, json=body)).raise_for_status()
                latencies.append((time.perf_counter() - started) * 1000)

        meter = CpuMeter()
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        meter.stop()
    ordered = sorted(latencies)
    return {"req_s": requests / elapsed, "p50_ms": statistics.median(ordered),
            "p99_ms": ordered[int(0.99 * (len(ordered) - 1))], "cpu_ms_per_request": meter.ms_per(requests)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--sim-port", type=int, default=8933)
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()

    from actors.cluster import connect
    from aegis_ray.config import ServeSettings, Settings
    from aegis_ray.sim.process import start_sim_process
    from serve_app.deployment import QUIET, build_application

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    connect(num_cpus=2, object_store_memory=256 * 2**20)
    serve.start(http_options={"host": "127.0.0.1", "port": port}, logging_config=QUIET)
    simulator = start_sim_process(args.sim_port)  # its own process: not competing with the load generator
    rows = []
    try:
        base = f"http://127.0.0.1:{port}"
        sim_url = f"http://127.0.0.1:{args.sim_port}"
        for replicas in args.replicas:
            # One application at a time: a replica takes a CPU, and the cluster has two.
            measured = {}
            for name, app in (("bare", Bare.options(num_replicas=replicas).bind()),
                              ("model_call", ModelCall.options(num_replicas=replicas).bind(sim_url)),
                              ("aegis", build_application(Settings(
                                  home=Path(tempfile.mkdtemp(prefix="aegis-serve-bench-")), sim_url=sim_url,
                                  serve=ServeSettings(num_replicas=replicas)), None))):
                serve.run(app, name=name, route_prefix=f"/{name}", logging_config=QUIET)
                measured[name] = asyncio.run(load(f"{base}/{name}/api/run", args.requests, args.concurrency))
                serve.delete(name)
            rows.append({"replicas": replicas, **measured,
                         "ratio": measured["aegis"]["req_s"] / measured["bare"]["req_s"],
                         "model_call_vs_bare": measured["model_call"]["req_s"] / measured["bare"]["req_s"],
                         "aegis_vs_model_call": measured["aegis"]["req_s"] / measured["model_call"]["req_s"]})
    finally:
        serve.shutdown()
        simulator.terminate()
    deployments = (("bare (fixed body)", "bare"), ("Serve + the model call", "model_call"),
                   ("aegis /api/run (sim, 0 ms)", "aegis"))
    print(f"{'replicas':>8} {'deployment':28} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'vs bare':>8} "
          f"{'cpu ms/req':>11}")
    for row in rows:
        for name, key in deployments:
            r = row[key]
            print(f"{row['replicas']:>8} {name:28} {r['req_s']:8.1f} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f} "
                  f"{r['req_s'] / row['bare']['req_s']:8.2f} {r['cpu_ms_per_request']['total']:11.2f}")
    print("\nCPU ms per request, by kind of process:")
    for row in rows:
        for _, key in deployments:
            shares = row[key]["cpu_ms_per_request"]
            parts = ", ".join(f"{role} {ms:.2f}" for role, ms in shares.items() if role != "total" and ms >= 0.05)
            print(f"  replicas={row['replicas']} {key:10} total {shares['total']:.2f}: {parts}")
    best = max(rows, key=lambda r: r["ratio"])
    verdict = "meets" if best["ratio"] >= TARGET else "misses"
    for row in rows:
        print(f"replicas={row['replicas']}: aegis / bare {row['ratio']:.2f}; Serve + the model call alone reaches "
              f"{row['model_call_vs_bare']:.2f} of bare, and aegis {row['aegis_vs_model_call']:.2f} of that")
    print(f"best aegis / bare: {best['ratio']:.2f} ({verdict} the {TARGET} target)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"requests": args.requests, "concurrency": args.concurrency, "rows": rows,
                                   "target": TARGET}, indent=2))


if __name__ == "__main__":
    main()
