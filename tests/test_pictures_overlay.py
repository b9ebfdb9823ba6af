"""Overlays that keep the picture readable and boxes drawn on it (issue 25, items 1, 2 and 5), outside the browser:
the overlay rule is the same in Python and in the browser, the figures keep the demo picture's own colours where
attention is low, contour lines read in greyscale and enclose the shares they say, boxes are drawn where they are
and the share inside them is the direct sum, and every new argument is refused in one line.

Colour differences are CIE76 ΔE in CIELAB (`picture_support.delta_e`)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from browser_support import synthetic_result, synthetic_video_result
from picture_support import (
    SAME_COLOUR,
    blended,
    cell_centre,
    delta_e,
    demo_capture,
    demo_grid,
    lightness,
    quiet_and_peak_cells,
)
from PIL import Image

from qvl_widget import Box, figures
from qvl_widget._boxes import box_words, percent_words, ratio_words
from qvl_widget._colormaps import lookup_table
from qvl_widget._overlay import CONTOUR_LINES, contour_layer, contour_levels, heat_table, overlay_layer

ROOT = Path(__file__).resolve().parents[1]
needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")


def run_js(source: str, data) -> object:
    """Run an ES module body with `data` (JSON) in scope; it prints its answer as JSON."""
    script = f"const data = {json.dumps(data)};\n{source}"
    done = subprocess.run(
        ["node", "--input-type=module", "-e", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message and len(message) < 400, message
    return message


# ----- one rule, in Python and in the browser ------------------------------------------------------------------


@needs_node
@pytest.mark.parametrize("style", ["heat", "contour"])
@pytest.mark.parametrize("smooth", [True, False])
@pytest.mark.parametrize(("colormap", "opacity", "scale"), [("inferno", 0.8, 1.0), ("jet", 0.35, 2.0)])
def test_the_overlay_rule_gives_the_same_pixels_in_the_browser_and_in_python(style, smooth, colormap, opacity, scale):
    rng = np.random.default_rng(7)
    grid = (rng.random((5, 7)) ** 3).astype(np.float32)
    grid[4, 0] = 0.0  # a cell with nothing: transparent
    width, height, top = 83, 61, float(grid.max()) * 0.9  # not a multiple of the grid; values above the scale
    python = overlay_layer(grid, (width, height), lookup_table(colormap), opacity, smooth, top, style, scale)
    style_js = {"colormap": colormap, "opacity": opacity, "smooth": smooth, "style": style, "scale": scale}
    browser = run_js(
        'import { overlayPixels } from "./js/overlay.js";\n'
        "console.log(JSON.stringify(Array.from(overlayPixels(data.values, 5, 7, 83, 61, data.top, data.style))));",
        {"values": [float(value) for value in grid.ravel()], "top": top, "style": style_js},
    )
    np.testing.assert_array_equal(np.array(browser, dtype=np.uint8).reshape(height, width, 4), python)
    assert (python[..., 3] > 0).any() and (python[..., 3] == 0).any()  # something drawn, something left as it is


@needs_node
def test_contour_levels_and_box_words_are_the_same_in_the_browser_and_in_python():
    rng = np.random.default_rng(3)
    grid = (rng.random(40) ** 4).astype(np.float32)
    shares = [line.share for line in CONTOUR_LINES]
    levels = run_js(
        'import { contourLevels } from "./js/overlay.js";\n'
        "console.log(JSON.stringify(contourLevels(data.values, data.shares)));",
        {"values": [float(value) for value in grid], "shares": shares},
    )
    assert levels == contour_levels(grid, tuple(shares))
    values = [0.0, 1e-5, 0.00049, 0.0005, 0.0009, 0.00095, 0.0123, 0.0995, 0.1, 0.62, 0.9999, 1.0]
    ratios = [0.0, 0.04, 0.05, 0.95, 6.85, 6.949, 9.949, 9.95, 10.0, 12.5, 123.4]
    words = run_js(
        'import { boxWords, percentWords, ratioWords } from "./js/boxes.js";\n'
        "console.log(JSON.stringify([data.values.map(percentWords), data.ratios.map(ratioWords), "
        'boxWords("circle", 0.62, 0.09), boxWords(null, 0.3, 0.1), boxWords("x", NaN, 0.5)]));',
        {"values": values, "ratios": ratios},
    )
    assert words == [
        [percent_words(value) for value in values],
        [ratio_words(ratio) for ratio in ratios],
        box_words("circle", 0.62, 0.09),
        box_words(None, 0.3, 0.1),
        box_words("x", float("nan"), 0.5),
    ]
    assert box_words("circle", 0.62, 0.09) == "“circle”: 62 % inside, 9 % of the area: 6.9× uniform"


def test_the_heat_is_transparent_where_attention_is_low_and_opaque_at_opacity_at_the_top():
    table = heat_table(lookup_table("inferno"), 0.8)
    assert table[0, 3] == 0 and table[255, 3] == 204  # floor(0.8 * 255 + 0.5)
    assert (np.diff(table[:, 3].astype(int)) >= 0).all()  # opacity grows with the value
    np.testing.assert_array_equal(table[:, :3], lookup_table("inferno"))
    grid = np.array([[0.0, 0.5], [1.0, 0.25]])
    layer = overlay_layer(grid, (2, 2), lookup_table("gray"), 0.5, False, 1.0)
    assert layer[..., 3].tolist() == [[0, 64], [128, 32]]  # alpha = floor(0.5 * index + 0.5)
    assert layer[..., 0].tolist() == [[0, 128], [255, 64]]  # the colour of the value


# ----- the figures keep the demo picture's colours (item 5a) -----------------------------------------------------


def demo_measurements(shown: np.ndarray, picture: np.ndarray, grid: np.ndarray, opacity: float) -> dict:
    """ΔE at the centre of every cell below 1 % of the peak (against the picture) and at the peak (against the top
    colour blended at `opacity`, and against the picture) of `shown`, a picture of the same size as `picture`."""
    quiet, peak = quiet_and_peak_cells(grid)
    size = (picture.shape[1], picture.shape[0])
    low = [delta_e(shown[y, x], picture[y, x]) for x, y in (cell_centre(cell, grid.shape, size) for cell in quiet)]
    x, y = cell_centre(peak, grid.shape, size)
    top = blended(picture[y, x], lookup_table("inferno")[255], opacity)
    return {
        "quiet cells": len(quiet),
        "max ΔE where quiet": max(low),
        "ΔE at the peak vs top colour": float(delta_e(shown[y, x], top)),
        "ΔE at the peak vs picture": float(delta_e(shown[y, x], picture[y, x])),
    }


def test_overlay_on_image_keeps_the_demo_pictures_colours_where_attention_is_low():
    example, result, view = demo_capture()
    picture, grid = np.asarray(example["image"]), demo_grid(result, view)
    for smooth in (True, False):
        shown = np.asarray(figures.overlay_on_image(example["image"], grid, smooth=smooth))  # inferno, alpha 0.8
        measured = demo_measurements(shown, picture, grid, 0.8)
        print(f"overlay_on_image, demo, smooth={smooth}:", measured)
        assert measured["quiet cells"] >= 5
        assert measured["max ΔE where quiet"] < SAME_COLOUR
        # The heat dominates the peak: inferno's top at opacity 0.8 (exactly, on blocky cells; smooth, the centre
        # pixel's value is a little under the cell's, 28 px a cell).
        assert measured["ΔE at the peak vs top colour"] < (SAME_COLOUR if smooth else 1)
        assert measured["ΔE at the peak vs picture"] > 20  # pale yellow over pale green: still another colour
    # The orange circle stays orange and the red triangle red where attention is low.
    for x, y in ((int((example["bbox"][0] + example["bbox"][2]) / 2), int(example["bbox"][1] + 5)), (12, 12)):
        assert delta_e(shown[y, x], picture[y, x]) < SAME_COLOUR


def rendered(figure) -> np.ndarray:
    """The figure drawn at its dpi, `[height, width, 3]`."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure.set_dpi(200)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3]


