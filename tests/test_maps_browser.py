"""Maps that mean something, on screen: the head overview, the unit, baseline-relative maps and visual sinks in
the widget's front end (headless Chromium, the real Python widget as the kernel) and in the HTML page (file://,
offline). The synthetic result's views all differ: each token has its own loudest and most focused head, the
relative map and the sink-free map each peak away from the raw one."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from browser_support import WidgetPage, brightest, cell_colours, synthetic_answer_result, synthetic_result

from qvl_widget import AttentionResult
from qvl_widget._colormaps import lookup_table
from qvl_widget._result import BASELINE_PROMPT

pytestmark = pytest.mark.browser

LAYERS, HEADS = 3, 4
PINNED = 4  # the token the relative and sink tests pin
ANSWER_RED = 8  # synthetic_answer_result's " red" of " A red cat": the answer follows 7 prompt tokens
SINK_LAYER = 1


def loud_head(query: int) -> tuple[int, int]:
    """The head that looks at the image most, and most sharply, for token `query`."""
    return query % LAYERS, query % HEADS


def maps_result(layer_ids: tuple[int, ...] = ()) -> AttentionResult:
    """`synthetic_result` where token q's `loud_head(q)` puts all of its share on one cell and every other head
    of it gives the image 0.3 of its share (each image share a little more than its row's sum: a part of the
    attention on text); with a baseline whose map is large where token `PINNED` peaks in layer 1 (its relative
    map peaks elsewhere), and sink scores that flag two cells of layer 1 (one where `PINNED` peaks; its sink-free
    map peaks elsewhere). `layer_ids`: the captured layers' ids (default: their positions)."""
    base = synthetic_result(layers=LAYERS, heads=HEADS, layer_ids=layer_ids)
    attention = base.attention * np.float32(0.3)
    for query in range(attention.shape[2]):
        layer, head = loud_head(query)
        row = base.attention[layer, head, query]
        attention[layer, head, query] = 0
        attention[layer, head, query, (5 * query + 2) % row.size] = row.sum()
    raw_peak = int(np.argmax(attention[SINK_LAYER, :, PINNED].mean(axis=0)))
    baseline = np.full((LAYERS, HEADS, attention.shape[-1]), 0.2 / attention.shape[-1], dtype=np.float32)
    baseline[:, :, raw_peak] = 0.5
    scores = np.ones((LAYERS, attention.shape[-1]), dtype=np.float32)
    scores[SINK_LAYER, [raw_peak, (raw_peak + 7) % attention.shape[-1]]] = 80.0
    return dataclasses.replace(
        base,
        attention=attention,
        image_mass=attention.sum(axis=-1) * np.float32(0.85) + np.float32(0.15),  # the loud head still loudest
        baseline_attention=baseline,
        baseline_prompt=BASELINE_PROMPT,
        sink_scores=scores,
    )


def peak(grid: np.ndarray) -> tuple[int, int]:
    return tuple(int(value) for value in np.unravel_index(np.argmax(grid), grid.shape))


def js_number(value: float, whole: float) -> str:
    """`labels.js`' `number`: two significant digits under `whole`, a whole number from it."""
    if value >= whole:
        return f"{value:.0f}"
    return f"{float(f'{value:.2g}'):g}"


def grid_colours(page, scope: str = "") -> np.ndarray:
    return cell_colours(page, f"{scope} canvas.qvl-heads-grid".strip(), 0, LAYERS, HEADS)


def click_head(page, layer: int, head: int) -> None:
    grid = page.locator("canvas.qvl-heads-grid")
    box = grid.bounding_box()
    assert box is not None
    grid.click(position={"x": (head + 0.5) * box["width"] / HEADS, "y": (layer + 0.5) * box["height"] / LAYERS})


def hover_head(page, layer: int, head: int) -> str:
    grid = page.locator("canvas.qvl-heads-grid")
    box = grid.bounding_box()
    assert box is not None
    grid.hover(position={"x": (head + 0.5) * box["width"] / HEADS, "y": (layer + 0.5) * box["height"] / LAYERS})
    return grid.get_attribute("title") or ""


