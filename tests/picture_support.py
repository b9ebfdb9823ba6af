"""Measuring pictures as a reader sees them: colour differences (CIE76 ΔE in CIELAB, D65 white), greyscale
luminance, and the demo scene whose picture the picture tests measure.

ΔE (CIE76) is the Euclidean distance in CIELAB: about 2.3 is a just-noticeable difference, under 10 reads as "the
same colour, a little off" (an orange circle stays orange), over 30 as another colour.
"""

from __future__ import annotations

import functools

import numpy as np

# sRGB (D65) -> XYZ, and the D65 white point.
_RGB_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)
_WHITE = np.array([0.95047, 1.0, 1.08883])
NEAR_ZERO = 0.01  # "attention below 1 % of the peak"
SAME_COLOUR = 10.0  # ΔE under which a pixel keeps its own colour (the bound)


def lab(rgb: np.ndarray) -> np.ndarray:
    """`[..., 3]` 8-bit sRGB as CIELAB (L* 0..100)."""
    linear = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(linear <= 0.04045, linear / 12.92, ((linear + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _RGB_TO_XYZ.T / _WHITE
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def delta_e(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """CIE76 ΔE between 8-bit sRGB colours (`[..., 3]` each)."""
    return np.linalg.norm(lab(first) - lab(second), axis=-1)


def lightness(rgb: np.ndarray) -> np.ndarray:
    """L* of 8-bit sRGB: the lightness a greyscale print keeps."""
    return lab(rgb)[..., 0]


def blended(picture: np.ndarray, colour: np.ndarray, opacity: float) -> np.ndarray:
    """`colour` laid over `picture` at `opacity` (what the heat shows at the top of its scale)."""
    return np.asarray(picture, dtype=np.float64) * (1 - opacity) + np.asarray(colour, dtype=np.float64) * opacity


@functools.lru_cache(maxsize=1)
def demo_capture():
    """The scene `qvl-widget demo` shows (a held-out test scene: "What color is the circle?"), the demo model's
    capture with its answer, and its recommended view (the answer word's producing step, the circle's box)."""
    from qvl_widget import demo
    from qvl_widget.cli import DEMO_ANSWER_TOKENS, DEMO_SEED

    example = demo.make_example(DEMO_SEED)
    model = demo.load(device="cpu")
    result = model.capture(example["image"], example["prompt"], answer=True, max_new_tokens=DEMO_ANSWER_TOKENS)
    return example, result, demo.recommended_view(result, example)


def demo_grid(result, view: dict) -> np.ndarray:
    """The `[rows, cols]` map the demo's recommended view shows."""
    return result.grid(
        token=view["token"], producing=view.get("producing", False), layer=view["layer"], head=view["head"]
    )


def quiet_and_peak_cells(grid: np.ndarray) -> tuple[list[tuple[int, int]], tuple[int, int]]:
    """The cells whose value is below `NEAR_ZERO` of the map's peak, and the peak's cell."""
    quiet = np.argwhere(grid < NEAR_ZERO * float(grid.max()))
    peak = np.unravel_index(int(np.argmax(grid)), grid.shape)
    return [(int(row), int(col)) for row, col in quiet], (int(peak[0]), int(peak[1]))


def cell_centre(cell: tuple[int, int], grid_shape: tuple[int, int], size: tuple[int, int]) -> tuple[int, int]:
    """The pixel (x, y) at the centre of token cell (row, col) in a picture of `size` (width, height)."""
    (row, col), (rows, cols), (width, height) = cell, grid_shape, size
    return int((col + 0.5) * width / cols), int((row + 0.5) * height / rows)
