"""Writing files all at once: a failure never leaves a partial file at the destination, nor a temporary one.

`write_all` writes several files all or none: every temporary file first, then every rename, the old files kept
aside until all renames succeeded; on any failure the folder is left as it was. `check_destinations` says, without
writing anything, whether the files could be written at all (so a command can refuse before its long work).
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO

Content = bytes | Callable[[IO[bytes]], object]  # the bytes, or a function that writes them to a binary file


def write_atomically(path: str | os.PathLike, write: Callable[[IO[bytes]], object]) -> Path:
    """Call `write(file)` on a temporary file next to `path`, then rename it into place.

    The file gets the permissions a plain `open(path, "wb")` would give (temporary files are private). Missing
    parent folders are made, and removed again on failure."""
    (written,) = write_all({path: write})
    return written


def write_all(files: Mapping[str | os.PathLike, Content]) -> list[Path]:
    """Write every file of `files` (path -> bytes, or a function writing to a binary file), all or none.

    The destinations are checked first (`check_destinations`); missing folders are made. Each file is written to
    a temporary file next to its destination; only when all are written are they renamed into place, each old
    file kept aside (a hard link) until every rename succeeded. On any failure nothing is left: no new file, no
    temporary file, no folder this made, and every file that was there is as it was. Errors are those of
    `check_destinations`, OSError (one line naming the file), or what a writing function raised."""
    paths = check_destinations(files)
    contents = list(files.values())
    made = _make_folders(paths)
    temporaries: list[Path] = []
    try:
        for path, content in zip(paths, contents, strict=True):
            temporaries.append(_temporary_file(path))
            _fill(temporaries[-1], content, path)
        _rename_all(temporaries, paths)
    except BaseException:
        for temporary in temporaries:
            _remove(temporary)
        for folder in reversed(made):
            _remove_folder(folder)
        raise
    return paths


def check_destinations(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """`paths` as Paths, each one a file that can be written (made, with its folders, or replaced); writes
    nothing. Raises, with one line naming the path: ValueError for a name the system refuses (a NUL character,
    the same file twice), IsADirectoryError where a destination is a folder, NotADirectoryError where a folder on
    the way is a file, PermissionError where the folder that would hold it is not writable, OSError otherwise.

    Writability is what the system says (`os.access`, and a read-only mount by `os.statvfs`): a process that may
    write anywhere (root) passes, and a full disk is only found when writing (`write_all` then leaves nothing)."""
    checked: list[Path] = []
    for given in paths:
        path = Path(checked_path(given, "output file"))
        shown = repr(str(path))
        if path in checked:
            raise ValueError(f"{shown} is given twice; each output needs its own file name")
        try:
            is_folder = path.is_dir()
            folder = _existing_ancestor(path.parent)
            folder_is_file = not folder.is_dir()
        except OSError as error:
            raise _one_line(error, f"cannot write {shown}") from error
        if is_folder:
            raise IsADirectoryError(
                f"{shown} is a folder; pass a file path inside it, e.g. {str(path / 'out')!r}, or remove the folder"
            )
        if folder_is_file:
            raise NotADirectoryError(f"cannot write {shown}: {str(folder)!r} is a file, not a folder")
        if _read_only(folder):  # root may write anywhere by `os.access`, but not on a read-only mount
            raise PermissionError(
                f"cannot write {shown}: {str(folder)!r} is on a read-only file system; choose another folder"
            )
        if not os.access(folder, os.W_OK | os.X_OK):
            where = "its folder" if folder == path.parent else f"the folder {str(folder)!r}, where its folder is made,"
            raise PermissionError(
                f"cannot write {shown}: {where} is not writable (permission denied); choose another folder"
            )
        checked.append(path)
    return checked


def checked_path(path: str | os.PathLike, what: str = "path") -> str | os.PathLike:
    """`path`, when the system can take it as a file name (no NUL character, each name short enough, text it can
    encode); else a ValueError with one line saying why."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"the {what} must be a path (a str or a pathlib.Path), not {type(path).__name__}")
    text = os.fspath(path)
    if not isinstance(text, str):
        raise TypeError(f"the {what} must be a path (a str or a pathlib.Path), not {type(text).__name__}")
    if not text:
        raise ValueError(f"the {what} is empty: pass a name")
    if "\0" in text:
        raise ValueError(f"the {what} {text!r} contains a NUL character, which no file name may hold")
    try:
        encoded = os.fsencode(text)
    except UnicodeError:
        raise ValueError(f"the {what} {text!r} has characters this system cannot use in a file name") from None
    longest = max(len(part) for part in encoded.split(b"/"))
    limit = _name_limit()
    if longest > limit:
        raise ValueError(
            f"the {what} {_short(text)!r} has a name of {longest} bytes; file names may have at most {limit}"
        )
    return path


