"""How long `import qvl_widget` takes in a fresh interpreter, and what it pulls in.

    .venv/bin/python benchmarks/import_time.py                     # this checkout
    .venv/bin/python benchmarks/import_time.py --compare-to e49d1f0  # and an older commit, interleaved

Each round starts a new interpreter per tree (warm file cache: the first round is dropped) and times the import
alone; the medians are printed side by side, with the heavy modules each import loaded.
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "matplotlib.pyplot", "anywidget")
PROBE = (
    "import sys, time; started = time.perf_counter(); import qvl_widget; elapsed = time.perf_counter() - started; "
    f"print(elapsed, ','.join(name for name in {HEAVY!r} if name in sys.modules))"
)


def import_once(tree: Path) -> tuple[float, str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=tree, capture_output=True, text=True, check=True, env={"PATH": "/usr/bin"}
    )
    seconds, _, heavy = done.stdout.strip().partition(" ")
    return float(seconds), heavy or "none"


def export(revision: str, folder: Path) -> Path:
    """The package as it was at `revision`, unpacked into `folder`."""
    archive = subprocess.run(["git", "archive", revision, "qvl_widget"], cwd=ROOT, capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compare-to", metavar="REVISION", help="also time the package at this git revision")
    parser.add_argument("--rounds", type=int, default=7)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        trees = {"this checkout": ROOT}
        if arguments.compare_to:
            trees[arguments.compare_to] = export(arguments.compare_to, Path(scratch))
        times: dict[str, list[float]] = {name: [] for name in trees}
        loaded: dict[str, str] = {}
        for round_ in range(arguments.rounds + 1):
            for name, tree in trees.items():
                seconds, heavy = import_once(tree)
                if round_:  # the first round warms the file cache
                    times[name].append(seconds)
                loaded[name] = heavy
    for name in trees:
        median = statistics.median(times[name])
        print(f"{name:>16}: import qvl_widget {median:.3f} s (median of {arguments.rounds}); loads: {loaded[name]}")


if __name__ == "__main__":
    main()
