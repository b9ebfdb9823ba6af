"""The widget's front end in headless Chromium, with the real Python widget answering as the kernel."""

from __future__ import annotations

import io
import time

import matplotlib
import numpy as np
import pytest
from browser_support import (
    XSS_TEXTS,
    WidgetPage,
    expected_peak,
    synthetic_answer_result,
    synthetic_result,
    view_map,
)
from PIL import Image
from test_maps import with_extras

from qvl_widget import AttentionWidget
from qvl_widget._colormaps import colour_indices, lookup_table
from qvl_widget._figures import _percent
from qvl_widget._payload import Selections, decode_maps

pytestmark = pytest.mark.browser

CHAT_TEXTS = ("<|vision_end|>", "Where", " is", " the", " red", " cat", "?", "<|im_end|>", "\n", "<|im_start|>")


def percent(probability: float) -> str:
    """A probability as the view writes it: as the figures do (two significant digits under 10%)."""
    return _percent(float(probability))


def without_isolates(text: str) -> str:
    """Caption text without the bidi isolates (FSI, PDI) around each quoted token."""
    return text.replace("\u2068", "").replace("\u2069", "")


def test_hovered_token_hottest_cell_is_brightest_on_screen(page):
    result = synthetic_result()
    view = WidgetPage(page, [AttentionWidget(result, layer=0, colormap="gray", smooth=False)])
    for query in (0, 3, 4):
        view.hover_token(query)
        assert view.brightest_cell() == expected_peak(result, query, layer=0)
    assert view.blocked == []


def test_another_token_changes_the_pixels(page):
    view = WidgetPage(page, [AttentionWidget(synthetic_result(), layer=0)])
    view.hover_token(1)
    first = view.cell_colours()
    view.hover_token(2)
    assert not np.array_equal(first, view.cell_colours())


def test_layer_dropdown_asks_the_kernel_and_repaints(page):
    result = synthetic_result()
    widget = AttentionWidget(result, layer=0, colormap="gray", smooth=False)
    view = WidgetPage(page, [widget])
    view.token(2).click()  # pin token 2, so the overlay stays on it
    assert view.brightest_cell() == expected_peak(result, 2, layer=0)
    before = view.frames()
    page.select_option(".qvl-layer", "1")
    view.wait_for_frames_after(before)
    assert widget.layer == 1
    assert view.kernel_calls >= 2
    assert view.brightest_cell() == expected_peak(result, 2, layer=1)


def test_head_and_mean_choices_are_offered(page):
    result = synthetic_result(layers=3, heads=4)
    view = WidgetPage(page, [AttentionWidget(result, token=[1], colormap="gray", smooth=False)])
    layers = page.eval_on_selector_all(".qvl-layer option", "options => options.map(o => o.value)")
    heads = page.eval_on_selector_all(".qvl-head option", "options => options.map(o => o.value)")
    assert layers == ["0", "1", "2", "mean", "max"]
    assert heads == ["mean", "max", "0", "1", "2", "3"]
    assert page.eval_on_selector(".qvl-layer", "select => select.value") == "2"  # layer=-1 is the last layer
    assert view.brightest_cell() == expected_peak(result, 1, layer=2, head="mean")
    view.change(page.select_option, ".qvl-head", "max")
    assert view.widgets[0].head == "max"
    assert view.brightest_cell() == expected_peak(result, 1, layer=2, head="max")


def test_head_menu_shows_each_heads_map(page):
    result = synthetic_result()
    widget = AttentionWidget(result, layer=1, token=[2], colormap="gray", smooth=False)
    view = WidgetPage(page, [widget])
    for head in ("0", "1", "max", "mean"):
        view.change(page.select_option, ".qvl-head", head)
        choice = int(head) if head.isdigit() else head
        assert widget.head == choice
        assert view.brightest_cell() == expected_peak(result, 2, layer=1, head=choice), head
    assert "layer 1 · mean of heads" in page.text_content(".qvl-caption")


def test_layer_mean_of_the_head_max_reduces_heads_first(page):
    result = synthetic_result()
    view = WidgetPage(page, [AttentionWidget(result, layer="mean", head="max", colormap="gray", smooth=False)])
    for query in (0, 3, 4):
        view.hover_token(query)
        assert view.brightest_cell() == expected_peak(result, query, layer="mean", head="max")
    # The other order (the head max of the layer mean) would peak elsewhere.
    wrong = result.attention[:, :, 4].mean(axis=0).max(axis=0)
    assert divmod(int(np.argmax(wrong)), 6) != expected_peak(result, 4, layer="mean", head="max")


