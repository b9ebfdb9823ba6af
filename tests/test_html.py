"""The one-file HTML export: self-contained, offline, interactive with the widget's own front end."""

from __future__ import annotations

import base64
import gzip
import json
import re
from collections.abc import Callable

import numpy as np
import pytest
from browser_support import XSS_TEXTS, brightest, cell_colours, expected_peak, synthetic_result
from PIL import Image

from qvl_widget import AttentionResult, AttentionWidget, ImageGeometry, QueryToken
from qvl_widget._html import HtmlTooLargeError, embedded_choices


def embedded_container(path) -> tuple[dict, Callable[[list[int]], bytes]]:
    """The page's header, and a function from a blob's [offset, length] to its bytes."""
    text = path.read_text()
    data = re.search(r'<script type="application/octet-stream" id="qvl-data">([^<]*)</script>', text).group(1)
    container = gzip.decompress(base64.b64decode(data))
    length = int.from_bytes(container[:4], "little")
    blobs = container[4 + length :]
    return json.loads(container[4 : 4 + length]), lambda span: blobs[span[0] : span[0] + span[1]]


def embedded_header(path) -> dict:
    return embedded_container(path)[0]


def realistic_result(layers=28, heads=28, queries=64, rows=32, cols=40, seed=0) -> AttentionResult:
    """Softmax attention with per-head sharpness and a few sink columns, like a real model's."""
    generator = np.random.default_rng(seed)
    columns = rows * cols
    sharpness = generator.uniform(0.5, 3.0, size=(layers, heads, 1, 1)).astype(np.float32)
    logits = generator.standard_normal((layers, heads, queries, columns + 200), dtype=np.float32) * sharpness
    logits[..., :3] += 6.0
    probabilities = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probabilities /= probabilities.sum(axis=-1, keepdims=True)
    attention = np.ascontiguousarray(probabilities[..., :columns])
    tokens = tuple(QueryToken(f" w{index}", 3 * index, 3 * index + 3, False) for index in range(queries))
    picture = Image.fromarray(generator.integers(0, 255, (rows * 28, cols * 28, 3), dtype=np.uint8))
    return AttentionResult(
        attention=attention,
        image_mass=attention.sum(axis=-1),
        query_positions=np.arange(2000, 2000 + queries),
        image_positions=np.arange(10, 10 + columns),
        tokens=tokens,
        images=(ImageGeometry(rows, cols, (cols * 28, rows * 28), picture.size, 0),),
        pictures=(picture,),
        prompt="".join(token.text for token in tokens),
        model="realistic",
        family="qwen2_vl",
    )


def test_default_choices_cover_every_layer_and_all_heads_of_the_last_four():
    widget = AttentionWidget(synthetic_result(layers=6, heads=3))
    choices = embedded_choices(widget.result, None, None)
    assert (0, "mean") in choices and (0, "max") in choices and ("mean", "mean") in choices
    assert (1, 0) not in choices and (2, 2) in choices and (5, 1) in choices
    assert len(choices) == 8 * 2 + 4 * 3  # six layers, their mean and max
    assert embedded_choices(widget.result, [-1], ["mean"]) == [(5, "mean")]
    assert embedded_choices(widget.result, None, [0]) == [(layer, 0) for layer in [0, 1, 2, 3, 4, 5, "mean", "max"]]
    assert embedded_choices(widget.result, -1, "max") == [(5, "max")]  # one choice needs no list
    assert embedded_choices(widget.result, "all", ["mean"]) == [
        (layer, "mean") for layer in [0, 1, 2, 3, 4, 5, "mean", "max"]
    ]
    with pytest.raises(ValueError, match=r"layers is empty: pass some, e\.g\. layers=\[-1\]"):
        embedded_choices(widget.result, [], None)


@pytest.mark.parametrize(
    ("view", "layers", "heads"),
    [((0, 1), None, None), ((-6, 2), [5], ["mean"]), (("mean", 0), [1], None)],
)
def test_html_opens_on_the_requested_view_even_outside_the_embedded_selection(tmp_path, view, layers, heads):
    result = synthetic_result(layers=6, heads=3)
    layer, head = view
    path = result.to_html(tmp_path / "view.html", layers=layers, heads=heads, layer=layer, head=head)
    header = embedded_header(path)
    expected = (layer % 6 if isinstance(layer, int) else layer, head)
    assert (header["state"]["layer"], header["state"]["head"]) == expected
    assert f"{expected[0]}|{expected[1]}" in header["payloads"]
    assert expected[1] in header["state"]["available"]["heads"][str(expected[0])]


