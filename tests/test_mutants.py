"""The mutation check cannot go stale: every mutant of `tools/mutants.py` (and `tools/mutants_*.py`) applies to
today's code exactly once, names tests that exist, and changes something. `make mutants` runs the full pass (each
mutant against its tests); this is its cheap part, run by `make test`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from mutants import MUTANTS  # noqa: E402  (tools/ is not a package)


def test_mutant_ids_are_unique():
    ids = [mutant.id for mutant in MUTANTS]
    assert len(ids) == len(set(ids)), sorted({name for name in ids if ids.count(name) > 1})


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda mutant: mutant.id)
def test_the_mutant_applies_exactly_once(mutant):
    source = (ROOT / mutant.file).read_text(encoding="utf-8")
    found = source.count(mutant.original)
    assert found == 1, (
        f"{mutant.id}: its snippet occurs {found} times in {mutant.file}: point it at today's code in tools/"
        + ("" if found else " (or drop it if the code it guarded is gone)")
    )
    assert mutant.replacement != mutant.original
    assert mutant.description and mutant.tests
    for test in mutant.tests:
        assert (ROOT / test.split("::")[0]).exists(), f"{mutant.id}: no test file {test}"
