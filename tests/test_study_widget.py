"""`study.widget()`: a study's examples sorted by a metric, above the attention view of the chosen one.

In Python: the table's rows are the study's own numbers, best first and failures last; choosing an example opens
its saved result, or captures it again with the study's options; the view keeps its layer, head and look, pins the
scored query and draws the example's box; bad arguments get one line. In Chromium (the real Python widget as the
kernel): the table, choosing by click and keyboard, the new example's own maps on screen, failures said in words.
"""

from __future__ import annotations

import numpy as np
import pytest
from browser_support import WidgetPage, expected_peak, synthetic_result
from test_light_import import WITHOUT_MODEL_STACK, run_python
from test_study import scenes

import qvl_widget._study_widget
from qvl_widget import Study, StudyWidget, demo

BROKEN = {"id": "broken", "image": "/nonexistent/scene.png", "prompt": "What color is the circle?"}
MARKUP_ID = "<img src=x onerror=\"window.__xss='id'\">"


@pytest.fixture(scope="module")
def model():
    return demo.load(device="cpu")


@pytest.fixture(scope="module")
def examples() -> list[dict]:
    found = scenes(6)
    found[4] = {**found[4], "id": MARKUP_ID}
    return [*found, BROKEN]


@pytest.fixture(scope="module")
def saved(model, examples, tmp_path_factory) -> Study:
    folder = tmp_path_factory.mktemp("study") / "saved"
    return model.study(examples, folder, query="all", keep="results", progress=False)


@pytest.fixture(scope="module")
def summary(model, examples, tmp_path_factory) -> Study:
    folder = tmp_path_factory.mktemp("study") / "summary"
    return model.study(examples, folder, query="all", progress=False)


# ----- in Python --------------------------------------------------------------------------------------------------


def test_the_rows_are_the_studys_values_at_its_best_head_best_first_then_failures(saved):
    widget = saved.widget("in_box")
    best = saved.head_ranking("in_box", top=1).iloc[0]
    best_layer, best_head = int(best["layer"]), int(best["head"])
    assert widget.column == f"in_box, layer {best_layer} head {best_head} ('last' query)"
    values = saved.heads("in_box")  # [layers, heads] means; per example below
    layer = saved.layer_ids().index(best_layer)
    done = [row for row in widget.examples if row["error"] is None]
    assert [row["value"] for row in done] == sorted((row["value"] for row in done), reverse=True)
    for row in done:
        assert row["value"] == pytest.approx(saved.heads("in_box", example=row["id"])[layer, best_head])
    assert np.mean([row["value"] for row in done]) == pytest.approx(values[layer, best_head])
    assert widget.examples[-1]["id"] == "broken" and widget.examples[-1]["value"] is None
    assert "image file not found" in widget.examples[-1]["error"]
    entropy = saved.widget("spatial_entropy", layer=best_layer, head=-1)
    ranked = [row["value"] for row in entropy.examples if row["error"] is None]
    assert ranked == sorted(ranked) and "the heads' mean" in entropy.column  # most focused first


def test_choosing_an_example_opens_its_saved_result_with_the_view_kept(saved):
    widget = saved.widget("pointing", colormap="gray", opacity=0.5)
    first, second = widget.examples[0]["id"], widget.examples[2]["id"]
    assert widget.shown == widget.chosen == first
    np.testing.assert_array_equal(widget.result.attention, saved.result(first).attention)
    widget.layer, widget.head = 2, 1
    seen = []
    widget.observe(lambda change: seen.append(change.new), names="shown")
    widget.chosen = second
    assert seen == [None, second]  # the front ends drop the old view, then build the new one
    np.testing.assert_array_equal(widget.result.attention, saved.result(second).attention)
    assert (widget.layer, widget.head, widget.colormap, widget.opacity) == (2, 1, "gray", 0.5)
    assert [token["text"] for token in widget.tokens] == [token.text for token in saved.result(second).tokens]
    assert widget.maps_payload and widget.message == ""


def test_the_scored_query_is_pinned_and_the_box_drawn(saved, examples):
    last = saved.widget("pointing", query="last")
    result = last.result
    assert last.selected == [max(i for i, token in enumerate(result.tokens) if token.part == "prompt")]
    assert last.boxes == []  # no examples given: the study keeps no boxes
    phrase = saved.widget("in_box", query="phrase", examples=examples)
    example = next(example for example in examples if example["id"] == phrase.shown)
    assert [phrase.result.tokens[index].text.strip() for index in phrase.selected] == example["phrase"].split()
    (box,) = phrase.boxes
    assert [box["x0"], box["y0"], box["x1"], box["y1"]] == pytest.approx(list(example["box"]))


def test_a_summary_study_captures_the_chosen_example_again(summary, saved, model, examples):
    with pytest.raises(ValueError, match="kept summaries only .* pass model= and examples="):
        summary.widget()
    widget = summary.widget("pointing", model=model, examples=examples)
    chosen = widget.examples[3]["id"]
    widget.chosen = chosen
    np.testing.assert_allclose(widget.result.attention, saved.result(chosen).attention, atol=1e-6)


