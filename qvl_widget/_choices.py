"""What a view of a result can choose: layers, heads, tokens and how several are combined; and the defaults.

The one home of these names and rules: the result's selections, the widget, the HTML page, the figures and the
command line all take their types, checks and defaults from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, TypeAlias, get_args

import numpy as np

Reduce: TypeAlias = Literal["mean", "max"]
REDUCTIONS: tuple[Reduce, ...] = ("mean", "max")

# Selections of `AttentionResult.grid` / `maps` and the figures: indices, lists of them, or every layer.
LayerSelection: TypeAlias = int | Sequence[int] | Literal["all"]
HeadSelection: TypeAlias = int | Sequence[int] | None
TokenSelection: TypeAlias = int | Sequence[int] | None

# One choice of the interactive views (widget, HTML page): an index, or a reduction over all of them.
LayerChoice: TypeAlias = int | Literal["mean"]
HeadChoice: TypeAlias = int | Literal["mean", "max"]

ColormapName: TypeAlias = Literal["inferno", "viridis", "jet", "gray"]
COLORMAPS: tuple[ColormapName, ...] = get_args(ColormapName)

# Views that show a few layers side by side (the multi-layer figure, the command line, the HTML page's every-head
# maps) show the last ones: where models of every size gather what the answer needs.
LAST_LAYERS = 4


def last_layers(num_layers: int) -> list[int]:
    """The last `LAST_LAYERS` layer indices (non-negative), or all of them where the model has fewer."""
    return list(range(max(0, num_layers - LAST_LAYERS), num_layers))


def checked_index(index: int, size: int, name: str) -> int:
    """`index` as a non-negative index into `size` items, or an IndexError that says the valid range."""
    if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
        raise TypeError(f"{name} must be an integer index, not {index!r}")
    if not -size <= index < size:
        counted = f"is 1 {name}" if size == 1 else f"are {size} {name}s"
        raise IndexError(f"{name} {index} is out of range: there {counted}, use 0..{size - 1} or -{size}..-1")
    return int(index) % size


def checked_indices(selection: int | Sequence[int], size: int, name: str) -> list[int]:
    """One index or a non-empty sequence of them, each checked as by `checked_index`."""
    if not isinstance(selection, (Sequence, np.ndarray)) or isinstance(selection, str):
        return [checked_index(selection, size, name)]
    indices = [checked_index(index, size, name) for index in selection]
    if not indices:
        raise ValueError(f"the {name} selection is empty: pass at least one {name} index")
    return indices


def checked_reduce(reduce: str) -> Reduce:
    if reduce not in REDUCTIONS:
        raise ValueError(f"reduce must be 'mean' or 'max', not {reduce!r}")
    return reduce


def checked_layer_choice(layer: LayerChoice, num_layers: int) -> LayerChoice:
    """A view's layer choice: a non-negative index, or "mean"; a clear error for one that does not exist."""
    if layer == "mean":
        return "mean"
    return checked_index(layer, num_layers, "layer")


def checked_head_choice(head: HeadChoice | None, num_heads: int) -> HeadChoice:
    """A view's head choice: a non-negative index, "mean" or "max" (None means "mean")."""
    if head is None or head == "mean":
        return "mean"
    if head == "max":
        return "max"
    return checked_index(head, num_heads, "head")


def every_layer_choice(num_layers: int) -> list[LayerChoice]:
    """The layer menu, in order: every layer, then their mean."""
    return [*range(num_layers), "mean"]


def every_head_choice(num_heads: int) -> list[HeadChoice]:
    """The head menu, in order: the mean and max over heads, then every head."""
    return ["mean", "max", *range(num_heads)]


def checked_colormap(name: str) -> ColormapName:
    if name not in COLORMAPS:
        raise ValueError(f"unknown colormap {name!r}: choose one of {', '.join(COLORMAPS)}")
    return name
