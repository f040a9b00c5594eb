"""Ctrl-C for the commands that start work (`run`, `factory`, `worker`, `serve`): the work is
cancelled and cleaned up, one line says what became of it, and the command exits 130. SIGTERM (a
process manager stopping the command) is handled the same way and exits 143.

Python's own SIGINT handling raises KeyboardInterrupt wherever the main thread happens to be, Ray's
C++ calls included: tracebacks, crashed processes, Ray workers left behind. Inside `interruptible()`
a Ctrl-C only marks the command interrupted and cancels the asyncio task it runs (`Interrupt.run`);
a blocking step (joining Ray, starting Serve) finishes first and `Interrupt.check` stops the command
right after it. The command cleans up as the cancellation unwinds (records its run cancelled, stops
its actors) and raises `Cancelled` saying what became of its work; `interruptible` prints that as
one line and exits 130. A second Ctrl-C ends the process at once (still no traceback).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import typer

from aegis_ray.cli.common import err

T = TypeVar("T")
EXIT_CODE = 130  # 128 + SIGINT: what a shell reports for a command that Ctrl-C ended
SIGNALS = (signal.SIGINT, signal.SIGTERM)
NOTHING_STARTED = "nothing was started"


class Cancelled(Exception):
    """Ctrl-C cancelled the command; `outcome` says what became of its work."""

    def __init__(self, outcome: str = NOTHING_STARTED) -> None:
        super().__init__(outcome)
        self.outcome = outcome


def _say(text: str) -> None:
    with contextlib.suppress(OSError):  # a plain write: this runs inside a signal handler
        os.write(2, text.encode())


class Interrupt:
    """Ctrl-C while a command runs: counted, and the command's running task cancelled."""

    def __init__(self) -> None:
        self.pressed = 0
        self.signum = signal.SIGINT  # the last signal received
        self.notice = "cancelling..."  # said at once on the first Ctrl-C
        self._task: asyncio.Task[Any] | None = None
        self._signals = [signum for signum in SIGNALS if signal.getsignal(signum) is not signal.SIG_IGN]

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def on_sigint(self, signum: int, _frame: object) -> None:
        self.pressed += 1
        self.signum = signal.Signals(signum)
        if self.pressed > 1:
            _say("\ninterrupted again: exiting now\n")
            os._exit(self.exit_code)
        _say(f"\n{self.notice} (Ctrl-C again to exit at once)\n")
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            task.get_loop().call_soon_threadsafe(lambda: None)  # wake the loop (as asyncio.Runner does)

    def claim(self) -> None:
        """Handle SIGINT and SIGTERM here, unless the process started with one ignored. Again after
        joining Ray: `ray.init` installs its own SIGTERM handler, which exits from inside the loop."""
        for signum in self._signals:
            signal.signal(signum, self.on_sigint)

    def check(self, outcome: str = NOTHING_STARTED) -> None:
        """After a blocking step: stop here, with `outcome`, if Ctrl-C was pressed meanwhile."""
        self.claim()
        if self.pressed:
            raise Cancelled(outcome)

    def run(self, main: Coroutine[Any, Any, T], outcome: str = NOTHING_STARTED) -> T:
        """`asyncio.run(main)`, cancelled by Ctrl-C. `main` cleans up as the cancellation unwinds and
        may raise `Cancelled` itself to say what became of its work; else the outcome is `outcome`."""
        self.claim()
        if self.pressed:
            main.close()
            raise Cancelled(outcome)

        async def supervised() -> T:
            self._task = asyncio.current_task()
            try:
                if self.pressed:  # pressed while the loop was starting
                    raise asyncio.CancelledError
                return await main
            finally:
                self._task = None

        try:
            return asyncio.run(supervised())
        except asyncio.CancelledError:
            raise Cancelled(outcome) from None


@contextmanager
def interruptible() -> Iterator[Interrupt]:
    """Ctrl-C cancels what the block runs (see the module's docstring); a `Cancelled` raised in the
    block is printed as one line and ends the command with exit code 130.

    A process started with SIGINT ignored (`nohup`, a shell's background job) keeps ignoring it.
    The handler stays installed when the block ends: Ray's exit hooks run after it, and a
    KeyboardInterrupt inside them is the traceback (or crash) this module exists to prevent."""
    interrupt = Interrupt()
    interrupt.claim()
    try:
        yield interrupt
    except Cancelled as cancelled:
        err.print(f"[yellow]cancelled:[/] {cancelled.outcome}", soft_wrap=True)
        raise typer.Exit(interrupt.exit_code) from None