def test_click_pins_and_shift_click_shows_the_mean(page):
    result = synthetic_result()
    widget = AttentionWidget(result, layer=0, colormap="gray", smooth=False)
    view = WidgetPage(page, [widget])
    view.token(3).click()
    view.token(4).click(modifiers=["Shift"])
    page.mouse.move(5, 850)  # leave the strip: the pinned pair shows
    assert widget.selected == [3, 4]
    caption = page.text_content(".qvl-caption")
    assert "“ red” + “ cat”" in without_isolates(caption)
    colours = view.cell_colours()[..., 0].astype(int)
    peaks = {expected_peak(result, 3, 0), expected_peak(result, 4, 0)}
    brightest = {tuple(int(v) for v in np.unravel_index(i, colours.shape)) for i in np.argsort(colours.ravel())[-2:]}
    assert brightest == peaks
    assert page.locator(".qvl-pinned").count() == 2
    # The caption and the colour bar speak of the pair's mean too.
    share = result.image_mass[0].mean(axis=0)[[3, 4]].mean()
    assert f"{percent(share)} of attention on the image" in caption
    shown_maps, _ = decode_maps(Selections(result).payload(0, "mean"))  # the maps as the view has them (bytes)
    assert page.text_content(".qvl-colorbar-label:last-child") == percent(shown_maps[[3, 4]].mean(axis=0).max())
    assert page.text_content(".qvl-colorbar-meaning") == "share of the tokens' attention (mean):"  # a share of what


def test_clicking_the_pinned_token_again_unpins_it(page):
    widget = AttentionWidget(synthetic_result(), layer=0)
    view = WidgetPage(page, [widget])
    view.change(view.token(2).click)
    assert widget.selected == [2]
    view.change(view.token(2).click)
    assert widget.selected == []
    assert page.locator(".qvl-pinned").count() == 0


def test_phrase_argument_preselects_its_tokens(page):
    result = synthetic_result()
    view = WidgetPage(page, [AttentionWidget(result, layer=0, phrase="red cat", colormap="gray", smooth=False)])
    pinned = page.eval_on_selector_all(".qvl-pinned", "chips => chips.map(c => c.dataset.qvlToken)")
    assert pinned == ["3", "4"]
    assert "“ red” + “ cat”" in without_isolates(page.text_content(".qvl-caption"))
    # The first paint is the pair's mean: its two brightest cells are the two tokens' peaks.
    colours = view.cell_colours()[..., 0].astype(int)
    two = {tuple(int(v) for v in np.unravel_index(i, colours.shape)) for i in np.argsort(colours.ravel())[-2:]}
    assert two == {expected_peak(result, 3, 0), expected_peak(result, 4, 0)}


def test_keyboard_moves_between_tokens(page):
    result = synthetic_result()
    view = WidgetPage(page, [AttentionWidget(result, layer=0, colormap="gray", smooth=False)])
    view.token(0).focus()
    assert view.brightest_cell() == expected_peak(result, 0, 0)
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    focused = page.evaluate("document.activeElement.dataset.qvlToken")
    assert focused == "2"
    assert view.brightest_cell() == expected_peak(result, 2, 0)
    view.change(page.keyboard.press, "Enter")
    assert view.widgets[0].selected == [2]
    for key, token in (("ArrowLeft", "1"), ("End", "5"), ("Home", "0")):  # the hidden template token is skipped
        page.keyboard.press(key)
        assert page.evaluate("document.activeElement.dataset.qvlToken") == token, key
    # Every control of the toolbar says what it does to a screen reader.
    names = page.eval_on_selector_all(
        ".qvl-toolbar select, .qvl-toolbar input, .qvl-toolbar button", "nodes => nodes.map(n => n.ariaLabel)"
    )
    assert len(names) >= 8 and all(name and name.strip() for name in names), names


