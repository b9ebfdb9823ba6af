"""Will a capture's result fit? Its size, known before the model runs, against the memory this machine has free."""

from __future__ import annotations

import os

GIB = 2**30  # sizes are said in binary units, as everywhere in the package (1 GiB = 2**30 bytes)


def binary_size(count: float) -> str:
    """A size as people read it, in binary units: "3.7 GiB", "25.0 MiB", "12.5 KiB", "300 bytes"."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count:.0f} bytes"


class CaptureTooLargeError(MemoryError):
    """The result would not fit in the memory available; the message says how large and how to shrink it."""


def available_bytes() -> int | None:
    """Memory free for new allocations (Linux: MemAvailable), or None where the system does not say."""
    from_meminfo = _meminfo_available()
    if from_meminfo is not None:
        return from_meminfo
    try:  # other Unixes that have it; macOS does not (then None: no check)
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def rows_working_bytes(chunk_bytes: int, heads: int, rows: int, keys: int) -> int:
    """The rows' working memory: one chunk of fp32 logits and probabilities (`chunk_bytes`), or less where all the
    rows against all the keys take less (a short prompt)."""
    return min(chunk_bytes, 2 * 4 * heads * rows * keys)


def check_result_fits(
    layers: int, heads: int, rows: int, columns: int, itemsize: int, answering: bool, working_bytes: int = 0
) -> int:
    """The result's size in bytes; a CaptureTooLargeError, before anything runs, when it and the rows' working
    memory (`working_bytes`: one chunk of rows at a time) exceed what is free."""
    size = layers * heads * rows * (columns + 1) * itemsize  # probabilities and each row's image share
    available = available_bytes()
    if available is not None and size + working_bytes > available:
        shrink = ["keep fewer layers (layers=[-4, -3, -2, -1])"]
        if itemsize > 2:
            shrink.append("store float16 (storage='float16')")
        if answering:
            shrink.append("allow fewer answer tokens (max_new_tokens=...)")
        shrink.append("use fewer image tokens (max_pixels=...)")
        raise CaptureTooLargeError(
            f"this capture's result would take {binary_size(size)} ({layers} layers x {heads} heads x {rows} tokens "
            f"x {columns} image tokens x {itemsize} bytes) and this machine has {binary_size(available)} free: "
            + ", ".join(shrink)
        )
    return size
