"""The `aegis` command line: the composition root, one module per command or command group.

`main.py` builds the Typer app from the command modules; nothing else imports it. `main` here is
a thin entry point for `aegis_ray.cli:main` (older console scripts), loading the app only when called.
"""

from __future__ import annotations


def main() -> None:
    """Run the `aegis` command line."""
    from aegis_ray.cli.main import main as run_cli

    run_cli()


__all__ = ["main"]
