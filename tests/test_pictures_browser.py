"""What a reader sees in the browser (issue 25, item 5): the widget and the one-file HTML page (offline) keep the
demo picture's own colours where attention is low and let the heat dominate at the peak, draw the named object's
box where it is, say the share of attention inside it (updated on hover), and offer the contour style.

Screenshots of the picture (its frame: the picture, the overlay and the boxes as composited by the browser) at one
CSS pixel per pixel, the demo's 224-pixel picture shown 448 pixels wide (two screen pixels per picture pixel).
Colour differences are CIE76 ΔE in CIELAB (`picture_support.delta_e`)."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from browser_support import WidgetPage, synthetic_result
from picture_support import SAME_COLOUR, blended, cell_centre, delta_e, demo_capture, demo_grid, quiet_and_peak_cells
from PIL import Image

from qvl_widget import Box
from qvl_widget._boxes import box_words
from qvl_widget._colormaps import lookup_table
from qvl_widget._payload import decode_maps

pytestmark = pytest.mark.browser

WIDTH = 448  # CSS pixels: twice the demo picture's 224
FRAMES = "Number(document.querySelector('.qvl-widget')?.dataset.qvlFrames)"


def frame_screenshot(page, index: int = 0) -> np.ndarray:
    """The picture as composited on screen (picture, overlay, boxes), `[height, width, 3]`."""
    page.mouse.move(0, 0)  # no hovered cell: no cursor outline
    png = page.locator(".qvl-frame").nth(index).screenshot()
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def on_screen(shot: np.ndarray, points: list[tuple[int, int]], size: tuple[int, int]) -> np.ndarray:
    """The screenshot's pixels at picture points (x, y) of a picture of `size`."""
    scale_x, scale_y = shot.shape[1] / size[0], shot.shape[0] / size[1]
    return np.array([shot[int((y + 0.5) * scale_y), int((x + 0.5) * scale_x)] for x, y in points])


def away_from_boxes(points: list[tuple[int, int]], boxes, margin: float = 22) -> list[tuple[int, int]]:
    """The points further than `margin` picture pixels from every box's edges and name tag (measured by the box
    tests)."""

    def near(x: int, y: int, box) -> bool:
        return box.x0 - margin <= x <= box.x1 + margin and box.y0 - margin <= y <= box.y1 + margin

    return [point for point in points if not any(near(*point, box) for box in boxes)]


def measure_demo(shot: np.ndarray, example, result, view, opacity: float = 0.8) -> dict:
    """ΔE at the centre of every cell below 1 % of the peak (against the demo picture) and at the peak (against
    the top colour blended at `opacity`, and against the picture)."""
    picture, grid = np.asarray(example["image"]), demo_grid(result, view)
    size = example["image"].size
    quiet, peak = quiet_and_peak_cells(grid)
    points = away_from_boxes([cell_centre(cell, grid.shape, size) for cell in quiet], view["boxes"])
    low = delta_e(on_screen(shot, points, size), picture[[y for _, y in points], [x for x, _ in points]])
    x, y = cell_centre(peak, grid.shape, size)
    at_peak = on_screen(shot, [(x, y)], size)[0]
    top = blended(picture[y, x], lookup_table("inferno")[255], opacity)
    return {
        "quiet cells measured": len(points),
        "max ΔE where quiet": float(low.max()),
        "ΔE at the peak vs top colour": float(delta_e(at_peak, top)),
        "ΔE at the peak vs picture": float(delta_e(at_peak, picture[y, x])),
    }


def assert_readable(measured: dict, smooth: bool) -> None:
    assert measured["quiet cells measured"] >= 5
    assert measured["max ΔE where quiet"] < SAME_COLOUR
    assert measured["ΔE at the peak vs picture"] > 20
    if not smooth:  # blocky, the peak cell wears the top colour whole (smooth: a spot whose centre is a little less)
        assert measured["ΔE at the peak vs top colour"] < 3


def share_line(page, index: int = 0) -> str:
    return page.locator(".qvl-box-share").nth(index).text_content()


