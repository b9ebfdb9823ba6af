"""A study's folder: `study.json` (its options, model, versions and examples' ids) and its results in parts.

    FOLDER/study.json
    FOLDER/parts/part-00000.parquet     the metrics of a batch of examples (long format, `COLUMNS`)
    FOLDER/parts/errors-00000.parquet   the examples of that batch that failed: id and one-line error
    FOLDER/parts/part-00000-p1.parquet  under `accelerate launch`: process 1's batch (each process its own names)
    FOLDER/results/00000.npz            with keep="results": each example's AttentionResult, by its position

A batch's files are written to temporary names and renamed into place together (`_files.write_all`), so a study
stopped at any moment leaves whole parts only; the examples of a batch not yet written run again on resume, and
every example is in exactly one part. pyarrow (and pandas, for reading) are imported on first use.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._files import write_all, write_atomically

STUDY_FILE = "study.json"
PARTS = "parts"
RESULTS = "results"
FORMAT = "qvl_widget study"
FORMAT_VERSION = 1
INSTALL_ADVICE = 'pip install ".[study]" (or pip install "pyarrow>=15" "pandas>=2")'

# The long table: one row per example, scored query, layer and head (head -1: the mean of the heads' maps).
KEYS = ("example", "query", "token", "text", "layer", "head")
METRICS = ("image_share", "spatial_entropy", "in_box", "area", "pointing")
COLUMNS = KEYS + METRICS
ERROR_COLUMNS = ("example", "error")
_PART = re.compile(r"(part|errors)-(\d{5,})(-p\d+)?\.parquet")


def pyarrow_parquet() -> Any:
    """`pyarrow.parquet`, or a one-line ModuleNotFoundError saying how to install it."""
    try:
        import pyarrow.parquet
    except ModuleNotFoundError:
        raise ModuleNotFoundError(f"studies are stored with pyarrow, not installed here: {INSTALL_ADVICE}") from None
    return pyarrow.parquet


def pandas() -> Any:
    """`pandas`, or a one-line ModuleNotFoundError saying how to install it."""
    try:
        import pandas
    except ModuleNotFoundError:
        raise ModuleNotFoundError(f"studies are read with pandas, which is not installed: {INSTALL_ADVICE}") from None
    return pandas


# ----- study.json ---------------------------------------------------------------------------------------------


def read_metadata(folder: Path) -> dict[str, Any] | None:
    """The folder's `study.json`, None where there is none; a one-line error where it is not a study's."""
    path = folder / STUDY_FILE
    if not path.is_file():
        return None
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{str(path)!r} is not a study's metadata ({error}): pass another out= folder") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ValueError(f"{str(path)!r} is not a qvl_widget study's metadata: pass another out= folder")
    return metadata


def write_metadata(folder: Path, metadata: dict[str, Any]) -> None:
    text = json.dumps(metadata, indent=1, ensure_ascii=False).encode("utf-8")
    write_atomically(folder / STUDY_FILE, lambda handle: handle.write(text))


# ----- parts --------------------------------------------------------------------------------------------------


def part_paths(folder: Path, kind: str) -> list[Path]:
    """The folder's `kind` ("part" or "errors") files, in the order they were written."""
    parts = folder / PARTS
    found = [(int(match[2]), path) for path in parts.glob("*.parquet") if (match := _PART.fullmatch(path.name))]
    return [path for _, path in sorted(found) if path.name.startswith(kind + "-")]  # by number, then name


def next_part_number(folder: Path) -> int:
    numbers = [int(match[2]) for path in (folder / PARTS).glob("*.parquet") if (match := _PART.fullmatch(path.name))]
    return max(numbers, default=-1) + 1


def done_ids(folder: Path) -> set[str]:
    """The ids of the examples in the folder's parts: measured or failed."""
    parquet = pyarrow_parquet()
    done: set[str] = set()
    for path in part_paths(folder, "part") + part_paths(folder, "errors"):
        done.update(parquet.read_table(path, columns=["example"]).column("example").to_pylist())
    return done


def write_part(
    folder: Path, rows: dict[str, list[Any]], errors: Sequence[tuple[str, str]], process: int | None = None
) -> None:
    """One batch: its metric rows and its errors, both files or neither. `process`: the writer's rank where
    several processes write into the folder at once (its names end in "-pRANK", so no two collide)."""
    import pyarrow

    parquet = pyarrow_parquet()
    number = f"{next_part_number(folder):05d}" + ("" if process is None else f"-p{process}")
    files: dict[str | os.PathLike, Any] = {}
    if rows["example"]:
        table = pyarrow.table({name: rows[name] for name in COLUMNS}, schema=_schema())
        files[folder / PARTS / f"part-{number}.parquet"] = _writer(parquet, table)
    if errors:
        columns = {"example": [name for name, _ in errors], "error": [line for _, line in errors]}
        table = pyarrow.table(columns, schema=pyarrow.schema([(name, pyarrow.string()) for name in ERROR_COLUMNS]))
        files[folder / PARTS / f"errors-{number}.parquet"] = _writer(parquet, table)
    if files:
        write_all(files)


def _writer(parquet: Any, table: Any) -> Any:
    return lambda handle: parquet.write_table(table, handle)


def _schema() -> Any:
    import pyarrow

    types = {"token": pyarrow.int32(), "layer": pyarrow.int32(), "head": pyarrow.int32()}
    return pyarrow.schema(
        [(name, types.get(name, pyarrow.string() if name in KEYS else pyarrow.float64())) for name in COLUMNS]
    )


def read_parts(folder: Path, kind: str) -> Any:
    """All `kind` parts as one pandas DataFrame (empty, with the columns, where there are none)."""
    pd = pandas()
    parquet = pyarrow_parquet()
    columns = COLUMNS if kind == "part" else ERROR_COLUMNS
    frames = [parquet.read_table(path).to_pandas() for path in part_paths(folder, kind)]
    if not frames:
        return pd.DataFrame({name: [] for name in columns})
    return pd.concat(frames, ignore_index=True)[list(columns)]


def result_path(folder: Path, position: int) -> Path:
    return folder / RESULTS / f"{position:05d}.npz"
