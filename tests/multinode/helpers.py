"""Helpers of the multi-node tier: waiting for a condition, where an actor runs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def wait_until(condition: Callable[[], bool | Awaitable[bool]], timeout_s: float = 60.0,
                     poll_s: float = 0.05) -> None:
    """Poll `condition()` (sync or async) until it is true; TimeoutError after `timeout_s`."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        value = condition()
        if not isinstance(value, bool):
            value = await value
        if value:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("the condition did not hold in time")
        await asyncio.sleep(poll_s)


def actor_node(handle: object) -> str:
    """The id of the node an actor runs on now, from the GCS's actor table."""
    import ray

    info = ray._private.state.actors(handle._actor_id.hex())  # type: ignore[attr-defined]
    return str(info["Address"]["NodeID"])
