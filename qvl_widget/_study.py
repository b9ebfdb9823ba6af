"""`Study`: attention over a whole set of examples, as a table a paper can report (`LoadedModel.study` runs one,
`Study.open` reads one back, without torch).

The run: the examples are checked first (`_study_manifest`), the folder's `study.json` made or compared with the
call's options (a study resumes only as it began), then each example not yet in the folder's parts is captured,
scored (`_study_metrics`) and written in batches (`_study_store`). An example that fails is recorded with its
one-line error and the study goes on.
"""

from __future__ import annotations

import contextlib
import os
import platform
import warnings
from collections.abc import Callable, Hashable, Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ._arguments import checked_count, checked_flag, described, real_number, shown
from ._batch import batch_key
from ._boxes import Box
from ._study_manifest import Examples, StudyExample, study_examples
from ._study_metrics import QUERY_KINDS, QueryKind, example_rows, scored_queries
from ._study_store import (
    COLUMNS,
    FORMAT,
    FORMAT_VERSION,
    METRICS,
    done_ids,
    pandas,
    part_paths,
    pyarrow_parquet,
    read_metadata,
    read_parts,
    result_path,
    write_metadata,
    write_part,
)

TRUE_WORDS = ("1", "true", "yes")
Keep = Literal["summary", "results"]
KEEPS: tuple[Keep, ...] = ("summary", "results")
Scored = dict[str, list] | str  # an example's rows, or its error line
PART_EXAMPLES = 16  # examples per part: what a study stopped without warning (killed) runs again
Z_95 = 1.959963984540054  # the normal distribution's two-sided 95 % quantile
# The errors an example's own input can cause (unreadable image, box outside it, prompt too long, phrase not in
# it): recorded as its error. Anything else (a bug, the machine out of memory, Ctrl-C) stops the study.
EXAMPLE_ERRORS = (OSError, ValueError, TypeError, LookupError)


