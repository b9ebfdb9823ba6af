"""QwenVLCrossModalVisualizer: the original API as a facade over load()/capture() and the figures."""

from __future__ import annotations

import inspect

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
    assert "head 2" in figure.get_suptitle() and "“cat” in the prompt" in figure.get_suptitle()
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


# ----- the answer --------------------------------------------------------------------------------------------

QUESTION = "What is on the image?"
ANSWER = "A red cat."


def test_the_answer_is_part_of_the_cache_key(visualizer, picture):
    plain = visualizer.capture(picture, QUESTION)
    given = visualizer.capture(picture, QUESTION, answer=ANSWER)
    assert given is not plain and given.answer == ANSWER and plain.answer is None
    assert visualizer.capture(picture.copy(), QUESTION, answer=ANSWER) is given
    assert visualizer.capture(picture, QUESTION, answer=False) is plain  # False: no answer, as None
    assert visualizer.capture(picture, QUESTION, answer="A red dog.") is not given
    own = visualizer.capture(picture, QUESTION, answer=True)
    assert own is not plain and own is not given and own.answer is not None
    assert visualizer.capture(picture, QUESTION, answer=True) is own
    assert visualizer.captures == 4
    # The figure methods share the captures of their answer option.
    visualizer.create_attention_heatmap_on_image(picture, QUESTION, target_phrase="red", answer=ANSWER)
    visualizer.create_token_image_attention_matrix(picture, QUESTION, answer=True)
    visualizer.visualize_cross_modal_attention(picture, QUESTION, layers_to_show=[-1])
    assert visualizer.captures == 4


def test_heatmap_of_an_answer_word_while_the_model_wrote_it(visualizer, picture):
    overlay = visualizer.create_attention_heatmap_on_image(
        picture, QUESTION, target_phrase="red cat", layer_idx=-1, answer=ANSWER, producing=True
    )
    result = visualizer.capture(picture, QUESTION, answer=ANSWER)
    words = result.token_indices("red cat")
    assert [result.tokens[index].part for index in words] == ["answer", "answer"]
    producing = result.grid(phrase="red cat", layer=-1, producing=True)
    np.testing.assert_array_equal(producing, result.grid(token=[index - 1 for index in words], layer=-1))
    expected = overlay_on_image(result.pictures[0], producing)
    assert np.array_equal(np.asarray(overlay), np.asarray(expected))
    own = visualizer.create_attention_heatmap_on_image(picture, QUESTION, target_phrase="red cat", answer=ANSWER)
    assert not np.array_equal(np.asarray(own), np.asarray(overlay))  # the words' own rows
    assert visualizer.captures == 1


def test_layers_figure_and_matrix_of_the_answer(visualizer, picture):
    figure = visualizer.visualize_cross_modal_attention(
        picture, QUESTION, target_phrase="cat", layers_to_show=[0, 2], answer=ANSWER, producing=True
    )
    result = visualizer.capture(picture, QUESTION, answer=ANSWER)
    (cat,) = result.token_indices("cat")
    assert "while writing “cat”" in figure.get_suptitle() and "answer: “A red cat.”" in figure.get_suptitle()
    heat = next(axes for axes in figure.axes if axes.get_title() == "layer 2")
    np.testing.assert_array_equal(heat.images[0].get_array(), result.grid(token=cat, layer=2, producing=True))

    matrix = visualizer.create_token_image_attention_matrix(
        picture, QUESTION, layer_idx=1, answer=ANSWER, producing=True
    )
    np.testing.assert_array_equal(matrix, result.maps(layer=1, producing=True))
    assert np.isnan(matrix[0]).all()  # <|vision_end|>: no step before it was captured
    (axes,) = [axes for axes in visualizer.last_figure.axes if axes.images]
    assert "· layer 1 ·" in axes.get_title() and "each row: the step that wrote its token" in axes.get_title()
    first = next(index for index, token in enumerate(result.tokens) if token.part == "answer")
    assert [line.get_ydata()[0] for line in axes.lines if line.get_gid() == "answer-boundary"] == [first - 0.5]
    plain = visualizer.create_token_image_attention_matrix(picture, QUESTION, layer_idx=1, answer=ANSWER)
    np.testing.assert_array_equal(plain, result.maps(layer=1))
    assert visualizer.captures == 1


