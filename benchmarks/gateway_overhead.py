"""Per-call overhead of the Aegis gateway + ProviderActor over the raw `openai` SDK.

The simulated model runs in its own process at 0 ms latency; the same N sequential chat calls go
(a) straight through `openai.AsyncOpenAI` (on the aiohttp transport Aegis's adapters use, and on
the SDK's default httpx2 for reference), (b) through the gateway with an in-process endpoint,
(c) through the gateway governed by a `ProviderActor` on a local Ray cluster (the default: the call
goes to the model on a lease from the actor), (d) the same relayed through the actor (what a
process that cannot reach a loopback endpoint does), interleaved call by call; a no-op async actor
round trip is measured beside them as the floor of any actor hop. Prints a table and writes
`benchmarks/results/gateway_overhead.json`. Target: (c) adds at most 2 ms per call at p50.

    python benchmarks/gateway_overhead.py [--calls 500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import ray
from pydantic import SecretStr

from aegis_ray.sim.process import start_sim_process

RESULTS = Path(__file__).parent / "results" / "gateway_overhead.json"
TARGET_OVERHEAD_MS = 2.0
BASELINE = "raw openai SDK (aiohttp)"


@ray.remote(num_cpus=0, max_concurrency=512)
class EchoActor:
    """An async actor that does nothing: the floor any actor hop pays on this machine."""

    async def echo(self, payload: bytes) -> bytes:
        return payload


async def timed(paths: dict[str, Callable[[], Awaitable[object]]], calls: int, warmup: int) -> dict[str, list[float]]:
    """Per-call times of each path, interleaved call by call so that every path sees the same
    machine conditions (on 2 cores the background load drifts more than the effect measured)."""
    samples: dict[str, list[float]] = {name: [] for name in paths}
    for i in range(warmup + calls):
        for name, call in paths.items():
            started = time.perf_counter()
            await call()
            if i >= warmup:
                samples[name].append((time.perf_counter() - started) * 1000)
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50_ms": statistics.median(ordered), "p99_ms": ordered[int(0.99 * (len(ordered) - 1))],
            "mean_ms": statistics.fmean(ordered)}


async def measure(base_url: str, calls: int, warmup: int) -> dict[str, dict[str, float]]:
    import openai

    from actors.cluster import connect
    from actors.registry import ActorEndpoint
    from aegis_ray.providers import EndpointCache, EndpointConfig, Gateway, ModelEndpoint, ModelRef
    from aegis_ray.types import Message, ModelRequest

    messages = [{"role": "user", "content": "What is the capital of Australia?"}]
    raw = openai.AsyncOpenAI(api_key="sim", base_url=f"{base_url}/v1", max_retries=0)
    # The baseline: the SDK on the transport Aegis's adapters use, so the difference is the harness.
    raw_aiohttp = openai.AsyncOpenAI(api_key="sim", base_url=f"{base_url}/v1", max_retries=0,
                                     http_client=openai.DefaultAioHttpClient())
    config = EndpointConfig(ref=ModelRef(provider="sim", model="sim-honest"), api_key=SecretStr("sim"),
                            base_url=f"{base_url}/v1")
    request = ModelRequest(messages=(Message.user(messages[0]["content"]),))
    caches = [EndpointCache(lambda _: ModelEndpoint(config))]
    connect(num_cpus=2, object_store_memory=256 * 2**20)
    caches += [EndpointCache(lambda _: ActorEndpoint(config)),
               EndpointCache(lambda _: ActorEndpoint(config, relay=True))]
    in_process, through_actor, relayed = (Gateway(cache, ["sim:sim-honest"]) for cache in caches)
    echo = EchoActor.remote()
    payload = request.model_dump_json().encode()

    samples = await timed({"raw openai SDK (aiohttp)": lambda: raw_aiohttp.chat.completions.create(
                               model="sim-honest", messages=messages),
                           "raw openai SDK (default httpx2)": lambda: raw.chat.completions.create(
                               model="sim-honest", messages=messages),
                           "gateway (in-process)": lambda: in_process.complete(request),
                           "gateway + ProviderActor": lambda: through_actor.complete(request),
                           "relayed through the actor": lambda: relayed.complete(request),
                           "no-op async actor (floor)": lambda: echo.echo.remote(payload)}, calls, warmup)
    for client in (raw, raw_aiohttp):
        await client.close()
    for cache in caches:
        await cache.aclose()
    return {name: summary(times) for name, times in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--port", type=int, default=8931)
    args = parser.parse_args()

    server = start_sim_process(args.port)
    try:
        results = asyncio.run(measure(f"http://127.0.0.1:{args.port}", args.calls, args.warmup))
    finally:
        server.terminate()
    baseline = results[BASELINE]["p50_ms"]
    actor = results["gateway + ProviderActor"]["p50_ms"]
    print(f"{'path':31} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>7}")
    for name, row in results.items():
        print(f"{name:31} {row['p50_ms']:8.2f} {row['p99_ms']:8.2f} {row['p50_ms'] / baseline:7.2f}")
    overhead = actor - baseline
    floor = results["no-op async actor (floor)"]["p50_ms"]
    print(f"of which a bare actor round trip (no work) is {floor:.2f} ms on this machine")
    verdict = "meets" if overhead <= TARGET_OVERHEAD_MS else "misses"
    print(f"overhead of gateway + ProviderActor at p50: {overhead:.2f} ms "
          f"({verdict} the {TARGET_OVERHEAD_MS} ms target)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "calls": args.calls, "results": results, "baseline": BASELINE,
        "overhead_p50_ms": overhead, "actor_round_trip_floor_p50_ms": floor, "ratio_p50": actor / baseline,
        "target_overhead_ms": TARGET_OVERHEAD_MS,
        "meets_target": overhead <= TARGET_OVERHEAD_MS,
    }, indent=2))


if __name__ == "__main__":
    main()
