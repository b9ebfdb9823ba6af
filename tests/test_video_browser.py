"""Videos on screen: the film strip of temporal groups (each with the shown tokens' share of attention on it), the
scrubber and play, the overlay and the reverse view on the group shown, and Save PNG of that group, in the widget's
front end (headless Chromium, the real Python widget as the kernel) and in the HTML page (file://, offline). In the
synthetic video every token looks at another cell, with another share, in every group, so a view showing the wrong
group's columns cannot pass."""

from __future__ import annotations

import dataclasses
import io
import itertools
import re
from pathlib import Path

import numpy as np
import pytest
from browser_support import (
    VIDEO_SIZE,
    XSS_TEXTS,
    WidgetPage,
    brightest,
    cell_colours,
    frame_level,
    head_peak,
    synthetic_result,
    synthetic_video_result,
    video_peak,
    video_share,
    view_map,
)
from PIL import Image
from test_html import embedded_container, embedded_header

from qvl_widget import AttentionResult
from qvl_widget._colormaps import colour_indices, lookup_table
from qvl_widget._payload import Selections, decode_maps
from qvl_widget._result import BASELINE_PROMPT

pytestmark = pytest.mark.browser

GROUPS = 4
QUERY = 3  # the token most tests pin
LAYER = 1  # the layer a view opens on (layer=-1: the last of the synthetic video's two)
ROOT = Path(__file__).resolve().parents[1]
PLAY_INTERVAL_MS = int(re.search(r"PLAY_INTERVAL_MS = (\d+)", (ROOT / "js" / "filmstrip.js").read_text()).group(1))


def group_shares(result: AttentionResult, query: int, medium: int = 0, layer: int = -1) -> np.ndarray:
    """Per temporal group, token `query`'s share of attention on it in the default view (a layer, mean of heads)."""
    geometry = result.images[medium]
    values = view_map(result, query, layer=layer)
    return np.array([values[geometry.group_columns(group)].sum() for group in range(geometry.groups)])


def cell_of(result: AttentionResult, query: int, group: int, medium: int = 0, video: int = 0) -> tuple[int, int]:
    """Where token `query` looks in group `group` of the default view (the last layer, the head mean)."""
    geometry = result.images[medium]
    return divmod(video_peak(query, group, geometry.tokens_per_group, LAYER, video), geometry.cols)


def strip_shares(page, scope: str = "") -> np.ndarray:
    return np.array(
        page.eval_on_selector_all(
            f"{scope} .qvl-film-cell".strip(), "cells => cells.map(c => Number(c.dataset.qvlMass))"
        )
    )


def shown_group(page, scope: str = "") -> int:
    return int(page.eval_on_selector(f"{scope} .qvl-filmstrip".strip(), "strip => strip.dataset.qvlShown"))


def picture_src(page, medium: int = 0) -> str:
    return page.eval_on_selector_all("img.qvl-image", "images => images.map(i => i.src)")[medium]


def picture_grey(page, medium: int = 0) -> float:
    """The mean grey of the picture on screen (once decoded): which group's frame it is."""
    return page.evaluate(
        """async (medium) => {
            const image = document.querySelectorAll("img.qvl-image")[medium];
            await image.decode();
            const canvas = document.createElement("canvas");
            canvas.width = 16;
            canvas.height = 16;
            const context = canvas.getContext("2d");
            context.drawImage(image, 0, 0, 16, 16);
            const data = context.getImageData(0, 0, 16, 16).data;
            let total = 0;
            for (let index = 0; index < data.length; index += 4) total += data[index];
            return total / (data.length / 4);
        }""",
        medium,
    )


def frame_grey(result: AttentionResult, group: int, medium: int = 0) -> float:
    return float(np.asarray(result.picture(medium, group))[..., 0].mean())


def overlay_peak(page, result: AttentionResult, medium: int = 0) -> tuple[int, int]:
    geometry = result.images[medium]
    return brightest(cell_colours(page, "canvas.qvl-overlay", medium, geometry.rows, geometry.cols))


def payload_shares(result: AttentionResult, query: int) -> np.ndarray:
    """Token `query`'s share on each group of the last video in the default view, from the payload's bytes (as the
    view has them)."""
    geometry = result.images[-1]
    maps, _ = decode_maps(Selections(result, "mean").payload(result.num_layers - 1, "mean", False, False))
    return np.array([maps[query, geometry.group_columns(group)].sum() for group in range(geometry.groups)])