def test_html_is_one_file_with_everything_inlined(tmp_path):
    result = synthetic_result()
    path = result.to_html(tmp_path / "out" / "attention.html", phrase="red cat", colormap="viridis")
    text = path.read_text()
    assert re.search(r"<(script|link|img)[^>]+(src|href)=", text) is None  # nothing loaded from elsewhere
    assert "http://" not in text and "https://" not in text
    assert "red cat" not in text and "Where is" not in text  # user text only inside the compressed data
    header = embedded_header(path)
    assert header["state"]["selected"] == [3, 4]
    assert header["state"]["colormap"] == "viridis"
    assert header["prompt"] == result.prompt
    assert set(header["payloads"]) == {
        f"{layer}|{head}" for layer in (0, 1, "mean", "max") for head in ("mean", "max")
    } | {f"{layer}|{head}" for layer in (0, 1) for head in (0, 1)}
    assert list(tmp_path.joinpath("out").iterdir()) == [path]


def test_default_selection_of_a_28_layer_28_head_model_stays_under_10_mb(tmp_path):
    path = realistic_result().to_html(tmp_path / "big.html")
    size = path.stat().st_size
    assert size <= 10 * 2**20, f"{size / 2**20:.1f} MiB"
    header = embedded_header(path)
    assert len(header["payloads"]) == 30 * 2 + 4 * 28


def test_too_large_a_selection_says_how_to_shrink_it(tmp_path):
    widget = AttentionWidget(realistic_result(layers=4, heads=4, queries=16, rows=8, cols=10))
    with pytest.raises(ValueError, match=r"over its 100 bytes limit \(its 30 layer/head maps alone take about") as info:
        widget.to_html(
            tmp_path / "x.html", layers=[0, 1, 2, 3, "mean"], heads=["mean", "max", 0, 1, 2, 3], max_bytes=100
        )
    assert "layers=[-1]" in str(info.value) and str(info.value).endswith("or pass a larger max_bytes")
    limit = 200 * 2**10
    with pytest.raises(
        HtmlTooLargeError,
        match=r"over its 200.0 KiB limit \(it would be [\d.]+ KiB: [\d.]+ KiB for 2 layer/head maps and .*\); embed",
    ) as info:
        widget.result.to_html(tmp_path / "x.html", layers=[-1], heads=["mean", "max"], max_bytes=limit)
    assert not (tmp_path / "x.html").exists() and list(tmp_path.iterdir()) == []
    assert widget.result.to_html(tmp_path / "x.html", layers=[-1], heads=["mean"], max_bytes=10 * limit).is_file()
    with pytest.raises(ValueError, match=r"must end in \.html"):
        widget.to_html(tmp_path / "x.txt")
    with pytest.raises(IndexError, match="layer 9 is out of range"):
        widget.to_html(tmp_path / "x.html", layers=[9])


def overlay_state(page) -> tuple[int, list[int]]:
    frames = int(page.eval_on_selector(".qvl-widget", "node => node.dataset.qvlFrames || 0"))
    pixels = page.evaluate(
        """() => { const c = document.querySelector('canvas.qvl-overlay');
                   return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data); }"""
    )
    return frames, pixels


def brightest_cell(page, result, image=0) -> tuple[int, int]:
    info = result.images[image]
    return brightest(cell_colours(page, "canvas.qvl-overlay", image, info.rows, info.cols))


@pytest.mark.browser
def test_html_works_from_file_with_the_network_off(offline_page, tmp_path):
    page, requests = offline_page
    result = synthetic_result()
    path = result.to_html(tmp_path / "attention.html", layer=0, colormap="gray", smooth=False)
    page.goto(path.as_uri())
    page.wait_for_function("Number(document.querySelector('.qvl-widget')?.dataset.qvlFrames) > 0")
    assert page.text_content(".qvl-page-title") == result.prompt

    page.locator("[data-qvl-token='1']").hover()
    assert brightest_cell(page, result) == expected_peak(result, 1, layer=0)
    _, first = overlay_state(page)
    page.locator("[data-qvl-token='4']").hover()
    _, second = overlay_state(page)
    assert first != second and brightest_cell(page, result) == expected_peak(result, 4, layer=0)

    page.locator("[data-qvl-token='4']").click()  # pin, then switch layer from the embedded choices
    page.select_option(".qvl-layer", "1")
    page.wait_for_function("document.querySelector('.qvl-caption').textContent.startsWith('layer 1')")
    page.mouse.move(5, 880)
    assert brightest_cell(page, result) == expected_peak(result, 4, layer=1)
    heads = page.eval_on_selector_all(".qvl-head option", "options => options.map(o => o.value)")
    assert heads == ["mean", "max", "0", "1"]
    assert requests == []


