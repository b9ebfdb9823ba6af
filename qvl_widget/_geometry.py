"""Image token grid <-> boxes of the original image.

Qwen-VL's processor resizes the whole image to a multiple of the merged-token size (no padding, no crop),
so token cell (row, col) covers the same fraction of the original image as of the resized one.
"""

from __future__ import annotations

import numpy as np


def token_boxes(rows: int, cols: int, original_size: tuple[int, int]) -> np.ndarray:
    """`[rows * cols, 4]` boxes `(x0, y0, x1, y1)` in original-image pixels, token k at cell (k // cols, k % cols)."""
    width, height = original_size
    xs = np.arange(cols + 1, dtype=np.float64) * (width / cols)
    ys = np.arange(rows + 1, dtype=np.float64) * (height / rows)
    row, col = np.divmod(np.arange(rows * cols), cols)
    return np.stack([xs[col], ys[row], xs[col + 1], ys[row + 1]], axis=1)


def cell_of_point(x: float, y: float, rows: int, cols: int, original_size: tuple[int, int]) -> tuple[int, int]:
    """The `(row, col)` of the token cell containing original-image pixel `(x, y)`."""
    width, height = original_size
    col = min(cols - 1, max(0, int(x * cols / width)))
    row = min(rows - 1, max(0, int(y * rows / height)))
    return row, col


def cell_fractions(
    box: tuple[float, float, float, float], rows: int, cols: int, original_size: tuple[int, int]
) -> np.ndarray:
    """`[rows, cols]` float64: the fraction of each token cell's area inside `box` (x0, y0, x1, y1) in
    original-image pixels (0 for a cell outside it, 1 for a cell wholly inside)."""
    width, height = original_size
    x0, y0, x1, y1 = box
    xs = np.arange(cols + 1, dtype=np.float64) * (width / cols)
    ys = np.arange(rows + 1, dtype=np.float64) * (height / rows)
    across = np.clip(np.minimum(xs[1:], x1) - np.maximum(xs[:-1], x0), 0.0, None) / np.diff(xs)
    down = np.clip(np.minimum(ys[1:], y1) - np.maximum(ys[:-1], y0), 0.0, None) / np.diff(ys)
    return down[:, None] * across[None, :]


def area_share(box: tuple[float, float, float, float], original_size: tuple[int, int]) -> float:
    """The share of the image's area that `box` covers, clipped to the image."""
    width, height = original_size
    x0, y0, x1, y1 = box
    inside_x = max(0.0, min(x1, width) - max(x0, 0.0))
    inside_y = max(0.0, min(y1, height) - max(y0, 0.0))
    return inside_x * inside_y / (width * height)
