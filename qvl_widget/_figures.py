"""Paper figures of an AttentionResult: overlays, per-layer panels and the token x image-token matrix.

Matplotlib and Pillow only. Every function is a view of a result that never touches the model: token, layer and
head selections go through `AttentionResult.grid` / `AttentionResult.maps`, and the four shared colour maps use
the lookup tables of the browser widget, so figures and widget show the same colours.

Figures are detached from pyplot (made, then closed at once): in a notebook a returned figure shows once, loops
do not pile figures up in pyplot, and nothing depends on global state. Write them with `save_figure`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter, MaxNLocator
from PIL import Image

from ._choices import HeadSelection, LayerSelection, Reduce, TokenSelection, last_layers, selected
from ._colormaps import COLORMAPS, colour_indices, lookup_table
from ._files import write_atomically
from ._images import load_rgb
from ._result import AttentionResult

COLORBAR_LABEL = "attention probability"
SAVE_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}

_WIDTH = 7.0  # inches: a two-column paper's full text width
_FONT = {"tick": 7, "label": 8, "title": 8.5, "suptitle": 9.5}
_SPECIAL_COLOUR = "0.55"  # grey for chat-template / special token labels
_ANSWER_COLOUR = "#1a5aa6"  # blue for the answer's token labels
_MAX_LABEL_CHARS = 24
_MAX_PROMPT_CHARS = 100
_PANEL_PIXELS = 1600  # pictures larger than this (long side) are shrunk for the panels: still sharp at 300 dpi


# ----- colours ---------------------------------------------------------------------------------------------


def colour_table(colormap: str) -> np.ndarray:
    """`[256, 3]` uint8 RGB colours of `colormap`: the widget's table for its four maps, else matplotlib's."""
    if colormap in COLORMAPS:
        return lookup_table(colormap)
    from matplotlib import colormaps

    if not isinstance(colormap, str) or colormap not in colormaps:
        raise ValueError(
            f"unknown colormap {colormap!r}: use one of {', '.join(COLORMAPS)} or another matplotlib colour map name"
        )
    return np.round(colormaps[colormap](np.linspace(0.0, 1.0, 256))[:, :3] * 255).astype(np.uint8)


def _matplotlib_colormap(colormap: str) -> ListedColormap:
    return ListedColormap(colour_table(colormap) / 255.0, name=colormap)


# ----- overlay -----------------------------------------------------------------------------------------------


def overlay_on_image(
    picture: Image.Image,
    grid: np.ndarray,
    alpha: float = 0.5,
    colormap: str = "jet",
    smooth: bool = True,
    *,
    vmax: float | None = None,
) -> Image.Image:
    """`picture` with the `[rows, cols]` attention map laid over it, at the picture's own resolution.

    The map is upsampled to the picture (bilinear when `smooth`, nearest otherwise), scaled from 0 to its
    maximum (or to `vmax`, e.g. to share one scale between several overlays), coloured with `colormap` and
    blended over the picture with opacity `alpha`.
    """
    values = np.asarray(grid, dtype=np.float32)
    if values.ndim != 2 or values.size == 0:
        raise ValueError(f"grid must be a non-empty [rows, cols] map, got shape {values.shape}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be between 0 (picture only) and 1 (map only), not {alpha!r}")
    table = colour_table(colormap)
    picture = load_rgb(picture)
    resample = Image.Resampling.BILINEAR if smooth else Image.Resampling.NEAREST
    upsampled = np.asarray(Image.fromarray(np.ascontiguousarray(values)).resize(picture.size, resample))
    if vmax is not None and not vmax > 0:
        raise ValueError(f"vmax must be a positive top of the colour scale (e.g. the largest map value), not {vmax!r}")
    scale = float(np.max(values)) if vmax is None else float(vmax)
    colours = table[colour_indices(upsampled, scale)].astype(np.float32)
    blended = np.asarray(picture, dtype=np.float32) * (1.0 - alpha) + colours * alpha
    return Image.fromarray(np.clip(np.round(blended), 0, 255).astype(np.uint8))


# ----- labels ------------------------------------------------------------------------------------------------


def token_label(text: str) -> str:
    """A token's text with its whitespace made visible: spaces ␣, newlines ⏎, tabs ⇥, empty ∅."""
    if text == "":
        return "∅"
    shown = text.replace(" ", "␣").replace("\n", "⏎").replace("\r", "↵").replace("\t", "⇥")
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
    """The selected tokens, whether they are the answer's, and (with `producing`) which step's map is shown."""
    indices = result._token_rows(token, phrase)
    parts = {result.tokens[index].part for index in indices}
    if phrase is not None:
        label = f"phrase “{' '.join(phrase.split())}”"
        if "answer" in parts:
            label += " (in the answer)" if parts == {"answer"} else " (in the prompt and the answer)"
    elif token is None:
        label = "all prompt tokens"
    else:
        quoted = " + ".join(f"“{token_label(result.tokens[index].text)}”" for index in indices[:4])
        if len(indices) > 4:
            quoted += f" + {len(indices) - 4} more"
        label = f"token {indices[0]} {quoted}" if len(indices) == 1 else f"tokens {quoted}"
        if parts == {"answer"}:
            label = "answer " + label
    if not producing:
        return label
    return _while_writing(result, indices) or f"{label} · producing step"


