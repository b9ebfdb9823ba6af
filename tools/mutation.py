"""Mutation testing: do the tests notice small deliberate bugs in the code users rely on?

Each mutant (see `tools/mutants.py`) replaces one exact snippet of one file. For each, the repository's files
(tracked ones, and untracked ones git does not ignore: the working tree as it is now) are copied to a temporary
folder, the mutant is applied there, the front-end bundle is rebuilt when a `js/` file changed, and the mutant's
tests run there with `pytest -x -q` (`.js` test files with `node --test`) under a timeout. A failing run kills
the mutant, a passing one lets it survive. The repository itself is never changed.

    .venv/bin/python tools/mutation.py                   # every mutant
    .venv/bin/python tools/mutation.py --only view.js    # those whose id, file or description contain it
    .venv/bin/python tools/mutation.py --list            # what there is, and which snippets are stale

A mutant whose snippet is no longer in its file (code moved or rewritten) is reported as stale, one whose snippet
occurs more than once as ambiguous: update `tools/mutants.py`. First, the unmutated copy must pass every test the
chosen mutants name (the baseline), else nothing is measured. Exit status: 0 when every mutant was killed (or
survived as a known equivalent), 1 when one survived, errored or could not be applied, 2 when the baseline failed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mutants import MUTANTS, Mutant  # tools/ is not a package: imported from this folder

ROOT = Path(__file__).resolve().parents[1]
BUILD_TIMEOUT_S = 120


@dataclass
class Outcome:
    mutant: Mutant
    status: str  # killed, survived, equivalent, stale, ambiguous, invalid, error, timeout
    seconds: float = 0.0
    detail: str = ""  # the failing test, or why it could not run


def tree_files(root: Path) -> list[Path]:
    """The working tree's files: tracked, plus untracked ones that git does not ignore."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        check=True,
        capture_output=True,
    ).stdout.decode()
    paths = dict.fromkeys(Path(name) for name in listed.split("\0") if name)
    return [path for path in paths if (root / path).is_file() or (root / path).is_symlink()]


def copy_tree(root: Path, files: list[Path], destination: Path) -> None:
    for path in files:
        target = destination / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / path, target, follow_symlinks=False)
    # A worktree whose node_modules is a symlink (not ignored: ".gitignore" names a folder) has it copied above.
    if (root / "node_modules").is_dir() and not (destination / "node_modules").is_symlink():
        (destination / "node_modules").symlink_to(root / "node_modules", target_is_directory=True)


def occurrences(root: Path, mutant: Mutant) -> int:
    path = root / mutant.file
    return path.read_text(encoding="utf-8").count(mutant.original) if path.is_file() else 0


def run_group(command: list[str], cwd: Path, timeout: float) -> tuple[int | None, str]:
    """Run `command` in its own process group; on timeout kill the group (browsers included). `None`: timed out."""
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(cwd), os.environ.get("PYTHONPATH")]))}
    environment["PYTHONDONTWRITEBYTECODE"] = "1"
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        return None, output
    return process.returncode, output


def run_tests(tests: tuple[str, ...], cwd: Path, deadline: float) -> tuple[str, str]:
    """`(status, detail)` of running `tests` in `cwd`: "passed", "failed", "error" or "timeout"."""
    python_tests = [test for test in tests if not test.endswith(".js") and not test.rstrip("/").endswith("js/tests")]
    node_tests = [test for test in tests if test not in python_tests]
    commands = []
    if node_tests:
        commands.append(["node", "--test", *node_tests])
    if python_tests:
        commands.append([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *python_tests])
    for command in commands:
        code, output = run_group(command, cwd, max(1.0, deadline - time.monotonic()))
        if code is None:
            return "timeout", f"over the time limit in {' '.join(command[:2])}"
        failed = [line for line in output.splitlines() if line.startswith(("FAILED ", "ERROR ", "not ok "))]
        if code == 1 or (code == 2 and command[0] != "node"):  # pytest 2: errors while collecting or running
            return "failed", failed[0][:160] if failed else last_lines(output, 1)
        if code != 0:
            return "error", f"exit status {code}: {last_lines(output, 3)}"
    return "passed", ""


def last_lines(text: str, count: int) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-count:])


def build_bundle(cwd: Path) -> str | None:
    """Rebuild the front-end bundle; the error text when that fails."""
    code, output = run_group(["node", "tools/build.mjs"], cwd, BUILD_TIMEOUT_S)
    return None if code == 0 else last_lines(output, 3)


