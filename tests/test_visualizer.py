"""QwenVLCrossModalVisualizer: the original API as a facade over load()/capture() and the figures."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

import qvl_widget
from qvl_widget import QwenVLCrossModalVisualizer
from qvl_widget._example import EXAMPLE_PROMPT, example_image
from qvl_widget.figures import overlay_on_image

PROMPT = EXAMPLE_PROMPT  # "Where is the red cat on the image?"


@pytest.fixture(scope="module")
def loaded(tiny_model_dirs) -> QwenVLCrossModalVisualizer:
    return QwenVLCrossModalVisualizer(tiny_model_dirs["qwen2_vl"], device="cpu")


@pytest.fixture
def visualizer(loaded, monkeypatch) -> QwenVLCrossModalVisualizer:
    """The loaded visualizer with an empty cache, counting the forward passes in `visualizer.captures`."""
    loaded.clear_cache()
    loaded.captures = 0
    original = loaded.model.capture

    def counting(*args, **kwargs):
        loaded.captures += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(loaded.model, "capture", counting)
    monkeypatch.setattr(loaded, "cache_size", 8)
    return loaded


@pytest.fixture(scope="module")
def picture() -> Image.Image:
    return example_image(150, 100)  # not a multiple of the 28-pixel token: resized for the model


def test_constructed_from_a_tiny_model_folder(loaded, tiny_model_dirs):
    assert isinstance(loaded.model, qvl_widget.LoadedModel)
    assert loaded.model.device.type == "cpu"
    assert loaded.model.source == str(tiny_model_dirs["qwen2_vl"])
    assert "QwenVLCrossModalVisualizer" in qvl_widget.__all__
    assert qvl_widget.QwenVLCrossModalVisualizer is QwenVLCrossModalVisualizer


def test_a_missing_model_fails_at_construction(tmp_path):
    with pytest.raises(FileNotFoundError, match="model folder not found"):
        QwenVLCrossModalVisualizer(tmp_path / "no-model", device="cpu")


def test_captures_are_cached_by_image_content_and_prompt(visualizer, picture, tmp_path):
    path = tmp_path / "scene.png"
    picture.save(path)
    first = visualizer.capture(path, PROMPT)
    assert visualizer.captures == 1
    assert visualizer.capture(picture.copy(), PROMPT) is first  # the same pixels as a PIL image
    assert visualizer.capture(np.asarray(picture), PROMPT) is first  # and as an array
    assert visualizer.capture(picture.convert("RGBA"), PROMPT) is first  # what the model sees is the same
    assert visualizer.captures == 1
    # Every figure method reuses the capture.
    visualizer.create_attention_heatmap_on_image(path, PROMPT, target_phrase="cat")
    visualizer.create_token_image_attention_matrix(picture, PROMPT, layer_idx=0)
    visualizer.visualize_cross_modal_attention(picture, PROMPT, layers_to_show=[-1])
    assert visualizer.captures == 1
    # Another prompt or other pixels make a new capture.
    assert visualizer.capture(picture, "What color is the cat?") is not first
    assert visualizer.capture(picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT), PROMPT) is not first
    assert visualizer.captures == 3


def test_cache_keeps_the_most_recent_captures(visualizer, picture):
    visualizer.cache_size = 2
    first = visualizer.capture(picture, "Where is the red cat?")
    visualizer.capture(picture, "What color is the cat?")
    assert visualizer.capture(picture, "Where is the red cat?") is first  # used again: now the most recent
    visualizer.capture(picture, "Where is the cat?")  # evicts "What color is the cat?"
    assert visualizer.captures == 3
    assert visualizer.capture(picture, "Where is the red cat?") is first
    visualizer.capture(picture, "What color is the cat?")
    assert visualizer.captures == 4


def test_heatmap_on_image_is_the_selected_map_at_original_resolution(visualizer, picture):
    overlay = visualizer.create_attention_heatmap_on_image(
        picture, PROMPT, target_phrase="Red CAT", layer_idx=1, head_idx=3, alpha=0.4, colormap="viridis"
    )
    assert isinstance(overlay, Image.Image)
    assert overlay.size == picture.size == (150, 100)
    result = visualizer.capture(picture, PROMPT)
    selected = result.grid(phrase="red cat", layer=1, head=3)
    expected = overlay_on_image(result.pictures[0], selected, alpha=0.4, colormap="viridis")
    assert np.array_equal(np.asarray(overlay), np.asarray(expected))
    all_tokens = visualizer.create_attention_heatmap_on_image(picture, PROMPT, layer_idx=1, head_idx=3, alpha=0.4)
    assert not np.array_equal(np.asarray(overlay), np.asarray(all_tokens))  # the phrase picked other tokens


def test_target_phrase_selects_tokens_and_unknown_phrases_fail(visualizer, picture):
    result = visualizer.capture(picture, PROMPT)
    assert [result.tokens[index].text for index in result.token_indices("RED cat")] == [" red", " cat"]
    figure = visualizer.visualize_cross_modal_attention(picture, PROMPT, target_phrase="red cat", layers_to_show=[0])
    heat = next(axes for axes in figure.axes if axes.get_title() == "layer 0")
    np.testing.assert_array_equal(heat.images[0].get_array(), result.grid(phrase="red cat", layer=0))
    with pytest.raises(ValueError, match="phrase 'blue dog' is not in the prompt"):
        visualizer.create_attention_heatmap_on_image(picture, PROMPT, target_phrase="blue dog")


def test_visualize_cross_modal_attention_draws_and_saves(visualizer, picture, tmp_path):
    path = tmp_path / "figures" / "layers.svg"
    figure = visualizer.visualize_cross_modal_attention(
        picture, PROMPT, target_phrase="cat", layers_to_show=(-3, -2, -1), head=2, save_path=path
    )
    assert isinstance(figure, Figure)
    assert figure is visualizer.last_figure
    assert [axes.get_title() for axes in figure.axes if axes.get_title()] == ["image", "layer 0", "layer 1", "layer 2"]
    assert "head 2" in figure.get_suptitle() and "phrase “cat”" in figure.get_suptitle()
    assert path.read_bytes().startswith(b"<?xml")
    default = visualizer.visualize_cross_modal_attention(picture, PROMPT)  # the last four, or all of fewer
    assert [axes.get_title() for axes in default.axes if axes.get_title()] == ["image", "layer 0", "layer 1", "layer 2"]
    with pytest.raises(IndexError, match="layer -4 is out of range: there are 3 layers"):
        visualizer.visualize_cross_modal_attention(picture, PROMPT, layers_to_show=(-4, -1))


def test_token_image_matrix_returns_the_array_and_keeps_the_figure(visualizer, picture, tmp_path):
    path = tmp_path / "matrix.pdf"
    matrix = visualizer.create_token_image_attention_matrix(picture, PROMPT, layer_idx=-2, head_idx=1, save_path=path)
    result = visualizer.capture(picture, PROMPT)
    assert isinstance(matrix, np.ndarray)
    assert matrix.shape == (result.num_queries, result.images[0].num_tokens)
    np.testing.assert_array_equal(matrix, result.maps(layer=-2, head=1))
    assert isinstance(visualizer.last_figure, Figure)
    (axes,) = [axes for axes in visualizer.last_figure.axes if axes.images]
    np.testing.assert_array_equal(axes.images[0].get_array(), matrix)
    assert path.read_bytes().startswith(b"%PDF-")
    with pytest.raises(ValueError, match=r"cannot save a figure as '\.jpg2'"):
        visualizer.create_token_image_attention_matrix(picture, PROMPT, save_path=tmp_path / "matrix.jpg2")
    assert sorted(child.name for child in tmp_path.iterdir()) == ["matrix.pdf"]