def _while_writing(result: AttentionResult, indices: list[int]) -> str | None:
    """For answer tokens that follow each other, the text their producing steps wrote and the model's probability
    of it (the product of the tokens' own): "answer token 25, while writing “orange” (97%)"; None otherwise."""
    indices = sorted(set(indices))
    tokens = [result.tokens[index] for index in indices]
    consecutive = indices == list(range(indices[0], indices[0] + len(indices)))
    probabilities = [token.probability for token in tokens if token.part == "answer"]
    if not consecutive or len(probabilities) != len(tokens) or None in probabilities:
        return None
    text = "".join(token.text for token in tokens)
    shown = " ".join(text.split()) or token_label(text)
    where = f"answer token {indices[0]}" if len(indices) == 1 else f"answer tokens {indices[0]}–{indices[-1]}"
    probability = float(np.prod(np.asarray(probabilities, dtype=np.float64)))
    return f"{where}, while writing “{shown}” ({_percent(probability)})"


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
            f"producing must be True (the maps of the steps that produced the tokens) or False, not {producing!r}"
        )
    return bool(producing)


def _prompt_line(prompt: str) -> str:
    flat = " ".join(prompt.split())
    if len(flat) > _MAX_PROMPT_CHARS:
        flat = flat[: _MAX_PROMPT_CHARS - 1] + "…"
    return f"“{flat}”"


class _PercentTicks(Formatter):
    """Probabilities as percentages, with just the decimals the ticks need: "0.00%, 0.05%" or "0%, 10%"."""

    def __call__(self, value: float, pos: int | None = None) -> str:
        return self.format_ticks([value])[0]

    def format_ticks(self, values) -> list[str]:
        percents = [100.0 * float(value) for value in values]
        decimals = 0
        while decimals < 4 and any(abs(round(p, decimals) - p) > 1e-6 * max(1.0, abs(p)) for p in percents):
            decimals += 1
        return [f"{p:.{decimals}f}%" for p in percents]


def _percent_colorbar(colorbar) -> None:
    colorbar.set_label(COLORBAR_LABEL, fontsize=_FONT["label"])
    colorbar.ax.yaxis.set_major_formatter(_PercentTicks())
    colorbar.ax.tick_params(labelsize=_FONT["tick"])


def _panel_picture(picture: Image.Image) -> Image.Image:
    """The picture, shrunk when much larger than a figure panel can show (overlays are then cheap)."""
    scale = _PANEL_PIXELS / max(picture.size)
    if scale >= 1:
        return picture
    size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    return picture.resize(size, Image.Resampling.LANCZOS)