def check_strip(page, result: AttentionResult, query: int, scope: str = "") -> None:
    """The strip's values are the token's share on each group of the video, as the payload has them: each cell
    quantised to 1/255 of its row's largest value, so a group's sum is off the exact share by at most half a step
    per cell."""
    geometry = result.images[-1]
    from_payload = payload_shares(result, query)
    shown = strip_shares(page, scope)
    np.testing.assert_allclose(shown, from_payload, rtol=1e-5)
    exact = group_shares(result, query)
    step = float(view_map(result, query, layer=-1).max()) / 255
    assert np.abs(shown - exact).max() <= geometry.tokens_per_group * step / 2 + 1e-6
    assert np.argsort(shown).tolist() == np.argsort(exact).tolist()


def check_group(page, result: AttentionResult, query: int, group: int, medium: int = 0) -> None:
    """Group `group` is on screen: strip, picture, overlay and the panel's caption."""
    assert shown_group(page) == group
    assert picture_grey(page, medium) == pytest.approx(frame_grey(result, group, medium), abs=3)
    assert overlay_peak(page, result, medium) == cell_of(result, query, group, medium)
    caption = page.locator(".qvl-figcaption").nth(medium).text_content()
    assert f"group {group + 1} of {GROUPS}, {group:.1f}–{group + 0.5:.1f} s" in caption


def test_hovering_a_token_fills_the_strip_and_paints_the_shown_groups_overlay(page):
    result = synthetic_video_result()
    view = WidgetPage(page, [result.widget(colormap="gray", smooth=False)])
    assert page.locator(".qvl-film-cell").count() == GROUPS
    for query in (0, 3, 1, 5):
        view.hover_token(query)
        check_strip(page, result, query)
        assert view.brightest_cell() == cell_of(result, query, 0)
        # The longest bar is the group with the largest share.
        widths = page.eval_on_selector_all(".qvl-film-bar", "bars => bars.map(b => b.getBoundingClientRect().width)")
        assert int(np.argmax(widths)) == int(np.argmax(group_shares(result, query)))
    times = page.eval_on_selector_all(".qvl-film-time", "labels => labels.map(l => l.textContent)")
    assert times == ["0.0–0.5 s", "1.0–1.5 s", "2.0–2.5 s", "3.0–3.5 s"]
    assert view.blocked == []


def test_scrubbing_clicking_and_playing_show_another_group(page):
    result = synthetic_video_result()
    widget = result.widget(token=[QUERY], colormap="gray", smooth=False)
    view = WidgetPage(page, [widget])
    check_group(page, result, QUERY, 0)
    first = picture_src(page)
    view.change(page.press, ".qvl-scrubber", "ArrowRight")  # a real input event on the range
    assert widget.group == 1
    assert picture_src(page) != first
    check_group(page, result, QUERY, 1)
    check_strip(page, result, QUERY)  # the strip shows every group's share whichever is shown
    view.change(page.click, ".qvl-film-cell[data-qvl-group='3']")
    assert widget.group == 3
    check_group(page, result, QUERY, 3)
    assert page.get_attribute(".qvl-film-cell[data-qvl-group='3']", "aria-current") == "true"
    # Play from the last group: from the first again, a group every half second (on the page's own clock, advanced
    # by the test: the same steps however busy the machine), and it stops at the last.
    page.clock.install()
    page.click(".qvl-play")
    assert page.get_attribute(".qvl-play", "aria-pressed") == "true"
    assert shown_group(page) == 0
    for group in (1, 2, 3):
        page.clock.run_for(PLAY_INTERVAL_MS)
        assert shown_group(page) == group
    assert page.get_attribute(".qvl-play", "aria-pressed") == "false"
    check_group(page, result, QUERY, 3)
    assert widget.group == 3
    assert view.kernel_calls >= 5  # every group change is the state's, the kernel's trait too


