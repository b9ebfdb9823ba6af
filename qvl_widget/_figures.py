"""Paper figures of an AttentionResult: overlays, per-layer panels and the token x image-token matrix.

Matplotlib and Pillow only. Every function is a view of a result that never touches the model: token, layer and
head selections go through `AttentionResult.grid` / `AttentionResult.maps`, and the four shared colour maps use
the lookup tables of the browser widget, so figures and widget show the same colours.

Figures are detached from pyplot (made, then closed at once): in a notebook a returned figure shows once, loops
do not pile figures up in pyplot, and nothing depends on global state. Write them with `save_figure`.

Sizes are bounded whatever the result: the matrix shows at most `MATRIX_MAX_ROWS` token rows (`tokens=` picks
which), the layers figure wraps its panels into rows of panels no taller than a page, and `save_figure` refuses
a drawing of more than `MAX_PIXELS` pixels. Every public argument is checked at the boundary: a wrong type or
value gets one line naming the argument, the value and what to pass.
"""

from __future__ import annotations

import io
import itertools
import math
import numbers
import os
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeAlias

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter, MaxNLocator
from PIL import Image

from ._arguments import integer_index, shown
from ._boxes import (
    Box,
    BoxView,
    box_views,
    checked_boxes,
    draw_boxes,
    group_counts,
    percent_words,
    ratio_words,
    shown_boxes,
    weighted_share,
)
from ._choices import (
    Choice,
    HeadSelection,
    LayerSelection,
    Reduce,
    TokenSelection,
    Unit,
    checked_index,
    checked_reduce,
    checked_unit,
    last_layers,
    selected,
)
from ._colormaps import COLORMAPS, DEFAULT_COLORMAP, lookup_table
from ._files import checked_path, write_atomically
from ._images import load_rgb
from ._overlay import CONTOUR_LEGEND, DEFAULT_OPACITY, DEFAULT_STYLE, Style, checked_style, overlay_map
from ._result import GENERATED_PARTS, PARTS, SINK_TAU, STILL_THINKING, AttentionResult, ImageGeometry, Part
from ._text import visible

COLORBAR_LABEL = "share of the token's attention"  # what a probability map's colour bar says its numbers are
RELATIVE_LABEL = "share ÷ the baseline's share"
SAVE_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
WIDTH_PRESETS: dict[str, float] = {"column": 3.3, "page": 7.0}  # inches: one column of a two-column paper, a page

FigureWidth: TypeAlias = float | Literal["column", "page"]  # inches, or a preset of `WIDTH_PRESETS`
FigureTitle: TypeAlias = str | bool | None  # None (or True): the figure's own; a text of yours; False: none

_WIDTH = WIDTH_PRESETS["page"]
_SPECIAL_COLOUR = "0.55"  # grey for chat-template / special token labels
_ANSWER_COLOUR = "#1a5aa6"  # blue for the answer's token labels
_THINKING_COLOUR = "#8a3b12"  # brown for the thinking's: the model's own words, but not its answer
_PART_COLOURS: dict[Part, str] = {"prompt": "black", "thinking": _THINKING_COLOUR, "answer": _ANSWER_COLOUR}
_MAX_LABEL_CHARS = 24
_PANEL_PIXELS = 1600  # pictures larger than this (long side) are shrunk for the panels: still sharp at 300 dpi
_PANEL_DPI = 600  # and smaller panels get pictures of this many pixels per inch shown (twice a 300 dpi print)
_ROW_HEIGHT = 0.135  # inches per matrix row: room for a 7 pt label
_MIN_GROUP_LINE_INCHES = 0.06  # video group lines closer than this are thinned to every few groups

MATRIX_MAX_ROWS = 128  # token rows of one matrix figure: 18.5 inches tall at most, every label readable
LAYERS_PER_ROW = 8  # layer panels side by side; more layers wrap into further rows of panels
MAX_LAYERS_PER_ROW = 16
MAX_LAYER_PANELS = 128  # layers of one layers figure (every model's decoder has fewer)
FRAMES_PER_ROW = 8  # a video's group panels side by side; more wrap into further rows of panels
MAX_FRAMES_PER_ROW = 12
MAX_FRAME_PANELS = 64  # groups of one frames figure (8 rows of 8)
PAGE_HEIGHT_RATIO = 9.5 / 7.0  # a layers figure is at most this many times as tall as it is wide (a page)
WIDTH_RANGE = (3.0, 40.0)  # inches: a paper column is 3.3, a page 7
DPI_RANGE = (10.0, 2400.0)
MAX_PIXELS = 2**25  # pixels of one drawing (34 million; a 7 x 18.5-inch matrix at 300 dpi has 11.7 million)
_MAX_SIDE_PIXELS = 2**16 - 1  # matplotlib's own limit on each side


# ----- text sizes for the width ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fonts:
    """Font sizes in points of a figure's texts, for the width it is made at: printed at that width, they are these
    sizes (never below `MIN_FONT_POINTS`)."""

    tick: float
    label: float
    title: float
    suptitle: float

    @property
    def char_inches(self) -> float:
        """About the width of a tick label's character (digits, the widest), in inches."""
        return _CHAR_EMS * self.tick / 72.0


MIN_FONT_POINTS = 6.0  # the smallest text a figure has, printed at its width
_PAD_INCHES = 3 / 72  # constrained layout's pad around each panel and the figure's edges
MIN_PANEL_INCHES = 0.45  # a narrow figure puts fewer panels side by side rather than narrower ones
_PAGE_FONTS = _Fonts(tick=7.0, label=8.0, title=8.5, suptitle=9.5)  # at a page's width (7 in) and wider
_COLUMN_FONTS = _Fonts(tick=MIN_FONT_POINTS, label=6.5, title=7.0, suptitle=7.5)  # at a column's (3.3 in) and less
_CHAR_EMS = 0.66  # a character's width in ems, on the wide side: DejaVu Sans' digits are 0.64
_TEXT_EMS = 0.56  # an average character of a title's text, on the wide side (DejaVu Sans' lower case: about 0.52)


def _fonts(width: float) -> _Fonts:
    """The font sizes of a figure `width` inches wide: a column's at 3.3 inches or less, a page's at 7 or more, in
    between in proportion."""
    low, high = WIDTH_PRESETS["column"], WIDTH_PRESETS["page"]
    share = min(1.0, max(0.0, (width - low) / (high - low)))

    def size(column: float, page: float) -> float:
        return round(column + share * (page - column), 2)

    return _Fonts(
        *(
            size(getattr(_COLUMN_FONTS, name), getattr(_PAGE_FONTS, name))
            for name in ("tick", "label", "title", "suptitle")
        )
    )


def _characters(inches: float, points: float, ems: float = _TEXT_EMS) -> int:
    """How many characters of text `points` tall fit a line `inches` long."""
    return max(12, math.floor(inches * 72.0 / (points * ems)))


def _wrapped(line: str, inches: float, points: float) -> list[str]:
    """One title line as the lines that fit `inches`: broken after its " · " parts where it can, else at spaces."""
    most = _characters(inches, points)
    if len(line) <= most:
        return [line]
    lines: list[str] = []
    for part in line.split(" · "):
        if lines and len(lines[-1]) + 3 + len(part) <= most:
            lines[-1] += " · " + part
            continue
        before, bracket, after = part.rpartition(" (")
        closing = after.endswith(")") and ")" not in after[:-1]  # the part ends with “(…)”: keep it whole
        pieces = [before, bracket.strip() + after] if before and closing and len(part) > most else [part]
        for piece in pieces:
            lines.extend(textwrap.wrap(piece, most, break_long_words=True, break_on_hyphens=False) or [""])
    return lines


def _title_text(lines: Sequence[str], inches: float, points: float) -> str:
    """Title lines, each wrapped to `inches`, as one text; control characters as visible escapes (`visible`: the
    one place every heading's text, the prompt, the answer, token words and your own titles, passes)."""
    return "\n".join(wrapped for line in lines for wrapped in _wrapped(visible(line), inches, points))


def _heading(own: Sequence[str], title: str | Literal[False] | None, width: float, fonts: _Fonts) -> str | None:
    """A figure's title as drawn, wrapped to its `width`: its `own` lines, or the `title` passed (None: its own;
    False: none, returned as None)."""
    if title is False:
        return None
    return _title_text(own if title is None else title.splitlines(), width - 0.2, fonts.suptitle)


def _add_heading(figure: Figure, heading: str | None, fonts: _Fonts) -> None:
    if heading is not None:
        figure.suptitle(heading, fontsize=fonts.suptitle, parse_math=False)


def _line_count(text: str | None) -> int:
    return 0 if text is None else text.count("\n") + 1


def _line_inches(points: float) -> float:
    """The height of one line of text `points` tall, with its spacing."""
    return 1.5 * points / 72.0


def _title_inches(lines: int, fonts: _Fonts) -> float:
    """The height a figure's title of `lines` lines takes, with the figure's margins."""
    return 4 * _PAD_INCHES + lines * 1.25 * fonts.suptitle / 72.0


def _panels_that_fit(inches: float, beside: int) -> int:
    """How many panels no narrower than `MIN_PANEL_INCHES` (and their gaps) fit `inches` beside `beside` more of
    the same width (at least one)."""
    return max(1, math.floor(inches / (MIN_PANEL_INCHES + 0.06)) - beside)


def _is_share(unit: Unit, relative: bool) -> bool:
    """Whether a map's numbers are shares (shown as percentages), not ratios."""
    return unit == "probability" and not relative


# ----- argument checks -----------------------------------------------------------------------------------------


def _checked_result(result: object) -> AttentionResult:
    if not isinstance(result, AttentionResult):
        raise TypeError(
            f"result must be an AttentionResult (from model.capture(...) or AttentionResult.load(path)), "
            f"not {type(result).__name__}"
        )
    return result


