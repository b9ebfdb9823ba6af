"""An attention map laid over its picture: the one rule every view draws overlays with.

`js/overlay.js` applies the same rule in the browser (the widget, the HTML page, their Save PNG); a test runs both
on the same inputs and compares the pixels. (On screen the browser computes the heat at most 9 pixels a cell and
scales it to the picture, so hovering stays fast: `js/panels.js`; Save PNG computes it at the picture's own size.)
Numpy and Pillow only (no pyplot), so the notebook widget's still picture (`_still.py`) and the paper figures
(`figures.overlay_on_image`, `layers_figure`, `frames_figure`) draw with this code. Arguments are trusted here:
the public callers check them first.

The rule, for a `[rows, cols]` map over a picture of `width x height` pixels:

1. **Upsampling** to the picture's pixels. Blocky (`smooth=False`): pixel (x, y) takes the cell under its centre,
   `col = min(cols - 1, floor((x + 0.5) * cols / width))`. Smooth: bilinear between cell centres, the source
   position `sx = (x + 0.5) * cols / width - 0.5` clamped to `[0, cols - 1]` (the same for rows), so a cell's
   centre shows its own value and the edges hold their cells' values.
2. **Heat** (`style="heat"`): a value v on the scale 0..vmax gets the colour table's index
   `i = round(v / vmax * 255)` (`_colormaps.colour_indices`) and the opacity `opacity * i / 255`, as the 8-bit
   alpha `floor(opacity * i + 0.5)`: transparent where attention is low, `opacity` at the top of the scale.
3. **Contour** (`style="contour"`): iso-lines of the upsampled map at the levels whose regions are the smallest
   holding 25 %, 50 % and 75 % of the map's mass (`contour_levels`: from the cells' values), dark lines on a light
   halo, thick for 25 %, thin for 50 %, dashed for 75 %: they read in greyscale and leave the picture untouched
   between them.
4. **Blending** over the untouched picture: `round(picture * (255 - a) / 255 + colour * a / 255)` per channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias, get_args

import numpy as np
from PIL import Image

from ._arguments import shown
from ._colormaps import colour_indices

Style: TypeAlias = Literal["heat", "contour"]
STYLES: tuple[Style, ...] = get_args(Style)
DEFAULT_STYLE: Style = "heat"
DEFAULT_OPACITY = 0.8  # the overlay's opacity at the top of the scale (the figures' `alpha`)

CONTOUR_SHARES = (0.25, 0.5, 0.75)
CONTOUR_LEGEND = "lines enclose 25 % (thick), 50 % (thin) and 75 % (dashed) of the attention"
LINE_RGBA = (17, 17, 17, 255)  # near-black: the lines
HALO_RGBA = (255, 255, 255, 191)  # white at 3/4: the casing that keeps a line visible on a dark picture
HALO_WIDTH = 1  # pixels beyond the line on each side, at scale 1
DASH = 6  # pixels: the dashed line's checker period, at scale 1
ROWS_AT_ONCE = 512  # the heat is computed this many picture rows at a time (bounded memory on large pictures)


@dataclass(frozen=True)
class ContourLine:
    share: float  # the line encloses the smallest region holding this share of the map's mass
    radius: int  # half its width, in pixels at scale 1
    dashed: bool


CONTOUR_LINES = (ContourLine(0.25, 2, False), ContourLine(0.5, 1, False), ContourLine(0.75, 1, True))


def checked_style(value: object) -> Style:
    """`style`: "heat" or "contour", else a one-line error."""
    if not isinstance(value, str) or value not in STYLES:
        kind = ValueError if isinstance(value, str) else TypeError
        raise kind(
            "style must be 'heat' (the map in colour, transparent where attention is low) or 'contour' (lines "
            f"around 25 %, 50 % and 75 % of the attention, for print), not {shown(value)}"
        )
    return value


def overlay_map(
    picture: Image.Image,
    grid: np.ndarray,
    table: np.ndarray,
    opacity: float,
    smooth: bool,
    vmax: float | None = None,
    style: Style = DEFAULT_STYLE,
    scale: float = 1.0,
) -> Image.Image:
    """`picture` (8-bit RGB) with the `[rows, cols]` map `grid` laid over it by the rule above, at the picture's
    resolution. `table`: a `[256, 3]` uint8 colour table (`_colormaps.lookup_table`); `vmax`: the top of the scale
    (default: the map's maximum; a map with nothing above 0 leaves the picture as it is); `scale`: the contour
    lines' pixels per line unit (the widget: the screen's pixels per CSS pixel)."""
    layer = overlay_layer(grid, picture.size, table, opacity, smooth, vmax, style, scale)
    return Image.fromarray(blend(np.asarray(picture.convert("RGB")), layer))


def overlay_layer(
    grid: np.ndarray,
    size: tuple[int, int],
    table: np.ndarray,
    opacity: float,
    smooth: bool,
    vmax: float | None = None,
    style: Style = DEFAULT_STYLE,
    scale: float = 1.0,
) -> np.ndarray:
    """The overlay alone: `[height, width, 4]` uint8 RGBA (straight, not premultiplied alpha), `size` = (width,
    height). What `js/overlay.js` paints into the overlay canvas."""
    values = np.asarray(grid, dtype=np.float64)
    if style == "contour":
        return contour_layer(values, size, smooth, scale)
    top = float(np.max(values)) if vmax is None else float(vmax)
    return heat_layer(values, size, table, opacity, smooth, top)


def heat_layer(
    grid: np.ndarray, size: tuple[int, int], table: np.ndarray, opacity: float, smooth: bool, vmax: float
) -> np.ndarray:
    """Each pixel's colour from `table` and its opacity `opacity * index / 255` (as 8-bit alpha)."""
    width, height = size
    colours = heat_table(table, opacity)
    layer = np.empty((height, width, 4), dtype=np.uint8)
    for first in range(0, height, ROWS_AT_ONCE):
        rows = range(first, min(height, first + ROWS_AT_ONCE))
        layer[rows.start : rows.stop] = colours[colour_indices(upsampled(grid, size, smooth, rows), vmax)]
    return layer


