"""Writing files all at once: a failure never leaves a partial file at the destination, nor a temporary one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO


def write_atomically(path: str | os.PathLike, write: Callable[[IO[bytes]], object]) -> Path:
    """Call `write(file)` on a temporary file next to `path`, then rename it into place.

    The file gets the permissions a plain `open(path, "wb")` would give (temporary files are private)."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{str(path)!r} is a folder; pass a file path inside it, e.g. {str(path / 'out')!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as handle:
        temporary = Path(handle.name)
    try:
        with open(temporary, "wb") as handle:
            write(handle)
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    try:  # Linux says it without changing it
        with open("/proc/self/status") as status:
            return next(int(line.split()[1], 8) for line in status if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        # Elsewhere the only way to read it is to set it (process-wide, for an instant); set it straight back.
        mask = os.umask(0o022)
        os.umask(mask)
        return mask
