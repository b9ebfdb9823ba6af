"""`figures.study_figure`: a study's metric for every layer and head, the top heads marked (matplotlib)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from ._arguments import checked_count, described
from ._colormaps import DEFAULT_COLORMAP
from ._figures import (
    _PAGE_FONTS,
    _ROW_HEIGHT,
    PAGE_HEIGHT_RATIO,
    FigureTitle,
    FigureWidth,
    _add_heading,
    _checked_colormap,
    _checked_title,
    _checked_width,
    _detached_figure,
    _fonts,
    _heading,
    _line_count,
    _line_inches,
    _matplotlib_colormap,
    _title_inches,
)

if TYPE_CHECKING:
    from ._study import Study

# What each metric is, as the figure names it, and whether its values are shares (0 to 1 on the colour bar).
_METRIC_NAMES = {
    "pointing": "pointing game (peak cell in the box)",
    "in_box": "mass inside the box",
    "image_share": "attention on the image",
    "spatial_entropy": "spatial entropy (low: focused)",
    "area": "the box's share of the image",
}
_SHARES = ("pointing", "in_box", "image_share", "area")


def study_figure(
    study: Study,
    metric: str = "pointing",
    *,
    top: int = 5,
    query: str | None = None,
    colormap: str = DEFAULT_COLORMAP,
    width: FigureWidth = "page",
    title: FigureTitle = None,
) -> Figure:
    """A study's `metric` for every layer and head: the `[layers x heads]` mean over its examples
    (`study.heads(metric)`), the `top` heads of `study.head_ranking(metric)` outlined and numbered by rank.

    Rows are decoder layers (`study.layer_ids()`), columns heads. The heading says the model, the examples with
    a value, the query scored and, for `in_box`, the chance level (the boxes' mean share of the image: a head
    that looks anywhere at random scores that). `query`, as in `study.heads`; `colormap`, `width` ("page",
    "column" or inches) and `title` (None: its own; a text; False: none) as in the other figures."""
    from ._study import Study

    if not isinstance(study, Study):
        raise TypeError(f"study_figure needs a Study (model.study or Study.open), not {described(study)}")
    top = checked_count(top, "top", "how many of the best heads to outline", minimum=0)
    colormap, width, title = _checked_colormap(colormap), _checked_width(width), _checked_title(title)
    values = study.heads(metric, query=query)
    ranking = study.head_ranking(metric, top=max(top, 1), query=query).head(top)
    layers, heads = values.shape
    fonts = _fonts(width)
    heading = _heading(_own_heading(study, metric, query, ranking), title, width, fonts)
    rows_height = max(1.2, layers * _ROW_HEIGHT * fonts.tick / _PAGE_FONTS.tick)
    height = _title_inches(_line_count(heading), fonts) + _line_inches(fonts.title) + 0.6 + rows_height
    figure = _detached_figure(width, min(width * PAGE_HEIGHT_RATIO, height))
    axes = figure.add_subplot(1, 1, 1)
    finite = values[np.isfinite(values)]
    high = 1.0 if metric in _SHARES else float(finite.max()) if finite.size else 1.0
    low = 0.0 if metric in _SHARES else float(finite.min()) if finite.size else 0.0
    cmap = _matplotlib_colormap(colormap).with_extremes(bad=(1.0, 1.0, 1.0, 0.0))
    artist = axes.imshow(values, cmap=cmap, norm=Normalize(low, high), aspect="auto", interpolation="nearest")
    layer_ids = study.layer_ids()
    axes.yaxis.set_major_locator(MaxNLocator(nbins=min(layers, 32), integer=True))
    axes.set_yticks([tick for tick in axes.get_yticks() if 0 <= tick < layers])
    axes.set_yticklabels([str(layer_ids[int(tick)]) for tick in axes.get_yticks()])
    axes.xaxis.set_major_locator(MaxNLocator(nbins=min(heads, 32), integer=True))
    axes.set_xlim(-0.5, heads - 0.5)
    axes.tick_params(labelsize=fonts.tick)
    axes.set_xlabel("head", fontsize=fonts.label)
    axes.set_ylabel("layer", fontsize=fonts.label)
    _mark_top_heads(axes, ranking, layer_ids, fonts.tick)
    bar = figure.colorbar(artist, ax=axes, shrink=0.9, aspect=25, pad=0.02)
    bar.set_label(f"{_METRIC_NAMES.get(metric, metric)}, mean over examples", fontsize=fonts.label)
    bar.ax.tick_params(labelsize=fonts.tick)
    _add_heading(figure, heading, fonts)
    return figure


def _own_heading(study: Study, metric: str, query: str | None, ranking: Any) -> list[str]:
    scored = query or ("last" if study.options["query"] == "all" else study.options["query"])
    examples = int(ranking["n"].max()) if len(ranking) else 0
    details = [f"{examples} examples", f"query: {scored}"]
    if metric == "in_box":
        chance = float(np.nanmean(study.heads("area", query=query)))
        details.append(f"chance (mean box area): {chance:.3f}")
    if len(ranking):
        details.append(f"outlined: the top {len(ranking)} heads, numbered by rank")
    return [f"{_METRIC_NAMES.get(metric, metric)} · {study.model}", " · ".join(details)]


def _mark_top_heads(axes: Any, ranking: Any, layer_ids: list[int], points: float) -> None:
    """An outline around each of the best heads, with its rank."""
    row_of = {layer: row for row, layer in enumerate(layer_ids)}
    for rank, (layer, head) in enumerate(zip(ranking["layer"], ranking["head"], strict=True), start=1):
        row = row_of[int(layer)]
        axes.add_patch(Rectangle((head - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="white", linewidth=1.6))
        axes.add_patch(Rectangle((head - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=0.6))
        label = {"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.8}
        axes.text(head, row, str(rank), ha="center", va="center", fontsize=points, color="black", bbox=label)