def test_the_original_signatures_gain_keyword_only_options():
    for name, original in {
        "capture": ["self", "image", "text_prompt"],
        "visualize_cross_modal_attention": [
            "self",
            "image",
            "text_prompt",
            "target_phrase",
            "layers_to_show",
            "head",
            "save_path",
        ],
        "create_attention_heatmap_on_image": [
            "self",
            "image",
            "text_prompt",
            "target_phrase",
            "layer_idx",
            "head_idx",
            "alpha",
            "colormap",
        ],
        "create_token_image_attention_matrix": ["self", "image", "text_prompt", "layer_idx", "head_idx", "save_path"],
    }.items():
        parameters = inspect.signature(getattr(QwenVLCrossModalVisualizer, name)).parameters.values()
        positional = [p.name for p in parameters if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
        keyword_only = {p.name: p.default for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}
        assert positional == original, name
        expected: dict = {"answer": None, "thinking": None}
        if name != "capture":
            expected["producing"] = False
        if name in ("visualize_cross_modal_attention", "create_token_image_attention_matrix"):  # they draw figures
            expected |= {"width": "page", "title": None}
        if name in ("visualize_cross_modal_attention", "create_attention_heatmap_on_image"):
            expected.update(style="heat", boxes=None)  # drawn as the figures draw them
        assert keyword_only == expected, name


def test_figures_take_a_width_and_a_title_checked_before_the_model_runs(visualizer, picture):
    figure = visualizer.visualize_cross_modal_attention(picture, QUESTION, width="column", title="Fig. 1")
    assert figure.get_figwidth() == 3.3 and figure.get_suptitle() == "Fig. 1"
    visualizer.create_token_image_attention_matrix(picture, QUESTION, width=5, title=False)
    assert visualizer.last_figure.get_figwidth() == 5
    assert not [axes.get_title() for axes in visualizer.last_figure.axes if axes.get_title()]
    assert visualizer.captures == 1
    for method in (visualizer.visualize_cross_modal_attention, visualizer.create_token_image_attention_matrix):
        with pytest.raises(ValueError, match=r"^width must be 'column' \(3.3 in\), 'page' \(7 in\) or a number"):
            method(picture, "Another question?", width="wide")
        with pytest.raises(TypeError, match=r"^title must be a text of your own, False"):
            method(picture, "Another question?", title=1)
    assert visualizer.captures == 1  # refused before the model ran


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"answer": ""}, ValueError, "answer is empty"),
        ({"answer": 3}, TypeError, "answer must be True .* not int"),
        ({"answer": ANSWER, "producing": "yes"}, TypeError, "producing must be True .* or False, not 'yes'"),
        ({"answer": ANSWER, "thinking": "no"}, TypeError, "thinking must be True .* not str 'no'"),
        ({"answer": ANSWER, "thinking": False}, ValueError, "this model's chat template has no thinking switch"),
    ],
)
def test_bad_answer_options_fail_before_the_model_runs(visualizer, picture, options, error, message):
    for method in (
        visualizer.visualize_cross_modal_attention,
        visualizer.create_attention_heatmap_on_image,
        visualizer.create_token_image_attention_matrix,
    ):
        with pytest.raises(error, match=message) as info:
            method(picture, QUESTION, **options)
        assert "\n" not in str(info.value)
    assert visualizer.captures == 0


def test_a_thinking_models_captures_are_cached_by_the_switch_too(qwen35_dir, picture):
    thinker = QwenVLCrossModalVisualizer(qwen35_dir, device="cpu")
    thought = thinker.capture(picture, QUESTION, answer="Red.</think>\n\nA red cat.")
    at_once = thinker.capture(picture, QUESTION, answer="A red cat.", thinking=False)
    assert (thought.thinking, thought.answer) == ("Red.", "A red cat.")
    assert (at_once.thinking, at_once.answer) == (None, "A red cat.")
    assert thinker.capture(picture, QUESTION, answer="A red cat.", thinking=np.bool_(False)) is at_once
    figure = thinker.visualize_cross_modal_attention(
        picture, QUESTION, target_phrase="red", answer="Red.</think>\n\nA red cat.", producing=True
    )
    assert "thinking: “Red.”" in figure.get_suptitle() and len(thinker._cache) == 2


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"style": "lines"}, ValueError, "style must be 'heat' .* or 'contour'"),
        ({"boxes": (1, 2, 30, 40)}, TypeError, "boxes must be a list of boxes"),
        ({"boxes": [(30, 2, 1, 40)]}, ValueError, r"boxes\[0\] \(30, 2, 1, 40\) is inverted or empty"),
        ({"boxes": [(5000, 2, 6000, 40)]}, ValueError, r"lies outside image 0, which is \d+ x \d+ pixels"),
    ],
)
def test_bad_styles_and_boxes_fail_before_the_model_runs(visualizer, picture, options, error, message):
    for method in (visualizer.visualize_cross_modal_attention, visualizer.create_attention_heatmap_on_image):
        with pytest.raises(error, match=message) as info:
            method(picture, QUESTION, **options)
        assert "\n" not in str(info.value)
    assert visualizer.captures == 0


def test_the_original_api_draws_styles_and_boxes_as_the_figures_do(visualizer, picture):
    box = (20, 10, 120, 90, "cat")
    overlay = visualizer.create_attention_heatmap_on_image(picture, QUESTION, style="contour", boxes=[box])
    result = visualizer.capture(picture, QUESTION)
    expected = overlay_on_image(result.pictures[0], result.grid(layer=-1), style="contour", boxes=[box])
    np.testing.assert_array_equal(np.asarray(overlay), np.asarray(expected))
    figure = visualizer.visualize_cross_modal_attention(picture, QUESTION, boxes=[box])
    assert any(patch.get_gid() == "box" for axes in figure.axes for patch in axes.patches)
