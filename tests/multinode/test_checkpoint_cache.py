"""Hot copies of checkpoints outlive the driver that handed them in (`actors.checkpoint_cache`), and a
copy is taken only when it matches the store's tag of the run's latest checkpoint."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from actors.checkpoint_cache import hot_checkpoint, hot_reference
from actors.local_nodes import LocalNodes
from aegis_ray.store import CheckpointTag, open_store
from aegis_ray.types import RunSpec, RunState, Step

pytestmark = pytest.mark.integration

SPEC = RunSpec(task="remember me")


def state_with(steps: int) -> RunState:
    return RunState(run_id="run-hot", spec=SPEC, steps=[Step(index=i, state="act") for i in range(steps)])


async def test_the_store_tags_a_checkpoint_with_the_epoch_that_committed_it(tmp_path: Path) -> None:
    store = await open_store(None, tmp_path)
    try:
        await store.create_run("run-hot", SPEC)
        assert await store.checkpoint_tag("run-hot") is None
        first = await store.claim_run("run-hot", "a", 30)
        for i in range(2):
            await store.commit_step("run-hot", first, Step(index=i, state="act"), state_with(i + 1))
        assert await store.checkpoint_tag("run-hot") == CheckpointTag(epoch=first, step_count=2)
        second = await store.claim_run("run-hot", "b", 30)  # a new owner that has committed nothing yet
        assert await store.checkpoint_tag("run-hot") == CheckpointTag(epoch=first, step_count=2)
        await store.commit_step("run-hot", second, Step(index=2, state="act"), state_with(3))
        assert await store.checkpoint_tag("run-hot") == CheckpointTag(epoch=second, step_count=3)
    finally:
        await store.close()


DRIVER = textwrap.dedent("""
    import asyncio, sys
    from actors.checkpoint_cache import keep_hot
    from actors.cluster import connect
    from aegis_ray.store import CheckpointTag
    from aegis_ray.types import RunSpec, RunState, Step

    connect(sys.argv[1])
    state = RunState(run_id="run-hot", spec=RunSpec(task="remember me"),
                     steps=[Step(index=i, state="act") for i in range(3)])
    asyncio.run(keep_hot("run-hot", CheckpointTag(epoch=2, step_count=3), state))
""")


async def test_a_hot_copy_outlives_the_driver_that_made_it(nodes: LocalNodes) -> None:
    driver = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", DRIVER, nodes.address], capture_output=True, text=True, timeout=120,
        env=os.environ | {"RAY_ADDRESS": ""}, cwd=Path(__file__).parents[2])
    assert driver.returncode == 0, driver.stderr[-2000:]
    # That driver has exited: its own objects are gone, the cache's are not.
    hot = await hot_checkpoint("run-hot", CheckpointTag(epoch=2, step_count=3))
    assert hot is not None and [s.index for s in hot.steps] == [0, 1, 2]
    assert await hot_reference("run-hot", CheckpointTag(epoch=1, step_count=3)) is None, "another epoch's"
    assert await hot_reference("run-hot", CheckpointTag(epoch=2, step_count=2)) is None, "an older checkpoint"
    assert await hot_reference("run-other", CheckpointTag(epoch=2, step_count=3)) is None
