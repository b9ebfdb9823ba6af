"""A study's examples: an iterable of dicts, a `datasets.Dataset` (duck-typed) or a manifest file, checked before
the model runs.

A manifest is JSONL (one JSON object a line), CSV (a header row) or Parquet, one example a row; image and video
paths in it are relative to the manifest's folder. Every example has `id`, `image` or `video` (or `messages` that
hold the images), `prompt` or `messages`, and optionally `box` (x0, y0, x1, y1 in pixels of the image: in CSV the
four numbers in one cell, "10 20 110 90" or "[10, 20, 110, 90]"), `phrase` and `answer`. Other keys are ignored.

What is wrong with the whole set (an unknown file type, missing columns, an id missing or given twice) is refused
here with one line; what is wrong with one example (an unreadable image, a box outside it) is found when it runs
and recorded as that example's error. Ids are kept as text (`7` and `"7"` are the same id).

Numpy-free and torch-free: pyarrow only for Parquet manifests.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._arguments import described, real_number, shown

MANIFEST_SUFFIXES = (".jsonl", ".csv", ".parquet")
KEYS = ("id", "image", "video", "prompt", "messages", "box", "phrase", "answer")


@dataclass(frozen=True)
class StudyExample:
    """One example as the study runs it; `box` checked for its form (numbers, x0 < x1, y0 < y1), not its image."""

    id: str
    image: Any = None
    video: Any = None
    prompt: str | None = None
    messages: Any = None
    box: tuple[float, float, float, float] | None = None
    phrase: str | None = None
    answer: str | None = None


@dataclass(frozen=True)
class Examples:
    """The examples' ids (in order) and a way to get each one (rows are read one at a time: a dataset's images
    are decoded only when their example runs)."""

    ids: tuple[str, ...]
    row: Callable[[int], Mapping[str, Any]]
    folder: Path | None  # a manifest's folder: where its relative paths start

    def example(self, position: int) -> StudyExample:
        """Example `position` checked and with its paths resolved; a one-line error where it is malformed."""
        return study_example(self.row(position), self.folder)


def study_examples(examples: object) -> Examples:
    """`examples` (see the module docstring) as `Examples`, or a one-line error about the whole set."""
    if isinstance(examples, Examples):
        return examples
    if isinstance(examples, (str, os.PathLike)):
        return manifest_examples(Path(examples))
    if isinstance(examples, Mapping):
        raise TypeError("examples must be a list of dicts (one per example) or a manifest path, not one dict")
    if _is_dataset(examples):
        return _from_dataset(examples)
    if not isinstance(examples, Iterable):
        raise TypeError(
            "examples must be an iterable of dicts, a datasets.Dataset or a manifest path (.jsonl, .csv, .parquet), "
            f"not {described(examples)}"
        )
    rows = list(examples)
    for position, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise TypeError(f"examples[{position}] must be a dict with id, image and prompt, not {described(row)}")
    return _from_rows(rows, None, "examples")


def manifest_examples(path: Path, limit: int | None = None) -> Examples:
    """A manifest's examples (its first `limit` rows, where given), paths relative to its folder."""
    rows = read_manifest(path)
    return _from_rows(rows if limit is None else rows[:limit], path.parent, f"the manifest {str(path)!r}")


