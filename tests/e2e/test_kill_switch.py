"""The kill switch at each entry point, as an operator flips it (`aegis stop`, `aegis resume`):
`aegis run` refuses at once (exit 5) and runs again after; the MCP server refuses calls within a
second of the flip and serves again after; an `aegis worker --follow` hands back its jobs within a
second and goes on after; a `run --code` session parks at its next step (exit 5) and resumes after.
(A drain halting is tested in tests/unit/test_factory_drain.py; Serve's
503 in tests/integration/test_serve.py and the dashboard test.)"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from aegis_ray.control import SwitchState, set_switch
from aegis_ray.factory import FactoryJob, job_payload
from aegis_ray.sim import SimServer
from aegis_ray.store import open_store
from tests.helpers import AEGIS, aegis, clean_env, sim_cli_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def slow_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with sim_cli_server({"models": {"sim-slow*": {"persona": "honest", "latency_ms": 300},
                                    "sim-coder-slow*": {"persona": "coder", "latency_ms": 1000}}},
                        tmp_path_factory.mktemp("sim")) as url:
        yield url


def flip(home: Path, state: SwitchState) -> None:
    async def go() -> None:
        store = await open_store(None, home)
        await set_switch(store, state)
        await store.close()

    asyncio.run(go())


def test_run_is_refused_while_stopped_and_runs_after_resume(sim_server: SimServer, cluster_address: str,
                                                            tmp_path: Path) -> None:
    env = clean_env(RAY_ADDRESS=cluster_address, AEGIS_HOME=str(tmp_path / "home"), AEGIS_SIM_URL=sim_server.base_url)
    stopped = aegis("stop", env=env, cwd=tmp_path)
    assert stopped.returncode == 0 and "kill switch: stopped" in stopped.stderr
    assert '"kill_switch": "stopped"' in aegis("status", "--json", env=env, cwd=tmp_path).stdout
    started = time.monotonic()
    refused = aegis("run", "What is the capital of Peru?", env=env, cwd=tmp_path)
    assert refused.returncode == 5, refused.stderr
    assert "the kill switch is stopped" in refused.stderr and "aegis resume" in refused.stderr
    assert "joining" not in refused.stderr and time.monotonic() - started < 5  # refused before Ray
    for command in (("orchestrate", "Who wrote Dune?"), ("team", "Who wrote Dune?"),
                    ("supervise", "Who wrote Dune?")):  # every command that calls models
        refused = aegis(*command, env=env, cwd=tmp_path)
        assert refused.returncode == 5 and "the kill switch is stopped" in refused.stderr, (command, refused.stderr)
        assert "joining" not in refused.stderr
    assert aegis("resume", env=env, cwd=tmp_path).returncode == 0
    ran = aegis("run", "What is the capital of Peru?", env=env, cwd=tmp_path)
    assert ran.returncode == 0 and "Lima" in ran.stdout, ran.stderr


async def test_the_mcp_server_refuses_calls_within_a_second_of_the_flip(tmp_path: Path) -> None:
    home = tmp_path / "home"
    server = StdioServerParameters(command=sys.executable, env=clean_env(AEGIS_HOME=str(home)),
                                   args=["-m", "aegis_ray", "mcp", "serve", "--workspace", str(tmp_path)])
    check = {"answer": "42", "checks": [{"kind": "equals", "value": "42"}]}
    async with Client(server) as client:
        assert not (await client.call_tool("verify", check)).is_error
        await asyncio.to_thread(flip, home, SwitchState.STOPPED)
        flipped = time.monotonic()
        while not (result := await client.call_tool("verify", check)).is_error:
            assert time.monotonic() - flipped < 1.0, "still serving a second after the flip"
            await asyncio.sleep(0.05)
        assert "kill switch is stopped" in result.content[0].text
        await asyncio.to_thread(flip, home, SwitchState.RUNNING)
        flipped = time.monotonic()
        while (result := await client.call_tool("verify", check)).is_error:
            assert time.monotonic() - flipped < 1.0, "still refusing a second after resume"
            await asyncio.sleep(0.05)
        assert "PASS" in result.content[0].text


def test_a_following_worker_halts_within_a_second_and_goes_on_after(slow_sim: str, cluster_address: str,
                                                                      tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = clean_env(RAY_ADDRESS=cluster_address, AEGIS_HOME=str(home), AEGIS_SIM_URL=slow_sim)
    jobs = [FactoryJob(task=f"What is the capital of Peru? ({i})") for i in range(400)]

    async def enqueue() -> None:
        store = await open_store(None, home)
        await store.enqueue([(j.job_id, job_payload(j, ("sim:sim-slow",))) for j in jobs])
        await store.close()

    asyncio.run(enqueue())
    worker = subprocess.Popen([*AEGIS, "worker", "--follow", "--concurrency", "4"], env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(worker.stderr or ()), daemon=True)
    reader.start()
    try:
        assert wait_for(lambda: counts(home)["done"] >= 4, 60), "the worker never got going"
        flip(home, SwitchState.STOPPED)
        flipped = time.monotonic()
        assert wait_for(lambda: any("waits for `aegis resume`" in line for line in lines), 5)
        assert time.monotonic() - flipped < 1.5  # halted within a second (plus reading its stderr)
        held = counts(home)["done"]
        time.sleep(1.0)
        assert counts(home)["done"] == held  # nothing more finishes while stopped
        flip(home, SwitchState.RUNNING)
        assert wait_for(lambda: counts(home)["done"] > held, 10), "the worker did not go on after resume"
    finally:
        worker.terminate()
        worker.wait(timeout=20)


def counts(home: Path) -> dict[str, int]:
    async def read() -> dict[str, int]:
        store = await open_store(None, home)
        try:
            return await store.queue_counts()
        finally:
            await store.close()

    return asyncio.run(read())


def wait_for(condition: object, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_a_session_parks_at_its_next_step_and_resumes_after(slow_sim: str, cluster_address: str,
                                                            tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = clean_env(RAY_ADDRESS=cluster_address, AEGIS_HOME=str(home), AEGIS_SIM_URL=slow_sim)
    session = subprocess.Popen([*AEGIS, "run", "--code", "Compute the 20th Fibonacci number", "--model",
                                "sim:sim-coder-slow", "--approve", "auto", "--workspace", str(tmp_path / "ws")],
                               env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(session.stderr or ()), daemon=True)
    reader.start()
    try:
        assert wait_for(lambda: any("write_file" in line for line in lines), 90), "the session never got going"
        flip(home, SwitchState.STOPPED)
        flipped = time.time()
        assert session.wait(timeout=30) == 5, "".join(lines)
    finally:
        session.kill()
    reader.join(timeout=5)
    text = "".join(lines)
    assert "parked by the kill switch" in text and "Traceback" not in text, text
    run_id = text.split("run ")[-1].split()[0] if "run run_" in text else None
    runs = json.loads(aegis("runs", "--json", env=env, cwd=tmp_path).stdout)
    [parked] = [r for r in runs if r["status"] == "cancelled"]
    assert run_id is None or parked["run_id"] == run_id
    steps = asyncio.run(_steps(home, parked["run_id"]))
    after = [s for s in steps if s.at.timestamp() > flipped]
    # halted at the next step boundary: at most the step in flight (one ~1 s model call) and the park
    assert [s.state for s in after][-1] == "cancelled" and len(after) <= 2, [(s.state, s.detail) for s in after]
    flip(home, SwitchState.RUNNING)
    resumed = aegis("resume", parked["run_id"], "--json", env=env, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "6765" in json.loads(resumed.stdout)["answer"]["text"]


async def _steps(home: Path, run_id: str) -> list:  # list[Step]
    store = await open_store(None, home)
    try:
        return await store.steps(run_id)
    finally:
        await store.close()