@pytest.mark.browser
def test_html_save_png_from_file(offline_page, tmp_path):
    page, _ = offline_page
    result = synthetic_result()
    options = {"layer": 0, "token": [2], "colormap": "gray", "smooth": False, "opacity": 1.0}
    page.goto(result.to_html(tmp_path / "a.html", **options).as_uri())
    page.wait_for_function("Number(document.querySelector('.qvl-widget')?.dataset.qvlFrames) > 0")
    with page.expect_download() as download:
        page.click(".qvl-save")
    saved = np.asarray(Image.open(download.value.path()).convert("L"), dtype=float)
    assert saved.shape[::-1] == result.pictures[0].size
    geometry = result.images[0]
    ys = ((np.arange(geometry.rows) + 0.5) * saved.shape[0] / geometry.rows).astype(int)
    xs = ((np.arange(geometry.cols) + 0.5) * saved.shape[1] / geometry.cols).astype(int)
    centres = saved[np.ix_(ys, xs)]  # opaque grey overlay: each cell's brightness is its value
    assert divmod(int(np.argmax(centres)), geometry.cols) == expected_peak(result, 2, layer=0)


@pytest.mark.browser
def test_html_xss_prompt_stays_inert(offline_page, tmp_path):
    page, requests = offline_page
    result = synthetic_result(texts=XSS_TEXTS, prompt="".join(XSS_TEXTS))
    path = result.to_html(tmp_path / "xss.html", token=[0, 1])
    text = path.read_text()
    assert "onerror" not in text and "window.__xss" not in text
    page.goto(path.as_uri())
    page.wait_for_function("Number(document.querySelector('.qvl-widget')?.dataset.qvlFrames) > 0")
    page.locator("[data-qvl-token='0']").hover()
    assert page.evaluate("window.__xss") is None
    assert page.text_content(".qvl-page-title") == result.prompt
    assert page.locator("img").count() == 1 and page.locator("script").count() == 2
    texts = page.eval_on_selector_all(".qvl-token", "chips => chips.map(c => c.textContent)")
    assert texts == list(XSS_TEXTS)
    assert requests == []


@pytest.mark.browser
def test_html_menus_show_each_embedded_head_and_the_layer_mean(offline_page, tmp_path):
    page, _ = offline_page
    result = synthetic_result()
    path = result.to_html(tmp_path / "heads.html", layer=1, head="max", token=[2], colormap="gray", smooth=False)
    page.goto(path.as_uri())
    page.wait_for_function("Number(document.querySelector('.qvl-widget')?.dataset.qvlFrames) > 0")
    assert brightest_cell(page, result) == expected_peak(result, 2, layer=1, head="max")  # the view it opens on
    views = [("1", "0", "head 0"), ("1", "1", "head 1"), ("1", "max", "max of heads"), ("1", "mean", "mean of heads")]
    views += [("mean", "max", "max of heads"), ("mean", "mean", "mean of heads"), ("0", "max", "max of heads")]
    for layer, head, head_label in views:
        page.select_option(".qvl-layer", layer)
        page.select_option(".qvl-head", head)
        layer_label = "mean of layers" if layer == "mean" else f"layer {layer}"
        page.wait_for_function(
            "label => document.querySelector('.qvl-caption').textContent.startsWith(label)",
            arg=f"{layer_label} · {head_label}",
        )
        layer_choice = int(layer) if layer.isdigit() else layer
        head_choice = int(head) if head.isdigit() else head
        assert brightest_cell(page, result) == expected_peak(result, 2, layer_choice, head_choice), (layer, head)


@pytest.mark.browser
def test_html_layer_without_the_chosen_head_falls_back_to_the_head_mean(offline_page, tmp_path):
    page, _ = offline_page
    result = synthetic_result(layers=5)  # every head embedded for layers 1 to 4, only the mean and max for layer 0
    page.goto(result.to_html(tmp_path / "fallback.html", token=[2], colormap="gray", smooth=False).as_uri())
    page.wait_for_function("Number(document.querySelector('.qvl-widget')?.dataset.qvlFrames) > 0")
    page.select_option(".qvl-head", "1")
    page.wait_for_function("document.querySelector('.qvl-caption').textContent.startsWith('layer 4 · head 1')")
    assert brightest_cell(page, result) == expected_peak(result, 2, layer=4, head=1)
    page.select_option(".qvl-layer", "0")
    page.wait_for_function("document.querySelector('.qvl-caption').textContent.startsWith('layer 0 · mean of heads')")
    assert page.eval_on_selector(".qvl-head", "select => select.value") == "mean"
    assert brightest_cell(page, result) == expected_peak(result, 2, layer=0, head="mean")


def test_html_keeps_the_widgets_display_options(tmp_path):
    options = {"colormap": "jet", "opacity": 0.3, "smooth": False, "shared_scale": True, "show_special": True}
    path = synthetic_result().to_html(tmp_path / "options.html", token=[1, 4], width=300, **options)
    state = embedded_header(path)["state"]
    assert {name: state[name] for name in options} == options
    assert (state["selected"], state["width"]) == ([1, 4], 300)