def panel_pixels(figure, pixels: np.ndarray, axes, points: list[tuple[int, int]]) -> np.ndarray:
    """The rendered figure's pixels at `points` (x, y) of the picture shown on `axes`."""
    height = pixels.shape[0]
    out = []
    for x, y in points:
        u, v = axes.transData.transform((x, y))
        out.append(pixels[int(height - v), int(u)])
    return np.array(out)


def test_a_rendered_layers_figure_keeps_the_demo_pictures_colours_where_attention_is_low():
    example, result, view = demo_capture()
    picture, grid = np.asarray(example["image"]), demo_grid(result, view)
    quiet, peak = quiet_and_peak_cells(grid)
    size = example["image"].size
    points = [cell_centre(cell, grid.shape, size) for cell in quiet]
    x, y = cell_centre(peak, grid.shape, size)
    top = blended(picture[y, x], lookup_table("inferno")[255], 0.8)
    for smooth in (True, False):
        figure = figures.layers_figure(result, token=view["token"], producing=True, head=view["head"], smooth=smooth)
        pixels = rendered(figure)
        (overlay,) = [axes for axes in figure.axes if axes.get_gid() == f"overlay-{view['layer']}"]
        low = delta_e(
            panel_pixels(figure, pixels, overlay, points), picture[[py for _, py in points], [px for px, _ in points]]
        )
        at_peak = panel_pixels(figure, pixels, overlay, [(x, y)])[0]
        print(
            f"layers_figure panel, demo, smooth={smooth}: max ΔE where quiet {low.max():.2f}, at the peak vs top "
            f"colour {delta_e(at_peak, top):.2f}, vs picture {delta_e(at_peak, picture[y, x]):.2f}"
        )
        assert low.max() < SAME_COLOUR
        assert delta_e(at_peak, picture[y, x]) > 20
        if not smooth:  # the peak cell wears the top colour whole (smooth, it is a small spot, resampled)
            assert delta_e(at_peak, top) < 2