def colour_bar_top(page) -> str:
    return page.text_content(".qvl-colorbar-label:last-child") or ""


def without_isolates(text: str) -> str:
    return text.replace("\u2068", "").replace("\u2069", "")


@pytest.mark.parametrize("measure", ["mass", "focus"])
def test_the_head_overview_follows_the_hovered_token_without_the_kernel(page, measure):
    result = maps_result()
    view = WidgetPage(page, [result.widget(head_overview=measure, colormap="gray")])
    page.locator(".qvl-heads-grid").wait_for()
    calls = view.kernel_calls
    for query in (0, 1, 3, 4):
        view.hover_token(query)
        assert brightest(grid_colours(page)) == loud_head(query), query
    assert view.kernel_calls == calls  # every repaint in the browser alone
    assert view.blocked == []


def test_the_head_overview_paints_in_the_chosen_colour_map(page):
    """The loud head's cell (the top of the overview's scale) in viridis's top colour, yellow: not in a swapped or
    grey table (the other overview tests draw in "gray", the same whatever the channel order)."""
    result = maps_result()
    WidgetPage(page, [result.widget(head_overview="mass", colormap="viridis", token=[PINNED])])
    page.locator(".qvl-heads-grid").wait_for()
    layer, head = loud_head(PINNED)
    shown = grid_colours(page)[layer, head, :3]
    assert np.abs(shown - lookup_table("viridis")[255]).max() <= 2, shown


def test_the_head_overview_is_computed_when_first_shown_and_its_numbers_are_head_summarys(page):
    result = maps_result()
    widget = result.widget(colormap="gray")
    view = WidgetPage(page, [widget])
    assert page.locator(".qvl-heads").is_hidden() and widget.heads_payload == b""
    view.change(page.select_option, ".qvl-head-overview", "mass")
    page.locator(".qvl-heads-grid").wait_for()
    view.token(PINNED).click()
    summary = result.head_summary(token=[PINNED])
    step = float(result.image_mass.max()) / 255  # the payload's quantisation
    for layer, head in [(1, 0), (2, 3), loud_head(PINNED)]:
        title = hover_head(page, layer, head)
        shown = float(re.search(r": ([\d.]+)% of attention on the image", title).group(1)) / 100
        assert title.startswith(f"layer {layer}, head {head}: ")
        # Two significant digits: a whole percent from 10% on.
        assert shown == pytest.approx(summary.image_mass[layer, head], rel=0.03, abs=0.005 + step)
    view.change(page.select_option, ".qvl-head-overview", "focus")
    title = hover_head(page, 0, 1)
    focus = float(re.search(r"focus ([\d.]+)", title).group(1))
    assert focus == pytest.approx(1 - summary.spatial_entropy[0, 1], rel=0.03, abs=1 / 254)
    assert "focus 1 (spatial entropy 0)" in hover_head(page, *loud_head(PINNED))


def test_clicking_a_head_shows_it(page):
    result = maps_result()
    widget = result.widget(token=[PINNED], head_overview="mass", colormap="gray", smooth=False)
    view = WidgetPage(page, [widget])
    page.locator(".qvl-heads-grid").wait_for()
    view.change(click_head, page, 1, 2)
    assert (widget.layer, widget.head) == (1, 2)
    page.mouse.move(5, 5)
    assert page.eval_on_selector(".qvl-layer", "select => select.value") == "1"
    assert page.eval_on_selector(".qvl-head", "select => select.value") == "2"
    assert view.brightest_cell() == peak(result.grid(token=[PINNED], layer=1, head=2))


def test_relative_maps_divide_by_the_baseline_and_say_so(page):
    result = maps_result()
    widget = result.widget(layer=1, token=[PINNED], colormap="gray", smooth=False)
    view = WidgetPage(page, [widget])
    raw = peak(result.grid(token=[PINNED], layer=1))
    assert view.brightest_cell() == raw
    view.change(page.check, ".qvl-relative")
    assert widget.relative
    relative = result.grid(token=[PINNED], layer=1, relative=True)
    assert view.brightest_cell() == peak(relative) != raw
    assert colour_bar_top(page) == f"×{js_number(float(relative.max()), 100)} baseline"
    assert f"÷ baseline “{BASELINE_PROMPT}”" in without_isolates(page.text_content(".qvl-caption"))
    assert page.is_disabled(".qvl-unit")  # a ratio is the same in either unit