# Each toolbar control (by its class) and words its tooltip must say: what it does, for a newcomer.
TOOLTIPS = {
    "qvl-layer": "one of the model's stacked processing steps",
    "qvl-head": "one of the parallel attention patterns inside a layer",
    "qvl-unit": "each cell's share of the token's attention",
    "qvl-relative": "divided by the map of the baseline prompt",
    "qvl-drop-sinks": "Visual sinks: image tokens with a massive activation",
    "qvl-mark-sinks": "Outline the visual sinks",
    "qvl-head-overview": "A layers × heads grid",
    "qvl-colormap": "The colour scale of the maps",
    "qvl-style": "contour lines: lines around the smallest regions holding 25 %, 50 % and 75 %",
    "qvl-opacity": "How much the map covers the picture where attention is at the top of the scale",
    "qvl-smooth": "the map is smoothed between cells",
    "qvl-shared": "every token's map on one colour scale",
    "qvl-special": "the tokens the chat template adds",
    "qvl-producing": "Which row a token shows",
    "qvl-save": "Save each picture with its map laid over it as a PNG file",
}


def test_every_toolbar_control_shows_what_it_does_when_pointed_at(page):
    """Every control of the toolbar (each by name: a new one without a tooltip fails) has a tooltip that says what
    it does, shown when the pointer rests on its visible name or on the control itself."""
    result = with_extras(synthetic_answer_result())  # an answer, a baseline and sinks: every control is offered
    WidgetPage(page, [AttentionWidget(result, layer=0)])
    controls = page.eval_on_selector_all(
        ".qvl-toolbar select, .qvl-toolbar input, .qvl-toolbar button", "nodes => nodes.map(n => n.className)"
    )
    assert sorted(controls) == sorted(TOOLTIPS)
    for name, words in TOOLTIPS.items():
        control = page.locator(f".qvl-toolbar .{name}")
        assert control.is_visible(), name
        assert words in control.get_attribute("title"), name
        shown = control if name == "qvl-save" else page.locator(f"label.qvl-control:has(.{name}) .qvl-control-label")
        for target in (shown, control):
            target.hover()
            box = target.bounding_box()
            tooltip = page.evaluate(
                "([x, y]) => document.elementFromPoint(x, y).closest('[title]')?.title ?? ''",
                [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
            )
            assert words in tooltip, (name, tooltip)


def test_template_tokens_are_hidden_behind_a_toggle(page):
    WidgetPage(page, [AttentionWidget(synthetic_result())])
    special = page.locator("[data-qvl-token='6']")
    assert special.is_hidden()
    page.check(".qvl-special")
    assert special.is_visible()
    assert "qvl-special-token" in special.get_attribute("class")


def test_a_pinned_template_token_stays_visible(page):
    WidgetPage(page, [AttentionWidget(synthetic_result(), token=[6])])
    assert page.locator("[data-qvl-token='6']").is_visible()
    assert page.locator("[data-qvl-token='6']").get_attribute("aria-selected") == "true"


def test_hovering_an_image_cell_tints_tokens_by_attention_to_it(page):
    result = synthetic_result()
    WidgetPage(page, [AttentionWidget(result, layer=0)])
    rows, cols = result.images[0].rows, result.images[0].cols
    box = page.locator(".qvl-frame").bounding_box()
    for query in (1, 4, 2):  # peaks at (1, 4), (1, 1) and (2, 5): rows and columns cannot be confused
        row, col = expected_peak(result, query, layer=0)
        to_cell = [view_map(result, token, layer=0)[row * cols + col] for token in range(6)]  # the visible tokens
        assert int(np.argmax(to_cell)) == query  # the token attends most to its own peak cell
        page.mouse.move(box["x"] + (col + 0.5) / cols * box["width"], box["y"] + (row + 0.5) / rows * box["height"])
        alphas = page.eval_on_selector_all(
            ".qvl-token:not([hidden])",
            "chips => chips.map(c => Number(getComputedStyle(c).backgroundColor.split(',')[3]?.replace(')', '') ?? 1))",
        )
        assert int(np.argmax(alphas)) == query
        assert f"cell row {row}, col {col}" in page.text_content(".qvl-caption")


def test_xss_token_text_stays_inert(page):
    result = synthetic_result(texts=XSS_TEXTS, prompt="".join(XSS_TEXTS))
    WidgetPage(page, [AttentionWidget(result, token=[0, 1])])
    page.locator("[data-qvl-token='0']").hover()
    assert page.evaluate("window.__xss") is None
    assert page.locator(".qvl-widget img").count() == 1  # only the picture itself
    assert page.locator(".qvl-widget script").count() == 0
    texts = page.eval_on_selector_all(".qvl-token", "chips => chips.map(c => c.textContent)")
    assert texts == list(XSS_TEXTS)
    assert XSS_TEXTS[0] in page.text_content(".qvl-caption")


def test_save_png_downloads_the_composite_at_original_resolution(page):
    result = synthetic_result(grids=((4, 6), (3, 3)))
    widget = AttentionWidget(result, layer=0, width=240)
    WidgetPage(page, [widget])
    with page.expect_download() as first:
        page.click(".qvl-save")
    picture = Image.open(io.BytesIO(first.value.path().read_bytes()))
    assert picture.size == result.pictures[0].size  # 300 x 160, larger than the 240 px display
    assert widget.want_full_pictures and len(widget.full_pictures) == 2
    pixels = np.asarray(picture.convert("RGB")).astype(int)
    original = np.asarray(result.pictures[0]).astype(int)
    assert np.abs(pixels - original).mean() > 5  # the overlay is there


def test_two_images_each_get_an_overlay(page):
    result = synthetic_result(grids=((4, 6), (3, 5)))
    view = WidgetPage(page, [AttentionWidget(result, layer=0, colormap="gray", smooth=False)])
    assert page.locator("canvas.qvl-overlay").count() == 2
    view.hover_token(1)
    assert view.brightest_cell(image=0) == expected_peak(result, 1, 0, image=0)
    assert view.brightest_cell(image=1) == expected_peak(result, 1, 0, image=1)


def test_two_widgets_stay_independent(page):
    widgets = [AttentionWidget(synthetic_result()), AttentionWidget(synthetic_result())]
    view = WidgetPage(page, widgets)
    before = view.frames(view=1)
    view.hover_token(2, view=0)
    view.token(3, view=0).click()
    assert view.frames(view=1) == before
    assert widgets[1].selected == []
    assert page.locator("#view-1 .qvl-pinned").count() == 0


def test_one_widget_shown_twice_stays_in_sync(page):
    widget = AttentionWidget(synthetic_result(), layer=0)
    view = WidgetPage(page, [widget], placements=[0, 0])
    before = view.frames(view=1)
    view.token(3, view=0).click()
    view.wait_for_frames_after(before, view=1)
    assert page.locator("#view-1 .qvl-pinned").count() == 1
    page.select_option("#view-0 .qvl-layer", "1")
    page.wait_for_function("document.querySelector('#view-1 .qvl-layer').value === '1'")
    assert np.array_equal(view.cell_colours(view=0), view.cell_colours(view=1))


def test_tab_reaches_the_first_visible_token_when_the_first_is_a_hidden_template_token(page):
    WidgetPage(page, [AttentionWidget(synthetic_result(texts=CHAT_TEXTS), layer=0)])
    assert page.locator("[data-qvl-token='0']").is_hidden()
    stops = page.eval_on_selector_all(".qvl-token[tabindex='0']", "chips => chips.map(c => c.dataset.qvlToken)")
    assert stops == ["1"]
    page.focus(".qvl-save")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.qvlToken") == "1"
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.dataset.qvlToken") == "2"
    page.check(".qvl-special")
    page.uncheck(".qvl-special")  # the tab stop (token 2) stays on a visible chip through the toggle
    stops = page.eval_on_selector_all(".qvl-token[tabindex='0']", "chips => chips.map(c => c.dataset.qvlToken)")
    assert stops == ["2"]


def test_a_prompt_of_template_tokens_only_shows_them_and_a_real_scale(page):
    result = synthetic_result(texts=("<|vision_end|>", "<|im_end|>", "<|im_start|>"), prompt="")
    WidgetPage(page, [AttentionWidget(result, layer=0, shared_scale=True)])
    assert page.locator(".qvl-token:not([hidden])").count() == 3
    maps, _ = decode_maps(Selections(result).payload(0, "mean"))
    assert page.text_content(".qvl-colorbar-label:last-child") == percent(maps.max())  # the strongest token's top
    assert "all tokens" in page.text_content(".qvl-caption")


def test_the_gap_between_chips_keeps_the_hovered_token(page):
    view = WidgetPage(page, [AttentionWidget(synthetic_result(), layer=0)])
    view.hover_token(3)
    box = view.token(3).bounding_box()
    frames = view.frames()
    page.mouse.move(box["x"] + box["width"] + 1.5, box["y"] + box["height"] / 2)  # into the 3 px gap
    page.wait_for_timeout(50)
    assert view.frames() == frames  # no repaint to the all-tokens map and back
    assert "“ red”" in without_isolates(page.text_content(".qvl-caption"))


def test_a_very_tall_image_is_drawn_on_a_high_dpi_screen(browser):
    context = browser.new_context(device_scale_factor=2, viewport={"width": 900, "height": 900})
    try:
        page = context.new_page()
        result = synthetic_result(grids=((100, 1),))
        view = WidgetPage(page, [AttentionWidget(result, layer=0, colormap="gray", smooth=False)])
        sizes = page.eval_on_selector(".qvl-overlay", "c => [c.width, c.height]")
        assert max(sizes) <= 8192
        frame = page.locator(".qvl-frame").bounding_box()
        assert frame["height"] <= 2 * 512 + 1  # at most twice the widget width tall
        view.hover_token(2)
        assert view.brightest_cell() == expected_peak(result, 2, layer=0)
    finally:
        context.close()


def test_changing_the_width_resizes_the_pictures(page):
    view = WidgetPage(page, [AttentionWidget(synthetic_result(), layer=0, colormap="gray", smooth=False)])
    assert page.locator(".qvl-frame").bounding_box()["width"] == pytest.approx(512, abs=1)
    page.evaluate("window.qvlModels[0].apply({width: 240})")
    assert page.locator(".qvl-frame").bounding_box()["width"] == pytest.approx(240, abs=1)
    view.hover_token(4)  # the rebuilt overlay and its pointer listeners work
    assert view.brightest_cell() == expected_peak(synthetic_result(), 4, layer=0)
    box = page.locator(".qvl-frame").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.99, box["y"] + 2)
    assert "cell row 0, col 5" in page.text_content(".qvl-caption")