def heat_table(table: np.ndarray, opacity: float) -> np.ndarray:
    """`[256, 4]` uint8: the colour table's colours, each with the alpha `floor(opacity * index + 0.5)`."""
    alpha = np.floor(opacity * np.arange(256, dtype=np.float64) + 0.5)
    return np.concatenate([table[:, :3], np.clip(alpha, 0, 255).astype(np.uint8)[:, None]], axis=1)


def upsampled(grid: np.ndarray, size: tuple[int, int], smooth: bool, rows: range | None = None) -> np.ndarray:
    """`grid` at `size` = (width, height) pixels (float64; only the picture rows `rows`, default all): bilinear
    between cell centres when `smooth`, else the cell under each pixel's centre (see the module docstring)."""
    width, height = size
    rows = range(height) if rows is None else rows
    cells_down, cells_across = grid.shape
    if not smooth:
        ys = _nearest(np.arange(rows.start, rows.stop), height, cells_down)
        return grid[np.ix_(ys, _nearest(np.arange(width), width, cells_across))]
    y0, y1, fy = _bilinear_axis(np.arange(rows.start, rows.stop), height, cells_down)
    x0, x1, fx = _bilinear_axis(np.arange(width), width, cells_across)
    upper, lower = grid[y0], grid[y1]
    top = upper[:, x0] * (1.0 - fx) + upper[:, x1] * fx
    bottom = lower[:, x0] * (1.0 - fx) + lower[:, x1] * fx
    return top * (1.0 - fy)[:, None] + bottom * fy[:, None]


def _nearest(pixels: np.ndarray, extent: int, cells: int) -> np.ndarray:
    return np.minimum(cells - 1, np.floor((pixels + 0.5) * cells / extent)).astype(np.intp)


