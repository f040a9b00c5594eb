"""Eval throughput: samples/s of an eval vs the same jobs through the bare factory, in the same run.

N questions from the simulator's fact table (answer solver, includes scorer) run as `aegis eval run`
runs them: every sample a durable factory job in a fresh SQLite store, drained by one
`FactoryWorker` actor per CPU with C samples in flight in all, answered by a simulated model at a
fixed latency; then scored, the metrics computed and the log written (`evals.run.execute`). The
baseline is the bare factory on the same cluster, simulator and concurrency: the same number of jobs
enqueued and drained by the same workers with nothing scored (`factory_throughput.factory`). Both
are timed end to end, from the first enqueue to the last result. Both are compared with the ideal, C
/ latency.

Prints a table and writes `benchmarks/results/eval_throughput.json` with `samples`,
`eval_samples_per_s`, `factory_jobs_per_s`, `ratio` (target >= 0.95) and `batch_cost_ratio`: the
cost of the same samples through the simulator's OpenAI Batch API over their cost online (target
<= 0.5; `eval_batch_cost.py` measures it for every provider).

    python benchmarks/eval_throughput.py [--samples 2000] [--latency-ms 200] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import tempfile
import time
from importlib.resources import files
from pathlib import Path
from typing import Any

from factory_throughput import factory, plain_asyncio

from aegis_ray.sim.process import start_sim_process

RESULTS = Path(__file__).parent / "results" / "eval_throughput.json"
TARGET_RATIO = 0.95
TARGET_BATCH_COST = 0.5
TASK = """name = "capitals-bench"
dataset = "samples.jsonl"
system_prompt = "Answer with the name only."
solver = { name = "answer" }

[[scorers]]
name = "includes"
"""


def write_task(directory: Path, samples: int) -> Path:
    """N capital questions from the simulator's fact table, in a fixed order (cycled past its end)."""
    facts = [line.split("\t") for line in (files("aegis_ray.sim") / "data" / "facts.tsv").read_text().splitlines()
             if line.startswith("capital\t")]
    rows = [{"id": f"capital-{i:05d}", "input": f"What is the capital of {subject}?", "target": answer}
            for i, (_, subject, answer, *_) in zip(range(samples), itertools.cycle(facts), strict=False)]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "samples.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (directory / "task.toml").write_text(TASK)
    return directory


