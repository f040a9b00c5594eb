"""Starting or joining the Ray cluster Aegis runs on."""

from __future__ import annotations

import os

import ray

NAMESPACE = "aegis"


def connect(address: str | None = None, *, num_cpus: int | None = None,
            object_store_memory: int | None = None) -> None:
    """Join `address` (or `RAY_ADDRESS`), else start a local cluster; idempotent.

    A local cluster gets no dashboard and keeps worker logs off the driver: Aegis prints its own
    output. On a real cluster the head node's settings apply (see `clusters/`).
    """
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    local = {} if address else {"num_cpus": num_cpus, "object_store_memory": object_store_memory}
    ray.init(address=address, namespace=NAMESPACE, include_dashboard=False, log_to_driver=False,
             configure_logging=False, **local)
