"""`CheckpointCache`: hot copies of session checkpoints in the object store that outlive any driver.

The store (PostgreSQL in production, SQLite embedded) is the system of record; a hot copy is only a
quicker way to the same checkpoint. An object made with `ray.put` belongs to the process that made it
and is lost with it, so hot copies a driver puts die with that driver. Here one detached, named
actor per cluster (`checkpoint-cache` in the `aegis` namespace, kept on the head node while it
lives) makes each hot copy with its own `ray.put`: it owns the objects, and they live as long as the
actor, whichever driver or session handed them in.

Each copy is tagged with the run's `CheckpointTag` (the epoch that committed it, its step count) and
kept only for the run's latest step (at most `MAX_RUNS` runs, the least recently written dropped
first). A resuming session asks for the copy that matches the store's tag (`hot_checkpoint`) and gets
the object's reference, read from the object store; anything else (no copy, an older one, a cache
that died and restarted empty) is None, and the session reads the store instead.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict

import ray
from ray.exceptions import RayError

from actors.cluster import NAMESPACE
from actors.placement import head_node, on_node
from aegis_ray.store import CheckpointTag
from aegis_ray.types import RunState

NAME = "checkpoint-cache"
MAX_RUNS = 4096


@ray.remote(num_cpus=0, max_restarts=-1, max_concurrency=64)
class CheckpointCache:
    def __init__(self, max_runs: int = MAX_RUNS) -> None:
        self._max_runs = max_runs
        self._hot: OrderedDict[str, tuple[CheckpointTag, ray.ObjectRef]] = OrderedDict()

    def put(self, run_id: str, tag: CheckpointTag, state: RunState) -> None:
        """Keep `state` as the run's hot copy, unless a later one (by tag) is kept already."""
        kept = self._hot.get(run_id)
        if kept is not None and (kept[0].epoch, kept[0].step_count) > (tag.epoch, tag.step_count):
            return
        self._hot[run_id] = (tag, ray.put(state))
        self._hot.move_to_end(run_id)
        while len(self._hot) > self._max_runs:
            self._hot.popitem(last=False)

    def get(self, run_id: str, tag: CheckpointTag) -> list[ray.ObjectRef]:
        """[the hot copy's reference] when its tag is `tag`, else []. (In a list, so that Ray hands
        back the reference rather than the object.)"""
        kept = self._hot.get(run_id)
        return [kept[1]] if kept is not None and kept[0] == tag else []

    def drop(self, run_id: str) -> None:
        self._hot.pop(run_id, None)

    def runs(self) -> int:
        return len(self._hot)


_HANDLE: dict[str, ray.actor.ActorHandle] = {}  # by Ray job: a process that joins again looks it up again


def checkpoint_cache() -> ray.actor.ActorHandle:
    """The cluster's one `CheckpointCache`, made on first use (on the head node, while it lives)."""
    job = ray.get_runtime_context().get_job_id()
    if job not in _HANDLE:
        head = head_node()
        options: dict[str, object] = {"name": NAME, "namespace": NAMESPACE, "get_if_exists": True,
                                      "lifetime": "detached"}
        if head is not None:
            options["scheduling_strategy"] = on_node(head, soft=False)  # the cluster ends with its head anyway
        _HANDLE.clear()
        _HANDLE[job] = CheckpointCache.options(**options).remote()
    return _HANDLE[job]


async def keep_hot(run_id: str, tag: CheckpointTag, state: RunState) -> None:
    """Hand the checkpoint just committed under `tag` to the cache (a hot copy is best effort: a
    cache that cannot take it costs only a slower resume)."""
    with contextlib.suppress(RayError):
        await checkpoint_cache().put.remote(run_id, tag, state)


async def hot_reference(run_id: str, tag: CheckpointTag | None) -> ray.ObjectRef | None:
    """The reference of the hot copy that matches the store's `tag`, or None: what a resumed
    `SessionActor.run` takes as its `hot` argument (Ray resolves it to the checkpoint)."""
    if tag is None:
        return None
    with contextlib.suppress(RayError):
        found = await checkpoint_cache().get.remote(run_id, tag)
        return found[0] if found else None
    return None


async def hot_checkpoint(run_id: str, tag: CheckpointTag | None) -> RunState | None:
    """The checkpoint itself, read from the object store, when a hot copy matches `tag`; else None."""
    reference = await hot_reference(run_id, tag)
    if reference is None:
        return None
    with contextlib.suppress(RayError):
        state: RunState = await reference
        return state
    return None