def test_a_narrow_page_shrinks_the_picture_without_distorting_it(page):
    page.set_viewport_size({"width": 300, "height": 800})
    WidgetPage(page, [AttentionWidget(synthetic_result(), layer=0)])
    box = page.locator(".qvl-frame").bounding_box()
    assert box["width"] < 300
    assert box["height"] == pytest.approx(box["width"] * 160 / 300, abs=1.5)  # the 300 x 160 picture's aspect
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_direction_override_in_a_token_cannot_reorder_the_caption(page):
    texts = ("Where", " \u202eevil", " cat", "<|im_end|>")
    WidgetPage(page, [AttentionWidget(synthetic_result(texts=texts), token=[1, 2])])
    caption = page.text_content(".qvl-caption")
    assert "“\u2068 \u202eevil\u2069” + “\u2068 cat\u2069”" in caption
    isolation = page.eval_on_selector("[data-qvl-token='1']", "c => getComputedStyle(c).unicodeBidi")
    assert isolation == "isolate"


def test_a_new_pixel_ratio_redraws_the_canvases_sharp(page):
    result = synthetic_result()
    view = WidgetPage(page, [AttentionWidget(result, layer=0, colormap="gray", smooth=False)])
    assert page.eval_on_selector(".qvl-cursor", "c => c.width") == 512  # the lines' canvases: the screen's pixels
    session = page.context.new_cdp_session(page)
    # As browser zoom does: more device pixels per CSS pixel, and fewer CSS pixels across (headless Chromium
    # re-evaluates media queries only when the size changes too).
    session.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": 1000, "height": 800, "deviceScaleFactor": 2, "mobile": False},
    )
    page.wait_for_function("document.querySelector('.qvl-cursor').width === 1024")
    view.hover_token(3)  # the new canvases paint and answer the pointer
    assert view.brightest_cell() == expected_peak(result, 3, layer=0)