def _bilinear_axis(pixels: np.ndarray, extent: int, cells: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each pixel along one axis: the cells below and above its source position, and its fraction between."""
    source = np.clip((pixels + 0.5) * cells / extent - 0.5, 0.0, cells - 1.0)
    low = np.floor(source).astype(np.intp)
    return low, np.minimum(low + 1, cells - 1), source - low


def blend(picture: np.ndarray, layer: np.ndarray) -> np.ndarray:
    """`[h, w, 3]` uint8 picture with the `[h, w, 4]` RGBA `layer` over it: `round((p * (255 - a) + c * a) / 255)`."""
    alpha = layer[..., 3:4].astype(np.uint32)
    mixed = picture.astype(np.uint32) * (255 - alpha) + layer[..., :3].astype(np.uint32) * alpha
    return ((mixed + 127) // 255).astype(np.uint8)


# ----- contour ----------------------------------------------------------------------------------------------


def contour_levels(grid: np.ndarray, shares: tuple[float, ...] = CONTOUR_SHARES) -> list[float]:
    """For each share q, the level L whose region `grid >= L` is the smallest set of cells holding at least q of
    the map's mass: the value of the cell where the running sum of the values, largest first, reaches q (empty
    where the map has no mass)."""
    values = np.sort(np.asarray(grid, dtype=np.float64).ravel())[::-1]
    values = values[values > 0]
    if not values.size:
        return []
    running = np.cumsum(values)
    total = running[-1]
    return [float(values[min(int(np.searchsorted(running, share * total)), values.size - 1)]) for share in shares]


def contour_layer(grid: np.ndarray, size: tuple[int, int], smooth: bool, scale: float) -> np.ndarray:
    """The contour lines (`CONTOUR_LINES`) of `grid` upsampled to `size`, as `[height, width, 4]` RGBA: every
    line's halo first, then the lines, the outermost first (the 25 % line on top where lines meet)."""
    width, height = size
    layer = np.zeros((height, width, 4), dtype=np.uint8)
    levels = contour_levels(grid, tuple(line.share for line in CONTOUR_LINES))
    if not levels:
        return layer
    values = upsampled(grid, size, smooth)
    halo, dash = max(1, round(HALO_WIDTH * scale)), max(2, round(DASH * scale))
    ys, xs = np.ogrid[:height, :width]
    checker = ((ys // dash) + (xs // dash)) % 2 == 0
    lines = []
    for line, level in sorted(zip(CONTOUR_LINES, levels, strict=True), key=lambda pair: -pair[0].share):
        inside = values >= level
        radius = max(1, round(line.radius * scale))
        layer[straddles(inside, radius + halo)] = HALO_RGBA
        drawn = straddles(inside, radius)
        lines.append(drawn & checker if line.dashed else drawn)
    for drawn in lines:
        layer[drawn] = LINE_RGBA
    return layer


def straddles(inside: np.ndarray, radius: int) -> np.ndarray:
    """The pixels whose square window of `radius` (clipped to the picture) holds pixels inside and outside: a band
    `2 * radius` wide along the region's edge."""
    counts = window_sums(inside.astype(np.int32), radius)
    sizes = window_sums(np.ones(inside.shape, dtype=np.int32), radius)
    return (counts > 0) & (counts < sizes)


def window_sums(values: np.ndarray, radius: int) -> np.ndarray:
    """Each pixel's sum over its `(2 * radius + 1)`-square window, clipped to the array (an integral image)."""
    height, width = values.shape
    integral = np.zeros((height + 1, width + 1), dtype=np.int64)
    integral[1:, 1:] = values.cumsum(axis=0).cumsum(axis=1)
    top = np.clip(np.arange(height) - radius, 0, height)
    bottom = np.clip(np.arange(height) + radius + 1, 0, height)
    left = np.clip(np.arange(width) - radius, 0, width)
    right = np.clip(np.arange(width) + radius + 1, 0, width)
    return (
        integral[np.ix_(bottom, right)]
        - integral[np.ix_(top, right)]
        - integral[np.ix_(bottom, left)]
        + integral[np.ix_(top, left)]
    )
