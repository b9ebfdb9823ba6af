"""The widget's still picture: the display bundle carries a PNG of the current view (for GitHub, nbviewer, nbconvert)
beside the widget's view, made at display time, never failing a display, without pyplot or the model stack.

The views are read back from the PNG's pixels: with blocky cells and opacity 1, each cell's centre pixel is the
picture blended with its value's colour at the opacity its value gives (the overlay rule, `_overlay.py`); with the
"viridis" colour map every value shows its own colour, so a picture that ignored the layer, the head, the pins or
the producing switch shows another map than the one the synthetic data put there.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from browser_support import (
    expected_peak,
    synthetic_answer_result,
    synthetic_result,
    synthetic_video_result,
    video_peak,
    view_map,
)
from IPython.core.formatters import DisplayFormatter
from PIL import Image

import qvl_widget._still
import qvl_widget._widget
from qvl_widget import AttentionResult, AttentionWidget
from qvl_widget._colormaps import lookup_table
from qvl_widget._result import BASELINE_PROMPT, SINK_TAU
from qvl_widget._still import GAP

ROOT = Path(__file__).resolve().parents[1]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# Every cell's centre pixel says its value: opaque at the top of the scale, no blending between cells. 600 px wide:
# a synthetic image's 6 columns are 100 px each.
READABLE = {"colormap": "viridis", "opacity": 1.0, "smooth": False, "width": 600}
PICTURE_GREY = 90  # the synthetic result's first picture


def bundle(widget: AttentionWidget) -> dict:
    """What a notebook stores for `display(widget)`: IPython's own formatter over the widget."""
    data, _ = DisplayFormatter().format(widget)
    return data


def still(widget: AttentionWidget) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(bundle(widget)["image/png"]))).convert("RGB")


def cell_pixels(picture: Image.Image, rows: int, cols: int, width: int, height: int, left: int = 0) -> np.ndarray:
    """`[rows, cols, 3]` RGB at each cell's centre of the tile at `left` of size `width` x `height`."""
    pixels = np.asarray(picture)
    ys = ((np.arange(rows) + 0.5) * height / rows).astype(int)
    xs = (left + (np.arange(cols) + 0.5) * width / cols).astype(int)
    return pixels[np.ix_(ys, xs)].astype(int)


def cell_levels(picture: Image.Image, rows: int, cols: int, width: int, height: int, left: int = 0) -> np.ndarray:
    """`[rows, cols]` red level (0..255) at each cell's centre (with "gray" at opacity 1: white only at the top)."""
    return cell_pixels(picture, rows, cols, width, height, left)[..., 0]


def as_shown(levels: np.ndarray, grey: int = PICTURE_GREY) -> np.ndarray:
    """`[..., 3]`: colour indices as READABLE shows them over a flat grey picture: each index's viridis colour at the
    opacity index / 255, rounded (the overlay rule)."""
    colour = lookup_table("viridis")[levels].astype(int)
    alpha = levels[..., None]
    return (grey * (255 - alpha) + colour * alpha + 127) // 255


def levels_of(values: np.ndarray, top: float | None = None) -> np.ndarray:
    """A map as the colour scale shows it: 0..255 from 0 to its maximum (or `top`)."""
    top = float(values.max()) if top is None else top
    return np.floor(np.clip(values, 0, None) / top * 255 + 0.5).astype(int)


def assert_shows(widget: AttentionWidget, expected: np.ndarray) -> None:
    """The still picture of a one-image widget shows the `[rows, cols]` map `expected` (within a rounding step)."""
    rows, cols = expected.shape
    picture = still(widget)
    tile_height = round(READABLE["width"] * rows * 40 / (cols * 50))  # synthetic images: 50 x 40 px a cell
    shown = cell_pixels(picture, rows, cols, READABLE["width"], tile_height)
    wanted = as_shown(levels_of(expected))
    assert np.abs(shown - wanted).max() <= 1, f"shown\n{shown}\nexpected\n{wanted}"


@pytest.fixture(scope="module")
def result() -> AttentionResult:
    return synthetic_result(layers=3, heads=3)


def test_the_display_bundle_has_the_view_a_png_and_a_line_saying_what_it_is(result):
    data = bundle(result.widget(token=[4], layer=1, head=0))
    assert set(data) == {WIDGET_VIEW, "image/png", "text/plain"}
    assert data["image/png"].startswith(base64.b64encode(b"\x89PNG").decode()[:5])
    text = data["text/plain"]
    assert text.startswith("AttentionWidget: layer 1 · head 0 · “ cat”") and "run the notebook" in text
    assert "object at 0x" not in text  # a stored notebook's text must not change from run to run


