"""Every public argument of a result's views is checked at the boundary: one line naming the argument, showing the
bad value and saying what to pass; what is unambiguous (numpy integers, 0-d integer arrays, whole floats for sizes)
is accepted. No model here: the result is synthetic (see tests/test_bad_input.py for the engine's arguments)."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import traitlets
from browser_support import synthetic_result

from qvl_widget import AttentionWidget
from qvl_widget._arguments import described, shown, whole_number
from qvl_widget._view_state import VIEW_OPTIONS, ViewState

NAN, INF = float("nan"), float("inf")


@pytest.fixture(scope="module")
def result():
    return synthetic_result()  # 7 tokens, one 4 x 6 image, 2 layers, 2 heads


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message, message
    assert len(message) < 400, message
    return message


# ----- refused: (call on the result, error, a fragment naming the argument and what to pass) --------------------

REFUSED = [
    # indices: floats, bools, strings, NaN, sets, nested or 2-d selections, out of range
    (lambda r: r.grid(token=1.0), TypeError, "token must be an integer index or a list of them, not 1.0"),
    (lambda r: r.grid(token=True), TypeError, "token must be an integer index or a list of them, not True"),
    (lambda r: r.grid(token="1"), TypeError, "token must be an integer index or a list of them, not '1'"),
    (lambda r: r.grid(token=NAN), TypeError, "token must be an integer index or a list of them, not nan"),
    (lambda r: r.grid(token={0, 1}), TypeError, "token must be an integer index or a list of them, not {0, 1}"),
    (lambda r: r.grid(token=[[0]]), TypeError, r"token must be an integer index, not [0]"),
    (lambda r: r.grid(token=np.array([[0, 1]])), TypeError, "token must be an integer index or a flat list"),
    (lambda r: r.grid(token=np.array([0.0])), TypeError, "not an array of float64"),
    (lambda r: r.grid(token=np.array([True])), TypeError, "not an array of bool"),
    (lambda r: r.grid(token=np.array(1.0)), TypeError, "token must be an integer index, not array(1.)"),
    (lambda r: r.grid(token=[]), ValueError, "the token selection is empty: pass at least one token index"),
    (lambda r: r.grid(token=7), IndexError, "token 7 is out of range: there are 7 tokens, use 0..6 or -7..-1"),
    (lambda r: r.grid(token=10**30), IndexError, "token 1000000000000000000000000000000 is out of range"),
    (lambda r: r.grid(image=1.0), TypeError, "image must be an integer index, not 1.0"),
    (lambda r: r.grid(image=np.bool_(False)), TypeError, "image must be an integer index, not np.False_"),
    (lambda r: r.grid(image=np.int64(1)), IndexError, "image 1 is out of range: there is 1 image, use 0..0"),
    (lambda r: r.grid(layer=1.5), TypeError, "layer must be an integer index or a list of them, not 1.5"),
    (lambda r: r.grid(layer="last"), ValueError, "layer must be an index, a list of indices, 'mean', 'max' or 'all'"),
    (lambda r: r.grid(layer=np.array(2)), IndexError, "layer 2 is out of range: there are 2 layers"),
    (lambda r: r.grid(head=[0, "x"]), TypeError, "head must be an integer index, not 'x'"),
    (lambda r: r.grid(head=-3), IndexError, "head -3 is out of range: there are 2 heads, use 0..1 or -2..-1"),
    (lambda r: r.maps(layer={0: 1}), TypeError, "layer must be an integer index or a list of them, not {0: 1}"),
    # reduce, producing, phrase
    (lambda r: r.grid(reduce=None), ValueError, "reduce must be 'mean' or 'max', not None"),
    (lambda r: r.maps(reduce=np.array(["mean", "max"])), ValueError, "reduce must be 'mean' or 'max', not array("),
    (lambda r: r.grid(producing="yes"), TypeError, "producing must be True or False, not 'yes'"),
    (lambda r: r.maps(producing=1), TypeError, "producing must be True or False, not 1"),
    (lambda r: r.maps(producing=None), TypeError, "producing must be True or False, not None"),
    (lambda r: r.token_indices(None), TypeError, "phrase must be text (words of the prompt or the answer), not None"),
    (lambda r: r.grid(phrase=3), TypeError, "phrase must be text (words of the prompt or the answer), not int 3"),
    (lambda r: r.token_indices("  "), ValueError, "phrase is empty: pass some words"),
    # producing_rows takes the same indices as grid's token=
    (lambda r: r.producing_rows(None), TypeError, "token must be an integer index or a list of them, not None"),
    (lambda r: r.producing_rows("3"), TypeError, "token must be an integer index or a list of them, not '3'"),
    (lambda r: r.producing_rows([99]), IndexError, "token 99 is out of range: there are 7 tokens"),
    (lambda r: r.producing_rows([0.0]), TypeError, "token must be an integer index, not 0.0"),
    (lambda r: r.producing_rows(0), ValueError, "token 0 ('Where') has no producing map"),
    # the widget's options (as result.widget, AttentionWidget and ViewState.of take them)
    (lambda r: r.widget(opacity=NAN), ValueError, "opacity must be between 0 and 1 (0: no overlay, 1: opaque)"),
    (lambda r: r.widget(opacity=INF), ValueError, "opacity must be between 0 and 1"),
    (lambda r: r.widget(opacity=-0.1), ValueError, "opacity must be between 0 and 1"),
    (lambda r: r.widget(opacity="half"), TypeError, "opacity must be between 0 and 1"),
    (lambda r: r.widget(opacity=True), TypeError, "opacity must be between 0 and 1"),
    (lambda r: r.widget(width=NAN), ValueError, "width is the pictures' width in CSS pixels: a whole number >= 64"),
    (lambda r: r.widget(width=INF), ValueError, "width is the pictures' width in CSS pixels: a whole number >= 64"),
    (lambda r: r.widget(width=300.5), ValueError, "a whole number >= 64, not 300.5"),
    (lambda r: r.widget(width=10**9), ValueError, "width is the pictures' width in CSS pixels: at most 16384"),
    (lambda r: r.widget(width="512"), TypeError, "a whole number >= 64, not '512'"),
    (lambda r: r.widget(smooth="yes"), TypeError, "smooth must be True or False, not 'yes'"),
    (lambda r: r.widget(shared_scale=None), TypeError, "shared_scale must be True or False, not None"),
    (lambda r: r.widget(show_special=0), TypeError, "show_special must be True or False, not 0"),
    (
        lambda r: r.widget(producing="no"),
        ValueError,
        "'all' (prompt tokens too show the step that predicted them) or False (every token its own row), not 'no'",
    ),
    (lambda r: r.widget(colormap=None), ValueError, "unknown colormap None: choose one of inferno, viridis, jet, gray"),
    (lambda r: r.widget(colormap=["jet"]), ValueError, "unknown colormap ['jet']: choose one of"),
    (lambda r: r.widget(reduce="median"), ValueError, "reduce must be 'mean' or 'max', not 'median'"),
    (lambda r: r.widget(token=2.0), TypeError, "token must be an integer index or a list of them, not 2.0"),
    (lambda r: r.widget(layer=np.array([[1]])), TypeError, "layer must be an integer index or a flat list of them"),
    (lambda r: r.widget(phrase=b"cat"), TypeError, "phrase must be text (words of the prompt or the answer), not"),
    (lambda r: r.widget(colour="red"), TypeError, "widget got an unknown option 'colour'; did you mean colormap=?"),
    (lambda r: AttentionWidget(r, widht=300), TypeError, "AttentionWidget got an unknown option 'widht'; did you mean"),
    (lambda r: ViewState.of(None), TypeError, "a view needs an AttentionResult (from model.capture), not NoneType"),
    (lambda r: AttentionWidget(r.attention), TypeError, "AttentionWidget needs an AttentionResult"),
]


@pytest.mark.parametrize(("call", "error", "fragment"), REFUSED, ids=[case[2][:60] for case in REFUSED])
def test_refused_arguments_get_one_line(result, call, error, fragment):
    with pytest.raises(error) as raised:
        call(result)
    assert fragment in one_line(raised)


# ----- the HTML page and the result file: refused, and nothing written -------------------------------------------

FILE_REFUSED = [
    ("to_html", {"max_bytes": NAN}, ValueError, "max_bytes must be a whole number >= 1 (the page's most bytes"),
    ("to_html", {"max_bytes": INF}, ValueError, "max_bytes must be a whole number >= 1"),
    ("to_html", {"max_bytes": 0}, ValueError, "max_bytes must be a whole number >= 1"),
    ("to_html", {"max_bytes": -5}, ValueError, "not -5"),
    ("to_html", {"max_bytes": 2.5}, ValueError, "not 2.5"),
    ("to_html", {"max_bytes": "25 MiB"}, TypeError, "max_bytes must be a whole number >= 1"),
    ("to_html", {"max_bytes": True}, TypeError, "not True"),
    ("to_html", {"layers": 1.0}, TypeError, "layers must be a choice (an index, 'mean', 'max', 'all') or a list"),
    ("to_html", {"layers": {"a": 1}}, TypeError, "layers must be a choice"),
    ("to_html", {"heads": b"mean"}, TypeError, "heads must be a choice"),
    ("to_html", {"layers": []}, ValueError, "layers is empty: pass some, e.g. layers=[-1]"),
    ("to_html", {"layers": [5]}, IndexError, "layer 5 is out of range"),
    ("to_html", {"heads": ["median"]}, ValueError, "head must be an index, a list of indices, 'mean', 'max' or 'all'"),
    ("to_html", {"opacity": NAN}, ValueError, "opacity must be between 0 and 1"),
    ("to_html", {"colour": "red"}, TypeError, "to_html got an unknown option 'colour'; did you mean colormap=?"),
    ("to_html", {"path": None}, TypeError, "HTML path must be a file path (a str or a pathlib.Path)"),
    ("to_html", {"path": 5}, TypeError, "HTML path must be a file path (a str or a pathlib.Path)"),
    ("to_html", {"path": b"page.html"}, TypeError, "HTML path must be a file path"),
    ("to_html", {"path": "page.png"}, ValueError, "HTML path must end in .html or .htm, got 'page.png'"),
    ("to_html", {"path": "pa\0ge.html"}, ValueError, "contains a NUL character"),
    ("to_html", {"path": "a" * 300 + ".html"}, ValueError, "file names may have at most"),
    ("save", {"path": None}, TypeError, "save path must be a file path (a str or a pathlib.Path), e.g. 'attention"),
    ("save", {"path": 3.5}, TypeError, "save path must be a file path"),
    ("save", {"path": "result.json"}, ValueError, "save path must end in .npz, got 'result.json'"),
    ("save", {"path": "res\0ult.npz"}, ValueError, "contains a NUL character"),
    ("save", {"path": "res\ud800ult.npz"}, ValueError, "cannot use in a file name"),
    ("save", {"path": "x" * 300 + ".npz"}, ValueError, "file names may have at most"),
]


@pytest.mark.parametrize(
    ("method", "arguments", "error", "fragment"), FILE_REFUSED, ids=[case[3][:60] for case in FILE_REFUSED]
)
def test_refused_files_are_not_written(result, tmp_path, monkeypatch, method, arguments, error, fragment):
    monkeypatch.chdir(tmp_path)  # relative paths land here too
    arguments = dict(arguments)
    path = arguments.pop("path", tmp_path / ("page.html" if method == "to_html" else "result.npz"))
    with pytest.raises(error) as raised:
        getattr(result, method)(path, **arguments)
    assert fragment in one_line(raised)
    assert list(tmp_path.iterdir()) == []  # no file, no temporary file


def test_a_path_in_a_file_or_a_folder_is_refused_before_the_work(result, tmp_path):
    (tmp_path / "notes.txt").write_text("a file")
    with pytest.raises(NotADirectoryError) as raised:
        result.to_html(tmp_path / "notes.txt" / "page.html")
    assert "is a file, not a folder" in one_line(raised)
    (tmp_path / "folder.npz").mkdir()
    with pytest.raises(IsADirectoryError) as raised:
        result.save(tmp_path / "folder.npz")
    assert "is a folder" in one_line(raised)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["folder.npz", "notes.txt"]


def test_widget_to_html_checks_max_bytes_too(result, tmp_path):
    widget = result.widget()
    with pytest.raises(ValueError, match="max_bytes") as raised:
        widget.to_html(tmp_path / "page.html", max_bytes=NAN)
    assert "max_bytes must be a whole number >= 1" in one_line(raised)
    assert list(tmp_path.iterdir()) == []


# ----- accepted: what is unambiguous ------------------------------------------------------------------------------


def test_numpy_integers_and_0d_arrays_are_indices(result):
    expected = result.grid(token=1, layer=-1, head=0, image=0)
    for token, layer, head, image in [
        (np.int64(1), np.int32(-1), np.uint8(0), np.int16(0)),
        (np.array(1), np.array(-1), np.array(0), np.array(0)),
        ([np.int64(1)], np.array([1]), [0], np.array(0, dtype=np.uint64)),
    ]:
        np.testing.assert_array_equal(result.grid(token=token, layer=layer, head=head, image=image), expected)
    np.testing.assert_array_equal(result.grid(token=np.array([1, 2])), result.grid(token=[1, 2]))
    assert result.producing_rows(np.int64(2)) == result.producing_rows([2]) == [1]
    assert result.producing_rows(np.array([-1])) == [5]
    assert result.maps(producing=np.bool_(False)).shape == result.maps().shape


def test_whole_floats_and_numpy_numbers_are_sizes(result, tmp_path):
    widget = result.widget(width=300.0, opacity=np.float32(0.25), smooth=np.bool_(False), token=np.array([1, 2]))
    assert (widget.width, widget.opacity, widget.smooth, widget.selected) == (300, 0.25, False, [1, 2])
    assert all(type(value) in (int, float, bool) for value in (widget.width, widget.opacity, widget.smooth))
    assert result.to_html(tmp_path / "a.html", max_bytes=np.int64(10**8)).is_file()
    assert result.to_html(tmp_path / "b.HTML", max_bytes=1e8, layers=np.int64(-1), heads="mean").is_file()


def test_widget_traits_are_checked_like_the_constructor(result):
    widget = AttentionWidget(result)
    refused = [
        ("opacity", NAN, ValueError, "opacity must be between 0 and 1"),
        ("width", NAN, ValueError, "a whole number >= 64, not nan"),
        ("width", 10**30, ValueError, "at most 16384"),
        ("layer", 1.5, TypeError, "layer must be an integer index or a list of them, not 1.5"),
        ("layer", [True], TypeError, "layer must be an integer index, not True"),
        ("head", 9, IndexError, "head 9 is out of range"),
        ("reduce", None, ValueError, "reduce must be 'mean' or 'max', not None"),
        ("colormap", 5, ValueError, "unknown colormap 5"),
        ("smooth", None, TypeError, "smooth must be True or False, not None"),
        ("producing", 1, TypeError, "producing must be True (the model's words show the step that wrote them"),
        ("selected", "1", TypeError, "token must be an integer index or a list of them, not '1'"),
        ("selected", [7], IndexError, "token 7 is out of range"),
    ]
    before = widget.view_state().fields()
    for trait, value, error, fragment in refused:
        with pytest.raises(traitlets.TraitError) as raised:
            setattr(widget, trait, value)
        assert isinstance(raised.value, error), (trait, value, type(raised.value))
        assert fragment in one_line(raised), (trait, value)
    assert widget.view_state().fields() == before  # nothing changed
    widget.layer, widget.head, widget.width = np.int64(0), np.array(1), 256.0
    widget.selected, widget.show_special = np.array([0, 2]), np.bool_(True)
    assert (widget.layer, widget.head, widget.width, widget.selected, widget.show_special) == (0, 1, 256, [0, 2], True)
    widget.layer, widget.head, widget.selected = None, None, None  # all layers / all heads / no pins
    assert (widget.layer, widget.head, widget.selected) == ("mean", "mean", [])


def test_the_view_options_are_those_of_view_state_of():
    assert tuple(inspect.signature(ViewState.of).parameters)[1:] == VIEW_OPTIONS


def test_long_bad_values_are_shortened(result):
    with pytest.raises(TypeError) as raised:
        result.grid(token="x" * 5000)
    assert "'xxxx" in one_line(raised) and "..." in str(raised.value) and len(str(raised.value)) < 150
    with pytest.raises(ValueError, match="is not in the prompt") as raised:
        result.token_indices("dog " * 2000)
    assert len(one_line(raised)) < 400
    with pytest.raises(TypeError) as raised:
        result.grid(token=np.arange(12.0).reshape(3, 4))
    one_line(raised)  # arrays print over several lines; the message does not


@pytest.mark.parametrize(
    ("value", "number"),
    [(3, 3), (np.int64(3), 3), (np.array(3), 3), (3.0, 3), (1e6, 1_000_000), (np.float32(2.0), 2), (-2, -2)],
)
def test_whole_numbers(value, number):
    assert whole_number(value) == number and type(whole_number(value)) is int


@pytest.mark.parametrize("value", [True, np.bool_(True), 2.5, NAN, INF, -INF, "3", None, [3], np.array([3]), 1j])
def test_not_whole_numbers(value):
    assert whole_number(value) is None


def test_values_are_shown_on_one_short_line():
    assert shown("x" * 100) == "'" + "x" * 56 + "..."
    assert "\n" not in shown(np.zeros((5, 5)))
    assert described([1]) == "list [1]" and described(None) == "None" and described(object()) == "object"
    assert shown(math.nan) == "nan"
