"""What a view of a result can choose: layers, heads, tokens and how several are combined; and the defaults.

The one home of these names and rules: `grid`, `maps`, the widget, the HTML page, the figures, the command line
and `demo.recommended_view` all take their types, checks and defaults from here, so a choice one accepts, all do.

| a layer or head choice | selects | combined by |
|---|---|---|
| an index (negative counts from the end) | that layer / head | (one) |
| a list of indices | those, each once (a set: duplicates count once) | `reduce` ("mean" by default, or "max") |
| "mean" / "max" | all of them | their mean / their maximum |
| "all" (or None) | all of them | `reduce` |

Heads are combined first, then layers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, TypeAlias, get_args

import numpy as np

from ._arguments import integer_index, shown

Reduce: TypeAlias = Literal["mean", "max"]
REDUCTIONS: tuple[Reduce, ...] = ("mean", "max")

# A choice of layers or heads (see the table above); the views keep it in a canonical form (`canonical_choice`).
Choice: TypeAlias = int | Sequence[int] | Literal["mean", "max", "all"] | None
LayerSelection: TypeAlias = Choice
HeadSelection: TypeAlias = Choice
LayerChoice: TypeAlias = Choice
HeadChoice: TypeAlias = Choice
# The canonical form: an index (non-negative), "mean", "max", or a sorted list of two or more indices.
CanonicalChoice: TypeAlias = int | Literal["mean", "max"] | list[int]
TokenSelection: TypeAlias = int | Sequence[int] | None

# The unit a map is shown in: "probability" (the softmax's own numbers, a share of the row's attention) or
# "uniform" (probability x the number of image tokens: 1 = attention spread evenly over every image token, so
# maps of images of different sizes, 256 or 16,384 tokens, compare on one scale).
Unit: TypeAlias = Literal["probability", "uniform"]
UNITS: tuple[Unit, ...] = get_args(Unit)

ColormapName: TypeAlias = Literal["inferno", "viridis", "jet", "gray"]
COLORMAPS: tuple[ColormapName, ...] = get_args(ColormapName)

# Views that show a few layers side by side (the multi-layer figure, the command line, the HTML page's every-head
# maps) show the last ones: where models of every size gather what the answer needs.
LAST_LAYERS = 4


def last_layers(num_layers: int) -> list[int]:
    """The last `LAST_LAYERS` layer indices (non-negative), or all of them where the model has fewer."""
    return list(range(max(0, num_layers - LAST_LAYERS), num_layers))


def checked_index(index: object, size: int, name: str) -> int:
    """`index` as a non-negative index into `size` items, or an IndexError that says the valid range.

    An int, a numpy integer or a 0-d integer array; a bool, a float or a string is a TypeError."""
    value = integer_index(index)
    if value is None:
        raise TypeError(f"{name} must be an integer index, not {shown(index)}")
    if not -size <= value < size:
        counted = f"is 1 {name}" if size == 1 else f"are {size} {name}s"
        raise IndexError(f"{name} {shown(value)} is out of range: there {counted}, use 0..{size - 1} or -{size}..-1")
    return value % size


def checked_indices(selection: int | Sequence[int], size: int, name: str) -> list[int]:
    """One index or a non-empty sequence of them (a list, a tuple, a 1-d integer array), each checked as by
    `checked_index`; anything else (a set, a dict, a nested list, a float) is a one-line TypeError."""
    if isinstance(selection, np.ndarray) and selection.ndim == 0:
        return [checked_index(selection, size, name)]
    if isinstance(selection, np.ndarray):
        if selection.ndim != 1 or not (selection.size == 0 or np.issubdtype(selection.dtype, np.integer)):
            raise TypeError(
                f"{name} must be an integer index or a flat list of them, not an array of {selection.dtype} with "
                f"shape {selection.shape}"
            )
        selection = selection.tolist()
    elif isinstance(selection, (str, bytes)) or not isinstance(selection, Sequence):
        if integer_index(selection) is None:
            raise TypeError(f"{name} must be an integer index or a list of them, not {shown(selection)}")
        return [checked_index(selection, size, name)]
    indices = [checked_index(index, size, name) for index in selection]
    if not indices:
        raise ValueError(f"the {name} selection is empty: pass at least one {name} index")
    return indices


def checked_reduce(reduce: str) -> Reduce:
    if not isinstance(reduce, str) or reduce not in REDUCTIONS:
        raise ValueError(f"reduce must be 'mean' or 'max', not {shown(reduce)}")
    return reduce


def selected(choice: Choice, count: int, name: str, reduce: Reduce = "mean") -> tuple[list[int], Reduce]:
    """The indices a layer or head choice selects, and how they are combined (see the module's table)."""
    reduce = checked_reduce(reduce)
    if choice is None or (isinstance(choice, str) and choice == "all"):
        return list(range(count)), reduce
    if isinstance(choice, str):
        if choice not in REDUCTIONS:
            raise ValueError(f"{name} must be an index, a list of indices, 'mean', 'max' or 'all', not {shown(choice)}")
        return list(range(count)), choice
    # A choice is a set: a layer or head named twice (2 and 2, or 3 and -1 of 4) is selected once, everywhere. The
    # widget's and the page's menus can only hold a set, and a mean that counted a head twice would weigh it double
    # without saying so; refusing would turn away a list the views show plainly (de-duplicated, in order).
    return sorted(set(checked_indices(choice, count, name))), reduce


def canonical_choice(choice: Choice, count: int, name: str, reduce: Reduce = "mean") -> CanonicalChoice:
    """A choice as the views keep it: one index (non-negative), "mean" / "max" (all of them), or a sorted list
    of two or more indices (combined by the view's `reduce`)."""
    indices, how = selected(choice, count, name, reduce)
    if choice is None or isinstance(choice, str):
        return how
    unique = sorted(set(indices))
    if len(unique) == 1:
        return unique[0]
    return how if len(unique) == count else unique


def choice_key(choice: CanonicalChoice) -> str:
    """A canonical choice as text: the key of its maps in the HTML page and of its head menu (JavaScript's
    `String(choice)` gives the same: "3", "mean", "2,5")."""
    return ",".join(map(str, choice)) if isinstance(choice, list) else str(choice)


def choice_label(choice: Choice, ids: Sequence[int], name: str, reduce: Reduce = "mean") -> str:
    """How views name a choice: "layer 31", "mean of layers", "max of heads 0, 2" (layers by their ids)."""
    canonical = canonical_choice(choice, len(ids), name, reduce)
    if isinstance(canonical, int):
        return f"{name} {ids[canonical]}"
    if isinstance(canonical, str):
        return f"{canonical} of {name}s"
    return f"{reduce} of {name}s {', '.join(str(ids[index]) for index in canonical)}"


def every_layer_choice(num_layers: int) -> list[CanonicalChoice]:
    """The layer menu, in order: every layer, then their mean and maximum."""
    return [*range(num_layers), "mean", "max"]


def every_head_choice(num_heads: int) -> list[CanonicalChoice]:
    """The head menu, in order: the mean and max over heads, then every head."""
    return ["mean", "max", *range(num_heads)]


def checked_colormap(name: str) -> ColormapName:
    if not isinstance(name, str) or name not in COLORMAPS:
        raise ValueError(f"unknown colormap {shown(name)}: choose one of {', '.join(COLORMAPS)}")
    return name


def checked_unit(unit: object) -> Unit:
    if not isinstance(unit, str) or unit not in UNITS:
        raise ValueError(
            f"unit must be 'probability' (the attention's own share) or 'uniform' (x the number of image tokens: "
            f"1 = spread evenly), not {shown(unit)}"
        )
    return unit


def unit_label(unit: Unit) -> str:
    """How a view names a unit: a colour bar's label."""
    return "attention probability" if unit == "probability" else "attention × uniform (1 = even)"