@pytest.mark.parametrize(
    ("token", "layer", "head"),
    [([4], 0, "mean"), ([4], 1, "mean"), ([4], 1, 0), ([4], 1, 2), ([2], 1, 2), ([1, 3], 2, "max"), ([3], "mean", 1)],
)
def test_the_still_shows_the_pinned_tokens_map_for_the_chosen_layer_and_head(result, token, layer, head):
    expected = view_map(result, token, layer, head).reshape(4, 6)
    assert_shows(result.widget(token=token, layer=layer, head=head, **READABLE), expected)
    row, col = expected_peak(result, token, layer, head)  # the data make every one of these views peak elsewhere
    assert np.unravel_index(np.argmax(expected), expected.shape) == (row, col)


def test_views_that_differ_give_pictures_that_differ(result):
    views = [
        {"token": [4], "layer": 1},
        {"token": [4], "layer": 0},
        {"token": [3], "layer": 1},
        {"token": [4], "layer": 1, "head": 1},
        {"token": [4], "layer": 1, "colormap": "viridis"},
        {"token": [4], "layer": 1, "opacity": 0.3},
        {"token": [4], "layer": 1, "smooth": False},
        {"layer": 1},
    ]
    pictures = [np.asarray(still(result.widget(**view))) for view in views]
    for first in range(len(views)):
        for second in range(first + 1, len(views)):
            assert not np.array_equal(pictures[first], pictures[second]), (views[first], views[second])


def test_a_change_made_from_python_shows_in_the_next_display(result):
    widget = result.widget(token=[4], layer=0, **READABLE)
    widget.layer, widget.selected = 2, [1]
    assert_shows(widget, view_map(result, [1], 2).reshape(4, 6))


def test_with_nothing_pinned_the_still_shows_the_mean_of_the_prompts_own_tokens():
    # The answer's tokens and the template's are left out, and their producing steps play no part (js/view.js
    # `activeRows`): the front end shows this with nothing hovered.
    answered = synthetic_answer_result(layers=2, heads=2)
    own = [index for index, token in enumerate(answered.tokens) if token.part == "prompt" and not token.special]
    assert own == [0, 1, 2, 3, 4, 5]
    widget = answered.widget(layer=0, producing=True, **READABLE)
    assert_shows(widget, view_map(answered, own, 0).reshape(4, 6))
    assert "mean of all prompt tokens" in bundle(widget)["text/plain"]


def test_a_pinned_answer_token_shows_the_step_that_produced_it_or_its_own_row():
    answered = synthetic_answer_result(layers=2, heads=2)
    cat = 9  # " cat" of the answer; the step before it (" red", row 8) produced it
    assert answered.tokens[cat].text == " cat" and answered.tokens[cat].part == "answer"
    producing = answered.widget(token=[cat], layer=1, producing=True, **READABLE)
    assert_shows(producing, view_map(answered, [cat - 1], 1).reshape(4, 6))
    assert "the step that produced “ cat”" in bundle(producing)["text/plain"]
    own_row = answered.widget(token=[cat], layer=1, producing=False, **READABLE)
    assert_shows(own_row, view_map(answered, [cat], 1).reshape(4, 6))


def test_relative_and_sink_free_views_show_the_results_own_maps(result):
    rng = np.random.default_rng(0)
    layers, heads, _, columns = result.attention.shape
    scores = np.zeros((layers, columns), dtype=np.float32)
    scores[:, 0] = 2 * SINK_TAU  # cell (0, 0) a sink in every layer
    extra = dataclasses.replace(
        result,
        baseline_attention=rng.dirichlet(np.ones(columns), size=(layers, heads)).astype(np.float32),
        baseline_prompt=BASELINE_PROMPT,
        sink_scores=scores,
    )
    for options in ({"relative": True}, {"drop_sinks": True}, {"relative": True, "drop_sinks": True}):
        widget = extra.widget(token=[0], layer=1, **options, **READABLE)
        assert_shows(widget, extra.grid(token=[0], layer=1, **options))
    assert "relative to the baseline" in bundle(extra.widget(relative=True))["text/plain"]


def test_a_shared_scale_tops_at_the_strongest_visible_tokens_peak(result):
    # Token 3's rows are weaker than token 0's (synthetic strengths 0.85 and 1): on the shared scale its peak is
    # not white. The template's token (6) is hidden, so it does not count.
    shared = result.widget(token=[3], layer=1, shared_scale=True, **READABLE)
    top = max(view_map(result, token, 1).max() for token in range(6))
    picture = still(shared)
    shown = cell_pixels(picture, 4, 6, READABLE["width"], round(READABLE["width"] * 160 / 300))
    expected = levels_of(view_map(result, [3], 1).reshape(4, 6), top)
    assert expected.max() < 250 and np.abs(shown - as_shown(expected)).max() <= 1


