"""What the commands share: the output consoles, error reporting, the simulated-model notice,
joining the cluster, a background simulator, store calls, and printing a run's result.

Exit codes (DESIGN.md §6): 0 ok, 1 failed run, 2 bad input, 3 abstained. Every command reports a
failure as one clear line on stderr (plus a hint where one helps); `--json` output goes to stdout
alone, so scripts can parse it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console

from aegis_ray.config import Settings
from aegis_ray.errors import AegisError, BadInputError
from aegis_ray.model_ref import ModelRef
from aegis_ray.types import RunResult, RunStatus

if TYPE_CHECKING:
    pass

out = Console(file=sys.stdout, highlight=False)  # bound now: `join_cluster` repoints sys.stdout
err = Console(stderr=True, highlight=False)

F = TypeVar("F", bound=Callable[..., Any])


def fail(error: AegisError) -> typer.Exit:
    """Print `error` (and its hint) on stderr; the exit carrying its exit code."""
    err.print(f"[bold red]error:[/] {error.message}", markup=True, soft_wrap=True)
    if error.hint:
        err.print(f"[dim]hint: {error.hint}[/]", soft_wrap=True)
    return typer.Exit(error.exit_code)


def reports_errors(command: F) -> F:
    """Turn Aegis and validation errors into one line and the right exit code."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise fail(BadInputError(f"invalid {where}: {first['msg']}")) from None
        except AegisError as exc:
            raise fail(exc) from None

    return wrapper  # type: ignore[return-value]


def simulated_notice(model: str) -> None:
    err.print(
        f"[bold yellow]SIMULATED MODEL[/] — this answer comes from Aegis's built-in simulated model server "
        f"({model}), not from a real LLM.\n[dim]To use a real model: export OPENAI_API_KEY (or ANTHROPIC_API_KEY / "
        "GEMINI_API_KEY) and AEGIS_MODEL=openai:<model> (or pass --model), or point at any OpenAI-compatible "
        "server with --model openai-compatible:http://HOST:PORT/v1:<model>.[/]",
        soft_wrap=True,
    )


# How this command joined Ray (`actors.local_cluster.join_address`): "explicit" (RAY_ADDRESS),
# "local" (the running local head), "start" (a head it started, AEGIS_LOCAL_CLUSTER=keep) or
# "ephemeral" (a cluster of its own, gone at exit); None before `join_cluster`.
_joined: str | None = None
_own_simulator = False  # whether a simulator runs in this process (`simulator`)


def status(line: str) -> None:
    """A dim progress line on stderr (never stdout: `--json` output stays parseable)."""
    err.print(f"[dim]{line}[/]", soft_wrap=True)


def join_cluster(settings: Settings, *, preload: tuple[str, ...] = ()) -> None:
    """Join RAY_ADDRESS / AEGIS_RAY_ADDRESS, else the local cluster `aegis up` keeps up, else start
    one that stays up (AEGIS_LOCAL_CLUSTER=keep) or a cluster for this command alone; say which on
    stderr before Ray starts. `preload`: modules to import meanwhile, while Ray starts processes."""
    global _joined
    from actors.local_cluster import join_address, start
    from aegis_ray.security.dlp import scrub_logs

    scrub_logs(settings.known_secrets())
    address, how = join_address(settings.ray_address, settings.home)
    object_store = settings.ray_object_store_mb * 2**20
    if how == "explicit":
        status(f"joining the Ray cluster at {address}...")
    elif how == "local":
        status(f"joining the local Aegis cluster at {address}...")
    elif how == "start":
        status("starting a local Ray cluster that stays up (first run, ~10 s; `aegis down` stops it)...")
    else:
        status("starting Ray for this command (~10 s; `aegis up` keeps a local cluster up, and later "
               "commands join it in about a second)...")
    from actors.cluster import connect  # Ray's own modules first, then the preload beside Ray's processes

    loading = _import_meanwhile(preload) if how != "local" else None
    if how == "start":
        address = start(settings.home, object_store_bytes=object_store)[0].address
    try:
        connect(address, object_store_memory=object_store)
    except AegisError as error:
        if how != "local":
            raise
        raise AegisError(f"the local Aegis cluster at {address} does not answer ({error.message})",
                         hint="restart it: `aegis down`, then `aegis up`") from None
    if loading is not None:
        loading.join()
    _joined = how
    import atexit

    import ray

    # Leave before Ray's own exit hook, which sleeps 0.5 s for driver logs (there are none: they
    # stay off the driver); atexit runs the latest registration first.
    atexit.register(ray.shutdown)
    # Ray prints cluster warnings ("(raylet) WARNING: N PYTHON worker processes have been started")
    # to the driver's sys.stdout, and they cannot be switched off; stdout is Aegis's own (`--json`).
    sys.stdout = sys.stderr


def _import_meanwhile(modules: tuple[str, ...]) -> threading.Thread | None:
    """Import `modules` on a thread (an import failure surfaces where the module is used)."""
    if not modules:
        return None
    import importlib

    def load() -> None:
        for name in modules:
            with contextlib.suppress(Exception):
                importlib.import_module(name)

    thread = threading.Thread(target=load, name="aegis-preload", daemon=True)
    thread.start()
    return thread


