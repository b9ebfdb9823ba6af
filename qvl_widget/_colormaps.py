"""The colour maps the views offer, as 256-entry RGB lookup tables shared by the browser and the figures."""

from __future__ import annotations

import numpy as np

COLORMAPS = ("inferno", "viridis", "jet", "gray")


def lookup_table(name: str) -> np.ndarray:
    """`[256, 3]` uint8 RGB colours of matplotlib's colour map `name`."""
    if name not in COLORMAPS:
        raise ValueError(f"unknown colormap {name!r}: choose one of {', '.join(COLORMAPS)}")
    from matplotlib import colormaps

    colours = colormaps[name](np.linspace(0.0, 1.0, 256))[:, :3]
    return np.round(colours * 255).astype(np.uint8)