def top_colour(colormap: str) -> tuple[int, ...]:
    """The colour a cell gets at the top of the scale: matplotlib's colour map at 1.0, as 8-bit RGB."""
    return tuple(int(value) for value in np.round(np.array(matplotlib.colormaps[colormap](1.0)[:3]) * 255))


def saved_pngs(page, count: int) -> list:
    """Click Save PNG and return the downloads it starts, in order, once `count` came (a minute at most: a guard
    against a hang, not a speed requirement)."""
    downloads = []

    def record(download) -> None:
        downloads.append(download)

    page.on("download", record)
    page.click(".qvl-save")
    page.wait_for_function("document.querySelector('.qvl-status').textContent === ''")  # the save is over
    deadline = time.monotonic() + 60
    while len(downloads) < count and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    page.wait_for_timeout(200)  # and no more than those
    page.remove_listener("download", record)
    return downloads


def test_save_png_saves_each_image_with_the_overlay_shown_on_screen(page):
    result = synthetic_result(grids=((4, 6), (3, 3)))
    widget = AttentionWidget(result, layer=0, token=[2], colormap="gray", smooth=False, width=240)
    view = WidgetPage(page, [widget])
    downloads = saved_pngs(page, 2)
    assert [download.suggested_filename for download in downloads] == [
        "qvl-attention-0-mean-image1.png",
        "qvl-attention-0-mean-image2.png",
    ]
    for image, download in enumerate(downloads):
        saved = Image.open(io.BytesIO(download.path().read_bytes())).convert("RGB")
        original = result.pictures[image]
        assert saved.size == original.size  # the original resolution, not the 240 px display
        geometry = result.images[image]
        screen = view.cell_colours(image=image).astype(float)  # the overlay alone: its colour and its opacity
        centres = [
            [
                ((col + 0.5) * saved.width / geometry.cols, (row + 0.5) * saved.height / geometry.rows)
                for col in range(geometry.cols)
            ]
            for row in range(geometry.rows)
        ]
        pixels = np.array([[saved.getpixel((int(x), int(y))) for x, y in line] for line in centres], dtype=float)
        picture = np.asarray(original, dtype=float)[0, 0]
        opacity = screen[..., 3:] / 255  # the overlay rule: each pixel's own, growing with its value
        blended = picture * (1 - opacity) + screen[..., :3] * opacity
        assert np.abs(pixels - blended).max() <= 2, f"image {image + 1}"
        assert divmod(int(np.argmax(pixels.sum(axis=-1))), geometry.cols) == expected_peak(result, 2, 0, image=image)