def test_frames_figure_draws_its_overlays_by_the_same_rule():
    result = synthetic_video_result(groups=2)
    figure = figures.frames_figure(result, layer=0, style="contour", smooth=False)
    grid = result.grid(layer=0)
    for group, axes in enumerate(axes for axes in figure.axes if (axes.get_gid() or "").startswith("group-")):
        (image,) = axes.images
        expected = figures.overlay_on_image(result.picture(0, group), grid[group], style="contour", smooth=False)
        changed = np.asarray(image.get_array()) != np.asarray(result.picture(0, group))
        assert changed.any()  # lines drawn
        # The same lines where overlay_on_image draws them (their width follows the panel's print size).
        assert (changed.any(axis=-1) <= _dilated(np.asarray(expected) != np.asarray(result.picture(0, group)), 6)).all()
    assert figures.overlay_on_image(result.picture(0, 0), grid[0]).size == result.picture(0, 0).size


def _dilated(mask: np.ndarray, radius: int) -> np.ndarray:
    """Pixels within `radius` (Chebyshev) of a True pixel of `mask` (`[h, w]` or `[h, w, 3]`, any channel)."""
    flat = mask.any(axis=-1) if mask.ndim == 3 else mask
    out = np.zeros_like(flat)
    height, width = flat.shape
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            shifted = np.zeros_like(flat)
            ys, xs = slice(max(0, dy), height + min(0, dy)), slice(max(0, dx), width + min(0, dx))
            ys_from, xs_from = slice(max(0, -dy), height - max(0, dy)), slice(max(0, -dx), width - max(0, dx))
            shifted[ys, xs] = flat[ys_from, xs_from]
            out |= shifted
    return out


# ----- contour lines (item 5d) -------------------------------------------------------------------------------------

PLATEAUS = np.zeros((12, 12))
PLATEAUS[:] = 0.20 / 80  # outside: 80 cells holding 20 % of the mass
PLATEAUS[2:10, 2:10] = 0.25 / 48  # a ring of 48 cells holding 25 %
PLATEAUS[4:8, 4:8] = 0.25 / 12  # a ring of 12 cells holding 25 %
PLATEAUS[5:7, 5:7] = 0.30 / 4  # the centre: 4 cells holding 30 %
LINE_CONTRAST = 40  # L* between a line pixel and the lightest pixel within its band (line + halo)