def _short(text: str, keep: int = 60) -> str:
    return text if len(text) <= keep else text[: keep // 2] + "…" + text[-keep // 2 :]


def _name_limit() -> int:
    try:
        return os.pathconf(".", "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        return 255


def _read_only(folder: Path) -> bool:
    """Whether `folder` is on a file system mounted read-only (where the system says; else False: found on write)."""
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # no statvfs (Windows), or it failed: the write itself will say
        return False


def _one_line(error: OSError, what: str) -> OSError:
    """`error` (an OSError) again, as one line that says `what` failed and why, of the same class."""
    reason = error.strerror or str(error)
    if error.errno == errno.ENAMETOOLONG:
        reason = "a name in it is too long"
    return type(error)(f"{what}: {reason[:1].lower() + reason[1:]}")


def _existing_ancestor(folder: Path) -> Path:
    """The folder itself, or its nearest ancestor that exists (where missing folders would be made)."""
    while not folder.exists():
        if folder.parent == folder:
            break
        folder = folder.parent
    return folder


def _make_folders(paths: list[Path]) -> list[Path]:
    """Make the missing folders of `paths`; return those made, outermost first (to remove on failure)."""
    made: list[Path] = []
    try:
        for path in paths:
            missing = []
            folder = path.parent
            while not folder.exists():
                missing.append(folder)
                folder = folder.parent
            for folder in reversed(missing):
                folder.mkdir()
                made.append(folder)
    except OSError as error:
        for folder in reversed(made):
            _remove_folder(folder)
        raise _one_line(error, f"cannot make the folder {str(path.parent)!r}") from error
    return made


def _temporary_file(path: Path) -> Path:
    try:
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".qvl-", suffix=".tmp", delete=False) as handle:
            return Path(handle.name)
    except OSError as error:
        raise _one_line(error, f"cannot write {str(path)!r}") from error


def _fill(temporary: Path, content: Content, path: Path) -> None:
    try:
        with open(temporary, "wb") as handle:
            if isinstance(content, (bytes, bytearray, memoryview)):
                handle.write(content)
            else:
                content(handle)
        os.chmod(temporary, 0o666 & ~_umask())
    except OSError as error:
        raise _one_line(error, f"cannot write {str(path)!r}") from error


def _rename_all(temporaries: list[Path], paths: list[Path]) -> None:
    """Rename each temporary file to its path, keeping each old file aside until all are in place; on failure,
    put every old file back and take every new one away."""
    done: list[tuple[Path, Path | None]] = []  # (path, its old file kept aside, or None where there was none)
    current = paths[0] if paths else Path()
    try:
        for temporary, current in zip(temporaries, paths, strict=True):
            kept = _keep_aside(current)
            done.append((current, kept))
            os.replace(temporary, current)
    except BaseException as error:
        lost = [str(path) for path, kept in reversed(done) if not _put_back(path, kept)]
        if not isinstance(error, OSError):
            raise
        outcome = f"could not put back {', '.join(map(repr, lost))}" if lost else "nothing was changed"
        raise _one_line(error, f"cannot write {str(current)!r} ({outcome})") from error
    for _, kept in done:
        if kept is not None:
            _remove(kept)


def _keep_aside(path: Path) -> Path | None:
    """A second name for the file at `path` (None where there is none), so it can be put back."""
    if not os.path.lexists(path):
        return None
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".qvl-", suffix=".old", delete=False) as handle:
        kept = Path(handle.name)
    try:
        os.unlink(kept)
        os.link(path, kept, follow_symlinks=False)
    except OSError:  # no hard links here: move it aside instead (for an instant, there is no file at `path`)
        _remove(kept)
        os.replace(path, kept)
    return kept


def _put_back(path: Path, kept: Path | None) -> bool:
    """Undo one rename: the old file back at `path`, or no file where there was none. Whether that worked."""
    try:
        if kept is None:
            if os.path.lexists(path):
                os.unlink(path)
        else:
            os.replace(kept, path)
            if os.path.lexists(kept):  # `path` was still the old file: renaming a link onto it does nothing
                os.unlink(kept)
    except OSError:
        return False
    return True


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


def _remove_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.rmdir()  # only when empty: what this made, nothing else


def _umask() -> int:
    try:  # Linux says it without changing it
        with open("/proc/self/status") as status:
            return next(int(line.split()[1], 8) for line in status if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        # Elsewhere the only way to read it is to set it (process-wide, for an instant); set it straight back.
        mask = os.umask(0o022)
        os.umask(mask)
        return mask