def check_imports_from(cwd: Path) -> None:
    """The copy's `qvl_widget` must be the one its tests import, not the repository's."""
    code, output = run_group(
        [sys.executable, "-c", "import qvl_widget; print(qvl_widget.__file__)"], cwd, BUILD_TIMEOUT_S
    )
    imported = Path(output.strip().splitlines()[-1]).resolve() if output.strip() else None
    if code != 0 or imported is None or not imported.is_relative_to(cwd.resolve()):
        raise SystemExit(f"the copy in {cwd} imports qvl_widget from {imported}, not from itself: {output.strip()}")


def baseline(files: list[Path], mutants: list[Mutant], timeout: float) -> None:
    tests = tuple(dict.fromkeys(test for mutant in mutants for test in mutant.tests))
    with tempfile.TemporaryDirectory(prefix="qvl-baseline-") as folder:
        copy = Path(folder)
        copy_tree(ROOT, files, copy)
        check_imports_from(copy)
        print(f"baseline: the unmutated copy runs {len(tests)} test files ...", flush=True)
        started = time.monotonic()
        status, detail = run_tests(tests, copy, started + timeout)
        if status != "passed":
            print(f"baseline {status}: {detail}\nfix the tests (or the code) before measuring mutants", flush=True)
            raise SystemExit(2)
        print(f"baseline passed in {time.monotonic() - started:.0f} s\n", flush=True)


def measure(mutant: Mutant, files: list[Path], timeout: float) -> Outcome:
    found = occurrences(ROOT, mutant)
    if found == 0:
        return Outcome(mutant, "stale", detail=f"snippet not in {mutant.file}")
    if found > 1:
        return Outcome(mutant, "ambiguous", detail=f"snippet found {found} times in {mutant.file}")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="qvl-mutant-") as folder:
        copy = Path(folder)
        copy_tree(ROOT, files, copy)
        target = copy / mutant.file
        target.write_text(target.read_text(encoding="utf-8").replace(mutant.original, mutant.replacement))
        if mutant.file.startswith("js/"):
            error = build_bundle(copy)
            if error is not None:
                return Outcome(mutant, "invalid", time.monotonic() - started, f"bundle does not build: {error}")
        status, detail = run_tests(mutant.tests, copy, started + timeout)
    seconds = time.monotonic() - started
    if status == "passed":
        return Outcome(mutant, "equivalent" if mutant.equivalent else "survived", seconds, mutant.equivalent)
    return Outcome(mutant, {"failed": "killed"}.get(status, status), seconds, detail)


def print_row(outcome: Outcome) -> None:
    mutant = outcome.mutant
    print(f"{outcome.status:<10} {outcome.seconds:5.0f}s  {mutant.id:<34} {mutant.description}", flush=True)
    if outcome.detail:
        print(f"{'':<18}{outcome.detail}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", help="run mutants whose id, file or description contain this")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per mutant (default 900)")
    parser.add_argument("--list", action="store_true", help="list the mutants and whether their snippets are found")
    parser.add_argument("--no-baseline", action="store_true", help="skip the run on the unmutated copy")
    arguments = parser.parse_args(argv)

    ids = [mutant.id for mutant in MUTANTS]
    duplicates = sorted({name for name in ids if ids.count(name) > 1})
    if duplicates:
        raise SystemExit(f"duplicate mutant ids in tools/mutants.py: {', '.join(duplicates)}")
    chosen = [
        mutant
        for mutant in MUTANTS
        if not arguments.only
        or any(pattern in f"{mutant.id} {mutant.file} {mutant.description}" for pattern in arguments.only)
    ]
    if arguments.list:
        for mutant in chosen:
            found = occurrences(ROOT, mutant)
            state = "ok" if found == 1 else "stale" if found == 0 else f"ambiguous ({found})"
            print(f"{state:<10} {mutant.id:<34} {mutant.file:<24} {mutant.description}")
        return 0
    if not chosen:
        print("no mutant matches")
        return 1

    files = tree_files(ROOT)
    applicable = [mutant for mutant in chosen if occurrences(ROOT, mutant) == 1]
    if applicable and not arguments.no_baseline:
        baseline(files, applicable, arguments.timeout * 2)
    outcomes = []
    for mutant in chosen:
        outcome = measure(mutant, files, arguments.timeout)
        print_row(outcome)
        outcomes.append(outcome)

    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    print("\n" + ", ".join(f"{count} {status}" for status, count in sorted(counts.items())))
    bad = [outcome for outcome in outcomes if outcome.status not in ("killed", "equivalent", "timeout")]
    for outcome in bad:
        print(f"  {outcome.status}: {outcome.mutant.id} ({outcome.mutant.file}): {outcome.mutant.description}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
