"""Several Ray nodes on this one machine, each with its own raylet, object store and logical CPUs:
what the multi-node test tier (`tests/multinode`) and the cluster benchmarks run on.

Built on `ray.cluster_utils.Cluster`, with three differences that matter on a shared machine:

- Its nodes use a Ray temp dir of their own (`RAY_TMPDIR`, set while the cluster lives): Ray writes
  the cluster's address file (`ray_current_cluster`) there, not in `/tmp/ray`, where any plain
  `ray.init()` on the machine would find it and join this cluster instead of starting its own.
- A node that stops answering is declared dead in about two seconds (the head's health checks every
  0.5 s, four misses), not Ray's default half minute, so failover is quick enough to test.
- `kill` takes a node down the way a crash does: SIGKILL to its worker processes and its raylet at
  once, not a graceful drain.

The process that starts it joins it as its driver (on the head node); `kill` never takes the head.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

import ray
from ray.cluster_utils import Cluster

from actors.cluster import NAMESPACE

HEALTH_CHECKS = {"health_check_period_ms": 500, "health_check_failure_threshold": 4,
                 "health_check_initial_delay_ms": 0}


def _children(pid: int) -> list[int]:
    """Every descendant of `pid` (Linux `/proc`), deepest last."""
    found: list[int] = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        for task in Path(f"/proc/{parent}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                kids = [int(k) for k in task.read_text().split()]
                found += kids
                pending += kids
    return found


class LocalNodes:
    """A head and `workers` worker nodes with `cpus` logical CPUs each; `with LocalNodes(...) as nodes`
    starts them and joins them as the driver, and shuts them down at the end."""

    def __init__(self, workers: int = 2, *, cpus: int = 2, object_store_mb: int = 128) -> None:
        self._workers, self._cpus, self._store_bytes = workers, cpus, object_store_mb * 2**20
        self._temp = Path(tempfile.mkdtemp(prefix="aegis-nodes-"))
        self._saved_tmpdir = os.environ.get("RAY_TMPDIR")
        self.cluster: Cluster | None = None
        self.workers: list[Any] = []  # ray._private.node.Node of each live worker node

    def _node_args(self) -> dict[str, Any]:
        return {"num_cpus": self._cpus, "object_store_memory": self._store_bytes}

    def start(self) -> LocalNodes:
        os.environ["RAY_TMPDIR"] = str(self._temp)
        self.cluster = Cluster(initialize_head=True, head_node_args={
            **self._node_args(), "include_dashboard": False, "_system_config": HEALTH_CHECKS})
        for _ in range(self._workers):
            self.add_worker()
        ray.init(address=self.cluster.address, namespace=NAMESPACE, log_to_driver=False, configure_logging=False)
        return self

    @property
    def address(self) -> str:
        assert self.cluster is not None
        return str(self.cluster.address)

    @property
    def head_id(self) -> str:
        assert self.cluster is not None
        return str(self.cluster.head_node.node_id)

    def node_ids(self) -> list[str]:
        return [self.head_id, *(str(node.node_id) for node in self.workers)]

    def add_worker(self) -> Any:
        """Start one more worker node and wait until the cluster sees it."""
        assert self.cluster is not None
        node = self.cluster.add_node(**self._node_args())
        self.workers.append(node)
        return node

    def kill(self, node: Any) -> None:
        """Crash a worker node: SIGKILL to its raylet's worker processes and to its own processes."""
        assert self.cluster is not None and node in self.workers
        raylet = node.all_processes[ray._private.ray_constants.PROCESS_TYPE_RAYLET][0].process
        for pid in [*_children(raylet.pid), raylet.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.cluster.remove_node(node, allow_graceful=False)
        self.workers.remove(node)

    def stop(self) -> None:
        ray.shutdown()
        if self.cluster is not None:
            self.cluster.shutdown()
            self.cluster = None
        if self._saved_tmpdir is None:
            os.environ.pop("RAY_TMPDIR", None)
        else:
            os.environ["RAY_TMPDIR"] = self._saved_tmpdir
        shutil.rmtree(self._temp, ignore_errors=True)

    def __enter__(self) -> LocalNodes:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()