def _checked_number(value: object, name: str, advice: str) -> float:
    """A real number (Python or numpy, or a 0-d numeric array; never a bool), finite; else one line."""
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number {advice}, not {shown(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number {advice}, not {shown(value)}")
    return number


def _checked_in_range(value: object, name: str, low: float, high: float, advice: str) -> float:
    number = _checked_number(value, name, advice)
    if not low <= number <= high:
        raise ValueError(f"{name} must be {advice}, not {shown(value)}")
    return number


def _checked_alpha(alpha: object) -> float:
    return _checked_in_range(alpha, "alpha", 0.0, 1.0, "between 0 (picture only) and 1 (map only)")


def _checked_width(width: object) -> float:
    """`width=` in inches: "column" (3.3), "page" (7) or a number of inches in `WIDTH_RANGE`."""
    low, high = WIDTH_RANGE
    advice = f"'column' (3.3 in), 'page' (7 in) or a number of inches from {low:g} to {high:g}"
    if isinstance(width, str):
        if width not in WIDTH_PRESETS:
            raise ValueError(f"width must be {advice}, not {shown(width)}")
        return WIDTH_PRESETS[width]
    try:
        number = _checked_number(width, "width", "")
    except (TypeError, ValueError) as error:
        raise type(error)(f"width must be {advice}, not {shown(width)}") from None
    if not low <= number <= high:
        raise ValueError(f"width must be {advice}, not {shown(width)}")
    return number


def _checked_title(title: object) -> str | Literal[False] | None:
    """`title=`: None or True (the figure's own title, returned as None), a text of your own, or False (no title:
    a LaTeX caption says it instead)."""
    if title is None or title is True or title is np.True_:
        return None
    if title is False or title is np.False_:
        return False
    if not isinstance(title, str):
        raise TypeError(
            f"title must be a text of your own, False (no title, e.g. for a LaTeX caption) or None (the figure's own), "
            f"not {shown(title)}"
        )
    if not title.strip():
        raise ValueError("title is empty: pass title=False for no title, or some text")
    return title


def _checked_flag(value: object, name: str, meaning: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True ({meaning}) or False, not {shown(value)}")
    return bool(value)


def _checked_index(value: object, name: str, advice: str) -> int:
    """An index: a Python or numpy integer or a 0-d integer array; never a bool, a float or a string."""
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iu":
        return int(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be {advice}, not {shown(value)}")
    return int(value)


def _checked_indices(value: object, name: str, advice: str) -> int | list[int]:
    """One index, or several (a list, tuple, range or 1-d integer array) as a list, in plain ints."""
    if isinstance(value, np.ndarray) and value.ndim >= 1:
        if value.ndim > 1 or value.dtype.kind not in "iu":
            raise TypeError(f"{name} must be {advice}, not a {value.ndim}-d array of {value.dtype}")
        return [int(item) for item in value]
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [_checked_index(item, f"each of {name}", "an integer index") for item in value]
    return _checked_index(value, name, advice)


def _checked_choice(value: object, name: str, what: str) -> Choice:
    """A layer or head choice (see `_choices`): None, "mean", "max", "all", an index or a list of them, with
    numpy integers and 0-d integer arrays taken as the indices they are."""
    advice = f"a {what} index like -1, a list of them, 'mean', 'max' or 'all'"
    if value is None:
        return None
    if isinstance(value, str):
        if value not in ("mean", "max", "all"):
            raise ValueError(f"{name} must be {advice}, not {shown(value)}")
        return value  # type: ignore[return-value]
    return _checked_indices(value, name, advice)


def _checked_tokens(value: object, name: str) -> TokenSelection:
    if value is None:
        return None
    if isinstance(value, str):
        raise TypeError(
            f"{name} must be token indices (an index, a list or a range), not the text {shown(value)}: for words, pass "
            f"phrase={value!r}, or {name}=result.token_indices({value!r})"
        )
    return _checked_indices(value, name, "a token index, a list of them or a range")


def _checked_phrase(phrase: object) -> str | None:
    if phrase is not None and not isinstance(phrase, str):
        raise TypeError(f"phrase must be words of the prompt or the answer (a str), not {shown(phrase)}")
    return phrase


def _checked_colormap(colormap: object) -> str:
    if not isinstance(colormap, str):
        raise TypeError(
            f"colormap must be a colour map name like 'jet' ({', '.join(COLORMAPS)} or another matplotlib colour "
            f"map name), not {shown(colormap)}"
        )
    colour_table(colormap)  # an unknown name: one line saying which to use
    return colormap


def _checked_picture(picture: object) -> Image.Image:
    """`picture` as 8-bit RGB: a PIL image, an image file path or a `[height, width(, 1|3|4)]` array."""
    try:
        return load_rgb(picture)  # type: ignore[arg-type]
    except TypeError as error:
        raise TypeError(
            f"picture must be an image (a PIL image, an image file path or a [height, width, 3] array), not "
            f"{type(picture).__name__}"
        ) from error
    except (ValueError, OSError) as error:
        raise type(error)(f"picture is not an image this can show: {error}") from error


def _checked_grid(grid: object) -> np.ndarray:
    """`grid` as a finite, non-empty `[rows, cols]` float32 map."""
    try:
        values = np.asarray(grid)
    except (TypeError, ValueError) as error:  # ragged lists
        raise TypeError(f"grid must be a [rows, cols] array of numbers, not {type(grid).__name__}") from error
    if values.dtype.kind not in "biuf":
        raise TypeError(f"grid must be a [rows, cols] array of numbers, not an array of {values.dtype}")
    if values.ndim == 3 and values.size:
        raise ValueError(
            f"grid must be one [rows, cols] map, got shape {values.shape}: a video's grid is [groups, rows, cols], "
            "pass one group's, e.g. grid[0] over result.picture(image, 0)"
        )
    if values.ndim != 2 or values.size == 0:
        raise ValueError(f"grid must be a non-empty [rows, cols] map, got shape {values.shape}")
    if not np.isfinite(values).all():  # before the cast: a finite float64 past float32's range is told apart below
        raise ValueError(
            "grid must hold finite numbers; it has NaN or infinite values (replace them, e.g. np.nan_to_num(grid))"
        )
    largest = float(np.abs(values).max())
    if largest > np.finfo(np.float32).max:
        raise ValueError(
            f"grid's values reach {largest:.3g}, past float32's range (3.4e38) the maps are drawn in; scale it "
            "first, e.g. grid / np.abs(grid).max()"
        )
    return values.astype(np.float32)


def _checked_vmax(vmax: object) -> float | None:
    if vmax is None:
        return None
    advice = "(the top of the colour scale, e.g. the largest map value) or None"
    number = _checked_number(vmax, "vmax", advice)
    if not number > 0:
        raise ValueError(
            f"vmax must be a positive top of the colour scale (e.g. the largest map value), not {shown(vmax)}"
        )
    return number


def _checked_view(
    result: AttentionResult, unit: object, relative: object, drop_sinks: object
) -> tuple[Unit, bool, bool]:
    """`unit`, `relative` and `drop_sinks`, checked, and the result's baseline or sink scores where they need
    them (one line before any drawing)."""
    unit = checked_unit(unit)
    relative = _checked_flag(relative, "relative", "divided by the baseline's map")
    drop_sinks = _checked_flag(drop_sinks, "drop_sinks", "visual sinks left out")
    if relative or drop_sinks:
        # One line where the result lacks what they need (a baseline, sink scores), before any drawing.
        if relative:
            result._baseline_rows([0], [0])
        if drop_sinks:
            result._sink_masks([0])
    return unit, relative, drop_sinks


def _checked_figure(figure: object) -> Figure:
    if isinstance(figure, tuple) and figure and isinstance(figure[0], Figure):
        raise TypeError(
            "figure must be a matplotlib Figure, not a tuple: matrix_figure returns (figure, matrix); pass its "
            "first item, e.g. figure, matrix = matrix_figure(result)"
        )
    if not isinstance(figure, Figure):
        raise TypeError(
            f"figure must be a matplotlib Figure (from layers_figure or matrix_figure), not {type(figure).__name__}"
        )
    return figure


def _checked_dpi(dpi: object) -> float:
    low, high = DPI_RANGE
    return _checked_in_range(dpi, "dpi", low, high, f"from {low:g} to {high:g} dots per inch (print: 300)")


# ----- colours ---------------------------------------------------------------------------------------------


def colour_table(colormap: str) -> np.ndarray:
    """`[256, 3]` uint8 RGB colours of `colormap`: the widget's table for its four maps, else matplotlib's."""
    if colormap in COLORMAPS:
        return lookup_table(colormap)
    from matplotlib import colormaps

    if not isinstance(colormap, str) or colormap not in colormaps:
        raise ValueError(
            f"unknown colormap {shown(colormap)}: use one of {', '.join(COLORMAPS)} or another matplotlib colour "
            "map name"
        )
    return np.round(colormaps[colormap](np.linspace(0.0, 1.0, 256))[:, :3] * 255).astype(np.uint8)


def _matplotlib_colormap(colormap: str) -> ListedColormap:
    return ListedColormap(colour_table(colormap) / 255.0, name=colormap)


# ----- overlay -----------------------------------------------------------------------------------------------


def overlay_on_image(
    picture: Image.Image,
    grid: np.ndarray,
    alpha: float = DEFAULT_OPACITY,
    colormap: str = DEFAULT_COLORMAP,
    smooth: bool = True,
    *,
    vmax: float | None = None,
    style: Style = DEFAULT_STYLE,
    boxes: Sequence[Box | tuple] | None = None,
    group: int | None = None,
) -> Image.Image:
    """`picture` with the `[rows, cols]` attention map laid over it, at the picture's own resolution.

    The map is upsampled to the picture (bilinear when `smooth`, nearest otherwise) and scaled from 0 to its
    maximum (or to `vmax`, e.g. to share one scale between several overlays). `style="heat"` colours it with
    `colormap`, each pixel's opacity growing with its value up to `alpha` at the top of the scale, so the picture
    keeps its own colours where attention is low; `style="contour"` draws lines around the smallest regions
    holding 25 % (thick), 50 % (thin) and 75 % (dashed) of the map's mass over the untouched picture (they read in
    greyscale). `boxes`: a list of boxes outlined with their labels, each `(x0, y0, x1, y1)`, `(x0, y0, x1, y1,
    "label")` or a `qvl_widget.Box`, in pixels of `picture` (their share of the map: `Box.share`). A video's
    picture: `group` is the temporal group it shows (e.g. `result.picture(image, 2)` and `grid[2]` with `group=2`),
    and of boxes with a `group` only that group's are drawn. `picture`: a PIL image, an image file path or a
    `[height, width(, 3)]` array; `grid`: finite numbers.
    """
    values = _checked_grid(grid)
    alpha = _checked_alpha(alpha)
    table = colour_table(_checked_colormap(colormap))
    smooth = _checked_flag(smooth, "smooth", "bilinear upsampling; False: blocky cells")
    vmax = _checked_vmax(vmax)
    style = checked_style(style)
    shown = _checked_picture(picture)
    views = _overlay_boxes(boxes, shown.size, values.shape, group)
    scale = max(1.0, max(shown.size) / 512)  # lines as thick as in a 512-pixel view
    drawn = overlay_map(shown, values, table, alpha, smooth, vmax, style, scale)
    return draw_boxes(drawn, views, shown.size, scale) if views else drawn


def _overlay_boxes(boxes: object, size: tuple[int, int], grid: tuple[int, int], group: object) -> list[BoxView]:
    """`boxes=` of `overlay_on_image` as it draws them on its one picture of `size`: those of every group and, for
    a video's picture of temporal `group`, those of that group. A one-line error for a box with a group where the
    picture's group is not given or cannot be told (a group counted from the end: the video's length is unknown
    here)."""
    shown_group = integer_index(group)
    if group is not None and (shown_group is None or shown_group < 0):
        raise TypeError(
            f"group must be the temporal group the picture shows (an int from 0, e.g. group=2 with "
            f"result.picture(image, 2) and grid[2]) or None, not {shown(group)}"
        )
    checked = checked_boxes(boxes, [size])
    for position, box in enumerate(checked):
        if box.group is not None and box.group < 0:
            raise ValueError(
                f"boxes[{position}]'s group {box.group} counts from the end of a video, which overlay_on_image "
                "cannot see: give its group from 0"
            )
        if box.group is not None and shown_group is None:
            raise ValueError(
                f"boxes[{position}] is on group {box.group} of a video: pass the group the picture shows, e.g. "
                f"overlay_on_image(result.picture(image, {box.group}), grid[{box.group}], group={box.group}, "
                "boxes=...)"
            )
    return shown_boxes(box_views(checked, [grid], [size]), 0, shown_group or 0)


# ----- labels ------------------------------------------------------------------------------------------------


def token_label(text: str) -> str:
    """A token's text with its whitespace made visible: spaces ␣, newlines ⏎, tabs ⇥, empty ∅."""
    if text == "":
        return "∅"
    shown = visible(text).replace(" ", "␣").replace("\n", "⏎").replace("\r", "↵").replace("\t", "⇥")
    return shown if len(shown) <= _MAX_LABEL_CHARS else shown[: _MAX_LABEL_CHARS - 1] + "…"


def _layer_label(result: AttentionResult, layer: LayerSelection, reduce: Reduce) -> str:
    """The layers of a choice, named by their decoder-layer ids (`result.layer_ids`), not their positions."""
    return _choice_label(layer, result.num_layers, result.layer_ids, "layer", reduce)


def _head_label(result: AttentionResult, head: HeadSelection, reduce: Reduce) -> str:
    return _choice_label(head, result.num_heads, range(result.num_heads), "head", reduce)


def _choice_label(choice: LayerSelection, count: int, ids: Sequence[int], name: str, reduce: Reduce) -> str:
    """ "layer 31", "head 2", "max of all 28 layers", "mean of 28 heads", "mean of layers 29, 31"."""
    indices, how = selected(choice, count, name, reduce)
    named = ", ".join(str(ids[index]) for index in indices)
    if isinstance(choice, (int, np.integer)):
        return f"{name} {named}"
    if (choice is None or isinstance(choice, str)) and list(ids) == list(range(count)):
        return f"{how} of all {count} layers" if name == "layer" else f"{how} of {count} heads"
    return f"{how} of {name}s {named}"


def _tokens_label(result: AttentionResult, token: TokenSelection, phrase: str | None, producing: bool = False) -> str:
    """The selected tokens by their words (never by position alone), the part of the text they are in, and which
    rows' maps are shown: "“red cat” in the prompt"; with `producing`, "while writing “orange” (the model's
    probability 97%)" for the model's own words, "the step that predicted “circle”" for the prompt's."""
    indices = result._token_rows(token, phrase)
    if not producing:
        if token is None and phrase is None:
            return "all prompt tokens (their mean)"
        return f"{_quoted_tokens(result, indices)} {_where(result, indices)}"
    generated = _while_generating(result, indices)
    if generated is not None:
        return generated
    parts = _parts_of(result, indices)
    steps = "the step that" if len(indices) == 1 else "the steps that"
    verb = "predicted" if parts == ["prompt"] else "produced"
    return f"{steps} {verb} {_quoted_tokens(result, indices)}"


def _quoted_tokens(result: AttentionResult, indices: list[int]) -> str:
    """Tokens by their words: each run of tokens that follow each other as one quoted text (“red cat”), runs
    joined by + (at most four, then how many more); the same text several times once, with how many times."""
    ordered = sorted(set(indices))
    runs: list[list[int]] = []
    for index in ordered:
        if runs and runs[-1][-1] == index - 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    texts = [_token_words("".join(result.tokens[index].text for index in run)) for run in runs]
    if len(set(texts)) == 1:
        return f"“{texts[0]}”" + (f" ({len(texts)} times)" if len(texts) > 1 else "")
    quoted = " + ".join(f"“{text}”" for text in texts[:4])
    return quoted + (f" + {len(texts) - 4} more" if len(texts) > 4 else "")


def _token_words(text: str) -> str:
    """Tokens' text in a title: their words (whitespace runs as one space, none at the ends), cut with … past
    `_MAX_LABEL_CHARS`; where there are no words, the visible whitespace (␣, ⏎)."""
    words = " ".join(text.split())
    if not words:
        return token_label(text)
    return words if len(words) <= _MAX_LABEL_CHARS else words[: _MAX_LABEL_CHARS - 1] + "…"


def _where(result: AttentionResult, indices: list[int]) -> str:
    """ "in the prompt", "in the answer", "in the prompt, the thinking and the answer"."""
    named = [f"the {part}" for part in _parts_of(result, indices)]
    return "in " + (named[0] if len(named) == 1 else f"{', '.join(named[:-1])} and {named[-1]}")


def _parts_of(result: AttentionResult, indices: list[int]) -> list[Part]:
    """The parts of the text that tokens `indices` are in, in the text's order."""
    present = {result.tokens[index].part for index in indices}
    return [part for part in PARTS if part in present]


# What the model was doing at the step that chose its tokens of each part (as the widget's captions say).
_DOING: dict[tuple[Part, ...], str] = {("thinking",): "while thinking", ("answer",): "while writing"}


def _while_generating(result: AttentionResult, indices: list[int]) -> str | None:
    """For tokens the model wrote that follow each other (of its thinking or its answer), the text their producing
    steps wrote and the model's probability of it (the product of the tokens' own): "while writing “orange” (the
    model's probability 97%)", "while thinking “maybe” (the model's probability 40%)"; None otherwise."""
    indices = sorted(set(indices))
    tokens = [result.tokens[index] for index in indices]
    consecutive = indices == list(range(indices[0], indices[0] + len(indices)))
    probabilities = [token.probability for token in tokens if token.part in GENERATED_PARTS]
    if not consecutive or len(probabilities) != len(tokens) or None in probabilities:
        return None
    parts = _parts_of(result, indices)
    text = "".join(token.text for token in tokens if not token.special)
    shown = " ".join(text.split()) or token_label("".join(token.text for token in tokens))
    doing = _DOING.get(tuple(parts), "while thinking and writing")
    probability = float(np.prod(np.asarray(probabilities, dtype=np.float64)))
    return f"{doing} “{shown}” (the model's probability {_percent(probability)})"


def _percent(probability: float) -> str:
    """A probability as a short percentage: 97%, 4.2%, 0.31%; never 100% for less than certain."""
    value = 100.0 * probability
    if value < 10:
        return f"{value:.2g}%"
    if round(value) == 100 and value < 100:
        return f"{min(value, 99.9):.1f}%"
    return f"{value:.0f}%"


def checked_producing(producing: object) -> bool:
    """`producing=`: True (each token's map is the step that produced it) or False (its own row)."""
    if not isinstance(producing, (bool, np.bool_)):
        raise TypeError(
            f"producing must be True (the maps of the steps that produced the tokens) or False, not {shown(producing)}"
        )
    return bool(producing)


def _texts_lines(result: AttentionResult, inches: float, points: float) -> list[str]:
    """The prompt, and the model's thinking and answer where it has them, quoted on a line each, each cut to fit
    a line `inches` long at `points`."""
    lines = [_prompt_line(result.prompt, inches, points)]
    if result.thinking is not None:
        lines.append(_prompt_line(result.thinking, inches, points, "thinking: "))
    if result.still_thinking:
        lines.append(STILL_THINKING)
    elif result.answer is not None:
        lines.append(_prompt_line(result.answer, inches, points, "answer: "))
    return lines


def _prompt_line(prompt: str, inches: float, points: float, label: str = "") -> str:
    """`label` and `prompt` quoted on one line (whitespace runs as one space), cut with … to fit `inches`."""
    flat = " ".join(prompt.split())
    most = max(20, _characters(inches, points) - len(label) - 2)
    if len(flat) > most:
        flat = flat[: most - 1] + "…"
    return f"{label}“{flat}”"


class _ValueTicks(Formatter):
    """Tick values with the digits they need: probabilities as percentages ("0%, 10%", "0.002%, 0.004%"), other
    numbers plain ("0.5, 1.0, 1.5"). Decimals follow the step between ticks, so tiny values keep their
    significant digits: at 16,384 image tokens an even share is 0.0061%, not "0.00%"."""

    def __init__(self, percent: bool) -> None:
        self.factor = 100.0 if percent else 1.0
        self.suffix = "%" if percent else ""

    def __call__(self, value: float, pos: int | None = None) -> str:
        return self.format_ticks([value])[0]

    def format_ticks(self, values) -> list[str]:
        numbers = [self.factor * float(value) for value in values]
        decimals = _decimals(numbers)
        if decimals is None:  # below 1e-12: significant digits in scientific notation
            return [f"{number:.2g}{self.suffix}" for number in numbers]
        return [f"{number:.{decimals}f}{self.suffix}" for number in numbers]


def _decimals(numbers: list[float]) -> int | None:
    """The decimals that show the step between `numbers` (two significant digits of it, trailing zeros left
    out), or of the number itself where there is one; None where that would take more than 12."""
    distinct = sorted(set(numbers))
    steps = [high - low for low, high in itertools.pairwise(distinct) if high > low]
    scale = min(steps) if steps else max((abs(number) for number in distinct), default=0.0)
    if not scale > 0 or not math.isfinite(scale):
        return 0
    decimals = max(0, 1 - math.floor(math.log10(scale)))
    if decimals > 12:
        return None
    while decimals > 0 and all(abs(round(number, decimals - 1) - number) <= 1e-9 * scale for number in numbers):
        decimals -= 1
    return decimals


def _value_label(result: AttentionResult, unit: Unit, relative: bool, whose: str = "the token's") -> str:
    """What a map's colour bar numbers are, a share of what: "share of the token's attention" (`whose`: "the
    tokens'", "the row token's"; several tokens: their mean), "× uniform: share × 64 image tokens (1 = even)",
    "share ÷ the baseline's share"."""
    if relative:
        return RELATIVE_LABEL
    if unit == "uniform":
        return f"× uniform: share × {result.attention.shape[-1]} image tokens (1 = even)"
    return f"share of {whose} attention" + (" (mean)" if whose == "the tokens'" else "")


def _whose(result: AttentionResult, token: TokenSelection, phrase: str | None) -> str:
    """Whose attention a map of the selected tokens shares out: "the token's", or "the tokens'" (their mean)."""
    return "the token's" if len(set(result._token_rows(token, phrase))) == 1 else "the tokens'"


def _value_colorbar(colorbar, label: str, percent: bool, fonts: _Fonts, inches: float) -> None:
    """A colour bar's label (wrapped to its length, `inches`) and its ticks: percentages where the numbers are
    shares (`percent`), plain numbers otherwise."""
    colorbar.set_label("\n".join(_wrapped(label, max(0.5, inches), fonts.label)), fontsize=fonts.label)
    colorbar.ax.yaxis.set_major_formatter(_ValueTicks(percent=percent))
    colorbar.ax.tick_params(labelsize=fonts.tick)


def _view_details(result: AttentionResult, relative: bool, drop_sinks: bool) -> list[str]:
    """How a map was derived, for a figure's title: divided by the baseline's, sinks left out."""
    details = []
    if relative:
        details.append(f"÷ baseline “{_short(result.baseline_prompt or '', 60)}”")
    if drop_sinks:
        details.append(f"visual sinks dropped (τ = {SINK_TAU:g})")
    return details


def _short(text: str, most: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= most else flat[: most - 1] + "…"


def _input_label(result: AttentionResult, index: int) -> str:
    """Image `index` of the result named among those of its kind, from 1: "image 2 of 3", "video 1 of 2"; "video"
    (or "image") where it is the only one of its kind."""
    kind = result.images[index].kind
    same = [position for position, geometry in enumerate(result.images) if geometry.kind == kind]
    return f"{kind} {same.index(index) + 1} of {len(same)}" if len(same) > 1 else kind


def _time_decimals(times: Sequence[float]) -> int:
    """Decimals (1 to 3) that tell `times` apart."""
    distinct = sorted(set(times))
    for decimals in (1, 2):
        if len({f"{time:.{decimals}f}" for time in distinct}) == len(distinct):
            return decimals
    return 3


def _group_time(geometry: ImageGeometry, group: int, decimals: int | None = None) -> str:
    """A video group's time, "0.0–0.5 s" (its first and last frame's), with the decimals its video's times need."""
    if decimals is None:
        decimals = _time_decimals([time for span in geometry.group_times for time in span])
    start, end = geometry.group_times[group]
    if f"{start:.{decimals}f}" == f"{end:.{decimals}f}":
        return f"{start:.{decimals}f} s"
    return f"{start:.{decimals}f}–{end:.{decimals}f} s"


def _group_frames(geometry: ImageGeometry, group: int) -> str:
    """The frames of the video that a group covers (indices in the video as given): "frames 3, 6", "frame 9"."""
    frames = sorted(set(geometry.group_frames[group]))
    if len(frames) == 1:
        return f"frame {frames[0]}"
    if len(frames) > 3:
        return f"frames {frames[0]}–{frames[-1]}"
    return f"frames {', '.join(str(frame) for frame in frames)}"


def _checked_group(result: AttentionResult, image: int, group: object) -> int:
    """`group=` of a figure of one image: a temporal group of a video; 0 for an image (its only one)."""
    group = _checked_index(group, "group", "a temporal group index like 0")
    geometry = result.images[image]
    if geometry.kind == "image" and group not in (0, -1):
        raise ValueError(
            f"group={group} is for videos: image {image} is a picture (one group); leave group=0, or pass the "
            "index of a video as image="
        )
    return checked_index(group, geometry.groups, "group")


def _panel_picture(picture: Image.Image, shown_inches: float = math.inf) -> Image.Image:
    """The picture, shrunk when much larger than a figure panel can show (overlays are then cheap): at most
    `_PANEL_PIXELS` on its long side, and at most `_PANEL_DPI` pixels per inch of the `shown_inches` its long side
    takes in the figure."""
    scale = min(_PANEL_PIXELS, max(64.0, shown_inches * _PANEL_DPI)) / max(picture.size)
    if scale >= 1:
        return picture
    size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    return picture.resize(size, Image.Resampling.LANCZOS)


def _detached_figure(width: float, height: float) -> Figure:
    """A constrained-layout figure that pyplot does not keep (it still displays once in a notebook)."""
    figure = plt.figure(figsize=(width, height), layout="constrained")
    plt.close(figure)
    return figure


# ----- overlays and boxes in the panels ------------------------------------------------------------------------

BOXES_NOTE = (
    "boxes: under each overlay, the share of its attention inside the box, and that share ÷ the box's share of the "
    "area (1× = spread evenly)"
)
_BOX_TAG_COLOUR = "#1e1e1e"
_BOX_BAND_POINTS = 1.5  # the outline's black band; its white line a third of it
_WIDE_PANEL_INCHES = 1.0  # panels at least this wide say "62 % inside · 6.9×", narrower ones "62 % · 6.9×"


def _figure_boxes(result: AttentionResult, boxes: object, image: int, group: int | None = None) -> list[BoxView]:
    """`boxes=` of a figure of image `image`, checked against every image of the result; those on `image` (with
    `group`, a figure of one temporal group: those of every group or of that one), as the figure draws them. A
    one-line error where boxes are given and none is on the image or group shown."""
    sizes = [geometry.original_size for geometry in result.images]
    checked = checked_boxes(boxes, sizes, groups=group_counts(result.images))
    views = box_views(checked, [(geometry.rows, geometry.cols) for geometry in result.images], sizes)
    shown_views = [view for view in views if view["image"] == image]
    if checked and not shown_views:
        on = ", ".join(str(index) for index in sorted({box.image for box in checked}))
        raise ValueError(
            f"boxes are on image {on} and this figure shows image {image}: give its boxes as "
            f"Box(x0, y0, x1, y1, label=..., image={image})"
        )
    if group is None or not shown_views:
        return shown_views
    in_group = shown_boxes(shown_views, image, group)
    if not in_group:
        on = ", ".join(str(view["group"]) for view in shown_views)
        raise ValueError(
            f"boxes are on group {on} of video {image} and this figure shows group {group}: pass group= one of "
            "them, or give a box group=None to mark every group"
        )
    return in_group


def _panel_overlay(
    picture: Image.Image,
    grid: np.ndarray,
    table: np.ndarray,
    opacity: float,
    smooth: bool,
    vmax: float,
    style: Style,
    shown_inches: float,
) -> Image.Image:
    """One panel's overlay by the shared rule (`_overlay.py`), its contour lines' unit half a printed point."""
    pixels_per_point = max(picture.size) / (shown_inches * 72)
    return overlay_map(picture, grid, table, opacity, smooth, vmax, style, max(1.0, pixels_per_point / 2))


def _draw_boxes(
    axes: Axes,
    views: Sequence[BoxView],
    size: tuple[int, int],
    shown: tuple[int, int],
    inches: float,
    fontsize: float,
    tags: bool,
) -> None:
    """Outline each box just outside its edges (a white line in a black band: the box's inside stays as it is) on a
    panel showing an image of original `size` at `shown` pixels, its long side `inches` long in the figure; with
    `tags`, each named box's name on a dark tag at its top-left corner."""
    from matplotlib import patheffects
    from matplotlib.patches import Rectangle

    across, down = shown[0] / size[0], shown[1] / size[1]
    band = _BOX_BAND_POINTS / 72 * max(shown) / inches / 2  # half the band, in the panel's pixels
    for view in views:
        corner = (view["x0"] * across - band, view["y0"] * down - band)
        extent = ((view["x1"] - view["x0"]) * across + 2 * band, (view["y1"] - view["y0"]) * down + 2 * band)
        outline = Rectangle(corner, *extent, fill=False, edgecolor="white", linewidth=_BOX_BAND_POINTS / 3, gid="box")
        outline.set_path_effects([patheffects.withStroke(linewidth=_BOX_BAND_POINTS, foreground="black")])
        axes.add_patch(outline)
        if tags and view["name"]:
            above = corner[1] > 0.12 * shown[1]  # room above the box, else inside it, under its top edge
            axes.text(
                corner[0],
                corner[1] - band,
                view["name"],
                color="white",
                fontsize=fontsize,
                ha="left",
                va="bottom" if above else "top",
                bbox={"boxstyle": "square,pad=0.15", "facecolor": _BOX_TAG_COLOUR, "edgecolor": "none"},
                clip_on=True,
                gid="box-label",
            )


def _box_area_text(views: Sequence[BoxView], one_line: bool = False) -> str:
    """Each box's share of the area: under a narrow picture "“circle”:" over "9 % of the area", else on one line
    ("“circle”: 9 % of the area; box 2: 4 % of the area"). Boxes of one name (a moving object's, a box per group)
    are said once: "9 % of the area", or where their areas differ "8 % to 12 % of the area"."""
    areas: dict[str, list[float]] = {}
    for view in views:
        areas.setdefault(_quoted(view["name"], "box"), []).append(view["area"])
    texts = [f"{name}:\n{_area_words(shares)} of the area" for name, shares in areas.items()]
    return "; ".join(text.replace("\n", " ") for text in texts) if one_line else "\n".join(texts)


def _area_words(shares: Sequence[float]) -> str:
    """ "9 %", or the range of several boxes' shares of the area, "8 % to 12 %"."""
    low, high = percent_words(min(shares)), percent_words(max(shares))
    return low if low == high else f"{low} to {high}"


def _box_share_text(grid: np.ndarray, views: Sequence[BoxView], wide: bool) -> str:
    """Under an overlay: each box's share of `grid` and × uniform, "62 % inside · 6.9×" (named where there are
    several)."""
    lines = []
    values = np.asarray(grid, dtype=np.float64).ravel()
    for view in views:
        fractions = np.zeros(values.size)
        fractions[view["cells"]] = view["fractions"]
        share = weighted_share(values, fractions)
        if math.isnan(share):
            words = "no attention"
        else:
            words = f"{percent_words(share)}{' inside' if wide else ''} · {ratio_words(share / view['area'])}"
        lines.append(f"{_quoted(view['name'], 'box')} {words}" if len(views) > 1 else words)
    return "\n".join(lines)


def _quoted(name: str | None, otherwise: str) -> str:
    return f"“{name}”" if name else otherwise


def _footnote(figure: Figure, views: Sequence[BoxView], style: Style, fonts: _Fonts, areas: bool = False) -> None:
    """Under the panels, how to read the boxes' numbers (with `areas`, each box's share of the area: a figure
    without a panel of the bare picture) and the contour lines, where the figure has them."""
    lines = [BOXES_NOTE] if views else []
    if views and areas:
        lines.append(_box_area_text(views, one_line=True))
    if style == "contour":
        lines.append(CONTOUR_LEGEND)
    if lines:
        figure.supxlabel("\n".join(lines), fontsize=fonts.tick, color="0.25")


# ----- layers figure -----------------------------------------------------------------------------------------


def layers_figure(
    result: AttentionResult,
    layers: LayerSelection | None = None,
    head: HeadSelection = None,
    phrase: str | None = None,
    token: TokenSelection = None,
    image: int = 0,
    reduce: Reduce = "mean",
    *,
    producing: bool = False,
    group: int = 0,
    colormap: str = DEFAULT_COLORMAP,
    alpha: float = DEFAULT_OPACITY,
    smooth: bool = True,
    width: FigureWidth = "page",
    unit: Unit = "probability",
    relative: bool = False,
    drop_sinks: bool = False,
    title: FigureTitle = None,
    style: Style = DEFAULT_STYLE,
    boxes: Sequence[Box | tuple] | None = None,
) -> Figure:
    """The original image, then for each layer its attention map (top) and the map over the image (bottom).

    `layers`: indices of the captured layers (negative count from the end) or "all", one column each; default
    the last four (all, where the result has fewer). Panels are titled by decoder layer (`result.layer_ids`).
    Up to `LAYERS_PER_ROW` (8) layers stand side by side; more (up to `MAX_LAYER_PANELS`, 128) wrap into rows of
    panels, and the figure is never taller than `PAGE_HEIGHT_RATIO` times its `width` (a page): very tall or
    many panels are drawn smaller. Pictures are shrunk to what a panel shows, so any picture size is cheap.

    Tokens (of the prompt or the answer), head and reduction are chosen as in `AttentionResult.grid`; with
    `producing`, each token's map is that of the step that produced it (for an answer word: where the model
    looked while writing it). Every layer's map shares one colour scale, 0 to the largest value shown, so layers
    compare at a glance. The title quotes the prompt (and the answer) and names the tokens, the step, the head
    choice and, when the result has several, the image. `unit` ("probability" or "uniform": x image tokens),
    `relative` (÷ the baseline's map) and `drop_sinks` (visual sinks left out) as in `AttentionResult.grid`; the
    colour bar and the title say which.

    `image` indexes `result.images`, videos included: a video shows one temporal `group` (default 0, the first;
    its first frame and its map), and the titles name the group and its time. `frames_figure` shows a video's
    groups side by side.

    `width`: "page" (7 inches, the default), "column" (3.3 inches: one column of a two-column paper) or inches;
    the fonts are sized for it (printed at that width, no text is under 6 pt), and a narrow figure wraps its
    layers into more rows of panels. `title`: None (the figure's own, above), a text of your own, or False (none:
    for a LaTeX caption).

    The overlays are drawn as `overlay_on_image` draws them: `style="heat"` (the map in `colormap`, its opacity
    growing with the value up to `alpha`, so the picture keeps its colours where attention is low) or
    `style="contour"` (lines around 25 %, 50 % and 75 % of each map's attention, for greyscale print). `boxes`
    (boxes as for `overlay_on_image`, in pixels of the original image; `Box(..., image=i)` for another image than
    the first) are outlined on every panel of their image, the picture says each box's share of the area and each
    overlay the share of its map inside the box with that share ÷ the area's ("62 % inside · 6.9×"). On a video,
    a box with a `group` (`Box(..., group=g)`: a moving object's box in group g) is drawn only in a figure of that
    group, beside the boxes of every group.
    """
    result = _checked_result(result)
    producing = checked_producing(producing)
    unit, relative, drop_sinks = _checked_view(result, unit, relative, drop_sinks)
    colormap, alpha, width = _checked_colormap(colormap), _checked_alpha(alpha), _checked_width(width)
    title = _checked_title(title)
    smooth = _checked_flag(smooth, "smooth", "bilinear upsampling; False: blocky cells")
    layers = _checked_choice(layers, "layers", "layer")
    head = _checked_choice(head, "head", "head")
    token, phrase = _checked_tokens(token, "token"), _checked_phrase(phrase)
    image = checked_index(_checked_index(image, "image", "an image index like 0"), len(result.images), "image")
    group = _checked_group(result, image, group)
    style, views = checked_style(style), _figure_boxes(result, boxes, image, group)
    reduce = checked_reduce(reduce)
    if layers is None:
        layers = last_layers(result.num_layers)
    if isinstance(layers, (str, int)):
        layers = layers if isinstance(layers, str) else [layers]
    absolute, _ = selected(layers, result.num_layers, "layer")  # one panel each
    if len(absolute) > MAX_LAYER_PANELS:
        step = math.ceil(len(absolute) / MAX_LAYER_PANELS)
        raise ValueError(
            f"layers selects {len(absolute)} layers, and the figure shows at most {MAX_LAYER_PANELS} (a panel "
            f"each): pass some of them, e.g. layers=list(range(0, {result.num_layers}, {step}))"
        )
    grids = [
        result.grid(
            token=token,
            phrase=phrase,
            layer=layer,
            head=head,
            reduce=reduce,
            image=image,
            producing=producing,
            unit=unit,
            relative=relative,
            drop_sinks=drop_sinks,
        )
        for layer in absolute
    ]
    geometry = result.images[image]
    if geometry.kind == "video":
        grids = [grid[group] for grid in grids]  # [groups, rows, cols]: the chosen group's map
    original_picture = result.picture(image, group)
    fonts = _fonts(width)
    details = [_tokens_label(result, token, phrase, producing), _head_label(result, head, reduce)]
    several = len(result.images) > 1
    if geometry.kind == "video":
        details.append(
            f"{_input_label(result, image) if several else 'video'}, group {group + 1} of {geometry.groups} "
            f"({_group_time(geometry, group)}, {_group_frames(geometry, group)})"
        )
    elif several:
        details.append(_input_label(result, image))
    own = [
        *_texts_lines(result, width, fonts.suptitle),
        " · ".join(details),
        *_view_details(result, relative, drop_sinks),
    ]
    heading = _heading(own, title, width, fonts)
    aspect = original_picture.height / original_picture.width
    layout = _layers_layout(len(absolute), aspect, width, _line_count(heading), fonts)
    picture = _panel_picture(original_picture, layout.shown_inches)
    vmax = max(float(grid.max()) for grid in grids)
    norm = Normalize(vmin=0.0, vmax=vmax if vmax > 0 else 1.0)
    cmap = _matplotlib_colormap(colormap)

    figure = _detached_figure(width, layout.height)
    # Several rows of panels: the colour bar gets a column of its own (laying it out beside many axes is slow).
    bar_column = [0.08] if layout.bands > 1 else []
    grid_spec = figure.add_gridspec(
        2 * layout.bands, 1 + layout.per_row + len(bar_column), width_ratios=[1] * (1 + layout.per_row) + bar_column
    )

    original = figure.add_subplot(grid_spec[0:2, 0])
    original.imshow(picture)
    name = _input_label(result, image) if several else geometry.kind
    if geometry.kind == "video":
        name += f"\ngroup {group + 1} of {geometry.groups}\n{_group_time(geometry, group)}"
    original.set_title(name, fontsize=fonts.title)
    table, wide, top = colour_table(colormap), layout.shown_inches >= _WIDE_PANEL_INCHES, (vmax if vmax > 0 else 1.0)
    if views:
        _draw_boxes(original, views, geometry.original_size, picture.size, layout.shown_inches, fonts.tick, True)
        original.set_xlabel(_box_area_text(views), fontsize=fonts.tick)
    extent = (0, picture.width, picture.height, 0)
    layer_axes = []
    for position, (layer, grid) in enumerate(zip(absolute, grids, strict=True)):
        band, column = divmod(position, layout.per_row)
        heat = figure.add_subplot(grid_spec[2 * band, 1 + column])
        heat.imshow(grid, cmap=cmap, norm=norm, interpolation="nearest", extent=extent)
        heat.set_title(f"layer {result.layer_ids[layer]}", fontsize=fonts.title)
        overlay = figure.add_subplot(grid_spec[2 * band + 1, 1 + column])
        overlay.imshow(_panel_overlay(picture, grid, table, alpha, smooth, top, style, layout.shown_inches))
        overlay.set_gid(f"overlay-{layer}")
        if views:
            for axes in (heat, overlay):
                _draw_boxes(axes, views, geometry.original_size, picture.size, layout.shown_inches, fonts.tick, False)
            overlay.set_xlabel(_box_share_text(grid, views, wide), fontsize=fonts.tick)
        layer_axes += [heat, overlay]
        if column == 0:
            heat.set_ylabel("÷ baseline" if relative else "attention", fontsize=fonts.label)
            overlay.set_ylabel("overlay", fontsize=fonts.label)
    for axes in [original, *layer_axes]:
        axes.set_xticks([])
        axes.set_yticks([])
        axes.xaxis.set_visible(bool(axes.get_xlabel()))  # no ticks: nothing to measure (fast with many panels)
        axes.yaxis.set_visible(bool(axes.get_ylabel()))
        for spine in axes.spines.values():
            spine.set_linewidth(0.5)

    mappable = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    if layout.bands > 1:
        bar = figure.colorbar(mappable, cax=figure.add_subplot(grid_spec[:, -1]))
    else:
        bar = figure.colorbar(mappable, ax=layer_axes, shrink=0.9, aspect=25, pad=0.02)
    label = _value_label(result, unit, relative, _whose(result, token, phrase))
    _value_colorbar(bar, label, _is_share(unit, relative), fonts, _bar_inches(layout, 2, fonts))
    _add_heading(figure, heading, fonts)
    _footnote(figure, views, style, fonts)
    return figure


def _bar_inches(layout: _LayersLayout | _FramesLayout, rows_per_band: int, fonts: _Fonts) -> float:
    """About the length of a figure's colour bar: the rows of panels it stands beside and the gaps between them
    (nine tenths of that where it stands beside one row of panels, as `figure.colorbar(shrink=0.9)` draws it)."""
    gaps = rows_per_band * layout.bands - 1
    spanned = layout.maps_height + gaps * (_line_inches(fonts.title) + 2 * _PAD_INCHES)
    return spanned if layout.bands > 1 else 0.9 * spanned


@dataclass(frozen=True)
class _LayersLayout:
    per_row: int  # layer panels side by side
    bands: int  # rows of panels (each: the maps above, the overlays below)
    height: float  # of the figure, inches
    shown_inches: float  # the long side of a panel's picture in the figure
    maps_height: float  # inches: the panels' rows together, what the colour bar spans


def _layers_layout(count: int, aspect: float, width: float, title_lines: int, fonts: _Fonts) -> _LayersLayout:
    """How `count` layer panels of pictures `aspect` (height / width) tall fit a figure `width` inches wide under a
    title of `title_lines` lines: up to `LAYERS_PER_ROW` side by side in one row of panels (fewer in a narrow
    figure: no panel narrower than `MIN_PANEL_INCHES`), else the split into rows that shows the pictures largest;
    never taller than `PAGE_HEIGHT_RATIO` times the width (tall pictures are then drawn narrower)."""
    most = min(LAYERS_PER_ROW, _panels_that_fit(width - 1.15, 1))
    candidates = [count] if count <= most else range(most, min(count, MAX_LAYERS_PER_ROW) + 1)
    best: tuple[float, int, _LayersLayout] | None = None
    for per_row in candidates:
        bands = math.ceil(count / per_row)
        per_row = math.ceil(count / bands)  # balanced rows
        panel_width = max(0.05, (width - 1.15) / (1 + per_row) - 0.06)  # less the colour bar, labels and gaps
        # the title, and each row of panels: titles above the maps and the overlays alike (the rows share margins)
        overhead = _title_inches(title_lines, fonts) + 2 * bands * (_line_inches(fonts.title) + 2 * _PAD_INCHES)
        page = max(width * PAGE_HEIGHT_RATIO, overhead + 1.0)
        panel_height = min(panel_width * aspect, (page - overhead) / (2 * bands))
        shown = min(panel_width, panel_height / aspect)  # the picture's width as drawn
        maps_height = 2 * bands * panel_height
        layout = _LayersLayout(per_row, bands, maps_height + overhead, shown * max(1.0, aspect), maps_height)
        key = (round(shown, 3), -bands)
        if best is None or key > best[:2]:
            best = (*key, layout)
    assert best is not None
    return best[2]


# ----- frames figure (a video's temporal groups) -------------------------------------------------------------


def frames_figure(
    result: AttentionResult,
    token: TokenSelection = None,
    phrase: str | None = None,
    layer: LayerSelection = -1,
    head: HeadSelection = None,
    reduce: Reduce = "mean",
    video: int = 0,
    producing: bool = False,
    *,
    groups: int | Sequence[int] | None = None,
    colormap: str = DEFAULT_COLORMAP,
    alpha: float = DEFAULT_OPACITY,
    smooth: bool = True,
    width: FigureWidth = "page",
    unit: Unit = "probability",
    relative: bool = False,
    drop_sinks: bool = False,
    title: FigureTitle = None,
    style: Style = DEFAULT_STYLE,
    boxes: Sequence[Box | tuple] | None = None,
) -> Figure:
    """A video's temporal groups side by side: each group's picture (its first frame) with its map laid over it.

    `video` indexes the result's videos (0: the first video among `result.images`, whatever images come before
    it; negative counts from the end). `groups`: which temporal groups (an index, a list or a range; shown in
    time order, each once); default all of them, at most `MAX_FRAME_PANELS` (64). Up to `FRAMES_PER_ROW` (8)
    panels stand side by side; more wrap into rows of panels, never taller than `PAGE_HEIGHT_RATIO` times the
    `width` (a page). Each panel is titled with its group's time ("0.0–0.5 s": its first and last frame's) and
    frames (indices in the video as given). Every panel shares one colour scale, 0 to the largest value shown,
    and one colour bar, so the groups compare at a glance.

    Tokens, layers, heads and the reduction as in `AttentionResult.grid` (`layer` may be one index, a list or
    "mean"/"max"/"all", combined by `reduce`); `producing`, `unit`, `relative`, `drop_sinks` as in
    `layers_figure`. The overlay is drawn as `overlay_on_image` draws it (bilinear, or blocky cells with
    `smooth=False`; `style` "heat", its opacity growing with the value up to `alpha`, or "contour"); the title
    quotes the prompt (and the answer) and names the tokens, layers, heads and video. `boxes` (as for
    `layers_figure`, on the video: `Box(x0, y0, x1, y1, label=..., image=i)` with `i` its index among
    `result.images`) are outlined on every group's frame, or with `group=g` on group g's only (a moving object: a
    box per group), each panel saying the share of its map inside its boxes and the footnote each box's share of
    the area (a range, where one name's boxes differ from group to group).
    `width` ("page", "column" or inches: fewer panels side by side in a narrow figure) and `title` (None: its
    own; a text; False: none) as in `layers_figure`.
    """
    result = _checked_result(result)
    producing = checked_producing(producing)
    unit, relative, drop_sinks = _checked_view(result, unit, relative, drop_sinks)
    colormap, alpha, width = _checked_colormap(colormap), _checked_alpha(alpha), _checked_width(width)
    title = _checked_title(title)
    smooth = _checked_flag(smooth, "smooth", "bilinear upsampling; False: blocky cells")
    layer, head = _checked_choice(layer, "layer", "layer"), _checked_choice(head, "head", "head")
    token, phrase = _checked_tokens(token, "token"), _checked_phrase(phrase)
    reduce = checked_reduce(reduce)
    image = _video_image(result, video)
    geometry = result.images[image]
    style, views = checked_style(style), _figure_boxes(result, boxes, image)
    shown_groups = _checked_groups(groups, geometry)
    grid = result.grid(
        token=token,
        phrase=phrase,
        layer=layer,
        head=head,
        reduce=reduce,
        image=image,
        producing=producing,
        unit=unit,
        relative=relative,
        drop_sinks=drop_sinks,
    )  # [groups, rows, cols]
    vmax = max(float(grid[group].max()) for group in shown_groups)
    norm = Normalize(vmin=0.0, vmax=vmax if vmax > 0 else 1.0)
    cmap = _matplotlib_colormap(colormap)

    name = _input_label(result, image)  # "video", or "video 2 of 3" among several
    count = f"{len(shown_groups)} of " if len(shown_groups) < geometry.groups else ""
    plural = "" if geometry.groups == 1 else "s"
    details = [
        _tokens_label(result, token, phrase, producing),
        _layer_label(result, layer, reduce),
        _head_label(result, head, reduce),
        f"{name}: {count}{geometry.groups} group{plural} of {geometry.rows}×{geometry.cols} tokens",
    ]
    fonts = _fonts(width)
    own = [
        *_texts_lines(result, width, fonts.suptitle),
        " · ".join(details),
        *_view_details(result, relative, drop_sinks),
    ]
    heading = _heading(own, title, width, fonts)

    first = result.picture(image, shown_groups[0])
    layout = _frames_layout(len(shown_groups), first.height / first.width, width, _line_count(heading), fonts)
    figure = _detached_figure(width, layout.height)
    bar_column = [0.08 * layout.per_row / 8] if layout.bands > 1 else []
    grid_spec = figure.add_gridspec(
        layout.bands, layout.per_row + len(bar_column), width_ratios=[1] * layout.per_row + bar_column
    )
    decimals = _time_decimals([time for span in geometry.group_times for time in span])
    titles = _panel_titles(geometry, shown_groups, decimals, (width - 0.9) / layout.per_row, fonts)
    table, wide, top = colour_table(colormap), layout.shown_inches >= _WIDE_PANEL_INCHES, (vmax if vmax > 0 else 1.0)
    panels = []
    for position, group in enumerate(shown_groups):
        band, column = divmod(position, layout.per_row)
        axes = figure.add_subplot(grid_spec[band, column])
        picture = _panel_picture(result.picture(image, group), layout.shown_inches)
        axes.imshow(_panel_overlay(picture, grid[group], table, alpha, smooth, top, style, layout.shown_inches))
        on_panel = shown_boxes(views, image, group)
        for tags in (False, True):  # each box named on its first panel: a group's on its own, the others' on the first
            drawn = [view for view in on_panel if (view["group"] is not None or position == 0) == tags]
            _draw_boxes(axes, drawn, geometry.original_size, picture.size, layout.shown_inches, fonts.tick, tags)
        if on_panel:
            axes.set_xlabel(_box_share_text(grid[group], on_panel, wide), fontsize=fonts.tick)
        axes.set_title(titles[position], fontsize=fonts.tick)
        axes.set_gid(f"group-{group}")
        axes.set_xticks([])
        axes.set_yticks([])
        axes.xaxis.set_visible(bool(axes.get_xlabel()))
        axes.yaxis.set_visible(False)
        for spine in axes.spines.values():
            spine.set_linewidth(0.5)
        panels.append(axes)

    mappable = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    # With contour lines the panels have no colours: no colour bar (the footnote says what the lines are).
    if style == "heat":
        if layout.bands > 1:
            bar = figure.colorbar(mappable, cax=figure.add_subplot(grid_spec[:, -1]))
        else:
            bar = figure.colorbar(mappable, ax=panels, shrink=0.9, aspect=25, pad=0.02)
        label = _value_label(result, unit, relative, _whose(result, token, phrase))
        _value_colorbar(bar, label, _is_share(unit, relative), fonts, _bar_inches(layout, 1, fonts))
    _add_heading(figure, heading, fonts)
    on_show = [view for view in views if view["group"] is None or view["group"] in shown_groups]
    _footnote(figure, on_show, style, fonts, areas=True)
    return figure


def _panel_titles(geometry: ImageGeometry, groups: list[int], decimals: int, inches: float, fonts: _Fonts) -> list[str]:
    """The group panels' titles, as much as fits `inches` (the same for every panel): each group's time ("0.0–0.5
    s", else its start, "0.0 s"), then on a line of its own the frames it covers (left out where they do not
    fit)."""
    fits = lambda texts: max(len(text) for text in texts) * fonts.char_inches + 0.08 <= inches  # noqa: E731
    times = [_group_time(geometry, group, decimals) for group in groups]
    if not fits(times):
        times = [f"{geometry.group_times[group][0]:.{decimals}f} s" for group in groups]
    frames = [_group_frames(geometry, group) for group in groups]
    return [f"{time}\n{frame}" for time, frame in zip(times, frames, strict=True)] if fits(frames) else times


def _video_image(result: AttentionResult, video: object) -> int:
    """The index among `result.images` of the result's video number `video` (among its videos only)."""
    video = _checked_index(video, "video", "a video index like 0 (the result's first video)")
    videos = [index for index, geometry in enumerate(result.images) if geometry.kind == "video"]
    if not videos:
        count = len(result.images)
        raise ValueError(
            f"this result has no video (it holds {count} image{'' if count == 1 else 's'}): frames_figure shows a "
            "video's temporal groups; for an image use layers_figure(result, image=0)"
        )
    return videos[checked_index(video, len(videos), "video")]


def _checked_groups(groups: object, geometry: ImageGeometry) -> list[int]:
    """`groups=` of `frames_figure`: the video's temporal groups to show, sorted, each once; all by default."""
    count = geometry.groups
    if groups is None:
        chosen = list(range(count))
    else:
        selection = _checked_indices(groups, "groups", "a group index like 0, a list of them or a range")
        indices = [selection] if isinstance(selection, int) else selection
        if not indices:
            raise ValueError("groups is empty: pass some group indices, e.g. groups=range(0, 4), or None for all")
        chosen = sorted({checked_index(index, count, "group") for index in indices})
    if len(chosen) > MAX_FRAME_PANELS:
        step = math.ceil(count / MAX_FRAME_PANELS)
        what = f"the video has {count} groups" if groups is None else f"groups selects {len(chosen)} groups"
        raise ValueError(
            f"{what}, and a frames figure shows at most {MAX_FRAME_PANELS} (a panel each): pick some with groups=, "
            f"e.g. groups=range(0, {count}, {step}), or make several figures"
        )
    return chosen


@dataclass(frozen=True)
class _FramesLayout:
    per_row: int  # panels side by side
    bands: int  # rows of panels
    height: float  # of the figure, inches
    shown_inches: float  # the long side of a panel's picture in the figure
    maps_height: float  # inches: the panels' rows together, what the colour bar spans


def _frames_layout(count: int, aspect: float, width: float, title_lines: int, fonts: _Fonts) -> _FramesLayout:
    """How `count` panels of pictures `aspect` (height / width) tall fit a figure `width` inches wide under a title
    of `title_lines` lines: up to `FRAMES_PER_ROW` side by side (fewer in a narrow figure: no panel narrower than
    `MIN_PANEL_INCHES`), else the split into rows that shows the pictures largest; never taller than
    `PAGE_HEIGHT_RATIO` times the width."""
    most = min(FRAMES_PER_ROW, _panels_that_fit(width - 0.9, 0))
    candidates = [count] if count <= most else range(most, min(count, MAX_FRAMES_PER_ROW) + 1)
    best: tuple[float, int, _FramesLayout] | None = None
    for per_row in candidates:
        bands = math.ceil(count / per_row)
        per_row = math.ceil(count / bands)  # balanced rows
        panel_width = max(0.05, (width - 0.9) / per_row - 0.06)  # less the colour bar and the gaps
        overhead = _title_inches(title_lines, fonts) + bands * 2 * _line_inches(fonts.tick)  # panel titles: 2 lines
        page = max(width * PAGE_HEIGHT_RATIO, overhead + 1.0)
        panel_height = min(panel_width * aspect, (page - overhead) / bands)
        shown = min(panel_width, panel_height / aspect)  # the picture's width as drawn
        maps_height = bands * panel_height
        layout = _FramesLayout(per_row, bands, maps_height + overhead, shown * max(1.0, aspect), maps_height)
        key = (round(shown, 3), -bands)
        if best is None or key > best[:2]:
            best = (*key, layout)
    assert best is not None
    return best[2]


# ----- matrix figure -----------------------------------------------------------------------------------------


def matrix_figure(
    result: AttentionResult,
    layer: LayerSelection = -1,
    head: HeadSelection = None,
    reduce: Reduce = "mean",
    *,
    producing: bool = False,
    colormap: str = DEFAULT_COLORMAP,
    width: FigureWidth = "page",
    tokens: TokenSelection = None,
    unit: Unit = "probability",
    relative: bool = False,
    drop_sinks: bool = False,
    title: FigureTitle = None,
) -> tuple[Figure, np.ndarray]:
    """The `[query tokens, image tokens]` attention of one layer/head choice as a labelled heatmap.

    Returns the figure and the matrix of every token (`AttentionResult.maps(layer, head, reduce, producing)`).
    Rows are labelled with the token texts (whitespace made visible; chat-template tokens in grey, the model's
    thinking in brown and its answer in blue, each part below a line and named on the right); the figure grows
    with the number of rows so every label stays readable. Several images are split by white lines and named
    along the top. With `producing`, each row is the step that produced its token; rows without one (the token
    right after an image) stay blank.

    A figure shows at most `MATRIX_MAX_ROWS` (128) rows, whatever the prompt's length: `tokens` (an index, a list
    of indices or a range, e.g. `result.token_indices("red cat")` or `range(200, 300)`; shown in order, each once)
    picks them; by default every token, or for a longer result the last 128 (the end of the prompt and the
    answer), and the title says which. Dashed white lines mark where selected rows skip tokens. Any number of image
    tokens fits the width. `unit`, `relative` and `drop_sinks` as in `AttentionResult.maps`. `width` ("page",
    "column" or inches) and `title` (None: its own; a text; False: none) as in `layers_figure`.
    """
    result = _checked_result(result)
    producing = checked_producing(producing)
    unit, relative, drop_sinks = _checked_view(result, unit, relative, drop_sinks)
    colormap, width = _checked_colormap(colormap), _checked_width(width)
    title = _checked_title(title)
    layer, head = _checked_choice(layer, "layer", "layer"), _checked_choice(head, "head", "head")
    reduce = checked_reduce(reduce)
    rows, note = _matrix_rows(result, _checked_tokens(tokens, "tokens"))
    matrix = result.maps(layer, head, reduce, producing=producing, unit=unit, relative=relative, drop_sinks=drop_sinks)
    drawn = matrix if len(rows) == len(matrix) else matrix[rows]
    shown_tokens = [result.tokens[row] for row in rows]
    columns = matrix.shape[1]
    fonts = _fonts(width)
    own = _matrix_title_lines(result, layer, head, reduce, producing, relative, drop_sinks, drawn, note)
    heading = (
        None if title is False else _title_text(own if title is None else title.splitlines(), width - 0.3, fonts.title)
    )
    row_inches = _ROW_HEIGHT * fonts.tick / _PAGE_FONTS.tick
    plot = max(2.0, 0.8 + _line_inches(fonts.label) + len(rows) * row_inches)  # the heatmap and its labels
    figure = _detached_figure(width, _title_inches(_line_count(heading), fonts) + plot)
    axes = figure.add_subplot()
    shown = drawn[np.isfinite(drawn)]
    vmax = float(shown.max()) if shown.size else 0.0
    cmap = _matplotlib_colormap(colormap).with_extremes(bad=(1.0, 1.0, 1.0, 0.0))  # NaN rows: blank
    image = axes.imshow(
        drawn,
        cmap=cmap,
        norm=Normalize(vmin=0.0, vmax=vmax if vmax > 0 else 1.0),
        aspect="auto",
        interpolation="nearest",
        interpolation_stage="data",  # colour after resampling: the same pixels, a third of the memory
    )

    labels = [token_label(token.text) for token in shown_tokens]
    axes.set_yticks(range(len(rows)), labels, fontsize=fonts.tick, parse_math=False)
    for label, token in zip(axes.get_yticklabels(), shown_tokens, strict=True):
        if token.special:
            label.set_color(_SPECIAL_COLOUR)
            label.set_fontstyle("italic")
        else:
            label.set_color(_PART_COLOURS[token.part])
    axes.set_ylabel("text tokens (grey: chat template)", fontsize=fonts.label)
    axes.xaxis.set_major_locator(MaxNLocator(nbins=8 if width >= _WIDTH / 1.5 else 4, integer=True))
    axes.tick_params(axis="x", labelsize=fonts.tick)
    axes.tick_params(axis="y", length=2, pad=2)
    for position in range(1, len(rows)):
        if rows[position] != rows[position - 1] + 1:
            axes.axhline(position - 0.5, color="white", linewidth=1.0, linestyle=(0, (3, 2)), gid="row-gap")
    _mark_parts(axes, [token.part for token in shown_tokens], fonts)

    label_inches = fonts.char_inches * 0.85 * max(len(label) for label in labels)
    _mark_inputs(axes, result, max(1.0, width - 1.6 - label_inches), fonts)
    axes.set_xlim(-0.5, columns - 0.5)

    axes_height = figure.get_figheight() - 1.25
    shrink = min(1.0, 3.0 / axes_height)
    colorbar = figure.colorbar(image, ax=axes, shrink=shrink, aspect=25, pad=0.015)
    bar_label = _value_label(result, unit, relative, "the row token's")
    _value_colorbar(colorbar, bar_label, _is_share(unit, relative), fonts, shrink * axes_height)
    if heading is not None:
        axes.set_title(heading, fontsize=fonts.title, parse_math=False)
    return figure, matrix


def _matrix_title_lines(
    result: AttentionResult,
    layer: LayerSelection,
    head: HeadSelection,
    reduce: Reduce,
    producing: bool,
    relative: bool,
    drop_sinks: bool,
    drawn: np.ndarray,
    note: str | None,
) -> list[str]:
    """The matrix figure's own title: what it shows, the layers and heads, how the maps were derived, which row
    each token shows (with `producing`: the step that chose it, and why a row is blank), which tokens."""
    lines = [
        " · ".join(["text → image attention", _layer_label(result, layer, reduce), _head_label(result, head, reduce)])
    ]
    lines += _view_details(result, relative, drop_sinks)  # a line each: joined, they pass the figure's width
    if producing:
        line = "each row: the step that wrote its token (in the prompt: that predicted it)"
        blank = int(np.isnan(drawn).all(axis=1).sum())
        if blank:
            blank_rows = "1 blank row" if blank == 1 else f"{blank} blank rows"
            line += f" · {blank_rows}: an image token comes right before (no step captured)"
        lines.append(line)
    if note is not None:
        lines.append(note)
    if result.still_thinking:
        lines.append(STILL_THINKING)
    return lines


def _matrix_rows(result: AttentionResult, tokens: TokenSelection) -> tuple[list[int], str | None]:
    """The token rows a matrix figure shows (see `matrix_figure`), and the note that says which, if not all."""
    count = result.num_queries
    if tokens is None:
        if count <= MATRIX_MAX_ROWS:
            return list(range(count)), None
        first = count - MATRIX_MAX_ROWS
        return list(range(first, count)), (
            f"tokens {first}–{count - 1} of {count}: the last {MATRIX_MAX_ROWS} (a figure shows at most "
            f"{MATRIX_MAX_ROWS} rows; tokens= picks others)"
        )
    indices = [tokens] if isinstance(tokens, int) else list(tokens)
    if not indices:
        raise ValueError("tokens is empty: pass some token indices, e.g. tokens=range(0, 50), or None for the default")
    rows = sorted({checked_index(index, count, "token") for index in indices})
    if len(rows) > MATRIX_MAX_ROWS:
        raise ValueError(
            f"tokens selects {len(rows)} tokens, and a matrix figure shows at most {MATRIX_MAX_ROWS} rows (each "
            f"label readable): pass fewer, e.g. tokens=range({rows[0]}, {rows[0] + MATRIX_MAX_ROWS}), or make "
            "several figures"
        )
    if len(rows) == count:
        return rows, None
    if rows == list(range(rows[0], rows[-1] + 1)):
        return rows, f"tokens {rows[0]}–{rows[-1]} of {count}"
    return rows, f"{len(rows)} of {count} tokens (dashed lines: tokens left out)"


def _mark_inputs(axes: Axes, result: AttentionResult, axes_inches: float, fonts: _Fonts) -> None:
    """The matrix's columns: the x label; with several images (or videos), a white line between two and each named
    along the top; in a video, a thin line between temporal groups and the groups' times along the bottom, as
    many as fit the `axes_inches` the heatmap is wide (every group's, else every k-th's)."""
    images = result.images
    kinds = [geometry.kind for geometry in images]
    if len(images) == 1:
        only = images[0]
        if only.kind == "image":
            axes.set_xlabel(f"image tokens ({only.rows} × {only.cols} grid, row by row)", fontsize=fonts.label)
        else:
            axes.set_xlabel(
                f"video tokens ({only.groups} groups of {only.rows} × {only.cols}, each row by row; ticks: the "
                "groups' times)",
                fontsize=fonts.label,
            )
    else:
        label = (
            "image tokens"
            if "video" not in kinds
            else "video tokens"
            if "image" not in kinds
            else "image and video tokens"
        )
        if "video" in kinds:
            label += " (ticks: the video groups' times)"
        axes.set_xlabel(label, fontsize=fonts.label)
        for geometry in images[1:]:
            axes.axvline(geometry.first_column - 0.5, color="white", linewidth=1.0, gid="image-boundary")
        names = []
        for index, geometry in enumerate(images):
            number = kinds[: index + 1].count(geometry.kind)
            name = geometry.kind if kinds.count(geometry.kind) == 1 else f"{geometry.kind} {number}"
            size = f"{geometry.rows}×{geometry.cols}"
            names.append(f"{name} ({size})" if geometry.kind == "image" else f"{name} ({geometry.groups} × {size})")
        top = axes.secondary_xaxis("top")
        top.set_xticks(
            [geometry.first_column + (geometry.num_tokens - 1) / 2 for geometry in images],
            names,
            fontsize=fonts.tick,
        )
        top.tick_params(length=0)
    if "video" not in kinds:
        return
    columns = sum(geometry.num_tokens for geometry in images)
    ticks: list[float] = []
    names = []
    for geometry in images:
        if geometry.kind != "video":
            continue
        spacing = axes_inches * geometry.tokens_per_group / columns  # inches between two groups
        decimals = _time_decimals([time for span in geometry.group_times for time in span])
        spans = [_group_time(geometry, group, decimals) for group in range(geometry.groups)]
        if max(len(span) for span in spans) * fonts.char_inches + 0.12 > spacing:  # no room: the start times only
            spans = [f"{start:.{decimals}f} s" for start, _ in geometry.group_times]
        step = max(1, math.ceil((max(len(span) for span in spans) * fonts.char_inches + 0.12) / spacing))
        for group in range(0, geometry.groups, step):
            ticks.append(geometry.first_column + (group + 0.5) * geometry.tokens_per_group - 0.5)
            names.append(spans[group])
        every = max(1, math.ceil(_MIN_GROUP_LINE_INCHES / spacing))  # dense groups: a line every few
        for group in range(every, geometry.groups, every):
            axes.axvline(
                geometry.first_column + group * geometry.tokens_per_group - 0.5,
                color="white",
                linewidth=0.5,
                alpha=0.8,
                gid="group-boundary",
            )
    axes.set_xticks(ticks, names, fontsize=fonts.tick)


def _mark_parts(axes: Axes, parts: list[Part], fonts: _Fonts) -> None:
    """Where the rows hold more than the prompt: a line above each part's first row (the thinking's, the answer's)
    and each part named along the right side, in its colour."""
    runs: list[tuple[Part, int, int]] = []  # (part, first row, last row)
    for row, part in enumerate(parts):
        if runs and runs[-1][0] == part:
            runs[-1] = (part, runs[-1][1], row)
        else:
            runs.append((part, row, row))
    if [part for part, _, _ in runs] in ([], ["prompt"]):
        return
    for part, first, _ in runs:
        if first > 0:
            axes.axhline(first - 0.5, color="white", linewidth=1.5, gid=f"{part}-boundary")
    side = axes.secondary_yaxis("right")
    names = [part for part, _, _ in runs]
    ticks = [(first + last) / 2 for _, first, last in runs]
    side.set_yticks(ticks, names, fontsize=fonts.label, rotation=90, va="center")
    side.tick_params(length=0, pad=3)
    for label, name in zip(side.get_yticklabels(), names, strict=True):
        label.set_color(_PART_COLOURS[name])
    side.set_gid("parts-side")


# ----- heads figure ------------------------------------------------------------------------------------------


def heads_figure(
    result: AttentionResult,
    token: TokenSelection = None,
    phrase: str | None = None,
    *,
    producing: bool = False,
    image: int | None = None,
    colormap: str = DEFAULT_COLORMAP,
    width: FigureWidth = "page",
    title: FigureTitle = None,
) -> Figure:
    """Every head at a glance: two `[layers x heads]` grids of `AttentionResult.head_summary`, side by side.

    Left, each head's image share (the share of the tokens' attention that goes to the image tokens, mean over
    the tokens); right, its focus (1 - the spatial entropy of its map, normalized: 1 = all on one cell, 0 =
    spread evenly). Heads that look at the image and look somewhere in particular are bright in both. Tokens as
    in `AttentionResult.grid` (default the prompt's own tokens), `producing` for the steps that produced them,
    `image` for one image's tokens (default all). Undefined entries (no mass) are blank. Rows are named by
    decoder layer (`result.layer_ids`), columns by head. `width` ("page", "column" or inches) and `title` (None:
    its own; a text; False: none) as in `layers_figure`.
    """
    result = _checked_result(result)
    producing = checked_producing(producing)
    colormap, width = _checked_colormap(colormap), _checked_width(width)
    title = _checked_title(title)
    token, phrase = _checked_tokens(token, "token"), _checked_phrase(phrase)
    if image is not None:
        image = checked_index(
            _checked_index(image, "image", "an image index like 0, or None"), len(result.images), "image"
        )
    summary = result.head_summary(token=token, phrase=phrase, producing=producing, image=image)
    layers, heads = summary.image_mass.shape
    fonts = _fonts(width)
    details = [_tokens_label(result, token, phrase, producing)]
    if image is not None and (len(result.images) > 1 or result.images[image].kind == "video"):
        details.append(_input_label(result, image))
    own = [*_texts_lines(result, width, fonts.suptitle), " · ".join(["all heads of all layers", *details])]
    heading = _heading(own, title, width, fonts)
    rows_height = max(1.2, layers * _ROW_HEIGHT * fonts.tick / _PAGE_FONTS.tick)
    height = _title_inches(_line_count(heading), fonts) + _line_inches(fonts.title) + 0.6 + rows_height
    figure = _detached_figure(width, min(width * PAGE_HEIGHT_RATIO, height))
    whose = _whose(result, token, phrase)
    panels = (
        (summary.image_mass, "attention on the image", _value_label(result, "probability", False, whose), True),
        (1.0 - summary.spatial_entropy, "focus (1: one cell, 0: even)", "1 − spatial entropy", False),
    )
    cmap = _matplotlib_colormap(colormap).with_extremes(bad=(1.0, 1.0, 1.0, 0.0))
    for column, (values, name, label, share) in enumerate(panels):
        axes = figure.add_subplot(1, 2, column + 1)
        finite = values[np.isfinite(values)]
        top = float(finite.max()) if share and finite.size and finite.max() > 0 else 1.0
        image_artist = axes.imshow(
            values, cmap=cmap, norm=Normalize(vmin=0.0, vmax=top), aspect="auto", interpolation="nearest"
        )
        axes.yaxis.set_major_locator(MaxNLocator(nbins=min(layers, 32), integer=True))
        axes.set_yticks([tick for tick in axes.get_yticks() if 0 <= tick < layers])
        axes.set_yticklabels([str(summary.layer_ids[int(tick)]) for tick in axes.get_yticks()])
        axes.xaxis.set_major_locator(MaxNLocator(nbins=min(heads, 16 if width >= _WIDTH / 1.5 else 6), integer=True))
        axes.set_xlim(-0.5, heads - 0.5)
        axes.tick_params(labelsize=fonts.tick)
        axes.set_xlabel("head", fontsize=fonts.label)
        axes.set_title(name, fontsize=fonts.title)
        if column == 0:
            axes.set_ylabel("layer", fontsize=fonts.label)
        bar = figure.colorbar(image_artist, ax=axes, shrink=0.9, aspect=25, pad=0.02)
        _value_colorbar(bar, label, share, fonts, 0.9 * rows_height)
    _add_heading(figure, heading, fonts)
    return figure


# ----- saving ------------------------------------------------------------------------------------------------


def save_figure(figure: Figure, path: str | os.PathLike, *, dpi: float = 300) -> Path:
    """Write `figure` as PNG, SVG or PDF, chosen by `path`'s extension; parent folders are created.

    The figure is drawn in memory first, then written next to its destination and renamed into place, so a
    failure leaves no partial file. `dpi` (10 to 2400) sets the pixels of PNGs and of the heatmaps inside PDFs and
    SVGs; a drawing of more than `MAX_PIXELS` pixels is refused with the largest dpi that fits.
    """
    figure = _checked_figure(figure)
    path = Path(checked_path(path, "figure path"))
    file_format = SAVE_FORMATS.get(path.suffix.lower())
    if file_format is None:
        raise ValueError(
            f"cannot save a figure as {path.suffix or 'a file without extension'!r} ({str(path)!r}): "
            f"use a path ending in {', '.join(SAVE_FORMATS)}"
        )
    data = figure_bytes(figure, file_format, dpi)
    return write_atomically(path, lambda handle: handle.write(data))


def figure_bytes(figure: Figure, file_format: str, dpi: float = 300) -> bytes:
    """`figure` as the bytes of a `file_format` ("png", "svg" or "pdf") file, drawn in memory at `dpi`."""
    figure, dpi = _checked_figure(figure), _checked_dpi(dpi)
    if file_format not in SAVE_FORMATS.values():
        raise ValueError(f"file_format must be one of {', '.join(SAVE_FORMATS.values())}, not {shown(file_format)}")
    _check_pixels(figure, dpi)
    # No creation dates in the file, so the same figure gives the same bytes.
    metadata = {"png": {}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}[file_format]
    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format=file_format, dpi=dpi, metadata=metadata)
    except ValueError as error:  # matplotlib's own, e.g. text it cannot lay out
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"matplotlib cannot draw this figure as {file_format}: {first}") from error
    except MemoryError as error:
        raise MemoryError(
            f"drawing this figure as {file_format} at dpi={dpi:g} ran out of memory: pass a lower dpi"
        ) from error
    return buffer.getvalue()


def _check_pixels(figure: Figure, dpi: float) -> None:
    """Refuse a drawing larger than `MAX_PIXELS` (or than matplotlib draws), with the largest dpi that fits."""
    inches_wide, inches_tall = (float(size) for size in figure.get_size_inches())
    wide, tall = round(inches_wide * dpi), round(inches_tall * dpi)
    if wide * tall <= MAX_PIXELS and max(wide, tall) <= _MAX_SIDE_PIXELS:
        return
    fitting = min(math.sqrt(MAX_PIXELS / (inches_wide * inches_tall)), _MAX_SIDE_PIXELS / max(inches_wide, inches_tall))
    advice = "make the figure smaller (figure.set_size_inches)"
    if fitting >= DPI_RANGE[0]:
        advice = f"pass dpi={math.floor(fitting)} or less, or " + advice
    raise ValueError(
        f"the figure ({inches_wide:.1f} x {inches_tall:.1f} inches) at dpi={dpi:g} would be {wide} x {tall} pixels, "
        f"more than the {MAX_PIXELS / 1e6:.0f} million this draws: {advice}"
    )
