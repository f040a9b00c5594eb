"""Starting or joining the Ray cluster Aegis runs on."""

from __future__ import annotations

import os

import ray

NAMESPACE = "aegis"


def connect(address: str | None = None, *, num_cpus: int | None = None,
            object_store_memory: int | None = None) -> None:
    """Join `address` (or `RAY_ADDRESS`), else start a cluster in this process; idempotent.

    Joining checks first that the cluster lets this process in (token authentication, see
    `actors.ray_auth.prepare_join`) and fails with one clear `AegisError` if not. A cluster
    of this process's own gets no dashboard and keeps worker logs off the driver: Aegis prints its
    own output. On a real cluster the head node's settings apply (see `clusters/`).
    """
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        from actors.ray_auth import prepare_join

        prepare_join(address)
    local = {} if address else {"num_cpus": num_cpus, "object_store_memory": object_store_memory}
    try:
        # "local": without an address, ray.init would join whatever `ray start` left on this machine.
        ray.init(address=address or "local", namespace=NAMESPACE, include_dashboard=False, log_to_driver=False,
                 configure_logging=False, **local)
    except (ConnectionError, ray.exceptions.AuthenticationError) as error:
        if not address:
            raise
        from actors.ray_auth import ClusterError

        raise ClusterError(f"cannot join the Ray cluster at {address}: {str(error).split('.')[0]}",
                           hint="check RAY_ADDRESS and the cluster's auth token (~/.ray/auth_token)") from None
