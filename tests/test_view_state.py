"""One view state for every view: the widget mirrors it as traits, the HTML page packs it as it is."""

from __future__ import annotations

import pytest
from browser_support import synthetic_result
from test_html import embedded_container, embedded_header

from qvl_widget import AttentionWidget
from qvl_widget._view_state import OPTIONS, ViewState

OPTIONS_USED = dict(
    layer=0,
    head=1,
    phrase="red cat",
    colormap="viridis",
    opacity=0.35,
    smooth=False,
    shared_scale=True,
    show_special=True,
    width=300,
)


def widget_fields(widget: AttentionWidget) -> dict:
    """The widget's traits as the front end receives them (JSON values; bytes aside)."""
    state = widget.get_state()
    return {name: state[name] for name in ViewState.field_names() if name != "pictures"}


def test_the_widget_and_the_html_start_from_the_same_state(tmp_path):
    result = synthetic_result(grids=((4, 6), (3, 3)), layers=3, heads=2)
    widget = result.widget(**OPTIONS_USED)
    header = embedded_header(result.to_html(tmp_path / "view.html", **OPTIONS_USED))
    in_widget, in_page = widget_fields(widget), header["state"]
    assert set(in_page) == set(in_widget)
    for name in set(in_widget) - {"available"}:
        assert in_page[name] == in_widget[name], name
    assert in_widget["selected"] == [3, 4] and in_widget["layer"] == 0 and in_widget["head"] == 1
    # The page embeds some layer/head maps, not all: its menus offer those, all of them among the widget's.
    assert set(in_page["available"]["layers"]) <= set(in_widget["available"]["layers"])
    for layer, heads in in_page["available"]["heads"].items():
        assert set(heads) <= set(in_widget["available"]["heads"][layer])
    assert 1 in in_page["available"]["heads"]["0"]  # the view it opens on
    # The same pictures, byte for byte.
    _, blob = embedded_container(tmp_path / "view.html")
    assert [blob(span) for span in header["pictures"]] == list(widget.pictures)


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
