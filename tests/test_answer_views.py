"""The model's answer in the views: its own strip, producing maps by default, the switch, the caption, the HTML."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from browser_support import (
    THINKING_TEXTS,
    XSS_TEXTS,
    WidgetPage,
    expected_peak,
    synthetic_answer_result,
    synthetic_result,
)
from test_html import embedded_header

from qvl_widget import AttentionWidget
from qvl_widget._result import STILL_THINKING
from qvl_widget._still import shown_rows
from qvl_widget._view_state import ViewState, shown_row

FIRST_ANSWER = 7  # " A": the answer follows the seven prompt tokens
# With THINKING_TEXTS: "Maybe" " red" "</think>" (thinking, 7-9), "\n\n" " A" " red" " cat" "<|im_end|>" (answer).
THOUGHT_RED, ANSWER_RED = 8, 12


def without_isolates(text: str) -> str:
    return text.replace("\u2068", "").replace("\u2069", "")


def test_the_view_state_knows_each_tokens_strip_producer_and_probability():
    result = synthetic_answer_result()
    state = ViewState.of(result)
    assert [group["name"] for group in state.groups] == ["prompt", "answer"]
    assert [token["group"] for token in state.tokens] == [0] * 7 + [1] * 4
    assert [token["producer"] for token in state.tokens] == [None, *range(10)]
    assert state.tokens[FIRST_ANSWER]["probability"] == pytest.approx(0.9)
    assert state.producing is True  # an answer opens on the steps that produced its words
    assert ViewState.of(synthetic_result()).producing is False
    assert ViewState.of(result, producing=False).producing is False
    assert ViewState.of(result, producing="all").producing == "all"
    # Which row each token shows: under True the answer's words the step that wrote them, the prompt's their own.
    assert [shown_row(state, token) for token in range(11)] == [*range(7), *range(6, 10)]
    assert [shown_row(state.replace(producing="all"), token) for token in range(11)] == [None, *range(10)]
    assert [shown_row(state.replace(producing=False), token) for token in range(11)] == list(range(11))


@pytest.mark.parametrize(
    ("value", "kind"), [("yes", ValueError), ("ALL", ValueError), (1, TypeError), (None, TypeError), ([], TypeError)]
)
def test_a_producing_value_that_is_none_of_the_three_gets_one_line(value, kind):
    advice = (
        "producing must be True (the model's words show the step that wrote them, prompt tokens their own rows), "
        "'all' (prompt tokens too show the step that predicted them) or False (every token its own row)"
    )
    if value is not None:  # None is the constructor's default
        with pytest.raises(kind) as info:
            AttentionWidget(synthetic_answer_result(), producing=value)
        assert "\n" not in str(info.value)
    widget = AttentionWidget(synthetic_answer_result())
    with pytest.raises(kind, match=re.escape(advice)):
        widget.producing = value
    assert widget.producing is True


@pytest.mark.browser
def test_hovering_an_answer_word_shows_the_step_that_wrote_it(page):
    result = synthetic_answer_result()
    widget = AttentionWidget(result, layer=0, colormap="gray", smooth=False)
    view = WidgetPage(page, [widget])
    labels = page.eval_on_selector_all(".qvl-strip-label", "labels => labels.map(l => l.textContent)")
    assert labels == ["Prompt", "Answer"]
    view.hover_token(FIRST_ANSWER + 1)  # " red": written at the step of " A"
    assert view.brightest_cell() == expected_peak(result, FIRST_ANSWER, layer=0)
    assert view.brightest_cell() != expected_peak(result, FIRST_ANSWER + 1, layer=0)
    caption = without_isolates(page.text_content(".qvl-caption"))
    assert "while writing “ red” (the model's probability 80%)" in caption  # a probability, said to be one
    # A prompt word shows its own row (what it looks at), and the caption says so.
    view.hover_token(3)
    assert view.brightest_cell() == expected_peak(result, 3, layer=0)
    assert "“ red” (its own row)" in without_isolates(page.text_content(".qvl-caption"))
    # Every token: the first token after the image has no producing step; the next one's is row 0.
    view.change(page.select_option, ".qvl-producing", "all")
    view.hover_token(0)  # nothing before the first token after the image was captured
    assert "has no producing step" in page.text_content(".qvl-caption")
    assert view.cell_colours()[..., :3].max() == 0  # nothing painted
    view.hover_token(1)  # predicted at row 0, the first captured row: a producing step like any other
    assert view.brightest_cell() == expected_peak(result, 0, layer=0)
    caption = without_isolates(page.text_content(".qvl-caption"))
    assert "the step that predicted" in caption and "no producing step" not in caption


@pytest.mark.browser
def test_the_producing_menu_shows_every_tokens_producing_step_or_each_tokens_own_row(page):
    result = synthetic_answer_result()
    widget = AttentionWidget(result, layer=1, colormap="gray", smooth=False)
    view = WidgetPage(page, [widget])
    assert page.input_value(".qvl-producing") == "true"
    options = page.eval_on_selector_all(".qvl-producing option", "options => options.map(o => [o.value, o.text])")
    assert options == [["true", "the model's words"], ["all", "every token"], ["false", "off"]]
    # Every token: a prompt word shows the step that predicted it (the token before it).
    view.change(page.select_option, ".qvl-producing", "all")
    assert widget.producing == "all"
    view.hover_token(3)
    assert view.brightest_cell() == expected_peak(result, 2, layer=1)
    assert "the step that predicted “ red”" in without_isolates(page.text_content(".qvl-caption"))
    view.hover_token(0)  # nothing before the first token after the image was captured
    assert "has no producing step" in page.text_content(".qvl-caption")
    assert view.cell_colours()[..., :3].max() == 0  # nothing painted
    # Off: every token its own row, the model's words too.
    view.change(page.select_option, ".qvl-producing", "false")
    assert widget.producing is False
    view.hover_token(FIRST_ANSWER + 2)
    assert view.brightest_cell() == expected_peak(result, FIRST_ANSWER + 2, layer=1)
    caption = without_isolates(page.text_content(".qvl-caption"))
    assert "“ cat” (its own row)" in caption and "while writing" not in caption
    # The menu follows the trait when the model's state changes (the kernel's, a linked view's).
    page.evaluate("window.qvlModels[0].set('producing', 'all')")
    assert page.input_value(".qvl-producing") == "all"


@pytest.mark.browser
def test_the_switch_is_offered_only_with_an_answer(page):
    WidgetPage(page, [AttentionWidget(synthetic_result())])
    assert page.locator(".qvl-producing").is_hidden()


@pytest.mark.browser
def test_the_reverse_view_tints_answer_words_by_their_producing_rows(page):
    result = synthetic_answer_result()
    WidgetPage(page, [AttentionWidget(result, layer=0, colormap="gray", smooth=False)])
    rows, cols = result.images[0].rows, result.images[0].cols
    row, col = expected_peak(result, FIRST_ANSWER, layer=0)  # the peak of the step that wrote " red"
    box = page.locator(".qvl-frame").bounding_box()
    page.mouse.move(box["x"] + (col + 0.5) / cols * box["width"], box["y"] + (row + 0.5) / rows * box["height"])
    chips = page.eval_on_selector_all(
        ".qvl-token:not([hidden])",
        "chips => chips.map(c => [Number(c.dataset.qvlToken), Number(getComputedStyle(c).backgroundColor.split(',')[3]"
        "?.replace(')', '') ?? 1), c.title])",
    )
    strongest = max(chips, key=lambda chip: chip[1])[0]
    assert strongest == FIRST_ANSWER + 1  # " red", whose producing row is " A"'s
    # Every shown chip is tinted by its producing row's attention to that cell (none: no tint), on the shown
    # chips' scale: alpha 0.15 + 0.7 x its share of the largest.
    # Every shown chip is tinted by the row it shows (the answer's words: their producing rows; the prompt's: their
    # own) and its title says which.
    producing = np.nan_to_num(result.maps(layer=0, producing=True)[:, row * cols + col])
    own = result.maps(layer=0)[:, row * cols + col]
    shown = [token for token, _, _ in chips]
    weights = np.array([producing[token] if token >= FIRST_ANSWER else own[token] for token in shown])
    expected = 0.15 + 0.7 * weights / weights.max()
    np.testing.assert_allclose([alpha for _, alpha, _ in chips], expected, atol=0.01)
    for token, _, title in chips:
        step = " (producing step)" if token >= FIRST_ANSWER else ""
        assert title.endswith(f" attention to the hovered cell{step}"), (token, title)


@pytest.mark.browser
def test_layers_are_named_by_their_decoder_index(page):
    result = dataclasses.replace(synthetic_result(layers=2), layer_ids=(5, 9))
    WidgetPage(page, [AttentionWidget(result)])
    names = page.eval_on_selector_all(".qvl-layer option", "options => options.map(o => o.textContent)")
    assert names == ["layer 5", "layer 9", "mean of layers", "max of layers"]
    assert page.text_content(".qvl-caption").startswith("layer 9 · ")


@pytest.mark.browser
def test_the_html_page_has_the_answer_and_its_producing_maps(offline_page, tmp_path):
    page, requests = offline_page
    result = synthetic_answer_result()
    path = result.to_html(tmp_path / "answer.html", layer=0, colormap="gray", smooth=False, token=[FIRST_ANSWER + 1])
    header = embedded_header(path)
    assert header["answer"] == result.answer and header["state"]["producing"] is True
    page.goto(path.as_uri())
    page.wait_for_function("Number(document.querySelector('.qvl-widget')?.dataset.qvlFrames) > 0")
    assert "while writing “ red”" in without_isolates(page.text_content(".qvl-caption"))
    assert page.text_content(".qvl-page-answer") == f"Answer: {result.answer}"
    assert page.is_hidden(".qvl-page-thinking")  # no thinking: nothing folded under the title
    assert requests == []


def test_widget_producing_option_is_checked(tmp_path):
    with pytest.raises(ValueError, match="producing must be True .*, 'all' .* or False .*, not 'yes'"):
        AttentionWidget(synthetic_answer_result(), producing="yes")
    result = synthetic_answer_result()
    pinned = [FIRST_ANSWER + 1]  # " red"
    own = AttentionWidget(result, producing=False, token=pinned)
    assert own.producing is False and own.view_state().producing is False
    assert "the step that produced" not in own._still()["text/plain"]
    by_default = AttentionWidget(result, token=pinned)
    assert by_default.producing is True and "the step that produced “ red”" in by_default._still()["text/plain"]
    # The rows their maps show: the pinned word's own row, or the row of the step that wrote it (" A"'s).
    assert shown_rows(result, own.view_state()) == pinned
    assert shown_rows(result, by_default.view_state()) == [FIRST_ANSWER]
    # A pinned prompt word shows its own row unless every token shows its producing step.
    prompt_word = AttentionWidget(result, token=[3])
    assert shown_rows(result, prompt_word.view_state()) == [3]
    assert "“ red” (its own row)" in prompt_word._still()["text/plain"]
    every = AttentionWidget(result, token=[3], producing="all")
    assert shown_rows(result, every.view_state()) == [2]
    assert "the step that produced “ red”" in every._still()["text/plain"]


@pytest.mark.browser
def test_save_png_saves_the_producing_map_of_a_pinned_answer_word(page):
    import io

    from PIL import Image

    result = synthetic_answer_result()
    widget = AttentionWidget(result, layer=0, colormap="gray", smooth=False, opacity=1.0, token=[FIRST_ANSWER + 1])
    WidgetPage(page, [widget])
    with page.expect_download() as download:
        page.click(".qvl-save")
    saved = np.asarray(Image.open(io.BytesIO(download.value.path().read_bytes())).convert("L"), dtype=float)
    rows, cols = result.images[0].rows, result.images[0].cols
    ys = ((np.arange(rows) + 0.5) * saved.shape[0] / rows).astype(int)
    xs = ((np.arange(cols) + 0.5) * saved.shape[1] / cols).astype(int)
    centres = saved[np.ix_(ys, xs)]  # opacity 1, gray colours: each cell's brightness is its value
    row, col = np.unravel_index(int(np.argmax(centres)), centres.shape)
    assert (row, col) == expected_peak(result, FIRST_ANSWER, layer=0)  # the step that wrote " red"


# ----- the thinking ---------------------------------------------------------------------------------------------------


def thinking_result(**options):
    return synthetic_answer_result(thinking_texts=THINKING_TEXTS, **options)


def still_thinking_result():
    return synthetic_answer_result(answer_texts=(), thinking_texts=("Maybe", " red"))


def test_the_view_state_has_a_thinking_strip_between_the_prompt_and_the_answer():
    state = ViewState.of(thinking_result())
    assert [(group["name"], group["label"], group["note"]) for group in state.groups] == [
        ("prompt", "Prompt", ""),
        ("thinking", "Thinking", ""),
        ("answer", "Answer", ""),
    ]
    assert [token["group"] for token in state.tokens] == [0] * 7 + [1] * 3 + [2] * 5
    assert state.producing is True  # the model's own words open on the steps that produced them
    unfinished = ViewState.of(still_thinking_result())
    assert [(group["name"], group["note"]) for group in unfinished.groups] == [
        ("prompt", ""),
        ("thinking", STILL_THINKING),
    ]
    assert unfinished.producing is True


@pytest.mark.browser
def test_the_thinking_strip_says_where_the_model_looked_while_thinking(page):
    result = thinking_result()
    view = WidgetPage(page, [AttentionWidget(result, layer=0, colormap="gray", smooth=False)])
    labels = page.eval_on_selector_all(".qvl-strip-label", "labels => labels.map(l => l.textContent)")
    assert labels == ["Prompt", "Thinking", "Answer"]
    chips = page.eval_on_selector_all(
        "[data-qvl-group='thinking'] .qvl-token:not([hidden])", "chips => chips.map(c => c.textContent)"
    )
    assert chips == ["Maybe", " red"]  # "</think>" is markup: behind the template-tokens toggle
    style = page.eval_on_selector("[data-qvl-group='thinking']", "strip => getComputedStyle(strip).borderTopStyle")
    assert style == "dashed"
    assert page.is_visible(".qvl-producing")

    view.hover_token(THOUGHT_RED)  # written at the step of "Maybe"
    assert view.brightest_cell() == expected_peak(result, THOUGHT_RED - 1, layer=0)
    assert view.brightest_cell() != expected_peak(result, THOUGHT_RED, layer=0)
    caption = without_isolates(page.text_content(".qvl-caption"))
    assert "while thinking “ red” (the model's probability 80%)" in caption and "while writing" not in caption
    view.hover_token(ANSWER_RED)
    caption = without_isolates(page.text_content(".qvl-caption"))
    assert "while writing “ red” (the model's probability 40%)" in caption and "while thinking" not in caption


@pytest.mark.browser
def test_a_thinking_cut_short_says_so_in_its_strip_and_captions(page):
    view = WidgetPage(page, [AttentionWidget(still_thinking_result(), layer=0)])
    labels = page.eval_on_selector_all(".qvl-strip-label", "labels => labels.map(l => l.textContent)")
    assert labels == ["Prompt", f"Thinking · {STILL_THINKING}"]
    view.hover_token(8)
    caption = without_isolates(page.text_content(".qvl-caption"))
    assert "while thinking “ red”" in caption and STILL_THINKING in caption
    view.hover_token(3)  # a prompt word: not the thinking's note
    assert STILL_THINKING not in page.text_content(".qvl-caption")


@pytest.mark.browser
def test_the_html_page_folds_the_thinking_and_keeps_it_text(offline_page, tmp_path):
    page, requests = offline_page
    thought = XSS_TEXTS[0] + XSS_TEXTS[1]
    result = thinking_result(texts=("Where", " is", " it", "?", "<|im_end|>", "\n", "assistant"))
    result = dataclasses.replace(result, thinking=thought)  # markup-shaped thinking: shown as text, never run
    path = result.to_html(tmp_path / "thinking.html", layer=0, token=[5 + 2])
    header = embedded_header(path)
    assert header["thinking"] == thought and header["answer"] == result.answer
    page.goto(path.as_uri())
    page.wait_for_function("Number(document.querySelector('.qvl-widget')?.dataset.qvlFrames) > 0")
    assert page.is_visible(".qvl-page-thinking summary") and page.is_hidden(".qvl-page-thinking p")  # folded
    assert page.text_content(".qvl-page-thinking summary") == f"Thinking ({len(thought)} characters)"
    page.click(".qvl-page-thinking summary")
    assert page.is_visible(".qvl-page-thinking p") and page.text_content(".qvl-page-thinking p") == thought
    assert page.evaluate("window.__xss") is None and page.locator(".qvl-page-thinking img").count() == 0
    assert page.text_content(".qvl-page-answer") == f"Answer: {result.answer}"
    assert requests == []

    unfinished = still_thinking_result().to_html(tmp_path / "unfinished.html")
    page.goto(unfinished.as_uri())
    page.wait_for_function("Number(document.querySelector('.qvl-widget')?.dataset.qvlFrames) > 0")
    assert page.text_content(".qvl-page-answer") == STILL_THINKING[0].upper() + STILL_THINKING[1:]
