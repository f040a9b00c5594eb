"""Batch cost ratio: what an eval costs through a provider's batch API (`aegis eval run --batch`)
against the same samples answered online, in the same run.

N capital questions from the simulator's fact table (answer solver, includes scorer), run in this
process (`evals.run_eval`, a fresh SQLite store each) twice per provider: online, every sample one
call through the gateway; and with `batch=`, every sample through that provider's batch API (OpenAI
Batch for `sim:` and `openai:`, Anthropic Message Batches, Gemini batch mode), all against one
simulated server. Both runs answer the same samples with the same tokens (the simulator is
deterministic), so the ratio is what the batch price saves, failures inside a batch (answered online,
at the online price) included. `--failure-rate` makes the simulator fail that share of each batch's
requests.

Prints a table and writes `benchmarks/results/eval_batch_cost.json` with `batch_cost_ratio` (the
worst provider's batch cost / online cost; target <= 0.5) and each provider's figures.
`batch_cost_ratio(task, settings, model)` is the measurement alone, for other benchmarks to call.

    python benchmarks/eval_batch_cost.py [--samples 200] [--failure-rate 0.0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from eval_throughput import write_task  # a sibling script: run from benchmarks/ or as a file
from pydantic import SecretStr

from aegis_ray.config import ProviderCredentials, Settings
from aegis_ray.evals import run_eval
from aegis_ray.evals.batch import BatchOptions
from aegis_ray.sim import SimConfig, SimServer
from aegis_ray.sim.models import BatchProfile

RESULTS = Path(__file__).parent / "results" / "eval_batch_cost.json"
TARGET = 0.5
MODELS = ("sim:sim-honest", "openai:sim-honest", "anthropic:sim-honest", "gemini:sim-honest")


def simulator_settings(base_url: str, home: Path) -> Settings:
    """Every provider pointed at the simulator at `base_url`."""
    return Settings(home=home, sim_url=base_url,
                    openai=ProviderCredentials(api_key=SecretStr("sim"), base_url=f"{base_url}/v1"),
                    anthropic=ProviderCredentials(api_key=SecretStr("sim"), base_url=base_url),
                    gemini=ProviderCredentials(api_key=SecretStr("sim"), base_url=base_url))


async def batch_cost_ratio(task: Path, settings: Settings, model: str = "sim:sim-honest",
                           options: BatchOptions | None = None) -> dict[str, Any]:
    """The eval of `task` online and through `model`'s batch API (each in a fresh store under
    `settings.home`): both costs, their ratio, and what the batch path did."""
    costs: dict[str, float] = {}
    batch: dict[str, Any] = {}
    for path, batching in (("online", None), ("batch", options or BatchOptions(poll_s=0.05))):
        home = settings.home / f"{model.replace(':', '-')}-{path}"
        log = (await run_eval(task, model=model, settings=settings.model_copy(update={"home": home}),
                              batch=batching)).log
        errors = sum(r.error is not None for r in log.results)
        assert errors == 0, f"{errors} samples errored ({path}, {model})"
        costs[path] = sum(r.cost_usd for r in log.results)
        if log.batch is not None:
            batch = {"batches": len(log.batch.batch_ids), "answered": log.batch.answered, "failed": log.batch.failed}
    return {"model": model, "online_cost_usd": costs["online"], "batch_cost_usd": costs["batch"],
            "ratio": costs["batch"] / costs["online"], **batch}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="aegis-batch-cost-"))
    task = write_task(workdir / "task", args.samples)
    config = SimConfig(batch=BatchProfile(failure_rate=args.failure_rate))
    with SimServer(config) as server:
        settings = simulator_settings(server.base_url, workdir / "homes")
        runs = [await batch_cost_ratio(task, settings, model) for model in MODELS]
    return {"samples": args.samples, "failure_rate": args.failure_rate, "runs": runs,
            "batch_cost_ratio": max(r["ratio"] for r in runs), "target_batch_cost_ratio": TARGET, "simulated": True}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--failure-rate", type=float, default=0.0, help="Share of a batch's requests that fail.")
    args = parser.parse_args()
    result = asyncio.run(main(args))
    print(f"{'model':<22} {'online $':>10} {'batch $':>10} {'ratio':>6} {'failed in batch':>16}")
    for r in result["runs"]:
        print(f"{r['model']:<22} {r['online_cost_usd']:10.6f} {r['batch_cost_usd']:10.6f} {r['ratio']:6.3f} "
              f"{r.get('failed', 0):>16}")
    verdict = "meets" if result["batch_cost_ratio"] <= TARGET else "misses"
    print(f"{result['samples']} samples: batch cost / online cost {result['batch_cost_ratio']:.3f} at worst "
          f"({verdict} the {TARGET} target). Answers and prices are SIMULATED.")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
