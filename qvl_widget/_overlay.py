"""An attention map laid over its picture: the one place that decides how an overlay looks.

Numpy and Pillow only (no pyplot), so the notebook widget's still picture (`_still.py`) and the paper figures
(`figures.overlay_on_image`, `layers_figure`) draw overlays with the same code. Arguments are trusted here: the
public callers check them first.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ._colormaps import colour_indices


def overlay_map(
    picture: Image.Image,
    grid: np.ndarray,
    table: np.ndarray,
    alpha: float,
    smooth: bool,
    vmax: float | None = None,
) -> Image.Image:
    """`picture` (8-bit RGB) with the `[rows, cols]` float map `grid` laid over it, at the picture's resolution.

    The map is upsampled to the picture (bilinear when `smooth`, nearest otherwise), then coloured (so a smooth
    map shows colours between cells, as the colour scale has them) through `table`, a `[256, 3]` uint8 lookup
    table (`_colormaps.lookup_table`), on a scale from 0 to `vmax` (default: the map's maximum; a map with
    nothing above 0 gets the table's first colour), and blended over the picture with opacity `alpha`, as the
    widget's overlay canvas is.
    """
    values = np.ascontiguousarray(grid, dtype=np.float32)
    resample = Image.Resampling.BILINEAR if smooth else Image.Resampling.NEAREST
    upsampled = np.asarray(Image.fromarray(values).resize(picture.size, resample))
    scale = float(np.max(values)) if vmax is None else float(vmax)
    colours = table[colour_indices(upsampled, scale)].astype(np.float32)
    blended = np.asarray(picture, dtype=np.float32) * (1.0 - alpha) + colours * alpha
    return Image.fromarray(np.clip(np.round(blended), 0, 255).astype(np.uint8))
