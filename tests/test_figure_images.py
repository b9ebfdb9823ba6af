"""Figure regression tests: each figure function's picture, compared with a baseline PNG in tests/figure_baselines/.

pytest-mpl (`--mpl`, set in pyproject.toml) draws the figure each test returns (at `DPI`, under `STYLE`) and compares
it with its baseline by the root-mean-square difference of the pixels (0-255 per channel): a test fails where it is
over `TOLERANCE`, and pytest-mpl then keeps the new picture, the baseline and their difference under
.pytest_cache/figures/ to look at.

Each figure is drawn twice: on a fixed synthetic result (`browser_support`: known maps, no model) and on the demo
model's scene (`qvl-widget demo`'s, captured on the CPU). When a change to the figures is meant, regenerate every
baseline with one command, look at the new pictures, and commit them:

    make figure-baselines   # pytest tests/test_figure_images.py --mpl-generate-path=tests/figure_baselines

Baselines are small on purpose (`DPI` 60: a 7-inch figure is 420 pixels wide); they catch what a reader would see
change (a panel moved or lost, colours, a colour bar, a title's line), not single characters: the figures' other
tests read their texts.
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from browser_support import synthetic_answer_result, synthetic_video_result
from matplotlib.testing.compare import calculate_rms
from PIL import Image

import qvl_widget
from qvl_widget import _figures, demo
from qvl_widget.cli import DEMO_ANSWER_TOKENS, DEMO_SEED
from qvl_widget.figures import frames_figure, heads_figure, layers_figure, matrix_figure

BASELINES = Path(__file__).parent / "figure_baselines"
DPI = 60
# The style is set here, not taken from the machine: matplotlib's defaults (no matplotlibrc of the user's) and its
# bundled font, DejaVu Sans, so the same matplotlib draws the same pixels on any machine.
STYLE = ["default", {"font.family": "sans-serif", "font.sans-serif": ["DejaVu Sans"], "savefig.dpi": DPI}]
# RMS difference allowed, in 0-255 pixel levels: rendering noise only. Measured (the demo figure at this DPI): the
# same code on the same kind of machine draws the same pixels (0.000), and so it does from the demo model's maps
# perturbed at float32's rounding (2e-7 of each value: the capture on another CPU), 0.000 too. Every change a reader
# could see lies above it: one character of the title changed 1.6, the overlays upsampled bicubic instead of
# bilinear 2.3, their opacity 0.5 -> 0.55 4.1, blocky cells 6.5, one word of the title 14, the colour map 21 or
# more, the colour bar's label lost 58 (a change of layout moves every panel); `test_the_tolerance_tells_rendering_
# noise_from_a_change` checks the first two. A new matplotlib may draw text differently: then the baselines are made
# anew, with that matplotlib (`make figure-baselines`).
TOLERANCE = 1.0

compare = pytest.mark.mpl_image_compare(
    baseline_dir=str(BASELINES), style=STYLE, tolerance=TOLERANCE, savefig_kwargs={"dpi": DPI}
)


@pytest.fixture(scope="module")
def synthetic():
    return synthetic_answer_result(layers=6)


@pytest.fixture(scope="module")
def scene():
    """The demo model's scene of `qvl-widget demo`, with its answer, and the view it opens on."""
    example = demo.make_example(DEMO_SEED)
    model = demo.load(device="cpu")
    result = model.capture(example["image"], example["prompt"], answer=True, max_new_tokens=DEMO_ANSWER_TOKENS)
    return result, demo.recommended_view(result, example)


@pytest.fixture(scope="module")
def scene_video():
    """The demo model's scene as a video: two temporal groups (the scene, then the next one), two frames each."""
    seeds = (DEMO_SEED, DEMO_SEED, DEMO_SEED + 1, DEMO_SEED + 1)
    frames = [np.asarray(demo.make_example(seed)["image"]) for seed in seeds]
    model = demo.load(device="cpu")
    return model.capture(qvl_widget.Video(frames), demo.make_example(DEMO_SEED)["prompt"])


def answer_word(result) -> int:
    return next(index for index, token in enumerate(result.tokens) if token.part == "answer" and not token.special)


# ----- on a fixed synthetic result ------------------------------------------------------------------------------


@compare
def test_layers_figure_synthetic(synthetic):
    return layers_figure(synthetic, token=answer_word(synthetic), producing=True)


@compare
def test_layers_figure_synthetic_column(synthetic):
    return layers_figure(synthetic, layers="all", token=answer_word(synthetic), producing=True, width="column")


@compare
def test_matrix_figure_synthetic(synthetic):
    return matrix_figure(synthetic, layer=-1, producing=True)[0]


@compare
def test_heads_figure_synthetic(synthetic):
    return heads_figure(synthetic, token=answer_word(synthetic), producing=True)


@compare
def test_frames_figure_synthetic():
    return frames_figure(synthetic_video_result(), token=3, title=False)


# ----- on the demo model's scene --------------------------------------------------------------------------------


@compare
def test_layers_figure_demo(scene):
    result, view = scene
    return layers_figure(result, token=view["token"], head=view["head"], producing=True)


@compare
def test_layers_figure_demo_column(scene):
    result, view = scene
    return layers_figure(result, layers="all", token=view["token"], head=view["head"], producing=True, width="column")


@compare
def test_matrix_figure_demo(scene):
    result, view = scene
    return matrix_figure(result, layer=view["layer"], head=view["head"], producing=True)[0]


@compare
def test_heads_figure_demo(scene):
    result, view = scene
    return heads_figure(result, token=view["token"], producing=True, width="column")


@compare
def test_frames_figure_demo(scene_video):
    return frames_figure(scene_video, layer=2, width="column")


# ----- the tolerance --------------------------------------------------------------------------------------------


def drawn_pixels(figure) -> np.ndarray:
    """`figure` as pytest-mpl draws it: a PNG at `DPI`, as RGB levels."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return np.asarray(Image.open(buffer).convert("RGB"), dtype=np.int16)


def test_the_tolerance_tells_rendering_noise_from_a_change(scene, monkeypatch):
    """The demo model's maps as another CPU computes them (each value off by float32 rounding) draw within the
    tolerance; one character of the title changed does not."""
    result, view = scene
    draw = lambda result: layers_figure(result, token=view["token"], head=view["head"], producing=True)  # noqa: E731
    with plt.style.context(STYLE, after_reset=True):
        baseline = drawn_pixels(draw(result))
        wobble = 1 + 2e-7 * np.random.default_rng(0).standard_normal(result.attention.shape)
        noisy = dataclasses.replace(result, attention=(result.attention * wobble).astype(np.float32))
        assert not np.array_equal(noisy.attention, result.attention)
        assert calculate_rms(baseline, drawn_pixels(draw(noisy))) <= TOLERANCE
        monkeypatch.setattr(_figures, "_percent", lambda probability: "99.8%")  # the model's probability: 99.9%
        assert calculate_rms(baseline, drawn_pixels(draw(result))) > TOLERANCE