def assert_share_words(text: str, expected_share: float, area: float, name: str | None) -> None:
    """A caption's box line says the share `expected_share` (within what the view's one-byte maps round) and the
    area, in the words of `box_words`."""
    words = box_words(name, expected_share, area)
    prefix, numbers = text.split(": ", 1) if name else ("", text)
    assert prefix == (f"“{name}”" if name else "")
    shown_share = float(numbers.split(" % inside")[0])
    assert abs(shown_share - 100 * expected_share) <= 0.5 + 1e-6, (text, words)
    assert numbers.split(" inside, ")[1].split(":")[0] == words.split(" inside, ")[1].split(":")[0]  # the area


# ----- the widget ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("smooth", [True, False])
def test_the_widget_keeps_the_demo_pictures_colours_where_attention_is_low(browser, smooth):
    example, result, view = demo_capture()
    context = browser.new_context(viewport={"width": 1000, "height": 1200}, device_scale_factor=1)
    page = context.new_page()
    WidgetPage(page, [result.widget(**view, width=WIDTH, smooth=smooth)])
    measured = measure_demo(frame_screenshot(page), example, result, view)
    print(f"widget, demo, smooth={smooth}:", measured)
    assert_readable(measured, smooth)
    context.close()


def test_the_widget_draws_the_box_where_it_is_and_says_the_share_inside_it(browser):
    example, result, view = demo_capture()
    context = browser.new_context(
        viewport={"width": 1000, "height": 1200}, device_scale_factor=1, accept_downloads=True
    )
    page = context.new_page()
    widget = result.widget(**view, width=WIDTH, opacity=0.0)  # no heat: what changes is the box
    WidgetPage(page, [widget])
    assert_box_drawn(frame_screenshot(page), example, view["boxes"][0])
    (box,) = view["boxes"]
    share = box.share(demo_grid(result, view), example["image"].size)
    assert_share_words(share_line(page), share.inside, share.area, "circle")
    # Save PNG: the original resolution, with the box.
    with page.expect_download() as download:
        page.click(".qvl-save")
    saved = np.asarray(Image.open(download.value.path()).convert("RGB"))
    assert saved.shape[:2] == (224, 224)
    assert_box_drawn(saved, example, box)
    context.close()


def assert_box_drawn(shot: np.ndarray, example, box) -> None:
    """Pixels just outside the box's edges differ from the picture; pixels well inside and well outside (away
    from its name's tag above it) do not."""
    picture = np.asarray(example["image"])
    size = example["image"].size
    x0, y0, x1, y1 = (round(value) for value in (box.x0, box.y0, box.x1, box.y1))
    middle_x, middle_y = (x0 + x1) // 2, (y0 + y1) // 2
    edges = [(x0 - 1, middle_y), (x1, middle_y), (middle_x, y1)]
    calm = [
        (middle_x, middle_y),
        (middle_x - 8, middle_y),
        (middle_x, middle_y + 8),
        (x1 + 12, middle_y),
        (middle_x, y1 + 12),
    ]
    for points, differs in ((edges, True), (calm, False)):
        shown = on_screen(shot, points, size)
        distances = delta_e(shown, picture[[y for _, y in points], [x for x, _ in points]])
        assert (distances > 20).all() if differs else (distances < 2).all(), (points, distances)


def test_the_box_caption_follows_the_hovered_token(page):
    """The share is summed over the maps the view has (one byte a value: `_payload.py`) with the cells' overlaps
    Python sent; here it is summed directly, cell by cell, over the same maps."""
    result = synthetic_result()  # the prompt only: each token shows its own row
    box = Box(40, 30, 160, 110, "cat")
    widget = result.widget(layer=0, boxes=[box])
    view = WidgetPage(page, [widget])
    maps, _ = decode_maps(widget.maps_payload)  # [tokens, image tokens], as the view has them
    for token in (1, 4, 2):
        view.hover_token(token)
        share = box.share(maps[token].reshape(4, 6), (300, 160))
        assert_share_words(share_line(page), share.inside, share.area, "cat")
    before = view.frames()
    page.mouse.move(0, 800)  # nothing hovered: the prompt's own tokens
    view.wait_for_frames_after(before)
    share = box.share(maps[:6].mean(axis=0).reshape(4, 6), (300, 160))
    assert_share_words(share_line(page), share.inside, share.area, "cat")