def read_manifest(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSONL, CSV or Parquet manifest; a one-line error for a missing or unreadable file."""
    suffix = path.suffix.lower()
    if suffix not in MANIFEST_SUFFIXES:
        raise ValueError(f"the manifest {str(path)!r} must be a .jsonl, .csv or .parquet file")
    if not path.is_file():
        raise FileNotFoundError(f"no manifest at {str(path)!r}")
    if suffix == ".parquet":
        from ._study_store import pyarrow_parquet

        return [dict(row) for row in pyarrow_parquet().read_table(path).to_pylist()]
    if suffix == ".csv":
        with open(path, newline="", encoding="utf-8") as handle:
            return [{key: value for key, value in row.items() if value != ""} for row in csv.DictReader(handle)]
    return _jsonl_rows(path)


def _jsonl_rows(path: Path) -> list[dict[str, Any]]:
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                where = f"{str(path)!r} line {number}"
                raise ValueError(f"{where} is not JSON ({error.msg}): write one object a line") from None
            if not isinstance(row, dict):
                raise ValueError(f"{str(path)!r} line {number} is not a JSON object: write one object a line")
            rows.append(row)
    return rows


def _from_rows(rows: Sequence[Mapping[str, Any]], folder: Path | None, where: str) -> Examples:
    columns = set().union(*(row.keys() for row in rows)) if rows else set()
    _check_columns(columns, where)
    ids = []
    for position, row in enumerate(rows):
        if _missing(row.get("id")):
            line = f"row {position + 1}" if folder is not None else f"examples[{position}]"
            raise ValueError(f"{where}: {line} has no id; give every example a unique id")
        ids.append(str(row["id"]))
    return Examples(_unique(ids, where), lambda position: rows[position], folder)


def _from_dataset(dataset: Any) -> Examples:
    _check_columns(set(dataset.column_names), "the dataset")
    ids = [str(value) for value in dataset["id"]]
    return Examples(_unique(ids, "the dataset"), lambda position: dataset[position], None)


def _is_dataset(value: object) -> bool:
    """A `datasets.Dataset` (or anything like one): named columns, rows by index, a column by name."""
    return hasattr(value, "column_names") and hasattr(value, "__getitem__") and hasattr(value, "__len__")


def _check_columns(columns: set[str], where: str) -> None:
    needed = [("id",), ("image", "video", "messages"), ("prompt", "messages")]
    missing = [" or ".join(names) for names in needed if not columns.intersection(names)]
    if missing:
        raise ValueError(
            f"{where} has no {', no '.join(repr(name) for name in missing)} column: every example needs an id, "
            "an image (or video) and a prompt (or messages)"
        )


def _unique(ids: list[str], where: str) -> tuple[str, ...]:
    repeated = [name for name, count in Counter(ids).items() if count > 1]
    if repeated:
        names = ", ".join(shown(name) for name in repeated[:5]) + (", ..." if len(repeated) > 5 else "")
        raise ValueError(f"{where} has the id {names} more than once: give every example a unique id")
    return tuple(ids)


def study_example(row: Mapping[str, Any], folder: Path | None) -> StudyExample:
    """One row as a `StudyExample` (missing values as None; paths under `folder`), or a one-line error."""
    if not isinstance(row, Mapping):
        raise TypeError(f"an example must be a dict with id, image and prompt, not {described(row)}")
    values: dict[str, Any] = {key: None if _missing(row.get(key)) else row.get(key) for key in KEYS}
    if values["image"] is None and values["video"] is None and values["messages"] is None:
        raise ValueError("the example has no image (or video, or messages with images)")
    if values["prompt"] is None and values["messages"] is None:
        raise ValueError("the example has no prompt (or messages)")
    for key in ("prompt", "phrase", "answer"):
        if values[key] is not None and not isinstance(values[key], str):
            raise TypeError(f"the example's {key} must be text, not {described(values[key])}")
    for key in ("image", "video"):
        if folder is not None and isinstance(values[key], (str, os.PathLike)):
            values[key] = str(folder / values[key])
    values["id"] = str(values["id"])
    values["box"] = None if values["box"] is None else checked_box(values["box"])
    return StudyExample(**values)


def checked_box(box: object) -> tuple[float, float, float, float]:
    """A box as four finite numbers with x0 < x1 and y0 < y1 (text "x0 y0 x1 y1" too, as a CSV cell holds it)."""
    if hasattr(box, "tolist"):  # a numpy array
        box = box.tolist()
    if isinstance(box, str):
        box = [part for part in re.split(r"[\s,\[\]()]+", box) if part]
        box = [float(part) if re.fullmatch(r"[-+.\deE]+", part) else part for part in box]
    numbers = [real_number(value) for value in box] if isinstance(box, (list, tuple)) else []
    if len(numbers) != 4 or any(number is None for number in numbers):
        raise ValueError(f"the example's box must be four numbers x0, y0, x1, y1 in image pixels, not {shown(box)}")
    x0, y0, x1, y1 = (float(number) for number in numbers)  # type: ignore[arg-type]  # checked not None above
    if not (x0 < x1 and y0 < y1):
        raise ValueError(f"the example's box {shown(box)} is inverted or empty: pass x0 < x1 and y0 < y1")
    return x0, y0, x1, y1


def _missing(value: object) -> bool:
    """An absent value: None, NaN (pandas' empty cell) or empty text."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return True
    return isinstance(value, float) and math.isnan(value)