def test_the_unit_changes_the_labels_not_the_picture(page):
    result = maps_result()
    widget = result.widget(layer=1, token=[PINNED], colormap="gray", smooth=False)
    view = WidgetPage(page, [widget])
    colours = view.cell_colours()
    top = result.grid(token=[PINNED], layer=1).max()
    assert colour_bar_top(page) == f"{js_number(float(top) * 100, 10)}%"
    assert page.text_content(".qvl-colorbar-meaning") == "share of the token's attention:"
    page.select_option(".qvl-unit", "uniform")
    page.wait_for_function("document.querySelector('.qvl-colorbar-label:last-child').textContent.includes('uniform')")
    assert widget.unit == "uniform"
    columns = result.attention.shape[-1]
    assert page.text_content(".qvl-colorbar-meaning") == f"× uniform: share × {columns} image tokens (1 = even):"
    assert colour_bar_top(page) == f"×{js_number(float(top) * result.attention.shape[-1], 100)} uniform"
    assert (
        colour_bar_top(page)
        == f"×{js_number(float(result.grid(token=[PINNED], layer=1, unit='uniform').max()), 100)} uniform"
    )
    np.testing.assert_array_equal(view.cell_colours(), colours)


def marked_cells(page, rows: int, cols: int) -> set[tuple[int, int]]:
    """The cells of the first picture outlined on its marks canvas (antialiasing may spill a few pixels into a
    neighbour: an outlined cell has at least half as many drawn pixels as the most)."""
    counts = page.evaluate(
        """([rows, cols]) => {
            const canvas = document.querySelector("canvas.qvl-marks");
            const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
            const counts = new Array(rows * cols).fill(0);
            for (let y = 0; y < canvas.height; y++) for (let x = 0; x < canvas.width; x++) {
              if (data[4 * (y * canvas.width + x) + 3] === 0) continue;
              const row = Math.min(rows - 1, Math.floor(y * rows / canvas.height));
              const col = Math.min(cols - 1, Math.floor(x * cols / canvas.width));
              counts[row * cols + col] += 1;
            }
            return counts;
        }""",
        [rows, cols],
    )
    most = max(counts)
    return {divmod(index, cols) for index, count in enumerate(counts) if most and count >= most / 2}


def test_visual_sinks_are_marked_and_hidden(page):
    result = maps_result()
    widget = result.widget(layer=SINK_LAYER, token=[PINNED], colormap="gray", smooth=False)
    view = WidgetPage(page, [widget])
    geometry = result.images[0]
    sinks = {divmod(int(column), geometry.cols) for column in result.sinks(SINK_LAYER)}
    assert len(sinks) == 2 and marked_cells(page, geometry.rows, geometry.cols) == set()
    view.change(page.check, ".qvl-mark-sinks")
    assert marked_cells(page, geometry.rows, geometry.cols) == sinks
    assert "2 visual sinks outlined" in page.text_content(".qvl-caption")
    row, col = sorted(sinks)[0]
    frame = page.locator(".qvl-frame").bounding_box()
    assert frame is not None
    page.mouse.move(
        frame["x"] + (col + 0.5) * frame["width"] / geometry.cols,
        frame["y"] + (row + 0.5) * frame["height"] / geometry.rows,
    )
    page.wait_for_function("document.querySelector('.qvl-caption').textContent.includes('(a visual sink)')")
    page.mouse.move(5, 5)

    raw = peak(result.grid(token=[PINNED], layer=SINK_LAYER))
    view.change(page.check, ".qvl-drop-sinks")
    assert widget.drop_sinks
    kept = result.grid(token=[PINNED], layer=SINK_LAYER, drop_sinks=True)
    assert view.brightest_cell() == peak(kept) != raw
    assert "visual sinks left out" in page.text_content(".qvl-caption")

    view.change(page.select_option, ".qvl-layer", "0")  # a layer without sinks: nothing to outline
    assert marked_cells(page, geometry.rows, geometry.cols) == set()
    assert "no visual sinks in these layers" in page.text_content(".qvl-caption")


