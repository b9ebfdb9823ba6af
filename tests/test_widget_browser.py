"""The widget's front end in headless Chromium, with the real Python widget answering as the kernel."""

from __future__ import annotations

import io

import numpy as np
import pytest
from browser_support import XSS_TEXTS, WidgetPage, expected_peak, synthetic_result
from PIL import Image

from qvl_widget import AttentionWidget

pytestmark = pytest.mark.browser

CHAT_TEXTS = ("<|vision_end|>", "Where", " is", " the", " red", " cat", "?", "<|im_end|>", "\n", "<|im_start|>")


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
    view = WidgetPage(page, [AttentionWidget(synthetic_result(layers=3, heads=4))])
    layers = page.eval_on_selector_all(".qvl-layer option", "options => options.map(o => o.value)")
    heads = page.eval_on_selector_all(".qvl-head option", "options => options.map(o => o.value)")
    assert layers == ["0", "1", "2", "mean"]
    assert heads == ["mean", "max", "0", "1", "2", "3"]
    assert page.eval_on_selector(".qvl-layer", "select => select.value") == "2"  # layer=-1 is the last layer
    page.select_option(".qvl-head", "max")
    page.wait_for_function("() => true")
    assert view.widgets[0].head == "max"


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


def test_phrase_argument_preselects_its_tokens(page):
    view = WidgetPage(page, [AttentionWidget(synthetic_result(), phrase="red cat")])
    pinned = page.eval_on_selector_all(".qvl-pinned", "chips => chips.map(c => c.dataset.qvlToken)")
    assert pinned == ["3", "4"]
    assert "“ red” + “ cat”" in without_isolates(page.text_content(".qvl-caption"))
    assert view.frames() >= 1


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
    page.keyboard.press("Enter")
    assert view.widgets[0].selected == [2]
    labels = page.eval_on_selector_all(".qvl-toolbar [aria-label]", "nodes => nodes.length")
    assert labels >= 8


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
    # Token 4's peak at layer 0 is cell 4 = (0, 4): that token must get the strongest tint.
    page.mouse.move(box["x"] + (4.5 / cols) * box["width"], box["y"] + (0.5 / rows) * box["height"])
    alphas = page.eval_on_selector_all(
        ".qvl-token:not([hidden])",
        "chips => chips.map(c => Number(getComputedStyle(c).backgroundColor.split(',')[3]?.replace(')', '') ?? 1))",
    )
    assert int(np.argmax(alphas)) == 4
    assert "cell row 0, col 4" in page.text_content(".qvl-caption")


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
    assert page.text_content(".qvl-colorbar-label:last-child") != "0.0%"
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
    assert page.eval_on_selector(".qvl-overlay", "c => c.width") == 512
    session = page.context.new_cdp_session(page)
    # As browser zoom does: more device pixels per CSS pixel, and fewer CSS pixels across (headless Chromium
    # re-evaluates media queries only when the size changes too).
    session.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": 1000, "height": 800, "deviceScaleFactor": 2, "mobile": False},
    )
    page.wait_for_function("document.querySelector('.qvl-overlay').width === 1024")
    view.hover_token(3)  # the new canvases paint and answer the pointer
    assert view.brightest_cell() == expected_peak(result, 3, layer=0)
