"""Checking public arguments at the boundary: each refusal is one line that names the argument, shows the bad value
(its repr, shortened when long) and says what to pass.

Numbers: a whole number is an int, a numpy integer, a 0-d integer array, or a float with a whole, finite value
(`1e6`); bools are never numbers here, and NaN and infinity are never whole or in a range. Flags are True or False
(numpy's too). Texts must be encodable as UTF-8: a lone surrogate (half of a UTF-16 pair, e.g. from bytes decoded
with errors="surrogateescape") is refused with its position, since no tokenizer, file or page can hold it.

Numpy only (no torch): the result's views use these without the model stack.
"""

from __future__ import annotations

import math
import numbers
import os
import re
from typing import Any

import numpy as np

SHOWN_CHARACTERS = 60  # a bad value is shown by its repr, cut to this many characters


def shown(value: Any, limit: int = SHOWN_CHARACTERS) -> str:
    """`repr(value)` on one line (arrays print over several), cut to `limit` characters with "..."."""
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ must not hide the real error
        text = f"<{type(value).__name__} object>"
    text = re.sub(r"\s*\n\s*", " ", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def whole_number(value: Any) -> int | None:
    """`value` as an int where it is a whole number (see the module docstring), else None."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (numbers.Integral, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
        return int(value)
    return None


def real_number(value: Any) -> float | None:
    """`value` as a finite float where it is a real number (not a bool), else None."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.integer, np.floating)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def integer_index(value: Any) -> int | None:
    """`value` as an int where it is an integer index: an int, a numpy integer or a 0-d integer array (not a bool,
    a float or a string), else None."""
    if isinstance(value, np.ndarray) and value.ndim == 0 and np.issubdtype(value.dtype, np.integer):
        return int(value.item())
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        return None
    return int(value)


def checked_flag(value: Any, name: str) -> bool:
    """True or False (a numpy bool too), or a one-line TypeError."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be True or False, not {shown(value)}")


def checked_count(value: Any, name: str, what: str, minimum: int = 1) -> int:
    """A whole number >= `minimum`, or a one-line error: TypeError for what is not a number at all, ValueError
    for a number that is not whole or is too small. `what` says what the number is, e.g. "in bytes"."""
    number = whole_number(value)
    if number is None or number < minimum:
        raise error_kind(value)(f"{name} must be a whole number >= {minimum} ({what}), not {shown(value)}")
    return number


def checked_text(value: Any, name: str, advice: str) -> str:
    """A string that UTF-8 can encode, or a one-line error (`advice`: what to pass, e.g. "a question")."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string ({advice}), not {described(value)}")
    check_encodable(value, name)
    return value


def check_encodable(text: str, label: str) -> None:
    """A one-line ValueError where `text` holds a lone surrogate, which no tokenizer, file or page can hold."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(
            f"{label} has a lone surrogate {text[error.start]!r} at index {error.start} (half of a UTF-16 pair, "
            "not a character), which cannot be encoded: remove it, or decode the text as UTF-8"
        ) from None


def error_kind(value: Any) -> type[Exception]:
    """What a refused number raises: ValueError for a number (NaN and infinity too) out of range or not whole,
    TypeError for what is not a number at all (a string, None, a bool, a list)."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    is_number = isinstance(value, (numbers.Real, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    return ValueError if is_number else TypeError


def shown_path(path: str, limit: int = 2 * SHOWN_CHARACTERS) -> str:
    """A path's repr, cut in the middle when long (its start and its file name both stay)."""
    text = repr(path)
    return text if len(text) <= limit else text[: limit // 2 - 2] + "..." + text[-(limit // 2 - 1) :]


def checked_file_path(path: Any, name: str, suffixes: tuple[str, ...], example: str) -> str:
    """`path` as a string when it is a file path (a str or an os.PathLike, not bytes) ending in one of `suffixes`
    (any case); else a one-line TypeError or ValueError. What the system can take as a file name is checked
    where the file is written (`_files.check_destinations`)."""
    text = os.fspath(path) if isinstance(path, os.PathLike) else path
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a file path (a str or a pathlib.Path), e.g. {example}, not {shown(path)}")
    if not text.lower().endswith(suffixes):
        raise ValueError(f"{name} must end in {' or '.join(suffixes)}, got {shown_path(text)}")
    return text


# Values whose repr says what they are in a few characters; other objects are named by their type alone.
_PLAIN = (bool, int, float, complex, str, bytes, bytearray, list, tuple, dict, set, frozenset, np.generic)


def described(value: Any) -> str:
    """A wrong-typed value for an error: its type and, for plain values, its repr ("list ['what']", "int 42",
    "None"); other objects (a model, an array, a widget) by their type alone."""
    if value is None:
        return "None"
    if isinstance(value, _PLAIN):
        return f"{type(value).__name__} {shown(value)}"
    return type(value).__name__