def test_shared_scale_puts_every_token_on_one_colour_scale(page):
    result = synthetic_result()
    widget = AttentionWidget(result, layer=0, token=[3], colormap="gray", smooth=False)
    view = WidgetPage(page, [widget])
    row, col = expected_peak(result, 3, layer=0)
    assert view.cell_colours()[row, col, 0] == 255  # its own scale: its peak wears the top colour
    strongest = max(view_map(result, query, layer=0).max() for query in range(6))  # the visible tokens
    shared = round(255 * view_map(result, 3, layer=0).max() / strongest)
    assert shared < 230  # token 3 is weaker than others

    view.change(page.check, ".qvl-shared")
    assert widget.shared_scale is True
    assert abs(int(view.cell_colours()[row, col, 0]) - shared) <= 2
    assert view.brightest_cell() == (row, col)
    view.change(page.uncheck, ".qvl-shared")
    assert widget.shared_scale is False
    assert view.cell_colours()[row, col, 0] == 255
    page.evaluate("window.qvlModels[0].apply({shared_scale: true})")  # the kernel sets it
    assert page.is_checked(".qvl-shared")
    assert abs(int(view.cell_colours()[row, col, 0]) - shared) <= 2


def test_colour_map_menu_repaints_in_that_colour_map(page):
    result = synthetic_result()
    widget = AttentionWidget(result, layer=0, token=[2], colormap="gray", smooth=False, opacity=1.0)  # exact colours
    view = WidgetPage(page, [widget])
    row, col = expected_peak(result, 2, layer=0)
    assert tuple(view.cell_colours()[row, col, :3]) == top_colour("gray")
    view.change(page.select_option, ".qvl-colormap", "viridis")
    assert widget.colormap == "viridis"
    assert tuple(view.cell_colours()[row, col, :3]) == top_colour("viridis")
    page.evaluate("window.qvlModels[0].apply({colormap: 'jet'})")  # the kernel sets it
    assert page.eval_on_selector(".qvl-colormap", "select => select.value") == "jet"
    assert tuple(view.cell_colours()[row, col, :3]) == top_colour("jet")


def test_hovering_never_goes_back_to_the_kernel(page):
    result = synthetic_result()
    view = WidgetPage(page, [AttentionWidget(result, layer=0, colormap="gray", smooth=False)])
    calls = view.kernel_calls
    for query in range(6):
        view.hover_token(query)
        assert view.brightest_cell() == expected_peak(result, query, layer=0)
    box = page.locator(".qvl-frame").bounding_box()
    for x, y in ((0.1, 0.1), (0.5, 0.5), (0.9, 0.8)):
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"])
    assert "tokens tinted by attention to it" in page.text_content(".qvl-caption")
    view.token(1).focus()
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.dataset.qvlToken") == "2"
    assert view.kernel_calls == calls
    assert view.custom_messages() == []


