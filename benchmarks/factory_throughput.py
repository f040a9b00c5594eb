"""Factory throughput: jobs/s for N jobs at a simulated latency, at several concurrencies.

For each concurrency C the same N jobs run (a) through the factory: enqueued in a fresh SQLite
store, drained by `FactoryWorker` actors with C jobs in flight in all, each answered through the
gateway on a lease from the shared `ProviderActor`, every claim, lease and result durable: once
with one worker (C in flight) and once with one worker per CPU of the cluster (C / workers each,
what `aegis factory --workers` does); and (b) through plain asyncio loops calling the `openai` SDK
with a semaphore: one process with C in flight, and one process per CPU with C / processes each
(the most the SDK itself does on this machine, with nothing durable). All are compared with the
ideal, C / latency, and the CPU each kind of process spent per job is measured (`cpu_meter`).
Prints tables and writes `benchmarks/results/factory_throughput.json`.
Target: the factory reaches at least 90% of ideal at C = 64.

    python benchmarks/factory_throughput.py [--jobs 1000] [--latency-ms 200] [--concurrency 16 64 256]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import tempfile
import time
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from cpu_meter import CpuMeter
from pydantic import SecretStr

from aegis_ray.sim.process import start_sim_process

RESULTS = Path(__file__).parent / "results" / "factory_throughput.json"
TARGET = 0.9


async def plain_asyncio(base_url: str, jobs: int, concurrency: int) -> float:
    import openai

    client = openai.AsyncOpenAI(api_key="sim", base_url=f"{base_url}/v1", max_retries=0)
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            await client.chat.completions.create(
                model="sim-honest", messages=[{"role": "user", "content": f"What is the capital of Peru? ({i})"}])

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(jobs)))
    elapsed = time.perf_counter() - started
    await client.close()
    return jobs / elapsed


def _plain_process(base_url: str, jobs: int, concurrency: int, start: Barrier, done: Barrier) -> None:
    import openai  # imported before the start line, as a factory worker imports it when it starts

    del openai
    start.wait()
    asyncio.run(plain_asyncio(base_url, jobs, concurrency))
    done.wait()  # still alive when the CPU meter stops


def plain_processes(base_url: str, jobs: int, concurrency: int, processes: int) -> tuple[float, CpuMeter]:
    """The plain loop in `processes` processes at once (spawned: the driver runs Ray's threads)."""
    context = multiprocessing.get_context("spawn")
    start, done = context.Barrier(processes + 1), context.Barrier(processes + 1)
    fleet = [context.Process(target=_plain_process,
                             args=(base_url, jobs // processes, concurrency // processes, start, done))
             for _ in range(processes)]
    for process in fleet:
        process.start()
    start.wait()
    meter = CpuMeter()
    started = time.perf_counter()
    done.wait()
    elapsed = time.perf_counter() - started
    meter.stop()
    for process in fleet:
        process.join()
    if any(process.exitcode for process in fleet):
        raise RuntimeError("a plain asyncio process failed")
    return jobs // processes * processes / elapsed, meter


async def plain_in_process(base_url: str, jobs: int, concurrency: int) -> tuple[float, CpuMeter]:
    meter = CpuMeter()
    rate = await plain_asyncio(base_url, jobs, concurrency)
    meter.stop()
    return rate, meter


async def factory(base_url: str, jobs: int, concurrency: int, workers: int, workdir: Path, *,
                  time_enqueue: bool = False) -> tuple[float, CpuMeter]:
    """Jobs/s of the factory draining `jobs` with `workers` actors; the clock starts once they are
    up, and covers the enqueue too with `time_enqueue` (as an eval's clock does)."""
    import ray

    from actors.factory_worker import FactoryWorker
    from aegis_ray.factory import FactoryJob, WorkerOptions, job_payload
    from aegis_ray.providers import EndpointConfig, ModelRef
    from aegis_ray.store import open_store

    home = workdir / f"factory-{concurrency}-{workers}"
    chain = ("sim:sim-honest",)
    endpoint = EndpointConfig(ref=ModelRef(provider="sim", model="sim-honest"), api_key=SecretStr("sim"),
                              base_url=f"{base_url}/v1")
    store = await open_store(None, home)

    async def enqueue() -> None:
        await store.enqueue([(j.job_id, job_payload(j, chain)) for j in
                             (FactoryJob(task=f"What is the capital of Peru? ({i})") for i in range(jobs))])
        await store.close()

    if not time_enqueue:
        await enqueue()
    fleet = [FactoryWorker.remote({chain[0]: endpoint}, None, str(home)) for _ in range(workers)]
    await asyncio.gather(*(w.__ray_ready__.remote() for w in fleet))
    options = WorkerOptions(concurrency=concurrency // workers, lease_s=60)
    meter = CpuMeter()
    started = time.perf_counter()
    if time_enqueue:
        await enqueue()
    stats = await asyncio.gather(*(w.drain.remote(options) for w in fleet))
    elapsed = time.perf_counter() - started
    meter.stop()  # before the workers go, with what they spent
    for worker in fleet:
        ray.kill(worker)
    assert sum(s.finished for s in stats) == jobs, stats
    return jobs / elapsed, meter


async def main(args: argparse.Namespace) -> list[dict[str, Any]]:
    import ray

    from actors.cluster import connect

    connect(num_cpus=2, object_store_memory=256 * 2**20)
    workers = int(ray.cluster_resources()["CPU"])
    workdir = Path(tempfile.mkdtemp(prefix="aegis-factory-bench-"))
    server = start_sim_process(args.port, {"sim-honest*": {"persona": "honest", "latency_ms": args.latency_ms}})
    base_url = f"http://127.0.0.1:{args.port}"
    rows = []
    try:
        await plain_asyncio(base_url, 50, 16)  # warm up the simulator and the SDK
        for concurrency in args.concurrency:
            ideal = concurrency / (args.latency_ms / 1000)
            row: dict[str, object] = {"concurrency": concurrency, "workers": workers, "ideal_jobs_s": ideal}
            cpu: dict[str, dict[str, float]] = {}
            for name, measure in (
                ("plain_asyncio", lambda c: plain_in_process(base_url, args.jobs, c)),
                ("plain_asyncio_per_cpu", lambda c: asyncio.to_thread(plain_processes, base_url, args.jobs, c,
                                                                      workers)),
                ("factory_1_worker", lambda c: factory(base_url, args.jobs, c, 1, workdir)),
                ("factory", lambda c: factory(base_url, args.jobs, c, workers, workdir)),
            ):
                row[f"{name}_jobs_s"], meter = await measure(concurrency)
                cpu[name] = meter.ms_per(args.jobs)
            fleet, best_plain = float(row["factory_jobs_s"]), float(row["plain_asyncio_per_cpu_jobs_s"])
            rows.append(row | {"factory_vs_ideal": fleet / ideal,
                               "factory_1_worker_vs_ideal": float(row["factory_1_worker_jobs_s"]) / ideal,
                               "factory_vs_plain": fleet / best_plain,
                               "plain_vs_ideal": float(row["plain_asyncio_jobs_s"]) / ideal,
                               "plain_per_cpu_vs_ideal": best_plain / ideal, "cpu_ms_per_job": cpu})
    finally:
        server.terminate()
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=200)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--port", type=int, default=8932)
    args = parser.parse_args()
    rows = asyncio.run(main(args))
    print(f"{'C':>5} {'ideal/s':>8} {'asyncio/s':>10} {'asyncio x CPUs/s':>17} {'factory 1/s':>12} "
          f"{'factory N/s':>12} {'vs ideal':>9} {'vs asyncio x CPUs':>18}")
    for r in rows:
        print(f"{r['concurrency']:>5} {r['ideal_jobs_s']:8.1f} {r['plain_asyncio_jobs_s']:10.1f} "
              f"{r['plain_asyncio_per_cpu_jobs_s']:17.1f} {r['factory_1_worker_jobs_s']:12.1f} "
              f"{r['factory_jobs_s']:12.1f} {r['factory_vs_ideal']:9.2f} {r['factory_vs_plain']:18.2f}")
    print("\nCPU ms per job, by kind of process:")
    for r in rows:
        for name, shares in r["cpu_ms_per_job"].items():
            parts = ", ".join(f"{role} {ms:.2f}" for role, ms in shares.items() if role != "total" and ms >= 0.05)
            print(f"  C={r['concurrency']:<4} {name:22} total {shares['total']:.2f}: {parts}")
    at64 = next((r for r in rows if r["concurrency"] == 64), None)
    if at64:
        verdict = "meets" if at64["factory_vs_ideal"] >= TARGET else "misses"
        print(f"at C=64 the factory ({at64['workers']} workers) reaches {at64['factory_vs_ideal']:.0%} of ideal "
              f"({verdict} the {TARGET:.0%} target; one worker {at64['factory_1_worker_vs_ideal']:.0%}); the plain "
              f"SDK loop reaches {at64['plain_vs_ideal']:.0%} in one process, {at64['plain_per_cpu_vs_ideal']:.0%} "
              f"in one process per CPU")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"jobs": args.jobs, "latency_ms": args.latency_ms, "rows": rows,
                                   "target_vs_ideal_at_64": TARGET}, indent=2))
