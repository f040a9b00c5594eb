"""Resume latency: from a session's crash to its first step committed after resuming, on a two-node
cluster of this machine (`actors.local_nodes`), by the hot path and by the store path.

Each trial starts a `SessionActor` (placed as sessions on shared storage are, `SESSION_PLACEMENT`)
on a scripted run of file-writing steps (the simulator at 0 ms), lets it commit `--steps` steps,
then SIGKILLs its worker process. Ray restarts the actor; the driver calls `run` again at once, as
`drive_session` does. On the hot path the resumed session finds the hot copy of its last checkpoint
in the cluster's `CheckpointCache` (which the session handed it at each commit); on the store path
the driver has dropped that copy first, so the session reads the checkpoint from the store. The
clock stops when the resumed run's first step event arrives. Paths alternate trial by trial.

The baseline, in the same run on the same cluster: the same SIGKILL to a Ray actor that does nothing
(same placement, `max_restarts=-1`), timed until a call to it answers again: what Ray itself takes to
bring a killed actor back on this machine, the floor under either path.
Prints a table and writes `benchmarks/results/resume_latency.json`.
Target: p50 at most 2 s on the hot path.

    python benchmarks/resume_latency.py [--trials 10] [--steps 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import ray

RESULTS = Path(__file__).parent / "results" / "resume_latency.json"
TARGET_P50_S = 2.0
MODEL = "sim-honest-writer"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def trial(config: Any, steps: int, hot_path: bool) -> float:
    """Seconds from the SIGKILL to the resumed run's first step event."""
    import ray
    from ray.exceptions import RayActorError

    from actors.checkpoint_cache import checkpoint_cache
    from actors.placement import SESSION_PLACEMENT
    from actors.session_actor import SessionActor
    from aegis_ray.loop.events import SESSION_EVENT, StepEvent
    from aegis_ray.types import RunSpec, new_id

    spec, run_id = RunSpec(task="write the files"), new_id("run")
    session = SessionActor.options(scheduling_strategy=SESSION_PLACEMENT).remote(config)
    pid = await session.pid.remote()
    committed = 0
    async for ref in session.run.remote(spec, run_id, None):
        event = SESSION_EVENT.validate_json(await ref)
        if isinstance(event, StepEvent) and event.checkpoint is not None:
            committed += 1
            if committed == steps:
                break
    os.kill(pid, signal.SIGKILL)
    crashed = time.perf_counter()
    if not hot_path:  # after the kill: the session kept committing (and caching) until then
        await checkpoint_cache().drop.remote(run_id)
    try:
        while True:
            try:
                async for ref in session.run.remote(spec, run_id, None):
                    if isinstance(SESSION_EVENT.validate_json(await ref), StepEvent):
                        return time.perf_counter() - crashed
            except RayActorError:
                await asyncio.sleep(0.05)  # Ray is restarting the actor
    finally:
        ray.kill(session, no_restart=True)


@ray.remote(num_cpus=0, max_restarts=-1)
class Idle:
    """A Ray actor that does nothing: the baseline's subject."""

    def pid(self) -> int:
        return os.getpid()


async def bare_restart() -> float:
    """Seconds from the SIGKILL of an idle actor's worker to its next answered call."""
    from ray.exceptions import RayActorError

    from actors.placement import SESSION_PLACEMENT

    actor = Idle.options(scheduling_strategy=SESSION_PLACEMENT).remote()
    os.kill(await actor.pid.remote(), signal.SIGKILL)
    crashed = time.perf_counter()
    try:
        while True:
            try:
                await actor.pid.remote()
                return time.perf_counter() - crashed
            except RayActorError:
                await asyncio.sleep(0.05)
    finally:
        ray.kill(actor, no_restart=True)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    from pydantic import SecretStr

    from actors.local_nodes import LocalNodes
    from aegis_ray.providers import EndpointConfig, ModelRef
    from aegis_ray.session import SessionConfig, SessionSpec
    from aegis_ray.sim import ModelProfile, Script, SimConfig, SimServer, Turn

    turns = [Turn(tool_calls=[{"name": "write_file", "arguments": {"path": f"f{i}.txt", "content": str(i)}}])
             for i in range(args.steps + 4)]
    workdir = Path(tempfile.mkdtemp(prefix="aegis-resume-bench-"))
    sim_config = SimConfig(models={MODEL: ModelProfile(script=Script(turns=[*turns, Turn(text="done")]))})
    with SimServer(sim_config) as sim, LocalNodes(workers=1, cpus=2):
        spec = SessionSpec(workspace=str(workdir / "ws"), chain=(f"sim:{MODEL}",), approval="auto",
                           sandbox_backend="bubblewrap")
        endpoint = EndpointConfig(ref=ModelRef(provider="sim", model=MODEL), api_key=SecretStr("sim"),
                                  base_url=f"{sim.base_url}/v1")
        config = SessionConfig(spec=spec, endpoints={endpoint.ref.name: endpoint}, database_url=None,
                               home=str(workdir / "home"))
        await trial(config, args.steps, hot_path=True)  # warm: imports, the cache actor, the store
        await bare_restart()
        times: dict[str, list[float]] = {"hot": [], "store": [], "ray_restart": []}
        for _ in range(args.trials):  # the three alternate: a slow moment of the machine hits each
            times["hot"].append(await trial(config, args.steps, hot_path=True))
            times["store"].append(await trial(config, args.steps, hot_path=False))
            times["ray_restart"].append(await bare_restart())
    return {"trials": args.trials, "steps_before_crash": args.steps, "target_hot_p50_s": TARGET_P50_S,
            **{f"{path}_crash_to_resumed_s": values for path, values in times.items()},
            **{f"{path}_crash_to_resumed_p50_s": statistics.median(values) for path, values in times.items()},
            **{f"{path}_crash_to_resumed_p99_s": percentile(values, 0.99) for path, values in times.items()}}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()
    result = asyncio.run(main(args))
    print(f"{'path':>12} {'p50 s':>7} {'p99 s':>7}")
    for path in ("hot", "store", "ray_restart"):
        p50, p99 = result[f"{path}_crash_to_resumed_p50_s"], result[f"{path}_crash_to_resumed_p99_s"]
        print(f"{path:>12} {p50:7.2f} {p99:7.2f}")
    verdict = "meets" if result["hot_crash_to_resumed_p50_s"] <= TARGET_P50_S else "misses"
    print(f"hot path p50 {result['hot_crash_to_resumed_p50_s']:.2f} s ({verdict} the {TARGET_P50_S} s target); "
          f"Ray alone brings an idle actor back in {result['ray_restart_crash_to_resumed_p50_s']:.2f} s")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