def test_a_failed_example_says_why_and_the_view_stays(saved):
    widget = saved.widget()
    shown = widget.shown
    widget.chosen = "broken"
    assert widget.shown == widget.chosen == shown
    assert widget.message.startswith("example 'broken' failed in the study: FileNotFoundError: image file not found")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"metric": "accuracy"}, "metric must be one of image_share, spatial_entropy, in_box, area, pointing"),
        ({"layer": 1}, "give layer= and head= together"),
        ({"layer": 99, "head": 0}, "layer must be one of the study's decoder layers"),
        ({"layer": 1, "head": 4}, "head must be a head index 0..3 or -1"),
        ({"query": "everything"}, "query must be one this study scored"),
        ({"query": "answer"}, "the study has no .answer. rows yet"),
        ({"examples": [{"id": "other", "image": "x.png", "prompt": "?"}]}, "examples= are not this study's"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_arguments_get_one_line(saved, arguments, message):
    with pytest.raises((ValueError, TypeError), match=message) as error:
        saved.widget(**arguments)
    assert "\n" not in str(error.value)


def test_a_model_other_than_the_studys_is_refused(summary, examples):
    class Other:
        name = "someone/else"

    with pytest.raises(ValueError, match="this study ran on .*, not on 'someone/else': load that model"):
        summary.widget(model=Other(), examples=examples)


def test_a_saved_study_is_browsed_without_torch(saved):
    code = f"""
import sys
import qvl_widget
widget = qvl_widget.Study.open({str(saved.folder)!r}).widget("pointing")
widget.chosen = widget.examples[1]["id"]
print(widget.shown == widget.examples[1]["id"], len(widget.maps_payload) > 0, "torch" in sys.modules)
"""
    done = run_python(WITHOUT_MODEL_STACK + code, saved.folder)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True", "False"]


# ----- in the browser ---------------------------------------------------------------------------------------------

SYNTHETIC = {  # each example's result, all different: tokens, grids and maps
    "a": synthetic_result(grids=((4, 6),)),
    "b": synthetic_result(("Which", " blue", " dog", "?"), grids=((3, 5),), layers=2, heads=2),
    "c": synthetic_result(("Find", " the", " green", " bird", " now", "?"), grids=((5, 4),), layers=2, heads=2),
}


@pytest.fixture
def synthetic_study(saved, monkeypatch):
    """The saved study's table, with each example opening one of `SYNTHETIC`'s results (its maps are easy to read on
    screen): the widget's logic is the same whatever the results hold."""
    ids = [row["id"] for row in saved.widget().examples if row["error"] is None]
    opened = {name: SYNTHETIC["abc"[index % 3]] for index, name in enumerate(ids)}
    monkeypatch.setattr(qvl_widget._study_widget._Opener, "result", lambda self, example: opened[example])
    return saved, opened


def row_texts(page) -> list[list[str]]:
    return page.eval_on_selector_all(
        "#view-0 .qvl-examples-row", "rows => rows.map(row => [...row.cells].map(cell => cell.textContent))"
    )


def chip_texts(page) -> list[str]:
    return page.eval_on_selector_all("#view-0 [data-qvl-token]", "chips => chips.map(chip => chip.textContent)")


@pytest.mark.browser
def test_the_table_shows_every_example_best_first_with_markup_inert(page, saved):
    widget = StudyWidget(saved, "pointing")
    view = WidgetPage(page, [widget])
    rows = row_texts(page)
    assert [row[1] for row in rows] == [row["id"] for row in widget.examples]
    assert rows[0] == ["1", widget.examples[0]["id"], f"{widget.examples[0]['value']:.3f}"]
    assert rows[-1][1:] == ["broken", "failed"]
    assert page.get_attribute("#view-0 .qvl-examples-failed", "title").startswith("FileNotFoundError")
    assert page.evaluate("window.__xss") is None and page.locator("#view-0 .qvl-examples img").count() == 0
    assert page.text_content("#view-0 .qvl-examples-order").startswith(widget.column)
    page.click("#view-0 .qvl-examples-order")  # reverses the order, in the browser alone
    assert [row[1] for row in row_texts(page)] == [row["id"] for row in reversed(widget.examples)]
    assert view.kernel_calls == 0 and view.blocked == []


@pytest.mark.browser
@pytest.mark.parametrize("how", ["click", "keyboard"])
def test_choosing_an_example_draws_its_own_maps(page, synthetic_study, how):
    study, opened = synthetic_study
    widget = StudyWidget(study, "pointing", layer=study.layer_ids()[0], head=0, colormap="gray", smooth=False)
    view = WidgetPage(page, [widget])
    first = widget.shown
    assert chip_texts(page)[: len(opened[first].tokens)] == [token.text for token in opened[first].tokens]
    target = next(row["id"] for row in widget.examples if opened[row["id"]] is not opened[first])
    position = [row["id"] for row in widget.examples].index(target)
    row = page.locator("#view-0 .qvl-examples-row").nth(position)
    if how == "click":
        view.change(row.click)
    else:
        page.locator("#view-0 .qvl-examples-row").nth(position - 1).focus()
        page.keyboard.press("ArrowDown")
        view.change(page.keyboard.press, "Enter")
    assert widget.shown == target and widget.chosen == target
    page.wait_for_function("document.querySelector('#view-0 .qvl-study-status').textContent.includes('Example')")
    result = opened[target]
    assert chip_texts(page) == [token.text for token in result.tokens]
    assert page.locator("#view-0 .qvl-widget").count() == 1  # the old view is gone
    assert page.get_attribute(f"#view-0 .qvl-examples-row:nth-child({position + 1})", "aria-selected") == "true"
    for query in (0, 2):
        view.hover_token(query)
        assert view.brightest_cell() == expected_peak(result, query, layer=0, head=0)


@pytest.mark.browser
def test_a_failed_example_is_said_in_words_and_the_view_stays(page, saved):
    widget = StudyWidget(saved, "pointing")
    view = WidgetPage(page, [widget])
    chips = chip_texts(page)
    view.change(page.locator("#view-0 .qvl-examples-row", has_text="broken").click)
    status = page.text_content("#view-0 .qvl-study-status")
    assert status.startswith("example 'broken' failed in the study: FileNotFoundError")
    assert chip_texts(page) == chips and widget.shown != "broken"