def test_a_full_interaction_uses_traits_only(page, monkeypatch):
    sent = []
    monkeypatch.setattr(AttentionWidget, "send", lambda self, content, buffers=None: sent.append(content))
    result = synthetic_result(grids=((4, 6), (3, 3)))
    widget = AttentionWidget(result, layer=0, colormap="gray", smooth=False)
    view = WidgetPage(page, [widget, AttentionWidget(result)], placements=[0, 0, 1])
    view.hover_token(3)
    view.change(view.token(3).click)
    view.change(view.token(4).click, modifiers=["Shift"])
    view.token(4).focus()
    view.change(page.keyboard.press, "Escape")
    view.change(page.select_option, ".qvl-layer", "mean")
    view.change(page.select_option, ".qvl-head", "max")
    view.change(page.select_option, ".qvl-colormap", "viridis")
    view.change(page.fill, ".qvl-opacity", "0.35")
    view.change(page.check, ".qvl-smooth")
    view.change(page.check, ".qvl-shared")
    view.change(page.check, ".qvl-special")
    box = page.locator(".qvl-frame").first.bounding_box()
    page.mouse.move(box["x"] + 5, box["y"] + 5)
    assert len(saved_pngs(page, 2)) == 2
    assert (widget.layer, widget.head, widget.colormap, widget.opacity) == ("mean", "max", "viridis", 0.35)
    assert (widget.smooth, widget.shared_scale, widget.show_special, widget.want_full_pictures) == (
        True,
        True,
        True,
        True,
    )
    assert view.custom_messages() == []
    assert sent == []


def test_shared_scale_counts_only_the_tokens_on_show(page):
    result = synthetic_result(texts=("<|vision_end|>", " red", " cat", " sat"))  # the template token is strongest
    view = WidgetPage(
        page, [AttentionWidget(result, layer=0, token=[1], shared_scale=True, colormap="gray", smooth=False)]
    )
    row, col = expected_peak(result, 1, layer=0)
    assert view.cell_colours()[row, col, 0] == 255  # token 1 is the strongest one shown
    view.change(page.check, ".qvl-special")
    dimmed = round(255 * view_map(result, 1, layer=0).max() / view_map(result, 0, layer=0).max())
    assert dimmed < 250
    assert abs(int(view.cell_colours()[row, col, 0]) - dimmed) <= 2


def test_opacity_slider_fades_the_overlays(page):
    """The opacity is the overlay's at the top of the scale: the alpha of the stronger image's peak (both images
    share the scale, so the other's peak is fainter)."""
    widget = AttentionWidget(synthetic_result(grids=((4, 6), (3, 3))), opacity=0.6, smooth=False)
    view = WidgetPage(page, [widget])

    def peak_alphas() -> list[int]:
        return sorted(int(view.cell_colours(image=image)[..., 3].max()) for image in (0, 1))

    faint, top = peak_alphas()
    assert top == 153 and 0 < faint < top  # floor(0.6 * 255 + 0.5)
    view.change(page.fill, ".qvl-opacity", "0.25")
    assert widget.opacity == 0.25
    assert peak_alphas()[1] == 64 and abs(peak_alphas()[0] - faint * 0.25 / 0.6) <= 1
    page.evaluate("window.qvlModels[0].apply({opacity: 0.8})")  # the kernel sets it
    assert page.eval_on_selector(".qvl-opacity", "input => input.value") == "0.8"
    assert peak_alphas()[1] == 204
    shown = "canvases => canvases.map(c => getComputedStyle(c).opacity)"
    assert page.eval_on_selector_all("canvas.qvl-overlay", shown) == ["1", "1"]  # the opacity is in the pixels


def test_smooth_switch_blends_neighbouring_cells(page):
    result = synthetic_result()
    widget = AttentionWidget(result, layer=0, token=[2], colormap="gray", smooth=False)
    view = WidgetPage(page, [widget])
    row, col = expected_peak(result, 2, layer=0)

    def edge_and_centre() -> list[int]:
        """Brightness at the peak cell's left edge (its first pixel), and at its centre."""
        return page.evaluate(
            """([row, col]) => {
                const canvas = document.querySelector("canvas.qvl-overlay");
                const width = canvas.width / 6, height = canvas.height / 4;
                const y = Math.floor((row + 0.5) * height);
                const at = (x) => canvas.getContext("2d").getImageData(Math.floor(x), y, 1, 1).data[0];
                return [at(col * width), at((col + 0.5) * width)];
            }""",
            [row, col],
        )

    edge, centre = edge_and_centre()
    assert edge == centre == 255  # blocky: the whole cell wears its colour
    view.change(page.check, ".qvl-smooth")
    assert widget.smooth is True
    edge, centre = edge_and_centre()
    assert edge < centre - 20  # smooth: the edge blends with the darker neighbour


