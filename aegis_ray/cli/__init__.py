"""The `aegis` command line: the composition root, one module per command or command group.

`main.py` builds the Typer app from the command modules; nothing else imports it. `main` here is
the entry point (`aegis`, `python -m aegis_ray`): it makes Ctrl-C and SIGTERM quiet before the app
is imported (the imports take about half a second, and Python's default handler would print a
KeyboardInterrupt traceback), then loads and runs the app. Commands that start work replace this
handler with their own (`cli/interrupt.py`).
"""

from __future__ import annotations

import os
import signal
import sys

EXIT_ON_SIGNAL = 128  # plus the signal's number: what a shell reports for a command a signal ended


def _quit_quietly(signum: int, _frame: object) -> None:
    os.write(2, b"\ncancelled: nothing was started\n")
    sys.exit(EXIT_ON_SIGNAL + signum)


def main() -> None:
    """Run the `aegis` command line."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(signum) is not signal.SIG_IGN:  # `nohup` and background jobs keep ignoring it
            signal.signal(signum, _quit_quietly)
    from aegis_ray.cli.main import main as run_cli

    run_cli()


__all__ = ["main"]
