"""One view state for every view: the widget mirrors it as traits, the HTML page packs it as it is."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from browser_support import WidgetPage, synthetic_answer_result, synthetic_result, synthetic_video_result
from test_html import embedded_container, embedded_header

from qvl_widget import AttentionResult, AttentionWidget, Box
from qvl_widget._result import BASELINE_PROMPT
from qvl_widget._view_state import OPTIONS, ViewState


def rich_result() -> AttentionResult:
    """An image and a video, three layers and two heads, a baseline and visual sinks: a result every option
    applies to."""
    result = synthetic_video_result(layers=3, heads=2, image=(3, 3))
    columns = result.attention.shape[-1]
    baseline = np.ascontiguousarray(
        np.broadcast_to((1 + np.arange(columns) % 5) / (3 * columns), (3, 2, columns)), dtype=np.float32
    )
    scores = np.ones((3, columns), dtype=np.float32)
    scores[:, [4, 20, 40]] = 80.0
    return dataclasses.replace(result, baseline_attention=baseline, baseline_prompt=BASELINE_PROMPT, sink_scores=scores)


# Every option away from its default.
OPTIONS_USED = dict(
    layer=[0, 2],
    head=1,
    reduce="max",
    token=[1, 3],
    producing=True,
    unit="uniform",
    relative=True,
    drop_sinks=True,
    mark_sinks=True,
    head_overview="focus",
    colormap="viridis",
    opacity=0.35,
    smooth=False,
    style="contour",
    shared_scale=True,
    show_special=True,
    width=300,
    group=2,
    boxes=[(10, 20, 90, 100), Box(100, 100, 600, 500, label="ball", image=1)],
)


def widget_fields(widget: AttentionWidget) -> dict:
    """The widget's traits as the front end receives them (JSON values; bytes aside)."""
    state = widget.get_state()
    return {name: state[name] for name in ViewState.field_names() if name != "pictures"}


def test_the_widget_and_the_html_start_from_the_same_state(tmp_path):
    result = rich_result()
    widget = result.widget(**OPTIONS_USED)
    header = embedded_header(result.to_html(tmp_path / "view.html", layers=[0], heads=["mean"], **OPTIONS_USED))
    in_widget, in_page = widget_fields(widget), header["state"]
    assert set(in_page) == set(in_widget)
    for name in set(in_widget) - {"available"}:
        assert in_page[name] == in_widget[name], name
    defaults = ViewState.of(result).json_fields()
    for name in OPTIONS:
        assert in_widget[name] != defaults[name], f"{name} is at its default: the test would not see it lost"
    assert (in_widget["layer"], in_widget["head"], in_widget["selected"], in_widget["group"]) == ([0, 2], 1, [1, 3], 2)
    # The page embeds some layer/head maps, not all: its menus offer those, all of them among the widget's.
    assert set(map(str, in_page["available"]["layers"])) <= set(map(str, in_widget["available"]["layers"]))
    for layer, heads in in_page["available"]["heads"].items():
        assert set(heads) <= set(in_widget["available"]["heads"][layer])
    assert 1 in in_page["available"]["heads"]["0,2"]  # the view it opens on
    # The same pictures, byte for byte.
    _, blob = embedded_container(tmp_path / "view.html")
    assert [blob(span) for span in header["pictures"]] == list(widget.pictures)


CONTROLS = ".qvl-layer, .qvl-head, .qvl-unit, .qvl-colormap, .qvl-head-overview, .qvl-opacity"
SWITCHES = ".qvl-relative, .qvl-drop-sinks, .qvl-mark-sinks, .qvl-smooth, .qvl-shared, .qvl-special, .qvl-producing"


def what_is_shown(page, scope: str = "") -> dict:
    """What a view shows, as a user sees it: its controls, caption, strips, pictures' captions and every canvas's
    pixels (the overlays, the sink marks and the head overview)."""
    return page.evaluate(
        """([scope, controls, switches]) => {
            const root = document.querySelector(`${scope} .qvl-widget`);
            const all = (selector) => [...root.querySelectorAll(selector)];
            const pixels = (canvas) =>
              Array.from(canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data);
            return {
              controls: all(controls).map((control) => control.value),
              switches: all(switches).map((control) => [control.checked, control.disabled]),
              caption: root.querySelector(".qvl-caption").textContent,
              chips: all(".qvl-token").map((chip) => [chip.textContent, chip.hidden, chip.title]),
              figures: all(".qvl-figcaption").map((caption) => caption.textContent),
              strip: all(".qvl-film-cell").map((cell) => [cell.title, cell.getAttribute("aria-current")]),
              colorbar: all(".qvl-colorbar-label").map((label) => label.textContent),
              canvases: all("canvas.qvl-overlay, canvas.qvl-marks, canvas.qvl-heads-grid").map(pixels),
            };
        }""",
        [scope, CONTROLS, SWITCHES],
    )