def _detached_figure(width: float, height: float) -> Figure:
    """A constrained-layout figure that pyplot does not keep (it still displays once in a notebook)."""
    figure = plt.figure(figsize=(width, height), layout="constrained")
    plt.close(figure)
    return figure


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
    colormap: str = "jet",
    alpha: float = 0.5,
    smooth: bool = True,
    width: float = _WIDTH,
) -> Figure:
    """The original image, then for each layer its attention map (top) and the map over the image (bottom).

    `layers`: indices of the captured layers (negative count from the end) or "all", one column each; default
    the last four (all, where the result has fewer). Panels are titled by decoder layer (`result.layer_ids`).

    Tokens (of the prompt or the answer), head and reduction are chosen as in `AttentionResult.grid`; with
    `producing`, each token's map is that of the step that produced it (for an answer word: where the model
    looked while writing it). Every layer's map shares one colour scale, 0 to the largest value shown, so layers
    compare at a glance. The title quotes the prompt (and the answer) and names the tokens, the step, the head
    choice and, when the result has several, the image.
    """
    producing = checked_producing(producing)
    if layers is None:
        layers = last_layers(result.num_layers)
    if isinstance(layers, (str, int, np.integer)):
        layers = layers if isinstance(layers, str) else [layers]
    absolute, _ = selected(layers, result.num_layers, "layer")  # one column each
    grids = [
        result.grid(token=token, phrase=phrase, layer=layer, head=head, reduce=reduce, image=image, producing=producing)
        for layer in absolute
    ]
    picture = _panel_picture(result.pictures[image])
    vmax = max(float(grid.max()) for grid in grids)
    norm = Normalize(vmin=0.0, vmax=vmax if vmax > 0 else 1.0)
    cmap = _matplotlib_colormap(colormap)

    columns = 1 + len(absolute)
    panel_width = (width - 1.15) / columns - 0.06  # less the colour bar, the row labels and the gaps
    panel_height = panel_width * picture.height / picture.width
    figure = _detached_figure(width, 2 * panel_height + 0.8)
    grid_spec = figure.add_gridspec(2, columns)

    original = figure.add_subplot(grid_spec[:, 0])
    original.imshow(picture)
    several = len(result.images) > 1
    original.set_title(
        f"image {image % len(result.images) + 1} of {len(result.images)}" if several else "image",
        fontsize=_FONT["title"],
    )
    extent = (0, picture.width, picture.height, 0)
    layer_axes = []
    for column, (layer, grid) in enumerate(zip(absolute, grids, strict=True), start=1):
        heat = figure.add_subplot(grid_spec[0, column])
        heat.imshow(grid, cmap=cmap, norm=norm, interpolation="nearest", extent=extent)
        heat.set_title(f"layer {result.layer_ids[layer]}", fontsize=_FONT["title"])
        overlay = figure.add_subplot(grid_spec[1, column])
        overlay.imshow(overlay_on_image(picture, grid, alpha=alpha, colormap=colormap, smooth=smooth, vmax=norm.vmax))
        layer_axes += [heat, overlay]
        if column == 1:
            heat.set_ylabel("attention", fontsize=_FONT["label"])
            overlay.set_ylabel("overlay", fontsize=_FONT["label"])
    for axes in [original, *layer_axes]:
        axes.set_xticks([])
        axes.set_yticks([])
        for spine in axes.spines.values():
            spine.set_linewidth(0.5)

    mappable = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    _percent_colorbar(figure.colorbar(mappable, ax=layer_axes, shrink=0.9, aspect=25, pad=0.02))
    details = [_tokens_label(result, token, phrase, producing), _head_label(result, head, reduce)]
    if several:
        details.append(f"image {image % len(result.images) + 1} of {len(result.images)}")
    quoted = _prompt_line(result.prompt)
    if result.answer is not None:
        quoted += f"\nanswer: {_prompt_line(result.answer)}"
    figure.suptitle(f"{quoted}\n{' · '.join(details)}", fontsize=_FONT["suptitle"])
    return figure


# ----- matrix figure -----------------------------------------------------------------------------------------


