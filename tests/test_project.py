"""Project-level promises: the transformers floor in pyproject.toml is the version `make test` also runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_transformers_floor_is_the_tested_oldest_version():
    floor = re.search(r'"transformers>=([\d.]+),', (ROOT / "pyproject.toml").read_text()).group(1)
    oldest = re.search(r"^OLDEST_TRANSFORMERS := ([\d.]+)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert floor == oldest