def test_a_view_opens_on_a_group_and_refuses_one_the_video_lacks(page):
    result = synthetic_video_result()
    view = WidgetPage(page, [result.widget(token=[QUERY], group=-2, colormap="gray", smooth=False)])
    check_group(page, result, QUERY, 2)
    assert view.widgets[0].group == 2
    with pytest.raises(IndexError, match=r"^group 4 is out of range: there are 4 groups, use 0\.\.3"):
        result.widget(group=4)
    with pytest.raises(TypeError, match="group must be an integer index"):
        result.widget(group="2")
    widget = result.widget()
    with pytest.raises(IndexError, match="group 9 is out of range"):
        widget.group = 9
    assert widget.group == 0
    with pytest.raises(ValueError, match="this result has no video"):
        synthetic_result().widget(group=1)


def test_hovering_a_cell_tints_the_tokens_by_attention_to_that_cell_of_the_shown_group(page):
    result = synthetic_video_result()
    view = WidgetPage(page, [result.widget(group=2)])
    geometry = result.images[0]
    box = page.locator(".qvl-frame").bounding_box()
    assert box is not None
    for query in (1, 4, 2):
        row, col = cell_of(result, query, 2)
        page.mouse.move(
            box["x"] + (col + 0.5) / geometry.cols * box["width"],
            box["y"] + (row + 0.5) / geometry.rows * box["height"],
        )
        page.wait_for_function(
            f"document.querySelector('.qvl-caption').textContent.includes('cell row {row}, col {col}')"
        )
        alphas = page.eval_on_selector_all(
            ".qvl-token:not([hidden])",
            "chips => chips.map(c => Number(getComputedStyle(c).backgroundColor.split(',')[3]?.replace(')', '') ?? 1))",
        )
        assert int(np.argmax(alphas)) == query
        assert "video 1, group 3 of 4, 2.0–2.5 s, cell row" in page.text_content(".qvl-caption")
    assert view.blocked == []


def test_save_png_saves_the_shown_group_with_its_overlay_at_the_original_size(page):
    result = synthetic_video_result()
    widget = result.widget(token=[QUERY], group=1, colormap="gray", smooth=False)
    view = WidgetPage(page, [widget])
    view.change(page.click, ".qvl-film-cell[data-qvl-group='2']")
    with page.expect_download() as download:
        page.click(".qvl-save")
    assert download.value.suggested_filename == "qvl-attention-1-mean-video1-group3.png"
    saved = Image.open(io.BytesIO(download.value.path().read_bytes())).convert("RGB")
    assert saved.size == VIDEO_SIZE
    geometry = result.images[0]
    centres = np.array(
        [
            [
                saved.getpixel(
                    (int((col + 0.5) * saved.width / geometry.cols), int((row + 0.5) * saved.height / geometry.rows))
                )
                for col in range(geometry.cols)
            ]
            for row in range(geometry.rows)
        ],
        dtype=float,
    )
    assert brightest(centres) == cell_of(result, QUERY, 2)
    screen = view.cell_colours().astype(float)
    opacity = screen[..., 3:] / 255  # the overlay rule: each pixel's own
    blended = frame_grey(result, 2) * (1 - opacity) + screen[..., :3] * opacity  # group 3's frame, not another
    assert np.abs(centres - blended).max() <= 2


def test_the_html_page_plays_the_video_offline(offline_page, tmp_path):
    page, requests = offline_page
    result = synthetic_video_result()
    path = result.to_html(tmp_path / "video.html", layers=[-1], heads=["mean"], colormap="gray", smooth=False)
    header = embedded_header(path)
    assert header["state"]["media"][0]["times"] == [[group, group + 0.5] for group in range(GROUPS)]
    _, blob = embedded_container(path)
    frames = [blob(span) for span in header["pictures"]]
    assert all(frame.startswith(b"\xff\xd8") for frame in frames)  # every group's frame, JPEG
    assert [Image.open(io.BytesIO(frame)).width for frame in frames] == [1024] * GROUPS  # twice the 512 px view
    assert header["full_pictures"] == header["pictures"]  # Save PNG of a frame: its display frame

    page.goto(path.as_uri())
    page.wait_for_function("Number(document.querySelector('.qvl-widget')?.dataset.qvlFrames) > 0")
    page.locator(f"[data-qvl-token='{QUERY}']").hover()
    check_strip(page, result, QUERY)
    check_group(page, result, QUERY, 0)
    page.locator(f"[data-qvl-token='{QUERY}']").click()  # pinned: the view stays on it while the mouse moves
    page.press(".qvl-scrubber", "ArrowRight")
    check_group(page, result, QUERY, 1)
    page.click(".qvl-film-cell[data-qvl-group='3']")
    check_group(page, result, QUERY, 3)
    page.clock.install()  # the page's timers on a clock the test advances
    page.click(".qvl-play")
    page.clock.run_for(PLAY_INTERVAL_MS)
    assert shown_group(page) == 1
    page.click(".qvl-play")  # pause
    assert page.get_attribute(".qvl-play", "aria-pressed") == "false"
    check_group(page, result, QUERY, 1)
    page.clock.run_for(3 * PLAY_INTERVAL_MS)
    assert shown_group(page) == 1  # paused: it stays
    with page.expect_download() as download:
        page.click(".qvl-save")
    assert download.value.suggested_filename == "qvl-attention-1-mean-video1-group2.png"
    saved = Image.open(io.BytesIO(download.value.path().read_bytes()))
    assert saved.size == (1024, round(1024 * VIDEO_SIZE[1] / VIDEO_SIZE[0]))  # the display frame's size
    assert requests == []


