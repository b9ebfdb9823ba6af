"""One mutant: a small deliberate bug, as `tools/mutation.py` applies it (see `tools/mutants.py`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    id: str
    file: str
    original: str
    replacement: str
    description: str
    tests: tuple[str, ...]
    equivalent: str = ""  # why it cannot be killed (it changes nothing anyone can observe), if so