async def eval_on_cluster(base_url: str, task: Path, concurrency: int, workers: int, home: Path) -> dict[str, Any]:
    """The eval as `aegis eval run --workers W --concurrency C/W` runs it; its samples/s and metrics."""
    import ray

    from actors.factory_worker import FactoryWorker
    from aegis_ray.config import Settings
    from aegis_ray.evals.run import EvalOptions, execute, plan_eval
    from aegis_ray.factory import WorkerOptions
    from aegis_ray.runner import endpoint_configurer
    from aegis_ray.store import open_store

    settings = Settings(home=home)
    plan = plan_eval(task, ["sim:sim-honest"], settings, EvalOptions(window=concurrency))
    configure = endpoint_configurer(settings, base_url)
    endpoints = {m.name: configure(m) for m in plan.models}
    fleet = [FactoryWorker.remote(endpoints, None, str(home)) for _ in range(workers)]
    await asyncio.gather(*(w.__ray_ready__.remote() for w in fleet))
    work = WorkerOptions(concurrency=concurrency // workers, lease_s=60)
    store = await open_store(None, home)
    try:
        started = time.perf_counter()
        results = await execute(plan, store, lambda: asyncio.gather(*(w.drain.remote(work) for w in fleet)),
                                log_dir=home / "logs")
        elapsed = time.perf_counter() - started
    finally:
        await store.close()
        for worker in fleet:
            ray.kill(worker)
    log = results.log
    errors = sum(r.error is not None for r in log.results)
    assert len(log.results) == len(plan.jobs) and errors == 0, (len(log.results), errors)
    return {"samples_per_s": len(plan.jobs) / elapsed, "seconds": elapsed,
            "accuracy": log.metrics["includes/accuracy"].value, "cost_usd": log.metrics["cost"].value}


async def bare_factory(base_url: str, jobs: int, concurrency: int, workers: int, workdir: Path) -> float:
    """The bare factory's jobs/s timed the same way: from the enqueue, the workers already up."""
    return (await factory(base_url, jobs, concurrency, workers, workdir, time_enqueue=True))[0]


async def main(args: argparse.Namespace) -> dict[str, Any]:
    import ray

    from actors.cluster import connect

    connect(num_cpus=2, object_store_memory=256 * 2**20)
    workers = int(ray.cluster_resources()["CPU"])
    workdir = Path(tempfile.mkdtemp(prefix="aegis-eval-bench-"))
    task = write_task(workdir / "task", args.samples)
    server = start_sim_process(args.port, {"sim-honest*": {"persona": "honest", "latency_ms": args.latency_ms}})
    base_url = f"http://127.0.0.1:{args.port}"
    runs: list[dict[str, float]] = []
    try:
        await plain_asyncio(base_url, 50, 16)  # warm up the simulator
        for attempt in range(args.repeats):  # alternate, so that neither always runs on a warmer machine
            factory_rate = await bare_factory(base_url, args.samples, args.concurrency, workers,
                                              workdir / f"factory-{attempt}")
            measured = await eval_on_cluster(base_url, task, args.concurrency, workers, workdir / f"eval-{attempt}")
            runs.append({"factory_jobs_per_s": factory_rate, "eval_samples_per_s": measured["samples_per_s"],
                         "accuracy": measured["accuracy"], "cost_usd": measured["cost_usd"]})
        from eval_batch_cost import batch_cost_ratio, simulator_settings  # here: it imports this module

        batch_task = write_task(workdir / "batch-task", args.batch_samples)
        batch = await batch_cost_ratio(batch_task, simulator_settings(base_url, workdir / "batch-homes"))
    finally:
        server.terminate()
    best = {key: max(r[key] for r in runs) for key in ("factory_jobs_per_s", "eval_samples_per_s")}
    ideal = args.concurrency / (args.latency_ms / 1000)
    return {"samples": args.samples, "latency_ms": args.latency_ms, "concurrency": args.concurrency,
            "workers": workers, "ideal_per_s": ideal, **best,
            "ratio": best["eval_samples_per_s"] / best["factory_jobs_per_s"], "runs": runs,
            "target_ratio": TARGET_RATIO, "batch_cost_ratio": batch["ratio"], "batch": batch,
            "target_batch_cost_ratio": TARGET_BATCH_COST, "simulated": True}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=200)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2, help="Runs of each; the best of each is compared.")
    parser.add_argument("--port", type=int, default=8933)
    parser.add_argument("--batch-samples", type=int, default=200, help="Samples online and through the batch API.")
    args = parser.parse_args()
    result = asyncio.run(main(args))
    print(f"{'run':>4} {'factory jobs/s':>15} {'eval samples/s':>15} {'accuracy':>9}")
    for i, r in enumerate(result["runs"]):
        print(f"{i:>4} {r['factory_jobs_per_s']:15.1f} {r['eval_samples_per_s']:15.1f} {r['accuracy']:9.3f}")
    verdict = "meets" if result["ratio"] >= TARGET_RATIO else "misses"
    print(f"{result['samples']} samples at {args.latency_ms:g} ms, {args.concurrency} in flight on "
          f"{result['workers']} workers (ideal {result['ideal_per_s']:.0f}/s): the eval runs at "
          f"{result['eval_samples_per_s']:.1f} samples/s, the bare factory at {result['factory_jobs_per_s']:.1f} "
          f"jobs/s: ratio {result['ratio']:.3f} ({verdict} the {TARGET_RATIO} target). Answers are SIMULATED.")
    print(f"batch cost / online cost for the same {args.batch_samples} samples: {result['batch_cost_ratio']:.3f} "
          f"(target <= {TARGET_BATCH_COST})")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