def test_an_image_beside_a_video_is_shown_as_before(page):
    result = synthetic_video_result(image=(3, 3))
    widget = result.widget(token=[QUERY], colormap="gray", smooth=False)
    view = WidgetPage(page, [widget])
    assert page.locator(".qvl-filmstrip").count() == 1
    assert page.locator(".qvl-figure").nth(0).locator(".qvl-filmstrip").count() == 0
    captions = page.eval_on_selector_all(".qvl-figcaption", "captions => captions.map(c => c.textContent)")
    assert captions[0] == "Image 1 · 3 × 3 tokens · 150 × 120 px"
    assert captions[1].startswith("Video 2 · group 1 of 4, 0.0–0.5 s · 4 × 6 tokens per group")
    image_peak = divmod((3 * QUERY) % 9, 3)
    image_src = picture_src(page, 0)
    assert view.brightest_cell(image=0) == image_peak
    assert view.brightest_cell(image=1) == cell_of(result, QUERY, 0, medium=1)
    view.change(page.click, ".qvl-film-cell[data-qvl-group='2']")
    assert widget.group == 2
    assert view.brightest_cell(image=1) == cell_of(result, QUERY, 2, medium=1)
    assert view.brightest_cell(image=0) == image_peak and picture_src(page, 0) == image_src
    assert picture_grey(page, 1) == pytest.approx(frame_grey(result, 2, medium=1), abs=3)


def test_an_image_alone_has_no_strip(page):
    WidgetPage(page, [synthetic_result().widget()])
    assert page.locator(".qvl-filmstrip").count() == 0
    assert page.text_content(".qvl-figcaption").startswith("Image 1 · 4 × 6 tokens")


def test_token_text_in_a_videos_view_stays_inert(page):
    result = synthetic_video_result(texts=XSS_TEXTS)
    WidgetPage(page, [result.widget(token=[0, 1])])
    page.locator("[data-qvl-token='0']").hover()
    page.click(".qvl-film-cell[data-qvl-group='1']")
    assert page.evaluate("window.__xss") is None
    assert page.locator(".qvl-widget script").count() == 0
    assert page.locator(".qvl-widget img").count() == 1 + GROUPS  # the picture and the strip's thumbnails
    titles = page.eval_on_selector_all(".qvl-film-cell", "cells => cells.map(c => c.title)")
    assert all(title.startswith(f"group {group + 1} of {GROUPS}") for group, title in enumerate(titles))


def test_the_shares_are_the_synthetic_videos():
    """The test data say what the tests assume: each token's share and peak differ from group to group."""
    result = synthetic_video_result()
    for query in range(result.num_queries):
        shares = group_shares(result, query)  # layer 1, the mean of heads weighted 0.9 and 1
        np.testing.assert_allclose(
            shares, [0.95 * video_share(query, group, GROUPS, LAYER) for group in range(GROUPS)], rtol=1e-5
        )
        assert len(set(np.round(shares, 6))) == GROUPS
        assert len({cell_of(result, query, group) for group in range(GROUPS)}) == GROUPS


