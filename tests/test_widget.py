"""The widget's Python side: choices, payloads, validation; and the shipped front end is current."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import traitlets
from browser_support import expected_peak, synthetic_result, view_map
from PIL import Image

from qvl_widget import AttentionWidget
from qvl_widget._payload import Selections, decode_maps, encode_maps
from qvl_widget._pictures import full_pictures

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def result():
    generator = np.random.default_rng(0)
    base = synthetic_result(layers=3, heads=4)
    attention = generator.random(base.attention.shape).astype(np.float32)
    attention /= attention.sum(axis=-1, keepdims=True) * 2
    return type(base)(**{**base.__dict__, "attention": attention, "image_mass": attention.sum(-1)})


def test_payload_round_trip_within_quantisation(result):
    maps = result.attention[1, 2]
    mass = maps.sum(axis=1)
    decoded, decoded_mass = decode_maps(encode_maps(maps, mass))
    step = maps.max(axis=1, keepdims=True) / 255
    assert np.all(np.abs(decoded - maps) <= step / 2 + 1e-7)
    np.testing.assert_array_equal(decoded_mass, mass.astype(np.float32))
    payload = encode_maps(maps, mass)
    assert len(payload) == 12 + 8 * maps.shape[0] + maps.size  # one byte per value, no JSON


def test_selections_match_numpy(result):
    selections = Selections(result)
    attention = result.attention
    np.testing.assert_allclose(selections.maps(1, 2), attention[1, 2])
    np.testing.assert_allclose(selections.maps(-1, "mean"), attention[2].mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(selections.maps(0, "max"), attention[0].max(axis=0))
    np.testing.assert_allclose(selections.maps("mean", 3), attention[:, 3].mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(selections.maps("mean", "mean"), attention.mean(axis=(0, 1)), rtol=1e-5)
    np.testing.assert_allclose(selections.maps("mean", "max"), attention.max(axis=1).mean(axis=0), rtol=1e-6)
    np.testing.assert_array_equal(selections.maps(2, 1), selections.maps(-1, -3))
    cold = Selections(result).maps(1, "max")
    selections.warm_up()
    np.testing.assert_array_equal(selections.maps(1, "max"), cold)  # same answer from the precomputed maxima


def test_image_share_per_choice_is_a_probability(result):
    """The caption's "x% of attention on the image": per head the captured share; over heads their mean, or the
    largest one for "max" (the max map's cells come from different heads and can add up to more than 1)."""
    selections, mass = Selections(result), result.image_mass
    peaked = result.attention.copy()
    peaked[0, :, :, :] = 0.0
    peaked[0, 0, :, 0] = peaked[0, 1, :, 1] = 0.9  # two heads, 90% each, on different cells
    two_heads = type(result)(**{**result.__dict__, "attention": peaked, "image_mass": peaked.sum(-1)})
    np.testing.assert_allclose(Selections(two_heads).mass(0, "max"), 0.9, rtol=1e-6)
    assert Selections(two_heads).maps(0, "max").sum(axis=1).max() > 1.7  # what the old share summed
    np.testing.assert_allclose(selections.mass(1, 2), mass[1, 2], rtol=1e-6)
    np.testing.assert_allclose(selections.mass(1, "mean"), mass[1].mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(selections.mass("mean", "max"), mass.max(axis=1).mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(decode_maps(selections.payload(0, "max"))[1], mass[0].max(axis=0), rtol=1e-6)


def test_widget_state_and_layer_change(result):
    widget = AttentionWidget(result, layer=-1, head=None, phrase="red cat")
    assert (widget.layer, widget.head) == (2, "mean")
    assert widget.selected == [3, 4]
    assert widget.available["layers"] == [0, 1, 2, "mean", "max"]
    assert widget.available["heads"]["mean"] == ["mean", "max", 0, 1, 2, 3]
    first = widget.maps_payload
    widget.layer = "mean"
    assert widget.maps_payload != first
    np.testing.assert_allclose(decode_maps(widget.maps_payload)[0], Selections(result).maps("mean", "mean"), atol=3e-3)
    assert [token["text"] for token in widget.tokens][:2] == ["Where", " is"]
    assert widget.tokens[-1]["special"] is True
    assert widget.media[0]["rows"] == 4 and widget.media[0]["cols"] == 6


def test_a_list_set_from_python_joins_the_menus_and_stays(result):
    widget = AttentionWidget(result, layer=[0, 1])
    assert [0, 1] in widget.available["layers"]
    widget.layer, widget.head = [1, 2], [0, 3]
    assert widget.available["layers"] == [0, 1, 2, "mean", "max", [0, 1], [1, 2]]
    assert all(heads[-1] == [0, 3] for heads in widget.available["heads"].values())
    np.testing.assert_allclose(decode_maps(widget.maps_payload)[0], Selections(result).maps([1, 2], [0, 3]), atol=3e-3)


def test_image_is_sent_once_at_display_size(tiny_models):
    big = Image.fromarray(np.random.default_rng(0).integers(0, 256, (900, 1600, 3), dtype=np.uint8))
    captured = tiny_models["qwen2_vl"].capture(big, "What is this?")
    widget = AttentionWidget(captured, width=400)
    (picture,) = widget.pictures
    shown = Image.open(io.BytesIO(picture))
    assert shown.size == (800, 450)  # twice the display width, aspect kept
    assert widget.media[0]["frames"] == [{"picture": 0, "mime": "image/jpeg"}]
    assert widget.media[0]["width"] == 1600
    assert widget.full_pictures == []  # the original only on request (Save PNG)
    widget.want_full_pictures = True
    assert Image.open(io.BytesIO(widget.full_pictures[0])).size == (1600, 900)


def test_the_html_copy_of_a_huge_original_is_capped_at_4096_px(tiny_models):
    huge = Image.fromarray(np.random.default_rng(1).integers(0, 256, (300, 6000, 3), dtype=np.uint8))
    widget = AttentionWidget(tiny_models["qwen2_vl"].capture(huge, "What is this?", max_pixels=64 * 28 * 28))
    (embedded,) = full_pictures(widget.result.pictures, compact=True)
    assert Image.open(io.BytesIO(embedded)).size == (4096, 205)  # aspect kept, as JPEG
    assert embedded[:2] == b"\xff\xd8"
    (original,) = full_pictures(widget.result.pictures)
    assert Image.open(io.BytesIO(original)).size == (6000, 300)  # the widget's own Save PNG: full size


@pytest.mark.parametrize(
    ("trait", "value", "message"),
    [
        ("layer", 3, "layer 3 is out of range"),
        ("layer", "median", "layer must be an index, a list of indices, 'mean', 'max' or 'all'"),
        ("head", 4, "head 4 is out of range"),
        ("selected", [99], "token 99 is out of range"),
        ("colormap", "rainbow", "unknown colormap 'rainbow'"),
        ("opacity", 1.5, "opacity must be between 0 and 1"),
        ("width", 0, "width is the pictures' width in CSS pixels: a whole number >= 64, not 0"),
    ],
)
def test_bad_choices_are_refused(result, trait, value, message):
    widget = AttentionWidget(result)
    with pytest.raises((traitlets.TraitError, IndexError, TypeError, ValueError), match=message):
        setattr(widget, trait, value)


def test_constructor_errors(result):
    with pytest.raises(ValueError, match="width is the pictures' width in CSS pixels"):
        AttentionWidget(result, width=0)
    with pytest.raises(TypeError, match="AttentionWidget needs an AttentionResult"):
        AttentionWidget(np.zeros(3))
    with pytest.raises(ValueError, match="either phrase= or token="):
        AttentionWidget(result, phrase="cat", token=[1])
    with pytest.raises(ValueError, match="phrase 'dog' is not in the prompt"):
        AttentionWidget(result, phrase="dog")
    assert result.widget(token=[1, 2]).selected == [1, 2]
    assert result.widget(token=-1).selected == [result.num_queries - 1]


def test_constructor_options_become_the_traits():
    options = {"colormap": "jet", "opacity": 0.3, "smooth": False, "shared_scale": True, "show_special": True}
    widget = AttentionWidget(synthetic_result(), layer="mean", head="max", token=[2], width=300, **options)
    assert {name: getattr(widget, name) for name in options} == options
    assert (widget.layer, widget.head, widget.selected, widget.width) == ("mean", "max", [2], 300)


def test_front_end_ships_inside_the_package():
    static = ROOT / "qvl_widget" / "static"
    source = (static / "widget.js").read_text()
    assert "export" in source and "import " not in source  # one self-contained module, no CDN imports
    assert "http://" not in source and "https://" not in source
    assert "innerHTML" not in source  # token text only ever goes in through textContent
    assert str(AttentionWidget._esm) == source


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_bundle_is_current():
    if not (ROOT / "node_modules" / "esbuild").exists():
        pytest.fail("node_modules missing: run `npm ci` (make test does)")
    check = subprocess.run(["node", "tools/build.mjs", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_colormap_tables_are_current():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import make_colormaps
    finally:
        sys.path.remove(str(ROOT / "tools"))
    assert (ROOT / "js" / "colormaps.js").read_text() == make_colormaps.source()


def test_the_synthetic_views_each_look_somewhere_else():
    """The test data the browser tests rely on: each view's peak tells which view is shown."""
    result = synthetic_result()
    for query in range(result.num_queries):
        for layer in (0, 1, "mean"):
            peaks = {head: expected_peak(result, query, layer, head) for head in (0, 1, "mean", "max")}
            assert peaks["mean"] not in (peaks[0], peaks[1], peaks["max"]), (query, layer)
            assert peaks[0] != peaks[1], (query, layer)
        for head in (0, 1, "mean", "max"):
            assert expected_peak(result, query, 0, head) != expected_peak(result, query, 1, head), (query, head)
        heads_first = view_map(result, query, "mean", "max")
        layers_first = result.attention[:, :, query].mean(axis=0).max(axis=0)
        assert np.argmax(heads_first) != np.argmax(layers_first), query


def image_share(result, layer, head) -> np.ndarray:
    """Each token's share of attention on the image for one choice: a head's own, the heads' mean or largest one;
    then one layer's, or the mean over layers."""
    mass = result.image_mass.astype(np.float64)
    per_layer = mass[:, head] if isinstance(head, int) else mass.mean(axis=1) if head == "mean" else mass.max(axis=1)
    return per_layer.mean(axis=0) if layer == "mean" else per_layer[layer]


def test_every_layer_and_head_choice_sends_its_maps():
    result = synthetic_result()
    widget = AttentionWidget(result)
    for layer in ("mean", 0, 1):  # the layer mean first: single layers then also come after maps of all layers
        for head in (0, 1, "max", "mean"):
            widget.layer, widget.head = layer, head
            maps, mass = decode_maps(widget.maps_payload)
            for query in range(result.num_queries):
                expected = view_map(result, query, layer, head)
                np.testing.assert_allclose(maps[query], expected, atol=expected.max() / 255, err_msg=f"{layer}|{head}")
            np.testing.assert_allclose(mass, image_share(result, layer, head), rtol=1e-5, err_msg=f"{layer}|{head}")


def test_the_widget_talks_through_traits_only(monkeypatch):
    """No custom messages (`send`): hosts such as marimo only sync traits."""
    sent = []
    monkeypatch.setattr(AttentionWidget, "send", lambda self, content, buffers=None: sent.append(content))
    widget = AttentionWidget(synthetic_result(), phrase="red cat")
    changes = {"layer": "mean", "head": "max", "selected": [1], "colormap": "jet", "opacity": 0.3, "smooth": False}
    changes |= {"shared_scale": True, "show_special": True, "width": 300, "want_full_pictures": True}
    for name, value in changes.items():
        setattr(widget, name, value)
    assert len(widget.full_pictures) == 1
    assert sent == []


def test_no_synced_trait_takes_a_name_the_widget_front_ends_read_as_their_own(result):
    """ipywidgets' views read a synced `style` as a style widget (a reference to another model): a string there
    breaks the widget in JupyterLab, Notebook 7 and Voila. `style=` is the `overlay_style` trait; `widget.style`
    reads and sets it."""
    from qvl_widget import AttentionWidget

    widget = AttentionWidget(result, style="contour")
    synced = set(widget.keys)
    assert "style" not in synced and "overlay_style" in synced
    assert widget.overlay_style == widget.style == "contour"
    widget.style = "heat"
    assert widget.get_state("overlay_style") == {"overlay_style": "heat"}
