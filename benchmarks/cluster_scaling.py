"""Cluster scaling: factory jobs/s on 1, 2 and 3 Ray nodes of this one machine (the same cores).

For each node count a fresh cluster (`actors.local_nodes`: a head plus worker nodes, each with its
own raylet, object store and two logical CPUs) drains the same N jobs at a simulated latency, with
C in flight in all: three `FactoryWorker`s (C / 3 each) placed on the nodes in turn (`factory_fleet`),
every claim, lease and result durable in a fresh SQLite store, every call on a lease from the shared
`ProviderActor`. The simulator listens on this machine's network address, not loopback, so every
node calls it directly, as nodes call a real provider. The figure is jobs/s, and its ratio to one
node measured in the same run: the machine's cores do not grow with the nodes, so the ratio says
what spreading over nodes costs (target: at least 0.95).

The baseline, on the same clusters in the same run: the same jobs with no Aegis at all, three plain
Ray actors placed on the nodes in turn, each running `factory_throughput.plain_asyncio` (the `openai`
SDK with a semaphore, C / 3 in flight): what the nodes cost Ray and the SDK themselves, and how
near the factory comes to that on each node count.
Prints a table and writes `benchmarks/results/cluster_scaling.json`.

    python benchmarks/cluster_scaling.py [--jobs 1000] [--latency-ms 200] [--concurrency 64] [--runs 2]
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

import ray
from pydantic import SecretStr

from aegis_ray.sim.process import start_sim_process

RESULTS = Path(__file__).parent / "results" / "cluster_scaling.json"
TARGET = 0.95
WORKERS = 3


def network_address() -> str:
    """This machine's address on its network (no packet is sent), else loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