def test_token_groups_get_labelled_strips_and_the_keyboard_crosses_them(page):
    """The view state's token groups (the prompt, and e.g. an answer) each get a labelled strip; hover, pins and
    the arrow keys work across them."""
    result = synthetic_result()
    widget = AttentionWidget(result, layer=0, colormap="gray", smooth=False)
    widget.groups = [{"name": "prompt", "label": "Prompt"}, {"name": "answer", "label": "Answer"}]
    widget.tokens = [dict(token, group=int(index >= 4)) for index, token in enumerate(widget.tokens)]
    view = WidgetPage(page, [widget])
    labels = page.eval_on_selector_all(".qvl-strip-label", "labels => labels.map(l => l.textContent)")
    assert labels == ["Prompt", "Answer"]
    strips = page.eval_on_selector_all(
        ".qvl-tokens", "strips => strips.map(s => [s.dataset.qvlGroup, [...s.children].map(c => c.dataset.qvlToken)])"
    )
    assert strips == [["prompt", ["0", "1", "2", "3"]], ["answer", ["4", "5", "6"]]]
    view.hover_token(4)
    assert view.brightest_cell() == expected_peak(result, 4, layer=0)
    view.token(3).focus()
    page.keyboard.press("ArrowRight")  # from the prompt's last visible token into the answer's first
    assert page.evaluate("document.activeElement.dataset.qvlToken") == "4"
    page.keyboard.press("Enter")
    assert widget.selected == [4]


def test_the_synthetic_result_gives_every_choice_its_own_numbers():
    """The test data say what the tests assume: each layer and head peaks on its own cell, the captured layers
    carry the ids they are given, and each row's image share exceeds its columns' sum by its own amount (so a
    view that reads the one for the other, or one head's share for another's, shows another number)."""
    result = synthetic_result(layers=3, heads=3, layer_ids=(3, 7, 11))
    assert result.layer_ids == (3, 7, 11)
    views = [(layer, head) for layer in range(3) for head in (0, 1, 2, "mean")]
    assert len({expected_peak(result, 2, layer, head) for layer, head in views}) == len(views)
    captured = result.attention.sum(axis=-1)
    assert (result.image_mass > captured + 0.005).all() and (result.image_mass < 1).all()
    assert len(np.unique(np.round(result.image_mass, 5))) >= 0.95 * result.image_mass.size


# ----- answers in the views --------------------------------------------------------------------------------------


def test_the_summary_averages_the_prompts_own_tokens_only(page):
    """Nothing hovered or pinned: the map, the colour scale and the caption are the mean of the prompt's own
    tokens, not of the answer's (nor the template's)."""
    result = synthetic_answer_result()
    view = WidgetPage(page, [AttentionWidget(result, layer=1, colormap="gray", smooth=False, opacity=1.0)])
    own = [index for index, token in enumerate(result.tokens) if token.part == "prompt" and not token.special]
    assert own == [0, 1, 2, 3, 4, 5]
    maps, mass = decode_maps(Selections(result).payload(1, "mean"))  # what the view has (bytes)
    expected = maps[own].mean(axis=0).reshape(result.images[0].rows, result.images[0].cols)
    levels = lookup_table("gray")[colour_indices(expected, expected.max()), 0].astype(int)
    assert np.abs(view.cell_colours()[..., 3].astype(int) - levels).max() <= 1  # at opacity 1, alpha is the level
    caption = page.text_content(".qvl-caption")
    assert f"all prompt tokens · {percent(mass[own].mean())} of attention on the image" in caption
    assert page.text_content(".qvl-colorbar-label:last-child") == percent(expected.max())


def test_a_generated_special_token_shows_its_text(page):
    result = synthetic_answer_result()  # the answer " A red cat" and the model's "<|im_end|>"
    view = WidgetPage(page, [AttentionWidget(result, layer=0, show_special=True)])
    chips = page.eval_on_selector_all(
        "[data-qvl-group='answer'] .qvl-token:not([hidden])", "chips => chips.map(c => c.textContent)"
    )
    assert chips == [" A", " red", " cat", "<|im_end|>"]
    view.hover_token(len(result.tokens) - 1)
    assert "while writing “<|im_end|>” (the model's probability 60%)" in without_isolates(
        page.text_content(".qvl-caption")
    )