def test_switches_a_result_has_nothing_for_are_hidden(page):
    WidgetPage(page, [synthetic_result().widget()])
    for control in (".qvl-relative", ".qvl-drop-sinks", ".qvl-mark-sinks"):
        assert page.locator(control).is_hidden(), control
    assert page.locator(".qvl-unit").is_visible() and page.locator(".qvl-head-overview").is_visible()


def test_the_page_offers_every_switch_offline(offline_page, tmp_path):
    page, requests = offline_page
    result = maps_result()
    path = result.to_html(tmp_path / "maps.html", layer=SINK_LAYER, token=[PINNED], colormap="gray", smooth=False)
    page.goto(path.as_uri())
    page.wait_for_function("Number(document.querySelector('.qvl-widget')?.dataset.qvlFrames) > 0")
    geometry = result.images[0]

    def overlay_peak() -> tuple[int, int]:
        return brightest(cell_colours(page, "canvas.qvl-overlay", 0, geometry.rows, geometry.cols))

    def after(action) -> None:
        frames = page.eval_on_selector(".qvl-widget", "node => Number(node.dataset.qvlFrames)")
        action()
        page.wait_for_function(f"Number(document.querySelector('.qvl-widget').dataset.qvlFrames) > {frames}")

    assert overlay_peak() == peak(result.grid(token=[PINNED], layer=SINK_LAYER))
    after(lambda: page.check(".qvl-relative"))
    assert overlay_peak() == peak(result.grid(token=[PINNED], layer=SINK_LAYER, relative=True))
    after(lambda: page.check(".qvl-drop-sinks"))
    assert overlay_peak() == peak(result.grid(token=[PINNED], layer=SINK_LAYER, relative=True, drop_sinks=True))
    after(lambda: page.uncheck(".qvl-relative"))
    assert overlay_peak() == peak(result.grid(token=[PINNED], layer=SINK_LAYER, drop_sinks=True))

    page.select_option(".qvl-head-overview", "mass")
    page.locator(".qvl-heads-grid").wait_for()
    page.locator("[data-qvl-token='1']").hover()
    assert brightest(grid_colours(page)) == loud_head(1)
    page.locator("[data-qvl-token='3']").hover()
    assert brightest(grid_colours(page)) == loud_head(3)
    page.locator("[data-qvl-token='3']").click()  # unpins PINNED, pins 3
    after(lambda: click_head(page, 2, 1))
    page.mouse.move(5, 5)
    assert page.eval_on_selector(".qvl-layer", "select => select.value") == "2"
    assert page.eval_on_selector(".qvl-head", "select => select.value") == "1"
    assert overlay_peak() == peak(result.grid(token=[3], layer=2, head=1, drop_sinks=True))
    assert requests == []


# ----- the head overview's names, rows and outline ----------------------------------------------------------------


def test_the_head_overview_names_layers_by_their_decoder_index(page):
    result = maps_result(layer_ids=(3, 7, 11))  # e.g. a hybrid model's attention layers
    WidgetPage(page, [result.widget(head_overview="mass", colormap="gray")])
    page.locator(".qvl-heads-grid").wait_for()
    assert hover_head(page, 1, 2).startswith("layer 7, head 2: ")
    assert hover_head(page, 2, 0).startswith("layer 11, head 0: ")
    legend = page.text_content(".qvl-heads-legend") or ""
    assert legend.startswith("layers 3–11 top to bottom · heads 0–3 left to right · brightest ")


