"""Ctrl-C as a user presses it (issue 20, cancellation): SIGINT to the command's whole process group,
as a terminal sends it, at several points of `run`, `run --code`, `factory` and `serve`. Each test
checks the exit code, that no traceback is printed, the run's (or the jobs') recorded state, and
that no process is left behind: none that inherited the command's environment, and none of the
shared test cluster's workers that ran its session, sandboxes or factory workers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import psutil
import pytest

from aegis_ray.factory import WorkerOptions, drain
from aegis_ray.store import RunRecord, Store, open_store
from aegis_ray.types import RunSpec, RunStatus
from tests.helpers import AEGIS, aegis, answering, clean_env, free_port, sim_cli_server

pytestmark = pytest.mark.e2e

SIM_CONFIG = {"models": {
    "sim-honest-slow*": {"persona": "honest", "latency_ms": 8000},
    "sim-honest-tick*": {"persona": "honest", "latency_ms": 400},
    "sim-coder-slow*": {"persona": "coder", "latency_ms": 1500},
    "sim-sleeper*": {"script": {"turns": [
        {"tool_calls": [{"name": "run_command", "arguments": {"command": "sleep 41"}}]}, {"text": "slept"}]}},
}}
T = TypeVar("T")
CLUSTER_ACTORS = ("SessionActor", "SandboxActor", "FactoryWorker")
MARK = "INTERRUPT_TEST_MARK"  # in the command's environment: every process it starts inherits it


@pytest.fixture(scope="module")
def sim_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with sim_cli_server(SIM_CONFIG, tmp_path_factory.mktemp("sim")) as url:
        yield url


@dataclass
class Interrupted:
    returncode: int
    stdout: str
    stderr: str
    exit_s: float  # from the SIGINT to the exit
    mark: str


def interrupt(args: list[str], env: dict[str, str], cwd: Path, ready: Callable[[str], bool],
              timeout_s: float = 90.0, signum: int = signal.SIGINT) -> Interrupted:
    """Start `aegis ARGS`, press Ctrl-C (or send `signum`) once `ready(stderr so far)`, wait for it to exit."""
    mark = uuid.uuid4().hex
    command = subprocess.Popen([*AEGIS, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**env, MARK: mark}, cwd=cwd, start_new_session=True)
    stdout: list[str] = []
    stderr: list[str] = []
    readers = [threading.Thread(target=sink.extend, args=(pipe,), daemon=True)
               for sink, pipe in ((stdout, command.stdout), (stderr, command.stderr))]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + timeout_s
    while not ready("".join(stderr)):
        if command.poll() is not None or time.monotonic() > deadline:
            command.kill()
            pytest.fail(f"the command ended (or hung) before the moment to interrupt it: {''.join(stderr)}")
        time.sleep(0.05)
    os.killpg(command.pid, signum)
    pressed = time.monotonic()
    command.wait(timeout=timeout_s)
    exit_s = time.monotonic() - pressed
    for reader in readers:
        reader.join(timeout=5)
    return Interrupted(command.returncode, "".join(stdout), "".join(stderr), exit_s, mark)


def cluster_actor_processes() -> set[int]:
    """The test cluster's worker processes that host a session, a sandbox or a factory worker."""
    return {p.pid for p in _living(psutil.Process().children(recursive=True))
            if any(name in " ".join(p.cmdline()) for name in CLUSTER_ACTORS)}