def matrix_figure(
    result: AttentionResult,
    layer: LayerSelection = -1,
    head: HeadSelection = None,
    reduce: Reduce = "mean",
    *,
    producing: bool = False,
    colormap: str = "jet",
    width: float = _WIDTH,
) -> tuple[Figure, np.ndarray]:
    """The `[query tokens, image tokens]` attention of one layer/head choice as a labelled heatmap.

    Returns the figure and the matrix (`AttentionResult.maps(layer, head, reduce, producing)`). Rows are labelled
    with the token texts (whitespace made visible; chat-template tokens in grey, the answer's in blue, below a
    line and named "answer" on the right); the figure grows with the number of tokens so every label stays
    readable. Several images are split by white lines and named along the top. With `producing`, each row is
    the step that produced its token; rows without one (the token right after an image) stay blank.
    """
    producing = checked_producing(producing)
    matrix = result.maps(layer, head, reduce, producing=producing)
    queries, columns = matrix.shape
    row_height = 0.135  # inches per token row: room for a 7 pt label
    figure = _detached_figure(width, max(2.6, 1.25 + queries * row_height))
    axes = figure.add_subplot()
    shown = matrix[np.isfinite(matrix)]
    vmax = float(shown.max()) if shown.size else 0.0
    cmap = _matplotlib_colormap(colormap).with_extremes(bad=(1.0, 1.0, 1.0, 0.0))  # NaN rows: blank
    image = axes.imshow(
        matrix,
        cmap=cmap,
        norm=Normalize(vmin=0.0, vmax=vmax if vmax > 0 else 1.0),
        aspect="auto",
        interpolation="nearest",
    )

    axes.set_yticks(range(queries), [token_label(token.text) for token in result.tokens], fontsize=_FONT["tick"])
    for label, token in zip(axes.get_yticklabels(), result.tokens, strict=True):
        if token.special:
            label.set_color(_SPECIAL_COLOUR)
            label.set_fontstyle("italic")
        elif token.part == "answer":
            label.set_color(_ANSWER_COLOUR)
    answer_rows = [index for index, token in enumerate(result.tokens) if token.part == "answer"]
    axes.set_ylabel("text tokens (grey: chat template)", fontsize=_FONT["label"])
    axes.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))
    axes.tick_params(axis="x", labelsize=_FONT["tick"])
    axes.tick_params(axis="y", length=2, pad=2)
    if answer_rows:
        _mark_answer(axes, result, answer_rows)

    if len(result.images) == 1:
        only = result.images[0]
        axes.set_xlabel(f"image tokens ({only.rows} × {only.cols} grid, row by row)", fontsize=_FONT["label"])
    else:
        axes.set_xlabel("image tokens", fontsize=_FONT["label"])
        for geometry in result.images[1:]:
            axes.axvline(geometry.first_column - 0.5, color="white", linewidth=1.0, gid="image-boundary")
        top = axes.secondary_xaxis("top")
        top.set_xticks(
            [geometry.first_column + (geometry.num_tokens - 1) / 2 for geometry in result.images],
            [f"image {index + 1} ({g.rows}×{g.cols})" for index, g in enumerate(result.images)],
            fontsize=_FONT["tick"],
        )
        top.tick_params(length=0)
    axes.set_xlim(-0.5, columns - 0.5)

    axes_height = figure.get_figheight() - 1.25
    colorbar = figure.colorbar(image, ax=axes, shrink=min(1.0, 3.0 / axes_height), aspect=25, pad=0.015)
    _percent_colorbar(colorbar)
    parts = ["text → image attention", _layer_label(result, layer, reduce), _head_label(result, head, reduce)]
    if producing:
        parts.insert(1, "producing step")
    title = " · ".join(parts)
    if producing:
        blank = int(np.isnan(matrix).all(axis=1).sum())
        title += "\neach row: the step that chose its token"
        if blank:
            rows = "1 blank row" if blank == 1 else f"{blank} blank rows"
            title += f"; {rows}: none captured (the position before is an image token)"
    axes.set_title(title, fontsize=_FONT["title"])
    return figure, matrix


def _mark_answer(axes: Axes, result: AttentionResult, answer_rows: list[int]) -> None:
    """A line between the prompt's rows and the answer's, and "prompt" / "answer" along the right side."""
    first, last = answer_rows[0], answer_rows[-1]
    if first > 0:
        axes.axhline(first - 0.5, color="white", linewidth=1.5, gid="answer-boundary")
    side = axes.secondary_yaxis("right")
    ticks, names = [(first + last) / 2], ["answer"]
    if first > 0:
        ticks.insert(0, (first - 1) / 2)
        names.insert(0, "prompt")
    side.set_yticks(ticks, names, fontsize=_FONT["label"], rotation=90, va="center")
    side.tick_params(length=0, pad=3)
    for label, name in zip(side.get_yticklabels(), names, strict=True):
        label.set_color(_ANSWER_COLOUR if name == "answer" else "black")
    side.set_gid("answer-side")


# ----- saving ------------------------------------------------------------------------------------------------


def save_figure(figure: Figure, path: str | os.PathLike, *, dpi: int = 300) -> Path:
    """Write `figure` as PNG, SVG or PDF, chosen by `path`'s extension; parent folders are created.

    The file is written next to its destination and renamed into place, so a failure leaves no partial file.
    """
    path = Path(path)
    file_format = SAVE_FORMATS.get(path.suffix.lower())
    if file_format is None:
        raise ValueError(
            f"cannot save a figure as {path.suffix or 'a file without extension'!r} ({str(path)!r}): "
            f"use a path ending in {', '.join(SAVE_FORMATS)}"
        )
    # No creation dates in the file, so the same figure gives the same bytes.
    metadata = {"png": {}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}[file_format]
    return write_atomically(path, lambda handle: figure.savefig(handle, format=file_format, dpi=dpi, metadata=metadata))