def test_the_head_overview_shows_the_producing_steps_rows_with_the_switch(page):
    """Each row has its own loudest head: an answer word shows its producing step's, or with the switch off its
    own; a prompt word its own, or with "every token" the step that predicted it."""
    base = synthetic_answer_result(layers=LAYERS, heads=HEADS)
    mass = np.full(base.image_mass.shape, 0.3, dtype=np.float32)
    for row in range(base.num_queries):
        mass[(*loud_head(row), row)] = 0.8
    result = dataclasses.replace(base, image_mass=mass)
    widget = result.widget(head_overview="mass", colormap="gray")
    view = WidgetPage(page, [widget])
    page.locator(".qvl-heads-grid").wait_for()
    word = ANSWER_RED  # written at the step of the answer's first token
    view.hover_token(word)
    assert brightest(grid_colours(page)) == loud_head(word - 1) != loud_head(word)
    view.hover_token(3)  # a prompt word: its own row, unless every token shows its producing step
    assert brightest(grid_colours(page)) == loud_head(3)
    view.change(page.select_option, ".qvl-producing", "all")  # repainted at once, the pointer still on it
    assert brightest(grid_colours(page)) == loud_head(2) != loud_head(3)
    view.change(page.select_option, ".qvl-producing", "false")
    assert widget.producing is False
    view.hover_token(word)
    assert brightest(grid_colours(page)) == loud_head(word)


def outlined_heads(page) -> set[tuple[int, int]]:
    """The grid's cells whose top edge wears the outline (cyan: the grey colour map has no colour at all), read in
    the first few pixel rows of each cell, where the outline is drawn (the cell's centre keeps its own colour)."""
    edges = page.evaluate(
        """([layers, heads]) => {
            const canvas = document.querySelector("canvas.qvl-heads-grid");
            const context = canvas.getContext("2d");
            const width = canvas.width / heads, height = canvas.height / layers;
            const out = [];
            for (let layer = 0; layer < layers; layer++) for (let head = 0; head < heads; head++) {
              const x = Math.floor((head + 0.5) * width);
              let blue = 0;
              for (let y = Math.ceil(layer * height); y < layer * height + height / 8; y++) {
                const [red, , b] = context.getImageData(x, y, 1, 1).data;
                blue = Math.max(blue, b - red);
              }
              out.push(blue);
            }
            return out;
        }""",
        [LAYERS, HEADS],
    )
    return {divmod(index, HEADS) for index, blue in enumerate(edges) if blue > 100}


def test_the_head_overview_outlines_the_heads_the_menus_choose(page):
    result = maps_result()
    widget = result.widget(layer=1, head=2, head_overview="mass", colormap="gray")
    view = WidgetPage(page, [widget])
    page.locator(".qvl-heads-grid").wait_for()
    assert outlined_heads(page) == {(1, 2)}
    view.change(page.select_option, ".qvl-head", "mean")  # every head of one layer: that row
    assert outlined_heads(page) == {(1, head) for head in range(HEADS)}
    view.change(page.select_option, ".qvl-layer", "mean")  # every head of every layer: nothing singled out
    assert outlined_heads(page) == set()
    view.change(page.select_option, ".qvl-head", "0")  # one head of every layer: that column
    assert outlined_heads(page) == {(layer, 0) for layer in range(LAYERS)}
    summary = result.head_summary().image_mass  # the prompt's own tokens, nothing hovered
    assert brightest(grid_colours(page)) == peak(summary)  # the outline leaves the cells' centres as they are


# ----- the page opens on what its switches say --------------------------------------------------------------------


@pytest.mark.parametrize(("relative", "drop_sinks"), [(True, False), (False, True), (True, True)])
def test_the_page_opens_on_the_maps_its_switches_say(offline_page, tmp_path, relative, drop_sinks):
    page, _ = offline_page
    result = maps_result()
    options = {"relative": relative, "drop_sinks": drop_sinks}
    path = result.to_html(
        tmp_path / "opening.html", layer=SINK_LAYER, token=[PINNED], colormap="gray", smooth=False, **options
    )
    page.goto(path.as_uri())
    page.wait_for_function("Number(document.querySelector('.qvl-widget')?.dataset.qvlFrames) > 0")
    assert (page.is_checked(".qvl-relative"), page.is_checked(".qvl-drop-sinks")) == (relative, drop_sinks)
    geometry = result.images[0]
    shown = brightest(cell_colours(page, "canvas.qvl-overlay", 0, geometry.rows, geometry.cols))
    raw = peak(result.grid(token=[PINNED], layer=SINK_LAYER))
    assert shown == peak(result.grid(token=[PINNED], layer=SINK_LAYER, **options)) != raw
