"""What the commands share: the output consoles, error reporting (Aegis errors, validation errors
and Click usage errors alike), quiet Ray logging, the simulated-model notice, joining the cluster,
a background simulator and store calls. (Printing results and tables: `aegis_ray.cli.output`.)

Exit codes: 0 ok, 1 failed run, 2 bad input (usage errors too), 3 abstained, 130 cancelled. Every
command reports a failure as one line on stderr, `error: ...`, then one `hint: ...` line; `--json`
output goes to stdout alone, so scripts can parse it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

# Typer bundles its own Click; its usage errors are these classes, not the `click` package's.
from typer._click.exceptions import NoArgsIsHelpError, NoSuchOption, UsageError

from aegis_ray.config import Settings
from aegis_ray.errors import AegisError, BadInputError
from aegis_ray.model_ref import ModelRef

if TYPE_CHECKING:
    pass

out = Console(file=sys.stdout, highlight=False)  # bound now: `join_cluster` repoints sys.stdout
err = Console(stderr=True, highlight=False)

F = TypeVar("F", bound=Callable[..., Any])


def fail(error: AegisError) -> typer.Exit:
    """Print `error` on stderr, one line, then its hint (bad input without one: the command's
    --help); the exit carrying its exit code."""
    hint = error.hint or (f"see `{_command_path()} --help`" if isinstance(error, BadInputError) else None)
    print_error(error.message, hint)
    return typer.Exit(error.exit_code)


def print_error(message: str, hint: str | None) -> None:
    """`error: MESSAGE` and `hint: HINT` on stderr, one line each, whatever the text holds."""
    err.print(f"[bold red]error:[/] {escape(one_line(message))}", soft_wrap=True)
    if hint:
        err.print(f"[dim]hint: {escape(one_line(hint))}[/]", soft_wrap=True)


def one_line(text: str) -> str:
    return " ".join(text.split())


def _command_path() -> str:
    """The running command as typed (`aegis run`), or `aegis` outside a command."""
    from typer._click.globals import get_current_context

    context = get_current_context(silent=True)
    return context.command_path if context is not None else "aegis"


def reports_errors(command: F) -> F:
    """Turn Aegis and validation errors into one line and the right exit code."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ValidationError as exc:
            raise fail(bad_input(exc)) from None
        except AegisError as exc:
            raise fail(exc) from None

    return wrapper  # type: ignore[return-value]


def bad_input(exc: ValidationError) -> BadInputError:
    """A pydantic validation error as one line naming the field and what was wrong with it."""
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "input"
    what = _pydantic_text(first["msg"])
    hint = None
    if first["type"] in ("string_too_long", "too_long"):
        limit, unit = first["ctx"]["max_length"], "characters" if first["type"] == "string_too_long" else "items"
        what, hint = f"{len(first['input']):,} {unit}, at most {limit:,}", f"shorten it to {limit:,} {unit} or fewer"
    more = exc.error_count() - 1
    return BadInputError(f"invalid {field}: {what}" + (f" (and {more} more)" if more else ""), hint=hint)


def _pydantic_text(message: str) -> str:
    """A message without the "Value error, " pydantic puts before a validator's own words."""
    return re.sub(r"(^|: )(Value|Assertion) error, ", r"\1", message)


_GLOBAL_OPTIONS = ("-v", "--verbose")  # the app's own, given before the command


def report_usage_error(error: UsageError) -> int:
    """Print a Click usage error (unknown option or command, missing argument, bad value) in the
    Aegis style, one `error:` line and one `hint:` line; its exit code (2). `aegis` alone still
    prints the help."""
    if isinstance(error, NoArgsIsHelpError):
        if error.format_message().strip():  # with Rich, Typer has printed the help already
            error.show()
        return error.exit_code
    message, suggestion = _usage_message(error)
    see = f"`{error.ctx.command_path if error.ctx is not None else 'aegis'} --help`"
    print_error(message[:1].lower() + message[1:].rstrip("."),
                f"did you mean {suggestion}? See {see}" if suggestion else f"see {see}")
    return error.exit_code


def _usage_message(error: UsageError) -> tuple[str, str | None]:
    """What was wrong, and what the user may have meant (an option or command of that name)."""
    if isinstance(error, NoSuchOption) and error.option_name in _GLOBAL_OPTIONS and error.ctx is not None:
        program = error.ctx.find_root().command_path  # `aegis`, or `python -m aegis_ray`
        command = error.ctx.command_path.removeprefix(program).strip()
        return error.message, f"`{program} {error.option_name} {command} ...` (it goes first)"
    if isinstance(error, NoSuchOption):
        return error.message, error.possibilities[0] if error.possibilities else None
    # Typer appends its own suggestion for an unknown command: "... Did you mean 'run', 'runs'?"
    message, _, suggestion = error.format_message().partition(". Did you mean ")
    return _pydantic_text(message), " or ".join(suggestion.rstrip("?").rsplit(", ", 1)) or None


# Whether `-v` asked for Ray's and Serve's own log lines (`quiet_ray`).
_verbose = False


def set_verbose(verbose: bool) -> None:
    global _verbose
    _verbose = verbose


def quiet_ray() -> None:
    """Unless `-v`, keep Ray's and Serve's own log lines under ERROR off stderr: the token-auth
    notice, "Connecting to existing Serve app" and the like."""
    if _verbose:
        return
    import ray  # noqa: F401  (importing Ray sets its logger's level, which this then overrides)

    logging.getLogger("ray").setLevel(logging.ERROR)
    # Importing Serve re-levels its logger (and Serve may load after this): a filter stays.
    logging.getLogger("ray.serve").addFilter(_errors_only)


def _errors_only(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.ERROR


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
    stderr before Ray starts. `preload`: modules to import meanwhile, while Ray starts processes.
    Joining again (`run --verify` verifies on the cluster it answered on) does nothing."""
    global _joined
    if _joined is not None:
        return
    from actors.local_cluster import join_address, start
    from aegis_ray.security import scrub_logs

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

    quiet_ray()
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
                module = importlib.import_module(name)
                for exported in getattr(module, "__all__", ()):  # a lazy package's names load on use
                    getattr(module, exported)

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
    from aegis_ray.sim.server import SimServer

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