def lines_around(drawn: np.ndarray, x: int, y: int) -> int:
    """How many drawn bands lie around (x, y): the fewest a straight walk to an edge of the picture (up, down, left
    or right) crosses, each band once (for nested lines, the number that enclose the point)."""
    walks = (drawn[: y + 1, x][::-1], drawn[y:, x], drawn[y, : x + 1][::-1], drawn[y, x:])
    return min(int(walk[0]) + int((walk[1:] & ~walk[:-1]).sum()) for walk in walks)


def test_contour_lines_enclose_the_smallest_regions_holding_25_50_and_75_percent():
    cell = 20  # pixels a cell: every cell centre lies 10 px from the nearest line
    layer = contour_layer(PLATEAUS, (12 * cell, 12 * cell), smooth=False, scale=1.0)
    drawn = layer[..., 3] > 0
    depth = np.array(
        [
            [lines_around(drawn, col * cell + cell // 2, row * cell + cell // 2) for col in range(12)]
            for row in range(12)
        ]
    )
    total = PLATEAUS.sum()
    for inside_lines, share in ((3, 0.25), (2, 0.5), (1, 0.75)):  # the innermost line encloses 25 %
        enclosed = depth >= inside_lines
        mass = PLATEAUS[enclosed].sum() / total
        level = PLATEAUS[enclosed].min()
        assert mass >= share - 1e-9, (share, mass)
        stronger, at_least = PLATEAUS > level, PLATEAUS >= level  # noqa: SIM300 (arrays)
        assert PLATEAUS[stronger].sum() / total < share  # and no smaller set of the top cells does
        np.testing.assert_array_equal(enclosed, at_least)  # the lines follow the regions
    assert depth.max() == 3 and (depth == 0).sum() == 80


def test_contour_lines_are_told_apart_and_read_in_greyscale():
    layer = contour_layer(PLATEAUS, (240, 240), smooth=False, scale=1.0)
    line, halo = (layer[..., 3] == 255), (layer[..., 3] == 191)
    # Three widths: the 25 % line (the centre square's edge, at x = 100) is 4 px wide, the 50 % line 2 px, the 75 %
    # line 2 px and dashed.
    across = line[120, 60:180]  # the 50 % and the 25 % lines, left and right of the centre
    runs = np.flatnonzero(np.diff(np.concatenate([[0], across.astype(int), [0]])))
    widths = (runs[1::2] - runs[::2]).tolist()
    assert widths == [2, 4, 4, 2]
    top_edge = line[40 - 1 : 40 + 1, 40:200].any(axis=0)  # the 75 % line along the ring's top edge
    assert 0.3 < top_edge.mean() < 0.7  # dashed
    assert line[80 - 1 : 80 + 1, 80:160].any(axis=0).all()  # the 50 % line: solid
    # Greyscale: on a black, a white and the demo picture, every line pixel is at least LINE_CONTRAST (L*) darker
    # than the lightest pixel of its band, so the lines show whatever the picture.
    example, _, _ = demo_capture()
    for picture in (
        np.zeros((240, 240, 3), np.uint8),
        np.full((240, 240, 3), 255, np.uint8),
        np.asarray(example["image"].resize((240, 240))),
    ):
        shown = np.asarray(figures.overlay_on_image(picture, PLATEAUS, style="contour", smooth=False))
        grey = lightness(shown)
        lightest_near = np.max(
            [np.roll(grey, (dy, dx), axis=(0, 1)) for dy in range(-3, 4) for dx in range(-3, 4)], axis=0
        )
        contrast = (lightest_near - grey)[line & ~_border(240, 4)]
        assert contrast.min() >= LINE_CONTRAST, contrast.min()
        untouched = ~(line | halo)
        np.testing.assert_array_equal(shown[untouched], picture[untouched])  # between the lines: the picture


def _border(size: int, width: int) -> np.ndarray:
    mask = np.zeros((size, size), bool)
    mask[:width], mask[-width:], mask[:, :width], mask[:, -width:] = True, True, True, True
    return mask


def test_a_map_without_mass_draws_no_lines_and_no_heat():
    picture = Image.new("RGB", (40, 30), (120, 80, 200))
    for style in ("heat", "contour"):
        shown = figures.overlay_on_image(picture, np.zeros((3, 4)), style=style)
        np.testing.assert_array_equal(np.asarray(shown), np.asarray(picture))


# ----- boxes: drawn where they are (5b), the share inside them (5c) ------------------------------------------------


def test_a_box_outline_is_drawn_where_the_box_is():
    example, result, view = demo_capture()
    (box,) = view["boxes"]
    assert (box.x0, box.y0, box.x1, box.y1) == tuple(example["bbox"]) and box.label == "circle"
    picture = np.asarray(example["image"])
    shown = np.asarray(figures.overlay_on_image(example["image"], demo_grid(result, view), alpha=0.0, boxes=[box]))
    x0, y0, x1, y1 = (round(value) for value in (box.x0, box.y0, box.x1, box.y1))
    middle_x, middle_y = (x0 + x1) // 2, (y0 + y1) // 2
    edges = [(x0 - 2, middle_y), (x1 + 1, middle_y), (middle_x, y1 + 1)]  # just outside the left, right, bottom
    inside = [(middle_x, middle_y), (x0 + 4, y0 + 4), (x1 - 5, y1 - 5)]
    outside = [(x1 + 12, middle_y), (middle_x, y1 + 12), (x0 - 12, y1 + 12)]  # away from the name's tag above
    for x, y in edges:
        assert delta_e(shown[y, x], picture[y, x]) > 20, (x, y)
    for x, y in inside + outside:
        assert delta_e(shown[y, x], picture[y, x]) < 1, (x, y)
    # Its name on a tag above it: dark pixels just above the top-left corner.
    assert lightness(shown[y0 - 10 : y0 - 4, x0 : x0 + 20]).min() < 25


def test_the_share_inside_a_box_is_the_direct_sum_of_its_cells_overlap():
    rng = np.random.default_rng(11)
    size = (300, 160)
    for _ in range(25):
        grid = rng.random((4, 6))
        x0, x1 = sorted(rng.uniform(-40, 340, 2))
        y0, y1 = sorted(rng.uniform(-20, 180, 2))
        if x1 <= 0 or y1 <= 0 or x0 >= 300 or y0 >= 160:
            continue
        share = Box(x0, y0, x1, y1).share(grid, size)
        inside = 0.0
        for row in range(4):
            for col in range(6):
                left, right = col * 50, (col + 1) * 50
                top, bottom = row * 40, (row + 1) * 40
                overlap = max(0, min(x1, right) - max(x0, left)) * max(0, min(y1, bottom) - max(y0, top))
                inside += grid[row, col] * overlap / (50 * 40)
        area = (min(x1, 300) - max(x0, 0)) * (min(y1, 160) - max(y0, 0)) / (300 * 160)
        assert share.inside == pytest.approx(inside / grid.sum())
        assert share.area == pytest.approx(area)
        assert share.ratio == pytest.approx(inside / grid.sum() / area)


def test_the_figures_say_the_share_inside_each_box():
    _, result, view = demo_capture()
    (box,) = view["boxes"]
    figure = figures.layers_figure(result, token=view["token"], producing=True, head=view["head"], boxes=[box])
    size = result.images[0].original_size
    for layer in range(result.num_layers - 4, result.num_layers):
        (overlay,) = [axes for axes in figure.axes if axes.get_gid() == f"overlay-{layer}"]
        grid = result.grid(token=view["token"], producing=True, layer=layer, head=view["head"])
        share = box.share(grid, size)
        percent, ratio = overlay.get_xlabel().replace(" inside", "").split(" · ")
        assert abs(float(percent.rstrip(" %")) - 100 * share.inside) <= 0.5
        assert abs(float(ratio.rstrip("×")) - share.ratio) <= 0.05 + 0.5 * (share.ratio >= 10)
        assert [patch.get_gid() for patch in overlay.patches] == ["box"]
    original = next(axes for axes in figure.axes if axes.get_title() == "image")
    assert original.get_xlabel() == f"“circle”:\n{percent_words(box.share(grid, size).area)} of the area"
    assert [text.get_text() for text in original.texts] == ["circle"]
    assert "share of its attention inside the box" in figure.get_supxlabel()


def test_a_videos_box_is_on_every_groups_frame():
    result = synthetic_video_result(groups=3, image=(3, 3))  # image 0, then the video (image 1), 1200 x 800 frames
    box = Box(300, 200, 900, 600, label="ball", image=1)
    figure = figures.frames_figure(result, layer=0, boxes=[box])
    grid = result.grid(layer=0, image=1)
    shown = [axes for axes in figure.axes if (axes.get_gid() or "").startswith("group-")]
    assert len(shown) == 3
    for group, axes in enumerate(shown):
        assert [patch.get_gid() for patch in axes.patches] == ["box"]
        assert axes.get_xlabel().split(" · ")[0].removesuffix(" inside") == percent_words(
            box.share(grid[group], (1200, 800)).inside
        )
    assert "“ball”: 25 % of the area" in figure.get_supxlabel()
    one = figures.layers_figure(result, image=1, group=2, boxes=[box])
    assert all(len(axes.patches) == 1 for axes in one.axes if (axes.get_gid() or "").startswith("overlay-"))


# ----- every new argument: one line, before any work ---------------------------------------------------------------

BAD_BOXES = [
    ((5, 5, 40, 40), TypeError, "boxes must be a list of boxes"),
    (Box(5, 5, 40, 40), TypeError, "boxes must be a list of boxes"),
    ([(5, 5, 40)], TypeError, "boxes[0] must be a box: (x0, y0, x1, y1)"),
    (["5,5,40,40"], TypeError, "boxes[0] must be a box"),
    ([{"x0": 5}], TypeError, "boxes[0] must be a box"),
    ([(40, 5, 5, 40)], ValueError, "boxes[0] (40, 5, 5, 40) is inverted or empty: pass x0 < x1 and y0 < y1"),
    ([(5, 5, 5, 40)], ValueError, "is inverted or empty"),
    ([(5, float("nan"), 40, 40)], ValueError, "boxes[0]'s y0 must be a finite number of pixels"),
    ([(5, 5, float("inf"), 40)], ValueError, "boxes[0]'s x1 must be a finite number"),
    ([(5, "5", 40, 40)], TypeError, "boxes[0]'s y0 must be a finite number"),
    ([(5, 5, 40, 40, 7)], TypeError, "boxes[0]'s label must be a str or None, not int 7"),
    (
        [(1, 1, 2, 2), (500, 5, 600, 40)],
        ValueError,
        "boxes[1] (500, 5, 600, 40) lies outside image 0, which is 300 x 160",
    ),
    ([(-50, -50, -1, 10)], ValueError, "lies outside image 0"),
    ([Box(5, 5, 40, 40, image=1)], IndexError, "boxes[0]'s image 1 is out of range: there is 1 image"),
]


@pytest.mark.parametrize(("boxes", "kind", "fragment"), BAD_BOXES, ids=[case[2][:40] for case in BAD_BOXES])
def test_bad_boxes_get_one_line_from_every_entry_point(tmp_path, boxes, kind, fragment):
    result = synthetic_result()  # one 300 x 160 image
    calls = {
        "widget": lambda: result.widget(boxes=boxes),
        "to_html": lambda: result.to_html(tmp_path / "page.html", boxes=boxes),
        "overlay_on_image": lambda: figures.overlay_on_image(result.pictures[0], result.grid(), boxes=boxes),
        "layers_figure": lambda: figures.layers_figure(result, boxes=boxes),
    }
    for name, call in calls.items():
        with pytest.raises(kind) as raised:
            call()
        assert fragment in one_line(raised), name
    assert not list(tmp_path.iterdir())  # nothing written


def test_bad_box_fields_are_refused_where_a_box_is_made():
    with pytest.raises(ValueError, match="inverted") as raised:
        Box(10, 10, 5, 20)
    assert one_line(raised).startswith("Box (10, 10, 5, 20) is inverted or empty")
    with pytest.raises(TypeError) as raised:
        Box(0, 0, 5, 5, image=1.0)
    assert "Box's image must be an index into result.images (an int), not float 1.0" in one_line(raised)
    with pytest.raises(ValueError, match="got shape"):
        Box(0, 0, 5, 5).share(np.zeros((2, 3, 4)), (10, 10))
    for size in ((10,), (10, 0), "10x10", (10.5, 10), None):
        with pytest.raises(TypeError) as raised:
            Box(0, 0, 5, 5).share(np.ones((2, 3)), size)
        assert one_line(raised).startswith("size must be the image's (width, height) in pixels")


def test_a_figure_of_another_image_than_the_boxes_says_so():
    result = synthetic_video_result(groups=2, image=(3, 3))
    with pytest.raises(ValueError, match="boxes are on image 0") as raised:
        figures.frames_figure(result, boxes=[(5, 5, 50, 50)])  # image 0 is the picture, the video is image 1
    assert "boxes are on image 0 and this figure shows image 1: give its boxes as Box(x0, y0, x1, y1" in one_line(
        raised
    )


@pytest.mark.parametrize("style", ["lines", None, 1, ["heat"]])
def test_a_bad_style_gets_one_line_from_every_entry_point(tmp_path, style):
    result = synthetic_result()
    kind = ValueError if isinstance(style, str) else TypeError
    calls = {
        "widget": lambda: result.widget(style=style),
        "to_html": lambda: result.to_html(tmp_path / "page.html", style=style),
        "overlay_on_image": lambda: figures.overlay_on_image(result.pictures[0], result.grid(), style=style),
        "layers_figure": lambda: figures.layers_figure(result, style=style),
        "frames_figure": lambda: figures.frames_figure(synthetic_video_result(), style=style),
    }
    for name, call in calls.items():
        with pytest.raises(kind) as raised:
            call()
        assert one_line(raised).startswith("style must be 'heat' (the map in colour"), name
    assert not list(tmp_path.iterdir())


def test_the_widgets_style_and_boxes_are_checked_when_set_from_python():
    result = synthetic_result()
    widget = result.widget()
    assert (widget.style, widget.boxes, widget.opacity, widget.colormap) == ("heat", [], 0.8, "inferno")
    widget.style = "contour"
    widget.boxes = [(0, 0, 100, 80, "cat")]
    assert widget.style == "contour" and widget.boxes[0]["name"] == "cat" and widget.boxes[0]["cells"] == [0, 1, 6, 7]
    assert widget.boxes[0]["fractions"] == [1.0, 1.0, 1.0, 1.0] and widget.boxes[0]["area"] == pytest.approx(1 / 6)
    for name, value, fragment in (
        ("style", "lines", "style must be 'heat'"),
        ("boxes", [(0, 0, 100)], "boxes[0] must be a box"),
        ("boxes", [(0, 0, 1000, 10)], None),  # partly outside: clipped, not refused
    ):
        if fragment is None:
            setattr(widget, name, value)
            assert widget.boxes[0]["x1"] == 300.0
            continue
        with pytest.raises((TypeError, ValueError)) as raised:
            setattr(widget, name, value)
        assert fragment in one_line(raised)


def test_the_widgets_still_picture_draws_its_style_and_its_boxes():
    """The still picture (for hosts without the front end) draws its overlay and boxes as overlay_on_image does."""
    import base64
    import io

    result = synthetic_result()  # one 300 x 160 picture: shown at its own size in a 300-pixel view
    box = (100, 40, 200, 120, "cat")
    grid = result.grid(token=3, layer=0)
    for style in ("heat", "contour"):
        bundle = result.widget(token=[3], layer=0, style=style, boxes=[box], width=300)._repr_mimebundle_()[0]
        still = np.asarray(Image.open(io.BytesIO(base64.b64decode(bundle["image/png"]))).convert("RGB"))
        expected = np.asarray(figures.overlay_on_image(result.pictures[0], grid, style=style, boxes=[box]))
        assert np.abs(still[:160, :300].astype(int) - expected).max() <= 1, style
        assert delta_e(still[80, 97], result.pictures[0].getpixel((97, 80))) > 20  # the box's band, left of it
