"""A study's numbers for one example: per scored query, layer and head (and the mean of the heads, head -1).

Queries: "last" (the last prompt token's own row: the step that predicts the answer's first token), "phrase" (the
example's phrase's tokens in the prompt, their own rows), "answer" (each word of the answer: the rows of the steps
that produced its tokens), "all" (each of those the example has).

Metrics, each over the query's tokens as `AttentionResult.head_summary` and `grid` take them:
- `image_share`, `spatial_entropy`: `head_summary`'s `image_mass` and `spatial_entropy` (all images' tokens). For
  the mean of heads (head -1): the mean of the heads' image shares, and the entropy of the heads' mean map.
- with a box on the first image: `in_box`, the map's mass inside the box (each cell's value over the image's cells'
  sum, times the fraction of the cell's area inside the box, `_geometry.cell_fractions`); `area`, the box's share
  of the image; `pointing`, 1 where the map's peak cell (the first in reading order on ties) has its centre inside
  the box grown by `tolerance` pixels on each side, else 0. The map is `result.grid(token=..., layer=l, head=h)`,
  computed the same way (float32). A video's box marks its frame in every temporal group.

Numpy only.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, get_args

import numpy as np

from ._boxes import Box, check_overlap
from ._geometry import area_share, cell_fractions, token_boxes
from ._result import AttentionResult, token_entropies
from ._study_store import COLUMNS

QueryKind: TypeAlias = Literal["last", "phrase", "answer", "all"]
QUERY_KINDS: tuple[QueryKind, ...] = get_args(QueryKind)
MEAN_HEAD = -1  # the `head` of the rows for the mean of the heads' maps


@dataclass(frozen=True)
class ScoredQuery:
    """Query tokens scored together: their indices into `result.tokens`, whether their producing steps' rows are
    read (an answer's words) or their own, and what they say."""

    kind: str
    tokens: tuple[int, ...]
    producing: bool
    text: str


def scored_queries(result: AttentionResult, query: QueryKind, phrase: str | None) -> list[ScoredQuery]:
    """The queries `query` scores in `result`; a one-line ValueError where one it asks for is missing."""
    kinds = ("last", "phrase", "answer") if query == "all" else (query,)
    queries: list[ScoredQuery] = []
    for kind in kinds:
        if kind == "last":
            last = max(index for index, token in enumerate(result.tokens) if token.part == "prompt")
            queries.append(ScoredQuery("last", (last,), False, result.tokens[last].text))
        elif kind == "phrase" and (phrase is not None or query == "phrase"):
            queries.append(_phrase_query(result, phrase))
        elif kind == "answer" and (result.answer is not None or query == "answer"):
            queries.extend(_answer_queries(result))
    return queries


def _phrase_query(result: AttentionResult, phrase: str | None) -> ScoredQuery:
    if phrase is None:
        raise ValueError("query='phrase' needs the example's phrase (words of its prompt), and it has none")
    tokens = tuple(index for index in result.token_indices(phrase) if result.tokens[index].part == "prompt")
    if not tokens:
        raise ValueError(f"the phrase {phrase!r} is in the answer only: query='phrase' reads the prompt's tokens")
    return ScoredQuery("phrase", tokens, False, phrase)


def _answer_queries(result: AttentionResult) -> list[ScoredQuery]:
    """Each word of the answer (tokens not separated by white space), read at the steps that produced it."""
    if result.answer is None:
        raise ValueError("query='answer' needs an answer: give the example an answer, or study with answer=True")
    words: list[list[int]] = []
    for index, token in enumerate(result.tokens):
        if token.part != "answer" or token.special or token.start is None or token.end is None:
            continue
        previous = result.tokens[index - 1]
        joined = words and words[-1][-1] == index - 1 and previous.end == token.start
        if joined and not result.answer[token.start : token.end][:1].isspace():
            words[-1].append(index)
        else:
            words.append([index])
    if not words:
        raise ValueError("the answer has no words to score (query='answer'): it is empty or special tokens only")
    spans = [(result.tokens[word[0]].start, result.tokens[word[-1]].end) for word in words]
    return [
        ScoredQuery("answer", tuple(word), True, result.answer[start:end])
        for word, (start, end) in zip(words, spans, strict=True)
    ]


def example_rows(
    example_id: str, result: AttentionResult, queries: list[ScoredQuery], box: Box | None, tolerance: float
) -> dict[str, list[Any]]:
    """The long table's rows of one example (`COLUMNS`), query by query, layer by layer, heads then their mean."""
    if box is not None:
        check_overlap(box, result.images[0].original_size, 0, "the example's box")
    rows: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    layers, heads = result.num_layers, result.num_heads
    head_ids = [*range(heads), MEAN_HEAD]
    for query in queries:
        values = query_metrics(result, query, box, tolerance)
        count = layers * len(head_ids)
        rows["example"] += [example_id] * count
        rows["query"] += [query.kind] * count
        rows["token"] += [query.tokens[0]] * count
        rows["text"] += [query.text] * count
        rows["layer"] += [layer_id for layer_id in result.layer_ids for _ in head_ids]
        rows["head"] += head_ids * layers
        for name, array in values.items():
            rows[name] += array.reshape(-1).tolist()
    return rows


def query_metrics(
    result: AttentionResult, query: ScoredQuery, box: Box | None, tolerance: float
) -> dict[str, np.ndarray]:
    """Each metric as a `[layers, heads + 1]` array (the last column: the mean of the heads)."""
    summary = result.head_summary(token=list(query.tokens), producing=query.producing)
    rows = result.producing_rows(list(query.tokens)) if query.producing else list(query.tokens)
    chosen = result.attention[:, :, rows, :].astype(np.float32, copy=False)  # [layers, heads, rows, image tokens]
    mean_heads = chosen.mean(axis=1)  # as `maps(head=None)`: heads combined first, in float32
    with warnings.catch_warnings():  # rows with no image mass have no entropy: NaN, as in head_summary
        warnings.simplefilter("ignore", RuntimeWarning)
        mean_entropy = np.nanmean(token_entropies(mean_heads), axis=1)
    metrics = {
        "image_share": np.column_stack([summary.image_mass, summary.image_mass.mean(axis=1)]),
        "spatial_entropy": np.column_stack([summary.spatial_entropy, mean_entropy]),
    }
    shape = (result.num_layers, result.num_heads + 1)
    if box is None:
        for name in ("in_box", "area", "pointing"):
            metrics[name] = np.full(shape, np.nan)
        return metrics
    geometry = result.images[0]
    # The first image's maps, as `grid` makes them: the mean over the query's rows of each head's (and the heads'
    # mean) row, in float32.
    maps = np.concatenate([chosen, mean_heads[:, None]], axis=1)[..., geometry.columns].mean(axis=2)
    metrics["in_box"] = _in_box(maps, box, geometry.rows, geometry.cols, geometry.original_size)
    metrics["area"] = np.full(shape, area_share(box.corners, geometry.original_size))
    metrics["pointing"] = _pointing(maps, box, geometry.rows, geometry.cols, geometry.original_size, tolerance)
    return metrics


def _in_box(maps: np.ndarray, box: Box, rows: int, cols: int, size: tuple[int, int]) -> np.ndarray:
    """`[..., cells]` maps (a video's: every group's cells in turn) -> the share of each inside `box`."""
    fractions = cell_fractions(box.corners, rows, cols, size).ravel()
    fractions = np.tile(fractions, maps.shape[-1] // fractions.size)
    values = maps.astype(np.float64)
    totals = values.sum(axis=-1)
    inside = (values * fractions).sum(axis=-1)
    return np.divide(inside, totals, out=np.full_like(totals, np.nan), where=totals > 0)


def _pointing(maps: np.ndarray, box: Box, rows: int, cols: int, size: tuple[int, int], tolerance: float) -> np.ndarray:
    """1.0 where the peak cell's centre (the first on ties) lies in `box` grown by `tolerance` pixels, else 0.0;
    NaN for a map with no mass."""
    cells = token_boxes(rows, cols, size)
    centres = np.column_stack([(cells[:, 0] + cells[:, 2]) / 2, (cells[:, 1] + cells[:, 3]) / 2])
    peak = np.argmax(maps, axis=-1) % (rows * cols)  # a video's: the cell within its group's frame
    x, y = centres[peak, 0], centres[peak, 1]
    across = (box.x0 - tolerance <= x) & (x <= box.x1 + tolerance)
    inside = across & (box.y0 - tolerance <= y) & (y <= box.y1 + tolerance)
    return np.where(maps.sum(axis=-1) > 0, inside.astype(np.float64), np.nan)
