"""Pointing: does the attention map of a question land on the object the question names?

A *recipe* says which map to read from an `AttentionResult`: which query tokens (the named object's words, the
question mark, the token that predicts the answer, or all prompt tokens), which layer(s) and which head(s) or head
reduction. The shipped recipe was chosen on validation seeds only (`VALIDATION_SEEDS`), by the pointing rate below;
the test seeds (`TEST_SEEDS`) are never used to choose anything.

The pointing check (`points_at_named`): take the brightest cell of the map (the first one on ties). Its distance
to a box is the Chebyshev distance, in token cells, from the cell's centre to the nearest point of the box (0 when
the centre is inside the box):

    d(box) = max(dx, dy),  dx = max(x0 - cx, 0, cx - x1) / cell_width,  dy = max(y0 - cy, 0, cy - y1) / cell_height

The map points at the named object when d(named box) <= 1 and d(named box) < d(box) for every distractor box:
the brightest cell lies within one token cell of the named object and strictly nearer to it than to any other.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

VALIDATION_SEEDS = range(100_000, 100_300)  # choose the pointing recipe here
TEST_SEEDS = range(200_000, 200_500)  # report (and gate) here only
METADATA_FILE = "qvl_demo.json"

QUERIES = ("phrase", "answer", "question_mark", "prompt")
CELL_PIXELS = 28  # one merged token of the demo model (Qwen2-VL: 14 px patches, merged 2 x 2)


@dataclass(frozen=True)
class PointingRecipe:
    """Which map to read: query tokens, layer(s), head(s) and how several are combined (see `AttentionResult.grid`).

    query: "phrase" (the named object's word(s)), "answer" (the last query token, whose output predicts the
    answer's first word), "question_mark" (the last prompt token) or "prompt" (all prompt tokens).
    layers: a list of layer indices or "all". head: a head index, or None for all heads. reduce: "mean" or "max".
    """

    query: str = "phrase"
    layers: tuple[int, ...] | str = "all"
    head: int | None = None
    reduce: str = "mean"

    def describe(self) -> str:
        layers = self.layers if isinstance(self.layers, str) else ",".join(str(layer) for layer in self.layers)
        head = "all heads" if self.head is None else f"head {self.head}"
        return f"query={self.query} layers={layers} {head} reduce={self.reduce}"

    @classmethod
    def from_json(cls, data: dict) -> PointingRecipe:
        layers = data["layers"] if isinstance(data["layers"], str) else tuple(int(layer) for layer in data["layers"])
        return cls(query=data["query"], layers=layers, head=data["head"], reduce=data["reduce"])

    def to_json(self) -> dict:
        data = asdict(self)
        data["layers"] = self.layers if isinstance(self.layers, str) else list(self.layers)
        return data


DEFAULT_RECIPE = PointingRecipe()


def candidate_recipes(
    num_layers: int, num_heads: int, queries: Sequence[str] = QUERIES, all_layers: bool = True
) -> list[PointingRecipe]:
    """Every recipe the validation search tries: each query kind (of `queries`) x (each layer, all layers unless
    not `all_layers`) x (mean over heads, max over heads, each single head)."""
    layer_choices: list[tuple[int, ...] | str] = [(layer,) for layer in range(num_layers)]
    if all_layers:
        layer_choices.append("all")
    recipes = []
    for query in queries:
        for layers in layer_choices:
            recipes.append(PointingRecipe(query, layers, None, "mean"))
            recipes.append(PointingRecipe(query, layers, None, "max"))
            recipes.extend(PointingRecipe(query, layers, head, "mean") for head in range(num_heads))
    return recipes


def query_rows(result, example: dict, query: str) -> list[int]:
    """Indices into `result.tokens` of the recipe's query tokens (the prompt's; an answer's tokens follow them)."""
    in_prompt = [index for index, token in enumerate(result.tokens) if token.part == "prompt"]
    if query == "phrase":
        return [index for index in result.token_indices(example["phrase"]) if index in set(in_prompt)]
    if query == "answer":
        return in_prompt[-1:]  # the last prompt token: its output is the answer's first word
    prompt_rows = [index for index in in_prompt if not result.tokens[index].special]
    if query == "question_mark":
        return prompt_rows[-1:]
    if query == "prompt":
        return prompt_rows
    raise ValueError(f"unknown query {query!r}: choose one of {', '.join(QUERIES)}")


def answer_word(result) -> int:
    """The index of the answer's first word (its first token that is not a special token)."""
    for index, token in enumerate(result.tokens):
        if token.part == "answer" and not token.special:
            return index
    raise ValueError("the result has no answer word: capture with answer=True (the model answers)")


def answer_pointing_map(result, example: dict, recipe: PointingRecipe | None = None) -> np.ndarray:
    """The answer word's producing map (where the model looked when it chose that word), at the recipe's layer(s)
    and head(s): what a user sees hovering the answer in the widget."""
    recipe = recipe or recipe_for_model(result.model)
    layers = recipe.layers if isinstance(recipe.layers, str) else list(recipe.layers)
    return result.grid(token=answer_word(result), producing=True, layer=layers, head=recipe.head, reduce=recipe.reduce)


def pointing_map(result, example: dict, recipe: PointingRecipe | None = None) -> np.ndarray:
    """The `[rows, cols]` map to test pointing on: `recipe`, or the one stored beside the model's weights."""
    recipe = recipe or recipe_for_model(result.model)
    layers = recipe.layers if isinstance(recipe.layers, str) else list(recipe.layers)
    return result.grid(
        token=query_rows(result, example, recipe.query), layer=layers, head=recipe.head, reduce=recipe.reduce
    )


def recommended_view(result, example: dict) -> dict:
    """The pointing recipe as view options: `token` rows, `layer` (an index, or "mean" for all layers), `head`
    ("mean" / "max" over heads, or an index), `boxes` (the named object's box, labelled with its words: every view
    outlines it and says the share of the attention inside it) and, with the model's answer in the result,
    `producing=True` (its first word, with the map of the step that produced it).

    The keys go as they are to `result.widget(**view)` and `result.to_html(path, **view)`; `result.grid` takes
    them but `boxes`. The figures name the layers differently: `figures.layers_figure(result,
    layers=[view["layer"]], token=view["token"], head=view["head"], producing=..., boxes=view["boxes"])` and
    `figures.matrix_figure(result, layer=view["layer"], head=view["head"], producing=...)`."""
    from .._boxes import Box

    recipe = recipe_for_model(result.model)
    layer: int | str
    if recipe.layers == "all":
        layer = "mean"
    elif len(recipe.layers) == 1:
        layer = recipe.layers[0]
    else:
        raise ValueError(f"the recipe reads layers {recipe.layers}; a view shows one layer or the mean of all")
    head = recipe.reduce if recipe.head is None else recipe.head
    x0, y0, x1, y1 = example["bbox"]
    boxes = [Box(x0, y0, x1, y1, label=example["phrase"])]
    if any(token.part == "answer" for token in result.tokens):
        return {"token": [answer_word(result)], "producing": True, "layer": layer, "head": head, "boxes": boxes}
    return {"token": query_rows(result, example, recipe.query), "layer": layer, "head": head, "boxes": boxes}


def cell_box_distance(cell: tuple[int, int], box: Sequence[float], grid: tuple[int, int], size: tuple[int, int]):
    """Chebyshev distance in token cells from the centre of `cell` (row, col) to `box` (x0, y0, x1, y1) in pixels
    of an image of `size` (width, height) cut into `grid` (rows, cols) cells; 0 when the centre is inside."""
    (row, col), (rows, cols), (width, height) = cell, grid, size
    cell_width, cell_height = width / cols, height / rows
    cx, cy = (col + 0.5) * cell_width, (row + 0.5) * cell_height
    x0, y0, x1, y1 = box
    dx = max(x0 - cx, 0.0, cx - x1) / cell_width
    dy = max(y0 - cy, 0.0, cy - y1) / cell_height
    return max(dx, dy)


def points_at_named(grid_map: np.ndarray, example: dict) -> bool:
    """Whether the brightest cell of `grid_map` is within one cell of the named box and nearer to it than to
    every distractor box (see the module docstring). A map that is not the example picture's token grid, or holds
    NaN or infinity, is refused: its brightest cell would name no place of that picture."""
    grid_map = _checked_map(grid_map, example["image"].size)
    rows, cols = grid_map.shape
    row, col = np.unravel_index(int(np.argmax(grid_map)), grid_map.shape)
    cell = (int(row), int(col))
    size = example["image"].size
    named = cell_box_distance(cell, example["bbox"], (rows, cols), size)
    others = [cell_box_distance(cell, box, (rows, cols), size) for box in example["distractors"]]
    return bool(named <= 1.0 and all(named < other for other in others))


def _checked_map(grid_map: object, size: tuple[int, int]) -> np.ndarray:
    """`grid_map` as a finite float array of one value per token cell of a picture of `size` (width, height)."""
    cells = (size[1] // CELL_PIXELS, size[0] // CELL_PIXELS)
    array = np.asarray(grid_map) if isinstance(grid_map, np.ndarray | list | tuple) else None
    if array is None or array.dtype.kind not in "biuf" or array.shape != cells:
        described = f"an array of shape {array.shape}" if array is not None else type(grid_map).__name__
        raise ValueError(
            f"the map must be the example's token grid, {cells[0]} x {cells[1]} numbers (its {size[0]} x {size[1]} "
            f"picture in {CELL_PIXELS}-pixel cells), not {described}: pass result.grid(...) of this example"
        )
    if not np.isfinite(array).all():
        raise ValueError(
            f"the map holds {int(np.isnan(array).sum())} NaN and {int(np.isinf(array).sum())} infinite values: "
            "it names no brightest cell; pass a map of attention (result.grid(...))"
        )
    return array.astype(np.float64)


def chance_level(examples: Sequence[dict]) -> float:
    """Mean of 1 / number of objects: the rate of a pointer that picks one of the objects at random."""
    return float(np.mean([1.0 / (1 + len(example["distractors"])) for example in examples]))


def pointing_rate(results: Sequence, examples: Sequence[dict], recipe: PointingRecipe | None = None) -> float:
    hits = [
        points_at_named(pointing_map(result, example, recipe), example)
        for result, example in zip(results, examples, strict=True)
    ]
    return float(np.mean(hits))


def choose_recipe(
    results: Sequence, examples: Sequence[dict], queries: Sequence[str] | None = None, all_layers: bool = True
) -> tuple[PointingRecipe, float, list[tuple[str, float]]]:
    """The candidate recipe (of `queries`, default all; single layers only unless `all_layers`) with the highest
    pointing rate on `results` (validation captures), its rate, and the rate of every candidate (best first).
    Ties keep the earlier candidate."""
    first = results[0]
    scored = [
        (recipe, pointing_rate(results, examples, recipe))
        for recipe in candidate_recipes(first.num_layers, first.num_heads, queries or QUERIES, all_layers)
    ]
    best, best_rate = max(scored, key=lambda item: item[1])
    table = sorted(((recipe.describe(), rate) for recipe, rate in scored), key=lambda item: -item[1])
    return best, best_rate, table


def read_metadata(folder: str | Path) -> dict:
    path = Path(folder) / METADATA_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def recipe_for_model(source: str) -> PointingRecipe:
    """The recipe stored beside a model folder's weights, else the shipped model's, else `DEFAULT_RECIPE`."""
    from . import MODEL_DIR

    for folder in (source, MODEL_DIR):
        if folder and Path(folder).is_dir() and "pointing" in (metadata := read_metadata(folder)):
            return PointingRecipe.from_json(metadata["pointing"]["recipe"])
    return DEFAULT_RECIPE
