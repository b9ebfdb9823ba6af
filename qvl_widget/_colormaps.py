"""The colour maps the views offer, as 256-entry RGB lookup tables shared by the browser and the figures, and the
rule that turns a value into a table index (`js/colormap.js` applies the same rule; a test checks they agree)."""

from __future__ import annotations

import numpy as np

from ._choices import COLORMAPS, ColormapName, checked_colormap

__all__ = ["COLORMAPS", "DEFAULT_COLORMAP", "colour_indices", "lookup_table"]

# The colour map every view opens with (the widget, the HTML page, the figures, the command line, the original
# API): perceptually uniform, it reads in greyscale and for colour-blind readers. "jet" stays available.
DEFAULT_COLORMAP: ColormapName = "inferno"


def lookup_table(name: str) -> np.ndarray:
    """`[256, 3]` uint8 RGB colours of matplotlib's colour map `name` (one of `COLORMAPS`)."""
    from matplotlib import colormaps  # the colour data only, not pyplot

    colours = colormaps[checked_colormap(name)](np.linspace(0.0, 1.0, 256))[:, :3]
    return np.round(colours * 255).astype(np.uint8)


def colour_indices(values: np.ndarray, vmax: float) -> np.ndarray:
    """Values on a scale from 0 to `vmax` as table indices 0..255: value / vmax * 255 rounded half up (as
    JavaScript's Math.round), at most 255; values that are not positive (and NaN), and every value when `vmax` is not
    positive, get 0."""
    values = np.asarray(values, dtype=np.float64)
    if not vmax > 0:
        return np.zeros(values.shape, dtype=np.uint8)
    scaled = np.floor(np.where(values > 0, values, 0.0) / vmax * 255.0 + 0.5)
    return np.clip(scaled, 0, 255).astype(np.uint8)
