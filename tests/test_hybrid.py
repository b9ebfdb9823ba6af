"""Qwen3.5's hybrid decoder end to end: only its softmax attention layers have maps, indices count those, and
every view names a layer by its decoder index (tiny Qwen3.5: decoder layers 0-3, attention layers 1 and 3)."""

from __future__ import annotations

import numpy as np
import pytest
from browser_support import WidgetPage, view_map
from test_capture import PROMPT, noise_image
from test_html import embedded_header

from qvl_widget import AttentionResult, AttentionWidget
from qvl_widget.figures import layers_figure
from qvl_widget.testing import TINY_FAMILIES

pytestmark = pytest.mark.skipif("qwen3_5" not in TINY_FAMILIES, reason="transformers < 5.2 has no Qwen3.5")


@pytest.fixture(scope="module")
def hybrid_result(tiny_models) -> AttentionResult:
    return tiny_models["qwen3_5"].capture(noise_image(160, 96), PROMPT)


def test_only_attention_layers_are_captured_and_named_by_decoder_index(tiny_models, hybrid_result, tmp_path):
    text = tiny_models["qwen3_5"].model.config.get_text_config()
    assert text.layer_types == ["linear_attention", "full_attention", "linear_attention", "full_attention"]
    assert hybrid_result.layer_ids == (1, 3) and hybrid_result.num_layers == 2
    np.testing.assert_array_equal(hybrid_result.grid(layer=-1, head=0), hybrid_result.grid(layer=1, head=0))
    last = tiny_models["qwen3_5"].capture(noise_image(160, 96), PROMPT, layers=[-1])
    assert last.layer_ids == (3,)
    np.testing.assert_array_equal(last.attention[0], hybrid_result.attention[1])
    assert AttentionResult.load(hybrid_result.save(tmp_path / "hybrid.npz")).layer_ids == (1, 3)
    figure = layers_figure(hybrid_result)
    titles = [axes.get_title() for axes in figure.axes if axes.get_title().startswith("layer")]
    assert titles == ["layer 1", "layer 3"]
    widget = AttentionWidget(hybrid_result)
    assert widget.layer_ids == [1, 3] and widget.layer == 1  # the last captured layer, by position
    assert embedded_header(hybrid_result.to_html(tmp_path / "hybrid.html"))["state"]["layer_ids"] == [1, 3]


def test_an_index_past_the_attention_layers_says_which_they_are(tiny_models):
    with pytest.raises(IndexError, match=r"layer 2 is out of range.*Qwen3.5 has 2 attention layers among its 4: "):
        tiny_models["qwen3_5"].capture(noise_image(64, 64), PROMPT, layers=[2])


@pytest.mark.browser
def test_the_widget_shows_a_hybrid_models_layers_by_decoder_index(page, hybrid_result):
    view = WidgetPage(page, [AttentionWidget(hybrid_result, colormap="gray", smooth=False)])
    names = page.eval_on_selector_all(".qvl-layer option", "options => options.map(o => o.textContent)")
    assert names == ["layer 1", "layer 3", "mean of layers", "max of layers"]
    assert page.text_content(".qvl-caption").startswith("layer 3 · ")
    token = hybrid_result.token_indices("red")[0]
    view.hover_token(token)
    brightness = view.cell_colours()[..., 0].astype(float).ravel()
    expected = view_map(hybrid_result, token, layer=1)[hybrid_result.images[0].columns]
    assert np.corrcoef(brightness, expected)[0, 1] > 0.95  # the overlay paints this layer's map