def test_every_layer_head_and_video_of_the_synthetic_video_looks_elsewhere():
    """Each head alone peaks on its own cell, the head mean on the common one, both moving with the layer; a second
    video of fewer groups has peaks and frames of its own; each row's image share exceeds its columns' sum."""
    result = synthetic_video_result(groups=(GROUPS, 2), layers=3, heads=3)
    cells = result.images[0].tokens_per_group
    for video, geometry in enumerate(result.images):
        for layer, group, query in itertools.product(range(3), range(geometry.groups), range(result.num_queries)):
            columns = geometry.group_columns(group)
            for head in range(3):
                own = result.attention[layer, head, query, columns]
                assert int(np.argmax(own)) == head_peak(query, group, cells, layer, head, video)
            mean = view_map(result, query, layer)[columns]
            assert int(np.argmax(mean)) == video_peak(query, group, cells, layer, video)
    peaks = {video_peak(QUERY, 0, cells, layer, video) for layer in range(3) for video in range(2)}
    assert len(peaks) == 6
    levels = [
        frame_level(group, geometry.groups, video)
        for video, geometry in enumerate(result.images)
        for group in range(geometry.groups)
    ]
    assert len(set(levels)) == len(levels)
    captured = result.attention.sum(axis=-1)
    assert (result.image_mass > captured + 0.01).all() and (result.image_mass < 1).all()
    assert len(np.unique(np.round(result.image_mass - captured, 4))) > 10


# ----- the film strip's bars, scrubber and notes --------------------------------------------------------------------


def bar_levels(page, scope: str = "") -> np.ndarray:
    """Each film strip bar's colour, as its red level (the grey colour map: its value against the strip's top)."""
    colours = page.eval_on_selector_all(
        f"{scope} .qvl-film-bar".strip(), "bars => bars.map(bar => getComputedStyle(bar).backgroundColor)"
    )
    return np.array([int(re.match(r"rgba?\((\d+),", colour).group(1)) for colour in colours])


def test_each_bar_wears_the_colour_of_its_groups_share(page):
    result = synthetic_video_result()
    WidgetPage(page, [result.widget(token=[QUERY], colormap="gray", smooth=False)])
    shares = payload_shares(result, QUERY)
    levels = bar_levels(page)
    assert levels.tolist() == lookup_table("gray")[colour_indices(shares, shares.max()), 0].tolist()
    assert len(set(levels.tolist())) == GROUPS  # four shares, four colours; the largest white


def test_the_scrubber_spans_the_groups_and_no_more(page):
    """End on the scrubber is the last group (the kernel refuses one past it); one step back, the one before."""
    result = synthetic_video_result()
    widget = result.widget(token=[QUERY], colormap="gray", smooth=False)
    view = WidgetPage(page, [widget])
    page.focus(".qvl-scrubber")
    for key, group in (("End", GROUPS - 1), ("ArrowLeft", GROUPS - 2), ("Home", 0)):
        view.change(page.keyboard.press, key)
        assert widget.group == group
        check_group(page, result, QUERY, group)


def with_video_baseline(result: AttentionResult) -> AttentionResult:
    """`result` with a baseline that differs from cell to cell (each group's mean ratio is its own)."""
    layers, heads, _, columns = result.attention.shape
    cells = (1 + np.arange(columns) % 5) / (3 * columns)
    baseline = np.ascontiguousarray(np.broadcast_to(cells, (layers, heads, columns)), dtype=np.float32)
    return dataclasses.replace(result, baseline_attention=baseline, baseline_prompt=BASELINE_PROMPT)


def test_the_relative_strip_shows_each_groups_mean_ratio(page):
    result = with_video_baseline(synthetic_video_result())
    WidgetPage(page, [result.widget(token=[QUERY], relative=True, colormap="gray", smooth=False)])
    geometry = result.images[0]
    ratios = result.maps(layer=-1, head="mean", relative=True)[QUERY]
    expected = [float(ratios[geometry.group_columns(group)].mean()) for group in range(GROUPS)]
    titles = page.eval_on_selector_all(".qvl-film-cell", "cells => cells.map(cell => cell.title)")
    for group, title in enumerate(titles):
        match = re.fullmatch(
            rf"group {group + 1} of {GROUPS}, [^:]+: ×([\d.]+) baseline \(the mean over this group's cells\)", title
        )
        assert match is not None, title
        assert float(match.group(1)) == pytest.approx(expected[group], rel=0.05), group