def test_a_prompt_of_template_tokens_only_has_a_real_shared_scale():
    """A prompt with no text of its own shows its template tokens (as the strips do), so the shared scale tops at
    the strongest of them, as on the page: the picture shows the mean map, not an empty one."""
    template = synthetic_result(texts=("<|vision_end|>", "<|im_end|>", "<|im_start|>"), prompt="")
    widget = template.widget(layer=0, shared_scale=True, **READABLE)
    top = max(view_map(template, token, 0).max() for token in range(3))
    mean = template.grid(layer=0)  # every token: the prompt has none of its own
    expected = levels_of(mean, top)
    shown = cell_pixels(still(widget), 4, 6, READABLE["width"], round(READABLE["width"] * 160 / 300))
    assert 0 < expected.max() < 250 and np.abs(shown - as_shown(expected)).max() <= 1


def test_a_video_shows_its_chosen_group():
    video = synthetic_video_result(groups=4)  # frames 1200 x 800: 600 x 400 px at width 600, 4 x 6 cells of 100 px
    for group in (0, 2, 3):
        picture = still(video.widget(token=[3], layer=0, group=group, **{**READABLE, "colormap": "gray"}))
        levels = cell_levels(picture, 4, 6, 600, 400)
        assert divmod(int(np.argmax(levels)), 6) == divmod(video_peak(3, group, 24), 6)
    assert "video group 3 of 4" in bundle(video.widget(group=2))["text/plain"]


def test_several_images_stand_side_by_side_at_the_widgets_width():
    two = synthetic_result(grids=((4, 6), (3, 3)))  # originals 300 x 160 and 150 x 120 px
    picture = still(two.widget(token=[4], width=300, colormap="gray", opacity=1.0, smooth=False))
    assert picture.width == 300 + GAP + 300
    assert picture.height > 240  # the taller picture (300 x 240), then the caption
    # One colour scale for both pictures: the brighter image's peak is white, the other's is not.
    first = cell_levels(picture, 4, 6, 300, 160)
    second = cell_levels(picture, 3, 3, 300, 240, left=300 + GAP)
    assert max(first.max(), second.max()) == 255 and min(first.max(), second.max()) < 255


def test_the_picture_is_made_at_display_time_not_at_each_change(result, monkeypatch):
    calls = []
    made = qvl_widget._widget.still_bundle

    def counted(*args):
        calls.append(args)
        return made(*args)

    monkeypatch.setattr(qvl_widget._widget, "still_bundle", counted)
    widget = result.widget(token=[4])
    widget.layer, widget.head, widget.selected, widget.colormap = 0, 1, [2], "viridis"
    assert calls == []
    assert "image/png" in bundle(widget)
    assert len(calls) == 1


@pytest.mark.parametrize("error", [OSError("cannot encode"), MemoryError("no room"), ValueError("bad state")])
def test_a_picture_that_cannot_be_made_leaves_the_view_and_says_why(result, monkeypatch, error):
    def failing(*args, **kwargs):
        raise error

    monkeypatch.setattr(qvl_widget._still, "overlay_map", failing)
    data = bundle(result.widget(token=[4]))
    assert set(data) == {WIDGET_VIEW, "text/plain"}
    assert str(error) in data["text/plain"] and "run the notebook to interact" in data["text/plain"]


def test_maps_that_cannot_be_had_leave_the_view_and_say_why(result, monkeypatch):
    widget = result.widget(token=[4])

    def failing(*args, **kwargs):
        raise MemoryError("the layer mean needs 9 GiB")

    monkeypatch.setattr(widget._selections, "maps", failing)
    data = bundle(widget)
    assert set(data) == {WIDGET_VIEW, "text/plain"}
    assert "no still picture: MemoryError: the layer mean needs 9 GiB" in data["text/plain"]


def test_displaying_a_widget_needs_no_pyplot_and_no_model_stack(tmp_path):
    synthetic_result().save(tmp_path / "cat.npz")
    code = """
        import sys
        import qvl_widget
        from IPython.core.formatters import DisplayFormatter

        data, _ = DisplayFormatter().format(qvl_widget.AttentionResult.load("cat.npz").widget(phrase="cat"))
        heavy = [name for name in ("torch", "transformers", "matplotlib.pyplot") if name in sys.modules]
        print(sorted(data), heavy)
    """
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == f"{sorted([WIDGET_VIEW, 'image/png', 'text/plain'])} []"