class Study:
    """A study's folder, read: `table()`, `errors()`, `heads(metric)`, `head_ranking(metric)`.

    Made by `model.study(examples, out=FOLDER, ...)`, or `Study.open(FOLDER)` for one run before (no torch needed).
    `options`, `model`, `ids` (every example's id, in order) and `versions` come from its `study.json`.
    """

    def __init__(self, folder: Path, metadata: dict[str, Any]) -> None:
        self.folder = folder
        self.metadata = metadata
        # Parts are never changed once written, only added: what was read from them holds while they are the same.
        self._parts: tuple[str, ...] = ()
        self._cache: dict[tuple[str, str | None], Any] = {}

    @classmethod
    def open(cls, folder: str | os.PathLike) -> Study:
        """The study in `folder` (written by `model.study(..., out=folder)`)."""
        path = Path(_checked_folder(folder))
        metadata = read_metadata(path)
        if metadata is None:
            raise FileNotFoundError(f"no study in {str(path)!r} (no study.json): run one with model.study(..., out=)")
        return cls(path, metadata)

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.metadata["options"])

    @property
    def model(self) -> str:
        return str(self.metadata["model"])

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self.metadata["examples"])

    @property
    def versions(self) -> dict[str, str]:
        return dict(self.metadata["versions"])

    def __repr__(self) -> str:
        done = len(done_ids(self.folder))
        return (
            f"Study({str(self.folder)!r}, model={self.model!r}, examples={done}/{len(self.ids)} done, "
            f"errors={len(self.errors())}, query={self.options['query']!r})"
        )

    def table(self) -> Any:
        """The long table (a pandas DataFrame): one row per example, scored query, layer and head (head -1: the
        mean of the heads' maps), columns `example, query, token, text, layer, head` and the metrics
        `image_share, spatial_entropy, in_box, area, pointing` (the last three NaN without a box). Rows in the
        examples' order, whatever order their parts were written in."""
        return self._cached(("table", None), self._read_table).copy()

    def _read_table(self) -> Any:
        table = read_parts(self.folder, "part")
        order = {name: position for position, name in enumerate(self.ids)}
        position = table["example"].map(order)
        return (
            table.assign(_position=position)
            .sort_values("_position", kind="stable")
            .drop(columns="_position")
            .reset_index(drop=True)[list(COLUMNS)]
        )

    def errors(self) -> Any:
        """The examples that failed (a pandas DataFrame: `example`, `error`, one line each), in the examples'
        order. They are not run again on resume: run them in a new study once fixed."""
        return self._cached(("errors", None), self._read_errors).copy()

    def _read_errors(self) -> Any:
        errors = read_parts(self.folder, "errors")
        order = {name: position for position, name in enumerate(self.ids)}
        return (
            errors.assign(_position=errors["example"].map(order))
            .sort_values("_position", kind="stable")
            .drop(columns="_position")
            .reset_index(drop=True)
        )

    def heads(self, metric: str, example: str | None = None, query: str | None = None) -> np.ndarray:
        """A `[layers, heads]` array of `metric`: the mean over the examples (those with a value: `in_box` and
        `pointing` need a box), or one example's (`example=` its id). Where a query scores several words (the
        answer's), an example's value is the mean over them. `query`: which scored query (default the study's,
        "last" for query="all"). Layers are `layer_ids()`, in order."""
        values = self._per_example(metric, query)
        if example is None:
            with warnings.catch_warnings():  # a head no example has a value for: NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                return np.nanmean(values, axis=0) if len(values) else np.full(values.shape[1:], np.nan)
        position = self._example_position(str(example), values)
        return values[position]

    def head_ranking(self, metric: str, top: int | None = 10, query: str | None = None) -> Any:
        """The heads ranked by `metric`'s mean over the examples (a pandas DataFrame: `layer, head, mean, low,
        high, n`): highest first, but lowest first for `spatial_entropy` (the most focused heads). `low`/`high`:
        the 95 % normal-approximation interval over the examples (mean ± 1.96 standard errors; NaN with one
        example); `n`: the examples with a value. `top`: how many rows (None: every head)."""
        values = self._per_example(metric, query)
        layers, heads = values.shape[1:]
        flat = values.reshape(len(values), -1)
        counts = np.isfinite(flat).sum(axis=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            means = np.nanmean(flat, axis=0)
            errors = np.nanstd(flat, axis=0, ddof=1) / np.sqrt(counts)
        layer_ids = self.layer_ids()
        table = pandas().DataFrame(
            {
                "layer": np.repeat(layer_ids, heads),
                "head": np.tile(np.arange(heads), layers),
                "mean": means,
                "low": means - Z_95 * errors,
                "high": means + Z_95 * errors,
                "n": counts,
            }
        )
        table = table.sort_values("mean", ascending=metric == "spatial_entropy", kind="stable", na_position="last")
        return table.head(len(table) if top is None else _checked_top(top)).reset_index(drop=True)

    def result(self, example: str) -> Any:
        """Example `example`'s saved `AttentionResult` (a study run with keep="results")."""
        if example not in self.ids:
            raise KeyError(f"no example {example!r} in this study (its ids are study.ids)")
        path = result_path(self.folder, self.ids.index(example))
        if not path.is_file():
            raise FileNotFoundError(
                f"example {example!r} has no saved result: the study kept {self.options['keep']!r} (run one with "
                "keep='results'), or the example failed or is not done yet"
            )
        from ._result import AttentionResult

        return AttentionResult.load(path)

    def widget(
        self,
        metric: str = "pointing",
        *,
        layer: int | None = None,
        head: int | None = None,
        query: str | None = None,
        model: Any = None,
        examples: object = None,
        **options: Any,
    ) -> Any:
        """A table of the examples sorted by `metric` above the attention view of the chosen one (a
        `qvl_widget.StudyWidget`; choose a row, or set `widget.chosen = id`).

        The table's value is `metric` at decoder layer `layer` and head `head` (-1: the heads' mean), by default the
        study's best head for it (`head_ranking`); `query` as for `heads`. An example opens from its saved result
        (a study run with keep="results"), or, with `model=` and `examples=` (the study's own examples), from a new
        capture with the study's options; `examples=` also draws each example's box. `options`: the attention
        widget's view options (`colormap=`, `opacity=`, `width=`, ...), kept from one example to the next."""
        from ._study_widget import StudyWidget

        return StudyWidget(self, metric, layer=layer, head=head, query=query, model=model, examples=examples, **options)

    def layer_ids(self) -> list[int]:
        """The layers of `heads`' rows: decoder layer indices, in order."""
        return sorted(int(layer) for layer in self.table()["layer"].unique())

    def _cached(self, key: tuple[str, str | None], read: Callable[[], Any]) -> Any:
        """`read()`, read again only when parts were added since."""
        parts = tuple(path.name for path in part_paths(self.folder, "part") + part_paths(self.folder, "errors"))
        if parts != self._parts:
            self._parts, self._cache = parts, {}
        if key not in self._cache:
            self._cache[key] = read()
        return self._cache[key]

    def _per_example(self, metric: str, query: str | None) -> np.ndarray:
        """`[examples done, layers, heads]` of `metric` (a query's words averaged), in the examples' order."""
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {', '.join(METRICS)}, not {shown(metric)}")
        chosen = self.checked_query(query)
        return self._cached((metric, chosen), lambda: self._read_per_example(metric, chosen)).copy()

    def _read_per_example(self, metric: str, query: str) -> np.ndarray:
        table = self.table()
        table = table[(table["query"] == query) & (table["head"] >= 0)]
        if table.empty:
            raise ValueError(f"the study has no {query!r} rows yet (no example done, or none has that query)")
        means = table.groupby(["example", "layer", "head"], sort=False)[metric].mean()
        grid = means.unstack(["layer", "head"]).sort_index(axis=1)
        order = [name for name in self.ids if name in grid.index]
        layers, heads = table["layer"].nunique(), table["head"].nunique()
        return grid.loc[order].to_numpy(dtype=np.float64).reshape(len(order), layers, heads)

    def checked_query(self, query: str | None) -> str:
        chosen = self.options["query"]
        if query is None:
            return "last" if chosen == "all" else str(chosen)
        scored = ("last", "phrase", "answer") if chosen == "all" else (chosen,)
        if query not in scored:
            raise ValueError(f"query must be one this study scored ({', '.join(scored)}), not {shown(query)}")
        return query

    def _example_position(self, example: str, values: np.ndarray) -> int:
        done = self._cached(("done", None), lambda: [name for name in self.ids if name in set(self.table()["example"])])
        if example in done:
            return done.index(example)
        failed = self.errors()
        if example in set(failed["example"]):
            line = failed.loc[failed["example"] == example, "error"].iloc[0]
            raise ValueError(f"example {example!r} failed, so it has no values: {line}")
        if example in self.ids:
            raise ValueError(f"example {example!r} is not done yet: run the same study again to finish it")
        raise KeyError(f"no example {example!r} in this study (its ids are study.ids)")


# ----- running ------------------------------------------------------------------------------------------------


def run_study(
    model: Any,
    examples: object,
    out: str | os.PathLike,
    *,
    options: dict[str, Any],
    capture_options: dict[str, Any],
    progress: bool,
    batch_size: int = 8,
) -> Study:
    """`LoadedModel.study`'s work, after it checked the capture options: see its docstring."""
    folder = Path(_checked_folder(out))
    options = {**options, **_checked_study_options(options)}
    progress = checked_flag(progress, "progress")
    batch_size = checked_count(batch_size, "batch_size", "examples per forward pass")
    source = study_examples(examples)  # a bad manifest is refused before any example runs
    pyarrow_parquet()
    pandas()
    metadata = _metadata(model, options, source.ids)
    # One process, or those `accelerate launch` started: the first writes (or checks) study.json, then each takes
    # its share of the examples left and writes its own parts; the table reads every part, in the examples' order.
    processes = launched_processes()
    if processes.is_main_process:
        _begin(folder, metadata)
    processes.wait_for_everyone()
    if not processes.is_main_process:
        _begin(folder, metadata)  # there now, as the first process wrote it: a check
    done = done_ids(folder)
    todo = [position for position, name in enumerate(source.ids) if name not in done]
    processes.wait_for_everyone()  # every process has read what was done before any writes more: one split for all
    score_part = _scorer(model, source, folder, options, capture_options, batch_size)
    with processes.split_between_processes(todo) as share:
        bar = _progress(progress and processes.is_main_process, len(done) + len(share), len(done))
        _run_parts(folder, list(share), source.ids, score_part, bar, process=processes.process_index)
    processes.wait_for_everyone()  # every share written: each process's Study reads the whole table
    return Study(folder, metadata)


class _OneProcess:
    """What a study uses of accelerate's `PartialState`, for a study in one process."""

    is_main_process = True
    process_index = None  # its parts' names carry no rank

    def wait_for_everyone(self) -> None:
        """No one else to wait for."""

    @contextlib.contextmanager
    def split_between_processes(self, items: list[int]) -> Iterator[list[int]]:
        yield items


def launched_processes() -> Any:
    """accelerate's `PartialState` where the study runs under `accelerate launch` with several processes (its
    WORLD_SIZE > 1), else a `_OneProcess` (accelerate is not needed)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return _OneProcess()
    try:
        from accelerate import PartialState
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            f"this study runs in {os.environ['WORLD_SIZE']} processes (WORLD_SIZE), which needs accelerate: "
            'pip install ".[study]"'
        ) from None
    import torch

    # Without an accelerator (a CPU-only machine, or ACCELERATE_USE_CPU), the processes talk over gloo.
    use_cpu = not torch.accelerator.is_available() or os.environ.get("ACCELERATE_USE_CPU", "").lower() in TRUE_WORDS
    return PartialState(cpu=use_cpu)


def _run_parts(
    folder: Path,
    todo: list[int],
    ids: tuple[str, ...],
    score_part: Callable[[list[int]], Iterator[tuple[int, Scored]]],
    bar: Any,
    process: int | None = None,
) -> None:
    """Score `todo` in parts of `PART_EXAMPLES`, each written as one file; a part's done examples are written even
    when a later one stops the study (an exception that is no example's error, Ctrl-C). `process`: the writer's
    rank, where several processes write parts at once."""
    rows: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    errors: list[tuple[str, str]] = []
    try:
        for start in range(0, len(todo), PART_EXAMPLES):
            for position, scored in score_part(todo[start : start + PART_EXAMPLES]):
                if isinstance(scored, str):
                    errors.append((ids[position], scored))
                else:
                    for name in COLUMNS:
                        rows[name] += scored[name]
                bar.update(1)
            write_part(folder, rows, errors, process)
            rows, errors = {name: [] for name in COLUMNS}, []
    finally:
        write_part(folder, rows, errors, process)
        bar.close()


def _scorer(
    model: Any,
    source: Examples,
    folder: Path,
    options: dict[str, Any],
    capture_options: dict[str, Any],
    batch_size: int,
) -> Callable[[list[int]], Iterator[tuple[int, Scored]]]:
    """What scores a part's examples (positions), yielding each one's rows or error line: capture, metrics, and
    with keep="results" the saved result. Prompt-only examples whose images sit at the same token positions are
    captured `batch_size` at a time in one forward pass (`capture_batch`: the same numbers, fewer calls)."""

    def scored(position: int, example: StudyExample, result: Any) -> dict[str, list]:
        box = None if example.box is None else Box(*example.box)
        queries = scored_queries(result, options["query"], example.phrase)
        rows = example_rows(example.id, result, queries, box, options["pointing_tolerance"])
        if options["keep"] == "results":
            result.save(result_path(folder, position))
        return rows

    def batch(group: list[tuple[int, StudyExample, Any]]) -> Iterator[tuple[int, Scored]]:
        kept = {key: capture_options[key] for key in ("layers", "sink_scores") if key in capture_options}
        try:
            results = model.capture_batch([prepared for _, _, prepared in group], **kept)
        except EXAMPLE_ERRORS as error:
            if len(group) == 1:
                yield group[0][0], one_line(error)
                return
            for member in group:  # one example's input failed the batch: each alone, so its error is its own
                yield from batch([member])
            return
        for (position, example, _), result in zip(group, results, strict=True):
            yield position, _rows_or_error(scored, position, example, result)

    def score_part(positions: list[int]) -> Iterator[tuple[int, Scored]]:
        waiting: dict[Hashable, list[tuple[int, StudyExample, Any]]] = {}
        for position in positions:
            try:
                example = source.example(position)
                if not _prompt_only(example, options["answer"]) or batch_size == 1:
                    result = capture_example(model, example, options["answer"], capture_options)
                    yield position, _rows_or_error(scored, position, example, result)
                    continue
                prepared = model.prepare(
                    example_media(example),
                    example.prompt,
                    messages=example.messages,
                    system=capture_options["system"],
                    thinking=capture_options["thinking"],
                )
            except EXAMPLE_ERRORS as error:
                yield position, one_line(error)
                continue
            group = waiting.setdefault(batch_key(prepared), [])
            group.append((position, example, prepared))
            if len(group) == batch_size:
                yield from batch(waiting.pop(batch_key(prepared)))
        for group in waiting.values():
            yield from batch(group)

    return score_part


def _rows_or_error(score: Callable[..., dict[str, list]], *arguments: Any) -> Scored:
    try:
        return score(*arguments)
    except EXAMPLE_ERRORS as error:
        return one_line(error)


def _prompt_only(example: StudyExample, answer: bool | None) -> bool:
    """Whether the example's capture is of its prompt only (no answer generated or given)."""
    return answer is False or (answer is None and example.answer is None)


def example_media(example: StudyExample) -> Any:
    """The example's image, or its video (a `Video`)."""
    if example.video is None:
        return example.image
    from ._video import Video

    return example.video if isinstance(example.video, Video) else Video(example.video)


def capture_example(model: Any, example: StudyExample, answer: bool | None, capture_options: dict[str, Any]) -> Any:
    """One example's capture: its given answer (teacher-forced) unless `answer` is True (the model answers) or
    False (the prompt only)."""
    given: bool | str | None = True if answer is True else None if answer is False else example.answer
    media = example_media(example)
    return model.capture(media, example.prompt, messages=example.messages, answer=given, **capture_options)


def study_capture_options(model: Any, options: dict[str, Any]) -> dict[str, Any]:
    """`capture`'s keywords for a study's (checked) options: its `layers` (decoder layers) as capture's indices; the
    sink scores only where results are kept (no metric reads them, and they cost a pass per layer)."""
    capture_options: dict[str, Any] = {key: options[key] for key in ("max_new_tokens", "thinking", "system")}
    capture_options["sink_scores"] = options["keep"] == "results"
    if options["layers"] is not None:
        every_layer = list(model.kept_layers(None))
        capture_options["layers"] = [every_layer.index(layer) for layer in options["layers"]]
    return capture_options


def one_line(error: BaseException) -> str:
    """`Kind: first line of the message`."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def _begin(folder: Path, metadata: dict[str, Any]) -> None:
    """Write the folder's study.json, or check the one there was made by the same call (one line naming what
    differs)."""
    before = read_metadata(folder)
    if before is None:
        write_metadata(folder, metadata)
        return
    where = f"{str(folder)!r} holds a study"
    for name, value in metadata["options"].items():
        if before["options"].get(name) != value:
            raise ValueError(
                f"{where} run with {name}={before['options'].get(name)!r}, and this call has {name}={value!r}: "
                f"pass the same {name} to resume it, or another out= folder for a new study"
            )
    if before["model"] != metadata["model"]:
        raise ValueError(
            f"{where} of the model {before['model']!r}, not {metadata['model']!r}: resume it with that model, or "
            "pass another out= folder"
        )
    if before["examples"] != metadata["examples"]:
        raise ValueError(
            f"{where} of other examples ({len(before['examples'])} ids, these {len(metadata['examples'])}, or in "
            "another order): resume it with the same examples, or pass another out= folder"
        )


def _metadata(model: Any, options: dict[str, Any], ids: tuple[str, ...]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": model.name,
        "options": options,
        "versions": _versions(),
        "examples": list(ids),
    }


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version()}
    for name in ("qvl-widget", "torch", "transformers", "pyarrow"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:  # a source checkout not installed: its own version
            from . import __version__

            versions[name] = __version__ if name == "qvl-widget" else "not installed"
    return versions


def _checked_study_options(options: dict[str, Any]) -> dict[str, Any]:
    """The study's own options, checked (one line each)."""
    query, keep, answer = options["query"], options["keep"], options["answer"]
    if not isinstance(query, str) or query not in QUERY_KINDS:
        raise ValueError(f"query must be one of {', '.join(QUERY_KINDS)}, not {shown(query)}")
    if not isinstance(keep, str) or keep not in KEEPS:
        raise ValueError(f"keep must be 'summary' (the table only) or 'results' (each result too), not {shown(keep)}")
    if answer is not None and not isinstance(answer, bool):
        raise TypeError(
            "answer must be None (each example's own answer, where it has one), True (the model answers) or "
            f"False (the prompt only), not {described(answer)}; give answers as each example's 'answer'"
        )
    if query == "answer" and answer is False:
        raise ValueError("query='answer' scores the answer's words, and answer=False leaves answers out")
    tolerance = real_number(options["pointing_tolerance"])
    if tolerance is None or tolerance < 0:
        given = shown(options["pointing_tolerance"])
        raise ValueError(f"pointing_tolerance must be a number of pixels >= 0, not {given}")
    query_kind: QueryKind = query
    return {"query": query_kind, "pointing_tolerance": tolerance}


def _checked_folder(folder: object) -> str | os.PathLike:
    if not isinstance(folder, (str, os.PathLike)) or not os.fspath(folder):
        raise TypeError(f"out must be a folder path (a str or a pathlib.Path), not {described(folder)}")
    return folder


def _checked_top(top: object) -> int:
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be a whole number >= 1 (or None for every head), not {shown(top)}")
    return top


class _NoBar:
    def update(self, count: int) -> None:
        """Nothing to show."""

    def close(self) -> None:
        """Nothing to close."""


def _progress(shown_bar: bool, total: int, done: int) -> Any:
    if not shown_bar:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, unit="example", desc="study")