def hover_cell(page, result: AttentionResult, row: int, col: int, medium: int = 0) -> str:
    """Move the pointer over a cell of a picture; the caption once it names that cell."""
    geometry = result.images[medium]
    box = page.locator(".qvl-frame").nth(medium).bounding_box()
    assert box is not None
    page.mouse.move(
        box["x"] + (col + 0.5) / geometry.cols * box["width"], box["y"] + (row + 0.5) / geometry.rows * box["height"]
    )
    page.wait_for_function(f"document.querySelector('.qvl-caption').textContent.includes('cell row {row}, col {col}')")
    return page.text_content(".qvl-caption") or ""


def test_the_sink_note_names_the_sinks_of_the_group_on_screen(page):
    result = synthetic_video_result()
    geometry = result.images[0]
    scores = np.ones((result.num_layers, result.attention.shape[-1]), dtype=np.float32)
    in_group_2, in_group_0 = (1, 4), (2, 1)  # a visual sink of the shown group, and one of the first group
    scores[LAYER, geometry.group_columns(2).start + in_group_2[0] * geometry.cols + in_group_2[1]] = 80
    scores[LAYER, geometry.group_columns(0).start + in_group_0[0] * geometry.cols + in_group_0[1]] = 80
    result = dataclasses.replace(result, sink_scores=scores)
    WidgetPage(page, [result.widget(group=2, mark_sinks=True)])
    assert hover_cell(page, result, *in_group_2).endswith("(a visual sink)")
    assert "visual sink)" not in hover_cell(page, result, *in_group_0)


def test_the_html_page_opens_on_the_group_it_was_written_with(offline_page, tmp_path):
    page, _ = offline_page
    result = synthetic_video_result()
    path = result.to_html(
        tmp_path / "group.html", layers=[-1], heads=["mean"], token=[QUERY], group=2, colormap="gray", smooth=False
    )
    page.goto(path.as_uri())
    page.wait_for_function("Number(document.querySelector('.qvl-widget')?.dataset.qvlFrames) > 0")
    check_group(page, result, QUERY, 2)
    check_strip(page, result, QUERY)


# ----- two videos of different lengths ------------------------------------------------------------------------------


def check_video(page, result: AttentionResult, medium: int, group: int) -> None:
    """Video `medium` of `synthetic_video_result(groups=(4, 2))` shows its group `group`: its strip, picture,
    overlay (token `QUERY`) and caption."""
    geometry = result.images[medium]
    strip = page.locator(".qvl-filmstrip").nth(medium)
    assert strip.locator(".qvl-film-cell[aria-current='true']").get_attribute("data-qvl-group") == str(group)
    assert picture_grey(page, medium) == pytest.approx(frame_grey(result, group, medium), abs=3)
    assert overlay_peak(page, result, medium) == cell_of(result, QUERY, group, medium, video=medium)
    start, end = geometry.group_times[group]
    caption = page.locator(".qvl-figcaption").nth(medium).text_content()
    assert f"Video {medium + 1} · group {group + 1} of {geometry.groups}, {start:.1f}–{end:.1f} s" in caption


def test_two_videos_of_different_lengths_share_the_longer_ones_groups(page):
    result = synthetic_video_result(groups=(GROUPS, 2))
    widget = result.widget(token=[QUERY], group=3, colormap="gray", smooth=False)
    view = WidgetPage(page, [widget])
    check_video(page, result, 0, 3)
    check_video(page, result, 1, 1)  # the shorter video shows its last group
    page.locator(".qvl-scrubber").nth(1).focus()
    view.change(page.keyboard.press, "Home")
    assert widget.group == 0
    check_video(page, result, 0, 0)
    check_video(page, result, 1, 0)
    view.change(page.keyboard.press, "End")  # the shorter video's scrubber ends at its last group
    assert widget.group == 1
    check_video(page, result, 0, 1)
    check_video(page, result, 1, 1)
    page.locator(".qvl-scrubber").nth(0).focus()
    view.change(page.keyboard.press, "End")
    assert widget.group == 3
    check_video(page, result, 0, 3)
    check_video(page, result, 1, 1)
