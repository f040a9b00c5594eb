"""Crash matrix: kill a durable session at every step boundary and in the middle of every tool call
(`ray.kill`, and separately SIGKILL of its worker process), on SQLite and on PostgreSQL. Every run
must resume to the answer an uncrashed run gives, with each side effect in the log exactly once.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray
from pydantic import Field

from actors.session_actor import drive_session, start_session
from aegis_ray.loop.events import SessionEvent, StepEvent
from aegis_ray.session import SessionConfig, SessionSpec
from aegis_ray.sim import ModelProfile, Script, SimConfig, SimServer, Turn
from aegis_ray.store import open_store
from aegis_ray.tools import Effect, ToolArgs, ToolContext, tool
from aegis_ray.types import RunSpec, RunStatus, new_id
from tests.helpers import postgres_schema, sim_endpoint

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("ray_cluster")]

STEPS = 10
MODEL = "sim-honest-tenstep"
EFFECTS = [f"effect-{i}" for i in range(STEPS)]
TOOL_SECONDS = 0.4


class SlowEffectArgs(ToolArgs):
    entry: str = Field(min_length=1)


@tool(Effect.WRITE, transactional=True)
async def slow_effect(args: SlowEffectArgs, ctx: ToolContext) -> str:
    """Log an entry, then take a while before committing: a kill in between must roll it back."""
    assert ctx.effect_writer is not None
    await ctx.effect_writer.log(args.entry)
    await asyncio.sleep(TOOL_SECONDS)
    return f"logged {args.entry}"


@pytest.fixture(scope="module")
def scripted() -> Iterator[SimServer]:
    turns = [Turn(tool_calls=[{"name": "slow_effect", "arguments": {"entry": e}}]) for e in EFFECTS]
    script = Script(turns=[*turns, Turn(text=f"done: {STEPS} effects")])
    with SimServer(SimConfig(models={MODEL: ModelProfile(script=script)})) as server:
        yield server


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    if request.param == "postgres":
        with postgres_schema() as url:
            yield url
    else:
        yield None  # the embedded default: SQLite under the session's home


def session_config(sim: SimServer, tmp_path: Path, database: str | None) -> SessionConfig:
    spec = SessionSpec(workspace=str(tmp_path / "ws"), chain=(f"sim:{MODEL}",), approval="auto",
                       sandbox_backend="bubblewrap", extra_tools=(f"{__name__}:slow_effect",))
    return SessionConfig(spec=spec, endpoints={f"sim:{MODEL}": sim_endpoint(sim, MODEL)}, database_url=database,
                         home=str(tmp_path / "home"))


async def run_with_kills(config: SessionConfig, kill: str | None, where: str) -> tuple[str, list[str], int]:
    """Run once, killing the session after each of the 10 effect steps commits ("boundary") or while
    each effect's transaction is open ("mid-call"). Returns (answer, effect log, kills)."""
    session = start_session(config)
    run_id, killed = new_id("run"), set()
    kills: list[asyncio.Task[None]] = []

    async def kill_now() -> None:
        if kill == "actor":
            ray.kill(session, no_restart=False)
        else:
            os.kill(await session.pid.remote(), signal.SIGKILL)

    async def delayed_kill() -> None:
        await asyncio.sleep(TOOL_SECONDS / 3)  # the effect has logged and not yet committed
        await kill_now()

    async def on_event(event: SessionEvent) -> None:
        if kill is None or not isinstance(event, StepEvent):
            return
        step = event.step
        if where == "boundary" and step.state == "observe" and step.tool_results:
            entry = step.tool_results[0].content.removeprefix("logged ")  # committed with this step
            if entry not in killed:
                killed.add(entry)
                await kill_now()
        elif where == "mid-call" and step.state == "act" and step.completion and step.completion.tool_calls:
            entry = step.completion.tool_calls[0].arguments["entry"]  # the effect is about to run
            if entry not in killed:
                killed.add(entry)
                kills.append(asyncio.create_task(delayed_kill()))

    result = await drive_session(session, RunSpec(task="log ten effects"), run_id, on_event, approver=None)
    await asyncio.gather(*kills, return_exceptions=True)
    assert result.status is RunStatus.SUCCEEDED, result
    store = await open_store(config.database_url, Path(config.home))
    log = await store.effect_log(run_id)
    await store.close()
    ray.kill(session)
    return result.answer.text, log, len(killed)


async def test_uncrashed_baseline(scripted: SimServer, tmp_path: Path, database: str | None) -> None:
    answer, log, _ = await run_with_kills(session_config(scripted, tmp_path, database), None, "none")
    assert answer == f"done: {STEPS} effects" and log == EFFECTS


@pytest.mark.parametrize("kill", ["actor", "sigkill"])
@pytest.mark.parametrize("where", ["boundary", "mid-call"])
async def test_crash_matrix(scripted: SimServer, tmp_path: Path, database: str | None, kill: str, where: str) -> None:
    answer, log, kills = await run_with_kills(session_config(scripted, tmp_path, database), kill, where)
    assert kills == STEPS
    assert answer == f"done: {STEPS} effects"
    assert log == EFFECTS, "each effect exactly once, in order"