def leftovers(mark: str, before: set[int], *needles: str, timeout_s: float = 20.0) -> list[str]:
    """What is still running, once it had `timeout_s` to go: processes that inherited the command's
    environment, cluster workers of its actors (not in `before`), and this test cluster's processes
    whose command line holds one of `needles`."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = [" ".join(p.cmdline())[:120] for p in _living(psutil.process_iter()) if _marked(p, mark)]
        new_actors = cluster_actor_processes() - before
        for p in _living(psutil.Process().children(recursive=True)):
            line = " ".join(p.cmdline())
            if p.pid in new_actors or any(n in line for n in needles):
                left.append(line[:120])
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


def _living(processes: Iterator[psutil.Process] | list[psutil.Process]) -> list[psutil.Process]:
    found = []
    for p in processes:
        with contextlib.suppress(psutil.Error):
            if p.status() != psutil.STATUS_ZOMBIE and p.cmdline():
                found.append(p)
    return found


def _marked(process: psutil.Process, mark: str) -> bool:
    try:
        return process.environ().get(MARK) == mark
    except psutil.Error:
        return False


def sim_requests(sim_url: str, model: str) -> int:
    """Requests for `model` the simulated server has received (logged as they arrive)."""
    return sum(r["model"] == model for r in httpx.get(f"{sim_url}/_sim/log").json())


def in_store(home: Path, read: Callable[[Store], Awaitable[T]]) -> T:
    """`read(store)` on the store of the Aegis home `home`."""
    async def opened() -> T:
        store = await open_store(None, home)
        try:
            return await read(store)
        finally:
            await store.close()

    return asyncio.run(opened())


def recorded_runs(home: Path) -> list[RunRecord]:
    return in_store(home, lambda store: store.list_runs(50))


def unsettled(home: Path, run_id: str) -> list[str]:
    return in_store(home, lambda store: store.unsettled_effects(run_id))


def assert_clean_cancel(result: Interrupted, code: int = 130, within_s: float = 20) -> None:
    assert result.returncode == code, result.stderr
    noise = result.stderr.lower()
    assert "traceback" not in noise and "exception" not in noise and "segmentation" not in noise, result.stderr
    assert result.exit_s < within_s, f"took {result.exit_s:.1f} s to exit"


@pytest.fixture
def env(cluster_address: str, sim_url: str, tmp_path: Path) -> dict[str, str]:
    return clean_env(RAY_ADDRESS=cluster_address, AEGIS_HOME=str(tmp_path / "home"), AEGIS_SIM_URL=sim_url)


def test_ctrl_c_while_ray_starts_exits_130_and_leaves_no_ray_process(tmp_path: Path) -> None:
    env = clean_env(AEGIS_HOME=str(tmp_path / "home"))  # no cluster to join: Ray starts for this command
    result = interrupt(["run", "What is the capital of Australia?"], env, tmp_path,
                       ready=lambda err: "starting Ray" in err)
    # Ray's start cannot be interrupted half-way without leaving processes: the command lets it
    # finish (about 10 s here, over 20 s on a busy machine), then stops it and exits.
    assert_clean_cancel(result, within_s=60)
    assert "cancelled: nothing was started" in result.stderr
    assert recorded_runs(tmp_path / "home") == []
    assert leftovers(result.mark, set()) == []


def test_ctrl_c_mid_answer_records_the_run_cancelled(env: dict[str, str], sim_url: str, tmp_path: Path) -> None:
    before, asked = cluster_actor_processes(), sim_requests(sim_url, "sim-honest-slow")
    result = interrupt(["run", "What is the capital of Peru?", "--model", "sim:sim-honest-slow", "--json"], env,
                       tmp_path, ready=lambda _: sim_requests(sim_url, "sim-honest-slow") > asked)
    assert_clean_cancel(result)
    assert result.stdout == "" and "recorded as cancelled" in result.stderr
    [run] = recorded_runs(tmp_path / "home")
    assert run.status is RunStatus.CANCELLED and run.spec.task == "What is the capital of Peru?"
    assert f"run {run.run_id} is recorded as cancelled" in result.stderr  # the id to look it up by
    assert leftovers(result.mark, before) == []


def test_ctrl_c_while_the_command_loads_exits_130_quietly(tmp_path: Path) -> None:
    started = time.monotonic()
    result = interrupt(["run", "What is the capital of Australia?"], clean_env(AEGIS_HOME=str(tmp_path / "home")),
                       tmp_path, ready=lambda _: time.monotonic() - started > 0.15)  # importing, before any body
    assert_clean_cancel(result)
    assert "cancelled" in result.stderr and "KeyboardInterrupt" not in result.stderr
    assert recorded_runs(tmp_path / "home") == []


def test_sigterm_mid_answer_is_a_cancel_too(env: dict[str, str], sim_url: str, tmp_path: Path) -> None:
    asked = sim_requests(sim_url, "sim-honest-slow")
    result = interrupt(["run", "What is the capital of Chile?", "--model", "sim:sim-honest-slow"], env, tmp_path,
                       ready=lambda _: sim_requests(sim_url, "sim-honest-slow") > asked, signum=signal.SIGTERM)
    assert_clean_cancel(result, code=128 + signal.SIGTERM)
    [run] = recorded_runs(tmp_path / "home")
    assert run.status is RunStatus.CANCELLED and run.run_id in result.stderr


def test_ctrl_c_mid_session_stops_at_a_safe_point_and_resumes(env: dict[str, str], tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    before = cluster_actor_processes()
    result = interrupt(["run", "--code", "Compute the 20th Fibonacci number", "--model", "sim:sim-coder-slow",
                        "--approve", "auto", "--workspace", str(workspace)], env, tmp_path,
                       ready=lambda err: "called write_file" in err)
    assert_clean_cancel(result)
    [run] = recorded_runs(tmp_path / "home")
    assert run.status is RunStatus.CANCELLED and run.state is not None and run.state.steps[-1].state == "cancelled"
    assert f"resume it with `aegis resume {run.run_id}`" in result.stderr
    assert unsettled(tmp_path / "home", run.run_id) == []  # the file write settled, or had not started
    assert leftovers(result.mark, before) == []
    resumed = aegis("resume", run.run_id, "--json", env=env, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["answer"]["text"] == "6765" and (workspace / "solution.py").exists()


def test_ctrl_c_with_a_tool_call_in_flight_reports_it_unknown(env: dict[str, str], tmp_path: Path) -> None:
    before = cluster_actor_processes()
    result = interrupt(["run", "--code", "Take a nap", "--model", "sim:sim-sleeper", "--approve", "auto",
                        "--workspace", str(tmp_path / "ws")], env, tmp_path,
                       ready=lambda err: "called run_command" in err)
    assert_clean_cancel(result)
    assert "1 tool call(s) in flight may or may not have taken effect" in result.stderr
    [run] = recorded_runs(tmp_path / "home")
    assert run.status is RunStatus.CANCELLED
    assert len(unsettled(tmp_path / "home", run.run_id)) == 1  # begun, never finished: unknown on resume
    assert leftovers(result.mark, before, "sleep 41") == []


def test_ctrl_c_mid_drain_hands_the_jobs_back(env: dict[str, str], sim_url: str, tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("".join(json.dumps({"task": f"What is the capital of Kenya? (job {i})"}) + "\n"
                            for i in range(60)))
    args = ["factory", "-f", str(jobs), "--model", "sim:sim-honest-tick", "--concurrency", "4", "--lease", "120"]
    before, asked = cluster_actor_processes(), sim_requests(sim_url, "sim-honest-tick")
    result = interrupt([*args, "-o", str(tmp_path / "first.jsonl")], env, tmp_path,
                       ready=lambda _: sim_requests(sim_url, "sim-honest-tick") >= asked + 8)
    assert_clean_cancel(result)
    first = [json.loads(line) for line in (tmp_path / "first.jsonl").read_text().splitlines()]
    done = sum(r["status"] == "done" for r in first)
    assert 0 < done < 60 and f"cancelled: {done} done, {60 - done} not done" in result.stderr
    assert leftovers(result.mark, before) == []
    # The jobs handed back are claimed at once, not after their 120 s leases.
    started = time.monotonic()
    again = aegis(*args, env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert time.monotonic() - started < 60
    assert all(json.loads(line)["status"] == "done" for line in again.stdout.splitlines())


def test_ctrl_c_stops_serve_quietly_and_frees_its_port(tmp_path: Path) -> None:
    # Serve on a Ray of its own: the shared test cluster's Serve instance must not be shut down.
    port = free_port()
    env = clean_env(AEGIS_HOME=str(tmp_path / "home"))
    result = interrupt(["serve", "--port", str(port)], env, tmp_path, ready=lambda err: "is serving on" in err,
                       timeout_s=120)
    assert_clean_cancel(result, code=0)
    assert "stopped serving" in result.stderr and "graceful_shutdown" not in result.stderr
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))
    assert leftovers(result.mark, set()) == []


@pytest.mark.parametrize("how", ["stop", "cancel"])
async def test_a_stopped_drain_hands_back_every_job_it_holds(how: str, tmp_path: Path) -> None:
    """The engine under `aegis factory` (`stop`) and `aegis worker` (a cancelled task) on Ctrl-C: no
    job it held waits for its lease to expire."""
    store = await open_store(None, tmp_path)
    await store.enqueue([(f"job-{i}", {"spec": RunSpec(task=f"task {i}").model_dump(mode="json")})
                         for i in range(40)])
    stop = asyncio.Event()
    draining = asyncio.create_task(drain(store, answering(0.1, Counter()), "w",
                                         WorkerOptions(concurrency=4, lease_s=60), stop))
    await asyncio.sleep(0.35)
    if how == "stop":
        stop.set()
        stats = await draining
        assert stats.released > 0
    else:
        draining.cancel()
        with pytest.raises(asyncio.CancelledError):
            await draining
    counts = await store.queue_counts()
    assert 0 < counts["done"] < 40 and counts["failed"] == 0
    assert len(await store.claim_jobs("next", 60, 100)) == 40 - counts["done"]  # now, not in 60 s
    await store.close()