async def drain_once(base_url: str, jobs: int, concurrency: int, home: Path) -> tuple[float, list[str]]:
    """jobs/s for one drain of `jobs` fresh jobs, and the node of each worker."""
    import ray

    from actors.factory_worker import factory_fleet
    from actors.placement import this_node
    from aegis_ray.factory import FactoryJob, WorkerOptions, job_payload
    from aegis_ray.providers import EndpointConfig, ModelRef
    from aegis_ray.store import open_store

    chain = ("sim:sim-honest",)
    store = await open_store(None, home)
    await store.enqueue([(j.job_id, job_payload(j, chain)) for j in
                         (FactoryJob(task=f"What is the capital of Peru? ({home.name} {i})") for i in range(jobs))])
    await store.close()
    endpoint = EndpointConfig(ref=ModelRef(provider="sim", model="sim-honest"), api_key=SecretStr("sim"),
                              base_url=f"{base_url}/v1")
    fleet = factory_fleet({chain[0]: endpoint}, None, str(home), WORKERS)
    await asyncio.gather(*(w.__ray_ready__.remote() for w in fleet))
    nodes = await asyncio.gather(*(w.__ray_call__.remote(lambda _: this_node()) for w in fleet))
    shares = [concurrency // WORKERS + (i < concurrency % WORKERS) for i in range(WORKERS)]
    started = time.perf_counter()
    stats = await asyncio.gather(*(w.drain.remote(WorkerOptions(concurrency=c, lease_s=60))
                                   for w, c in zip(fleet, shares, strict=True)))
    elapsed = time.perf_counter() - started
    for worker in fleet:
        ray.kill(worker)
    assert sum(s.finished for s in stats) == jobs, stats
    return jobs / elapsed, nodes


@ray.remote(num_cpus=0)
class PlainDrainer:
    """No Aegis: the plain SDK loop in a Ray actor (`factory_throughput.plain_asyncio`)."""

    async def drain(self, base_url: str, jobs: int, concurrency: int) -> float:
        from factory_throughput import plain_asyncio

        return await plain_asyncio(base_url, jobs, concurrency)


async def plain_drain_once(base_url: str, jobs: int, concurrency: int) -> float:
    """jobs/s for the same drain with no Aegis: plain drainers on the nodes in turn, started together."""
    from actors.placement import NodeRing

    nodes = NodeRing()
    fleet = [PlainDrainer.options(scheduling_strategy=nodes.next(soft=False)).remote() for _ in range(WORKERS)]
    await asyncio.gather(*(w.__ray_ready__.remote() for w in fleet))
    shares = [concurrency // WORKERS + (i < concurrency % WORKERS) for i in range(WORKERS)]
    per_worker = jobs // WORKERS
    started = time.perf_counter()
    await asyncio.gather(*(w.drain.remote(f"{base_url}", per_worker, c) for w, c in zip(fleet, shares, strict=True)))
    elapsed = time.perf_counter() - started
    for worker in fleet:
        ray.kill(worker)
    return per_worker * WORKERS / elapsed


async def measure(node_count: int, base_url: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from actors.local_nodes import LocalNodes

    with LocalNodes(workers=node_count - 1, cpus=2):
        await drain_once(base_url, 100, args.concurrency, workdir / f"warm-{node_count}")  # SDK imports, actors
        await plain_drain_once(base_url, 99, args.concurrency)
        rates, plain, placed = [], [], []
        for run in range(args.runs):  # the two kinds alternate: a slow moment of the machine hits both
            rate, nodes = await drain_once(base_url, args.jobs, args.concurrency, workdir / f"n{node_count}-{run}")
            rates.append(rate)
            placed.append(len(set(nodes)))
            plain.append(await plain_drain_once(base_url, args.jobs, args.concurrency))
    return {"nodes": node_count, "jobs_s_runs": rates, "jobs_s": statistics.median(rates),
            "plain_jobs_s_runs": plain, "plain_jobs_s": statistics.median(plain),
            "nodes_used_by_workers": placed}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    host = network_address()
    workdir = Path(tempfile.mkdtemp(prefix="aegis-cluster-bench-"))
    server = start_sim_process(args.port, {"sim-honest*": {"persona": "honest", "latency_ms": args.latency_ms}},
                               host, wait_s=20.0)
    try:
        rows = [await measure(n, f"http://{host}:{args.port}", args, workdir) for n in (1, 2, 3)]
    finally:
        server.terminate()
    base, plain_base = rows[0]["jobs_s"], rows[0]["plain_jobs_s"]
    for row in rows:
        row["ratio_to_1_node"] = row["jobs_s"] / base
        row["plain_ratio_to_1_node"] = row["plain_jobs_s"] / plain_base
        row["factory_vs_plain"] = row["jobs_s"] / row["plain_jobs_s"]
    ideal = args.concurrency / (args.latency_ms / 1000)
    return {"jobs": args.jobs, "latency_ms": args.latency_ms, "concurrency": args.concurrency, "workers": WORKERS,
            "ideal_jobs_s": ideal, "sim_host": host, "rows": rows, "target_ratio": TARGET,
            "worst_ratio": min(r["ratio_to_1_node"] for r in rows[1:]),
            "plain_worst_ratio": min(r["plain_ratio_to_1_node"] for r in rows[1:])}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=200)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--port", type=int, default=8933)
    args = parser.parse_args()
    result = asyncio.run(main(args))
    print(f"{'nodes':>5} {'factory jobs/s (runs)':>24} {'median':>8} {'vs 1 node':>10} {'nodes used':>11} "
          f"{'plain jobs/s':>13} {'vs 1 node':>10} {'factory/plain':>14}")
    for r in result["rows"]:
        runs = ", ".join(f"{x:.1f}" for x in r["jobs_s_runs"])
        print(f"{r['nodes']:>5} {runs:>24} {r['jobs_s']:8.1f} {r['ratio_to_1_node']:10.2f} "
              f"{max(r['nodes_used_by_workers']):>11} {r['plain_jobs_s']:13.1f} {r['plain_ratio_to_1_node']:10.2f} "
              f"{r['factory_vs_plain']:14.2f}")
    verdict = "meets" if result["worst_ratio"] >= TARGET else "misses"
    print(f"ideal {result['ideal_jobs_s']:.0f} jobs/s; the worst ratio to one node is {result['worst_ratio']:.2f} "
          f"({verdict} the {TARGET} target); with no Aegis it is {result['plain_worst_ratio']:.2f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
