"""The kill switch: one flag in the store that every entry point obeys.

`aegis stop` (or `POST /api/control/stop`) sets it to `stopped`; from then on no entry point takes
new work: `aegis run` and the MCP server refuse, factory workers stop claiming and hand back the
jobs they hold, sessions park at their next step, Serve answers 503. `aegis resume` sets it back.

The store is the one place it lives, so the flip reaches every process and node that shares it. A
process reads it through a `KillSwitch`, which caches a read for at most `max_age_s` (half a
second by default: new work halts within a second of the flip, and a hot path pays one store read
per half second, not one per call). A switch that cannot be read counts as stopped: entry points
fail closed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import TYPE_CHECKING

from aegis_ray.errors import ServiceUnavailableError

if TYPE_CHECKING:
    from aegis_ray.store import Store

FLAG = "kill_switch"
DEFAULT_MAX_AGE_S = 0.5


class SwitchState(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"


class StoppedError(ServiceUnavailableError):
    """The kill switch is stopped (or cannot be read): no new work is taken."""

    exit_code = 5


async def read_switch(store: Store) -> SwitchState:
    """The switch as the store holds it (an unset flag is running)."""
    value = await store.flag(FLAG)
    return SwitchState(value) if value in tuple(SwitchState) else SwitchState.RUNNING


async def set_switch(store: Store, state: SwitchState, actor: str = "system", tenant: str | None = None) -> SwitchState:
    """Flip the switch, and record who did in the audit log."""
    await store.set_flag(FLAG, state.value)
    await store.audit(actor, "kill_switch.stop" if state is SwitchState.STOPPED else "kill_switch.resume",
                      tenant=tenant)
    return state


class KillSwitch:
    """A process's view of the switch: reads cached for `max_age_s`, failing closed. `store` is an
    open store, or a coroutine function opening one on the first read (in the loop that reads)."""

    def __init__(self, store: Store | Callable[[], Awaitable[Store]], max_age_s: float = DEFAULT_MAX_AGE_S) -> None:
        self._opener = store if callable(store) else None
        self.store: Store | None = None if callable(store) else store
        self.max_age_s = max_age_s
        self._state: SwitchState | None = None
        self._read_at = float("-inf")
        self._error: str | None = None
        self._lock = asyncio.Lock()

    async def state(self) -> SwitchState:
        """The switch as of at most `max_age_s` ago; STOPPED when the store could not be read."""
        if time.monotonic() - self._read_at >= self.max_age_s:
            async with self._lock:
                if time.monotonic() - self._read_at >= self.max_age_s:
                    try:
                        if self.store is None:
                            assert self._opener is not None
                            self.store = await self._opener()
                        self._state, self._error = await read_switch(self.store), None
                    except Exception as exc:  # any failure to read: fail closed, and say why
                        self._state, self._error = SwitchState.STOPPED, f"{type(exc).__name__}: {exc}"
                    self._read_at = time.monotonic()
        assert self._state is not None
        return self._state

    async def check(self, what: str = "new work") -> None:
        """Raise `StoppedError` unless the switch is running."""
        if await self.state() is SwitchState.RUNNING:
            return
        if self._error is not None:
            raise StoppedError(f"the kill switch cannot be read ({self._error}), so {what} is refused",
                               hint="check the store (AEGIS_DATABASE_URL, or the SQLite file under AEGIS_HOME)")
        raise StoppedError(f"the kill switch is stopped: {what} is refused",
                           hint="`aegis resume` (or POST /api/control/resume) lets work start again")

    async def wait_running(self) -> None:
        """Return once the switch reads running again (polled every `max_age_s`)."""
        while await self.state() is not SwitchState.RUNNING:  # noqa: ASYNC110 - polled, as above
            await asyncio.sleep(self.max_age_s)

    async def wait_stopped(self) -> None:
        """Return once the switch reads stopped (polled every `max_age_s`)."""
        while await self.state() is SwitchState.RUNNING:  # noqa: ASYNC110 - the flag lives in the store: polled
            await asyncio.sleep(self.max_age_s)