@pytest.mark.browser
def test_the_widget_and_the_html_page_open_on_the_same_view(page, offline_page, tmp_path):
    result = rich_result()
    WidgetPage(page, [result.widget(**OPTIONS_USED)])
    html, requests = offline_page
    html.goto(result.to_html(tmp_path / "view.html", layers=[0], heads=["mean"], **OPTIONS_USED).as_uri())
    html.wait_for_function("Number(document.querySelector('.qvl-widget')?.dataset.qvlFrames) > 0")
    html.locator(".qvl-heads-grid").wait_for()
    in_widget, in_page = what_is_shown(page), what_is_shown(html)
    for name, shown in in_widget.items():
        assert in_page[name] == shown, name
    assert "group 3 of 4" in in_widget["figures"][1] and in_widget["switches"][0] == [True, False]
    assert requests == []


def test_the_widget_writes_the_html_from_its_current_state(tmp_path):
    result = synthetic_result(layers=3, heads=2)
    widget = result.widget()
    widget.layer, widget.head, widget.selected, widget.colormap = 1, "max", [2], "jet"
    header = embedded_header(widget.to_html(tmp_path / "now.html"))
    for name in set(widget_fields(widget)) - {"available"}:
        assert header["state"][name] == widget_fields(widget)[name], name
    assert (header["state"]["layer"], header["state"]["head"], header["state"]["selected"]) == (1, "max", [2])


def test_the_html_is_written_without_a_widget(tmp_path, monkeypatch):
    def refuse(*arguments, **options):
        raise AssertionError("the HTML export built a widget")

    monkeypatch.setattr(AttentionWidget, "__init__", refuse)
    path = synthetic_result().to_html(tmp_path / "alone.html", phrase="red cat")
    assert embedded_header(path)["state"]["selected"] == [3, 4]


def test_token_groups_and_media_frames_describe_the_result():
    result = synthetic_result(grids=((4, 6), (3, 5)))
    state = ViewState.of(result)
    assert state.groups == [{"name": "prompt", "label": "Prompt", "note": ""}]
    assert [token["group"] for token in state.tokens] == [0] * result.num_queries
    assert [(medium["first_column"], len(medium["frames"])) for medium in state.media] == [(0, 1), (24, 1)]
    assert [medium["frames"][0]["picture"] for medium in state.media] == [0, 1]
    assert len(state.pictures) == 2
    assert set(OPTIONS) <= set(ViewState.field_names())


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("opacity", "half", "opacity must be between 0 and 1"),
        ("smooth", "yes", "smooth must be True or False"),
        ("head", "median", "head must be an index, a list of indices, 'mean', 'max' or 'all'"),
        ("colormap", "rainbow", "unknown colormap 'rainbow'"),
    ],
)
def test_each_option_is_checked_once_for_both_views(tmp_path, option, value, message):
    result = synthetic_result()
    with pytest.raises((ValueError, TypeError), match=message):
        result.widget(**{option: value})
    with pytest.raises((ValueError, TypeError), match=message):
        result.to_html(tmp_path / "x.html", **{option: value})
    assert not (tmp_path / "x.html").exists()


def test_group_reaches_the_last_group_of_the_longest_video(tmp_path):
    """Two videos of 4 and 2 groups: group= goes up to 3 (the shorter video then shows its last) in the widget,
    set from Python and in the page; 4 is refused."""
    result = synthetic_video_result(groups=(4, 2))
    assert result.widget(group=3).group == 3 and result.widget(group=-1).group == 3
    widget = result.widget()
    widget.group = 3
    assert widget.group == 3
    path = result.to_html(tmp_path / "long.html", layers=[-1], heads=["mean"], group=3)
    assert embedded_header(path)["state"]["group"] == 3
    with pytest.raises(IndexError, match=r"^group 4 is out of range: there are 4 groups"):
        result.widget(group=4)


def test_a_token_is_produced_by_the_row_of_the_position_before_it_not_the_row_before():
    """An image between two captured rows (positions 102 and 153): the token after it has no producing row, and
    the rows after that name the row of the position before theirs."""
    result = synthetic_answer_result()
    positions = result.query_positions.copy()
    positions[3:] += 50
    producers = [
        token["producer"] for token in ViewState.of(dataclasses.replace(result, query_positions=positions)).tokens
    ]
    assert producers == [None, 0, 1, None, *range(3, result.num_queries - 1)]