def test_each_box_is_drawn_and_said_on_its_own_picture_only(page):
    result = synthetic_result(grids=((4, 6), (3, 3)))  # pictures 300 x 160 and 150 x 120
    view = WidgetPage(page, [result.widget(layer=0, token=[2], boxes=[Box(20, 20, 120, 100, "ball", image=1)])])
    lines = page.eval_on_selector_all(
        ".qvl-figure", "figures => figures.map(f => f.querySelectorAll('.qvl-box-share').length)"
    )
    assert lines == [0, 1]
    drawn = page.eval_on_selector_all(
        "canvas.qvl-boxes",
        """canvases => canvases.map(c => {
          const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
          let count = 0;
          for (let i = 3; i < data.length; i += 4) if (data[i] > 0) count++;
          return count;
        })""",
    )
    assert drawn[0] == 0 and drawn[1] > 0
    share = Box(20, 20, 120, 100).share(decode_maps(view.widgets[0].maps_payload)[0][2, 24:].reshape(3, 3), (150, 120))
    assert_share_words(share_line(page), share.inside, share.area, "ball")


def test_the_style_menu_draws_contour_lines_and_says_how_to_read_them(page):
    result = synthetic_result()
    widget = result.widget(layer=0, token=[3])
    view = WidgetPage(page, [widget])
    assert page.eval_on_selector(".qvl-style", "select => select.value") == "heat"
    assert page.text_content(".qvl-legend") == ""
    assert page.get_attribute(".qvl-style", "title").startswith("heat: the map in colour")
    view.change(page.select_option, ".qvl-style", "contour")
    assert widget.style == "contour"
    assert (
        page.text_content(".qvl-legend") == "lines enclose 25 % (thick), 50 % (thin) and 75 % (dashed) of the attention"
    )
    alphas = page.evaluate(
        """() => {
          const canvas = document.querySelector("canvas.qvl-overlay");
          const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
          const seen = new Set();
          for (let i = 3; i < data.length; i += 4) seen.add(data[i]);
          return [...seen].sort((a, b) => a - b);
        }"""
    )
    assert alphas == [0, 191, 255]  # untouched, halo, line: nothing in between (no heat)
    page.evaluate("window.qvlModels[0].apply({overlay_style: 'heat'})")  # the kernel sets it back
    assert page.eval_on_selector(".qvl-style", "select => select.value") == "heat"
    assert page.text_content(".qvl-legend") == ""


# ----- the HTML page, offline --------------------------------------------------------------------------------------


def open_page(page, path) -> None:
    page.goto(path.as_uri())
    page.wait_for_function(f"{FRAMES} > 0")


def test_the_html_page_keeps_the_demo_pictures_colours_and_draws_the_box_offline(browser, tmp_path):
    example, result, view = demo_capture()
    context = browser.new_context(viewport={"width": 1000, "height": 1400}, device_scale_factor=1)
    requests = []
    context.route(re.compile(r"^(https?|wss?)://"), lambda route: (requests.append(route.request.url), route.abort()))
    context.set_offline(True)
    page = context.new_page()
    open_page(page, result.to_html(tmp_path / "demo.html", **view, width=WIDTH))
    measured = measure_demo(frame_screenshot(page), example, result, view)
    print("HTML page, demo, smooth=True:", measured)
    assert_readable(measured, smooth=True)
    (box,) = view["boxes"]
    share = box.share(demo_grid(result, view), example["image"].size)
    assert_share_words(share_line(page), share.inside, share.area, "circle")
    blocky = result.to_html(tmp_path / "blocky.html", **view, width=WIDTH, smooth=False, opacity=0.0)
    open_page(page, blocky)
    assert_box_drawn(frame_screenshot(page), example, box)
    page.fill(".qvl-opacity", "0.8")
    page.wait_for_function("document.querySelector('.qvl-opacity').value === '0.8'")
    measured = measure_demo(frame_screenshot(page), example, result, view)
    print("HTML page, demo, smooth=False:", measured)
    assert_readable(measured, smooth=False)
    page.select_option(".qvl-style", "contour")  # the page's toolbar menu
    page.wait_for_function("document.querySelector('.qvl-legend').textContent.startsWith('lines enclose')")
    assert requests == []
    context.close()
