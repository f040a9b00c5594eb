"""HTTP throughput of `/api/run` (full stack, simulated model at 0 ms) vs a bare Serve deployment
that returns a fixed body, measured in the same run with the same client.

Both run on one local Ray cluster behind one Serve proxy (access logs off), one after the other,
with the same number of replicas (`--replicas`: 1 and 2 by default, each measured separately). The
client keeps C requests in flight over keep-alive connections. Prints req/s and p50/p99 and writes
`benchmarks/results/serve_throughput.json`. Target: at least 0.8 of the bare deployment's req/s.

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

import httpx
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


async def load(url: str, requests: int, concurrency: int) -> dict[str, float]:
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

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {"req_s": requests / elapsed, "p50_ms": statistics.median(ordered),
            "p99_ms": ordered[int(0.99 * (len(ordered) - 1))]}


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
        for replicas in args.replicas:
            # One application at a time: a replica takes a CPU, and the cluster has two.
            serve.run(Bare.options(num_replicas=replicas).bind(), name="bare", route_prefix="/bare",
                      logging_config=QUIET)
            bare = asyncio.run(load(f"{base}/bare/api/run", args.requests, args.concurrency))
            serve.delete("bare")
            settings = Settings(home=Path(tempfile.mkdtemp(prefix="aegis-serve-bench-")),
                                sim_url=f"http://127.0.0.1:{args.sim_port}", serve=ServeSettings(num_replicas=replicas))
            serve.run(build_application(settings, None), name="aegis", route_prefix="/aegis", logging_config=QUIET)
            aegis = asyncio.run(load(f"{base}/aegis/api/run", args.requests, args.concurrency))
            serve.delete("aegis")
            rows.append({"replicas": replicas, "bare": bare, "aegis": aegis, "ratio": aegis["req_s"] / bare["req_s"]})
    finally:
        serve.shutdown()
        simulator.terminate()
    print(f"{'replicas':>8} {'deployment':28} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'aegis/bare':>11}")
    for row in rows:
        for name, key in (("bare (fixed body)", "bare"), ("aegis /api/run (sim, 0 ms)", "aegis")):
            r = row[key]
            ratio = f"{row['ratio']:11.2f}" if key == "aegis" else ""
            print(f"{row['replicas']:>8} {name:28} {r['req_s']:8.1f} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f} {ratio}")
    best = max(rows, key=lambda r: r["ratio"])
    verdict = "meets" if best["ratio"] >= TARGET else "misses"
    ratios = ", ".join(f"{r['ratio']:.2f} at {r['replicas']} replica(s)" for r in rows)
    print(f"aegis / bare: {ratios} ({verdict} the {TARGET} target)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"requests": args.requests, "concurrency": args.concurrency, "rows": rows,
                                   "target": TARGET}, indent=2))


if __name__ == "__main__":
    main()
