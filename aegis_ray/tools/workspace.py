"""The session workspace: the one directory every file tool is confined to.

A path is refused unless it is relative, has no `..` component, and still lies inside the
workspace once every symlink is resolved; device files, FIFOs and sockets are refused too. Writes
open the final component with O_NOFOLLOW, so a symlink swapped in after the check is not followed.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

from aegis_ray.errors import PathConfinementError


class Workspace:
    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root.resolve(strict=True)

    def resolve(self, path: str) -> Path:
        """The real path of `path` inside the workspace, or `PathConfinementError` saying why not."""
        if not path or "\x00" in path:
            raise PathConfinementError(f"invalid path {path!r}")
        pure = PurePosixPath(path)
        if pure.is_absolute():
            raise PathConfinementError(f"absolute path {path!r} refused",
                                       hint="give a path relative to the workspace, e.g. 'src/main.py'")
        if ".." in pure.parts:
            raise PathConfinementError(f"path {path!r} refused: '..' may not appear in a path")
        real = (self.root / pure).resolve()
        if real != self.root and not real.is_relative_to(self.root):
            raise PathConfinementError(f"path {path!r} refused: it resolves outside the workspace (symlink)")
        if real.exists():
            mode = real.stat().st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise PathConfinementError(f"path {path!r} refused: not a regular file or directory")
        return real

    def relative(self, real: Path) -> str:
        return real.relative_to(self.root).as_posix() or "."

    def write_text(self, path: str, content: str) -> Path:
        real = self.resolve(path)
        real.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(real, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        return real
