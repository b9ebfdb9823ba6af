"""One vocabulary for layer and head choices: what one view accepts, every view accepts, with one meaning."""

from __future__ import annotations

import numpy as np
import pytest
from browser_support import WidgetPage, synthetic_answer_result, synthetic_result
from test_html import embedded_container

from qvl_widget import demo, figures
from qvl_widget._choices import choice_key
from qvl_widget._payload import decode_maps

# (layer, head) pairs covering every spelling: an index, a negative index, a list, "mean", "max", "all", None.
CHOICES = [
    (1, 0),
    (-1, [0, 1]),
    ([0, 2], "max"),
    ("mean", "max"),
    ("max", -1),
    ("all", None),
    ([1, 2], "all"),
]


@pytest.fixture(scope="module")
def result():
    return synthetic_result(layers=3, heads=3)


def quantisation_step(maps: np.ndarray) -> np.ndarray:
    return maps.max(axis=1, keepdims=True) / 255 / 2 + 1e-7


@pytest.mark.parametrize("reduce", ["mean", "max"])
@pytest.mark.parametrize(("layer", "head"), CHOICES)
def test_every_view_takes_every_choice_with_one_meaning(result, tmp_path, layer, head, reduce):
    expected = result.maps(layer, head, reduce)
    attention = result.attention.astype(np.float64)
    # The meaning, from the numbers: heads combined first, then layers.
    layers = range(3) if layer in ("mean", "max", "all") else np.atleast_1d(np.arange(3)[layer]).tolist()
    heads = range(3) if head in ("mean", "max", "all", None) else np.atleast_1d(np.arange(3)[head]).tolist()
    over_heads = head if head in ("mean", "max") else reduce
    over_layers = layer if layer in ("mean", "max") else reduce
    chosen = attention[np.ix_(list(layers), list(heads))]
    chosen = chosen.mean(axis=1) if over_heads == "mean" else chosen.max(axis=1)
    chosen = chosen.mean(axis=0) if over_layers == "mean" else chosen.max(axis=0)
    np.testing.assert_allclose(expected, chosen, rtol=1e-6)

    np.testing.assert_allclose(
        result.grid(token=4, layer=layer, head=head, reduce=reduce).ravel(), expected[4], rtol=1e-6
    )
    widget = result.widget(layer=layer, head=head, reduce=reduce)
    sent, _ = decode_maps(widget.maps_payload)
    assert np.all(np.abs(sent - expected) <= quantisation_step(expected))
    header, blob = embedded_container(result.to_html(tmp_path / "page.html", layer=layer, head=head, reduce=reduce))
    state = header["state"]
    key = f"{choice_key(state['layer'])}|{choice_key(state['head'])}"
    embedded, _ = decode_maps(blob(header["payloads"][key]))
    np.testing.assert_array_equal(embedded, sent)
    _, matrix = figures.matrix_figure(result, layer=layer, head=head, reduce=reduce)
    np.testing.assert_allclose(matrix, expected, rtol=1e-6)


def test_choices_take_one_canonical_form_in_the_views(result):
    widget = result.widget(layer=[2, 0, 2], head="all", reduce="max")
    assert (widget.layer, widget.head, widget.reduce) == ([0, 2], "max", "max")
    assert [0, 2] in widget.available["layers"] and "0,2" in widget.available["heads"]
    assert result.widget(layer=[-1]).layer == 2 and result.widget(layer=[0, 1, 2]).layer == "mean"
    widget.layer = "all"
    assert widget.layer == "max"  # all layers, combined by the view's reduce
    with pytest.raises(Exception, match="layer 3 is out of range"):
        widget.layer = [0, 3]


@pytest.mark.parametrize(
    ("layer", "head", "follows"),
    [([0, 1, 2], [2, 1, 0], True), ("all", None, True), (-1, None, True), ("mean", "mean", False), ([0, 2], 1, False)],
)
def test_a_choice_of_every_index_follows_a_later_reduce_as_grid_does(result, layer, head, follows):
    """Every layer or head by list, None or "all" is combined by `reduce`, also when `reduce` changes after it was
    set (as `grid` combines it); "mean" and "max" name their own combination and stay."""
    widget = result.widget(layer=layer, head=head)
    widget.reduce = "max"
    sent, _ = decode_maps(widget.maps_payload)
    expected = result.maps(layer, head, "max")
    assert np.all(np.abs(sent - expected) <= quantisation_step(expected))
    assert not np.allclose(expected, result.maps(layer, head, "mean")) or not follows  # the test sees the change
    widget.reduce = "mean"
    widget.head = [0, 1, 2]  # by list after the change: follows from now on
    widget.reduce = "max"
    assert widget.head == "max"
    widget.head = "mean"  # chosen by name: stays
    widget.reduce = "mean"
    widget.reduce = "max"
    assert widget.head == "mean"


def test_the_recommended_view_works_everywhere(tmp_path):
    """Where its docstring says its keys go."""
    model = demo.load(device="cpu")
    example = demo.make_example(200_006)
    for answer in (None, True):
        result = model.capture(example["image"], example["prompt"], answer=answer, max_new_tokens=4)
        view = demo.recommended_view(result, example)
        result.grid(**{key: value for key, value in view.items() if key != "boxes"})
        result.widget(**view)
        result.to_html(tmp_path / "view.html", **view)
        figures.layers_figure(
            result,
            layers=[view["layer"]] if isinstance(view["layer"], int) else "all",
            **{key: value for key, value in view.items() if key in ("token", "head", "producing", "boxes")},
        )
        figures.matrix_figure(result, layer=view["layer"], head=view["head"], producing=view.get("producing", False))


@pytest.mark.browser
def test_a_list_of_layers_is_offered_and_named_in_the_menus(page):
    result = synthetic_answer_result(layers=3)
    view = WidgetPage(page, [result.widget(layer=[0, 2], head="max", reduce="max")])
    selected = page.eval_on_selector(".qvl-layer", "select => select.selectedOptions[0].textContent")
    assert selected == "max of layers 0, 2"
    assert page.text_content(".qvl-caption").startswith("max of layers 0, 2 · max of heads")
    before = view.frames()
    page.select_option(".qvl-layer", "1")
    view.wait_for_frames_after(before)
    assert view.widgets[0].layer == 1


def test_the_command_line_takes_the_same_head_choices(tiny_model_dirs, tmp_path, capsys):
    from PIL import Image

    from qvl_widget.cli import main

    image = tmp_path / "scene.png"
    Image.new("RGB", (100, 60), (200, 40, 40)).save(image)
    model = str(tiny_model_dirs["qwen2_vl"])
    for head, expected in (("0,2", [0, 2]), ("all", "mean"), ("max", "max"), ("-1", 3)):
        out = tmp_path / f"out-{head}"
        arguments = ["explore", "--model", model, "--image", str(image), "--prompt", "Where is the red cat?"]
        assert main([*arguments, "--head", head, "--out", str(out), "--device", "cpu"]) == 0
        assert embedded_container(out / "attention.html")[0]["state"]["head"] == expected
    with pytest.raises(SystemExit):
        main([*arguments, "--head", "0,9", "--out", str(tmp_path / "x"), "--device", "cpu"])
    assert "head 9 is out of range: there are 4 heads" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