def relay_calls() -> bool:
    """Whether this command's model calls go through their endpoint actors: on a cluster that
    outlives the command, where those actors hold warm SDK clients, unless this process runs a
    simulator itself (its SDK is loaded here already, and its endpoint actors are new)."""
    return _joined in ("explicit", "local", "start") and not _own_simulator


@contextmanager
def simulator(needed: bool) -> Iterator[str | None]:
    """The simulated model server's URL while the block runs, when the model plan needs one: the
    local cluster's own (one server for the cluster's life, so every command shares its endpoint
    actors) when the command joins it, else one in this process; the endpoint actors made for that
    one are let go at the end when the cluster outlives the command."""
    global _own_simulator
    if not needed:
        yield None
        return
    from actors.local_cluster import join_address, simulator_url
    from aegis_ray.config import load_settings

    settings = load_settings()
    if (_joined or join_address(settings.ray_address, settings.home)[1]) in ("local", "start"):
        url = simulator_url(settings.home)  # None if the head is still to be started
        if url is not None:
            yield url
            return
    from aegis_ray.sim import SimServer

    with SimServer() as server:
        _own_simulator = True
        try:
            yield server.base_url
        finally:
            _own_simulator = False
            if _joined in ("explicit", "local", "start"):
                _release(settings, server.base_url)


def _release(settings: Settings, sim_url: str) -> None:
    import ray

    from actors.registry import release_provider_actors
    from aegis_ray.runner import endpoint_configurer

    if ray.is_initialized():
        with contextlib.suppress(Exception):  # best effort: the answer is already in hand
            release_provider_actors(sim_url, endpoint_configurer(settings, sim_url))


def check_simulated_models(settings: Settings, models: Iterable[ModelRef]) -> None:
    """Reject a `sim:` model the simulated server does not have, before Ray starts, with the error
    the server would answer (HTTP 404). The server asked is AEGIS_SIM_URL's or the local cluster's;
    without either, the built-in simulator's own list decides."""
    simulated = [m for m in models if m.simulated]
    if not simulated:
        return
    url = settings.sim_url or _local_simulator(settings)
    patterns = _served_models(url) if url else None
    if patterns is None:
        if settings.sim_url:
            return  # a server of the user's that does not list its models: the call will tell
        from aegis_ray.sim.models import default_models

        patterns = list(default_models())
    import fnmatch

    from aegis_ray.errors import UnknownModelError

    for ref in simulated:
        if not any(fnmatch.fnmatchcase(ref.model, p) for p in patterns):
            known = ", ".join(p.rstrip("*") for p in patterns)
            raise UnknownModelError(f"HTTP 404 from {ref}: the model '{ref.model}' does not exist on this simulated "
                                    "server", model=ref.name, hint=f"the simulator has {known} (and any name that "
                                    "starts with one of them)")


def _local_simulator(settings: Settings) -> str | None:
    from actors.local_cluster import join_address, recorded

    if join_address(settings.ray_address, settings.home)[1] != "local":
        return None
    head = recorded(settings.home)
    return head.sim_url if head else None


def _served_models(url: str) -> list[str] | None:
    """The model names (fnmatch patterns) a simulated server lists, or None if it does not answer."""
    import json
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/v1/models", timeout=2) as reply:
            return [str(entry["id"]) for entry in json.load(reply)["data"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store_call(settings: Settings, work: Callable[[Any], Any]) -> Any:
    """Open the configured store, run `work(store)`, close it."""
    from aegis_ray.store import open_store

    async def go() -> Any:
        store = await open_store(settings.database_dsn, settings.home)
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(go())


def print_result(result: RunResult) -> None:
    if result.status is not RunStatus.SUCCEEDED:
        reason = result.answer.reason or result.status.value
        err.print(f"[bold]{result.status.value}:[/] {reason}", soft_wrap=True)
    else:
        out.print(result.answer.text, markup=False, soft_wrap=True)
    cost = "unknown (no price for this model)" if result.cost_usd is None else f"${result.cost_usd:.6f}"
    label = " (simulated)" if result.simulated else ""
    err.print(
        f"[dim]model {result.model}{label} · tokens {result.usage.input_tokens} in / "
        f"{result.usage.output_tokens} out · cost {cost} · {result.latency_s * 1000:.0f} ms[/]", soft_wrap=True,
    )


def finish(result: RunResult, as_json: bool) -> None:
    """Print a run's result (or its JSON), say how to resume a parked one, exit with its code."""
    from aegis_ray.runner import EXIT_CODES

    if as_json:
        out.print_json(result.model_dump_json())
    else:
        print_result(result)
    if result.status is RunStatus.AWAITING_APPROVAL:
        err.print(f"[yellow]parked:[/] run {result.run_id} awaits approval. Decide with `aegis approve "
                  f"{result.run_id}` (or --deny); it resumes from its last step.", soft_wrap=True)
    raise typer.Exit(EXIT_CODES.get(result.status, 1))
