"""Paper figures: overlays at the original resolution, per-layer panels, the token x image-token matrix, saving."""

from __future__ import annotations

import dataclasses
import itertools
import re

import matplotlib.pyplot as plt
import numpy as np
import pytest
from browser_support import (
    THINKING_TEXTS,
    expected_peak,
    synthetic_answer_result,
    synthetic_result,
    synthetic_video_result,
)
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image

import qvl_widget
from qvl_widget import AttentionResult, QueryToken
from qvl_widget._colormaps import lookup_table
from qvl_widget._example import EXAMPLE_PHRASE, EXAMPLE_PROMPT, example_image
from qvl_widget._figures import _ANSWER_COLOUR, _SPECIAL_COLOUR, _THINKING_COLOUR, MIN_FONT_POINTS, _percent
from qvl_widget._geometry import cell_of_point
from qvl_widget._result import STILL_THINKING
from qvl_widget.figures import (
    COLORBAR_LABEL,
    frames_figure,
    heads_figure,
    layers_figure,
    matrix_figure,
    overlay_on_image,
    save_figure,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def capture(tiny_models):
    """A real capture of the demo scene (448x336 -> 12x16 tokens) by the tiny Qwen2-VL model."""
    return tiny_models["qwen2_vl"].capture(example_image(), EXAMPLE_PROMPT)


@pytest.fixture(scope="module")
def two_images(tiny_models):
    pictures = [example_image(224, 168), example_image(112, 112)]
    return tiny_models["qwen2_vl"].capture(pictures, "Compare the red cat in both images.")


def top_colour(picture: Image.Image, xy: tuple[int, int], colormap: str, alpha: float) -> np.ndarray:
    """What the overlay shows at `xy` where the map is at its maximum."""
    base = np.asarray(picture, dtype=np.float64)[xy[1], xy[0]]
    return np.round(base * (1 - alpha) + lookup_table(colormap)[255] * alpha)


# ----- overlay ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("smooth", [True, False])
@pytest.mark.parametrize(("query", "layer"), [(0, 0), (4, 1), (6, 1)])
def test_overlay_is_at_original_size_and_brightest_on_the_peak(query, layer, smooth):
    result = synthetic_result()  # 4x6 tokens over a 300x160 picture, one known peak per token and layer
    picture = result.pictures[0]
    grid = result.grid(token=query, layer=layer)
    overlay = overlay_on_image(picture, grid, alpha=0.6, colormap="gray", smooth=smooth)
    assert overlay.size == picture.size == result.images[0].original_size
    assert overlay.mode == "RGB"
    brightness = np.asarray(overlay, dtype=np.float64).sum(axis=2)
    y, x = np.unravel_index(np.argmax(brightness), brightness.shape)
    assert cell_of_point(x, y, *grid.shape, picture.size) == expected_peak(result, query, layer)
    if not smooth:  # nearest: the whole peak cell wears the top colour
        row, col = expected_peak(result, query, layer)
        cell = np.asarray(overlay)[row * 40 : (row + 1) * 40, col * 50 : (col + 1) * 50].reshape(-1, 3)
        assert (cell == top_colour(picture, (col * 50, row * 40), "gray", 0.6)).all()


def test_overlay_of_a_real_capture_marks_the_hottest_cell(capture):
    grid = capture.grid(phrase=EXAMPLE_PHRASE)
    picture = capture.pictures[0]
    overlay = np.asarray(overlay_on_image(picture, grid, alpha=0.5, colormap="jet", smooth=False), dtype=np.float64)
    assert overlay.shape[:2] == (336, 448)
    # "Most coloured": the pixels nearest to the top of jet, blended over the picture, are in the hottest cell.
    base = np.asarray(picture, dtype=np.float64)
    distance = np.abs(overlay - (base * 0.5 + lookup_table("jet")[255] * 0.5)).sum(axis=2)
    assert distance.min() == 0
    ys, xs = np.nonzero(distance == 0)
    coloured = {cell_of_point(x, y, *grid.shape, picture.size) for x, y in zip(xs, ys, strict=True)}
    assert np.unravel_index(np.argmax(grid), grid.shape) in coloured
    # Other cells wear the top colour only when they round to it too (the tiny model's maps are nearly flat).
    assert all(grid[cell] >= grid.max() * 254.5 / 255 for cell in coloured)


def test_overlay_follows_the_picture_it_is_given():
    result = synthetic_result()
    bigger = result.pictures[0].resize((600, 320))
    overlay = overlay_on_image(bigger, result.grid(token=2, layer=0), alpha=1.0, colormap="viridis", smooth=False)
    assert overlay.size == (600, 320)
    row, col = expected_peak(result, 2, 0)
    centre = np.asarray(overlay)[int((row + 0.5) * 80), int((col + 0.5) * 100)]
    assert (centre == lookup_table("viridis")[255]).all()  # alpha 1: the widget's colour, exactly


def test_overlay_colormaps_and_arguments():
    result = synthetic_result()
    picture, grid = result.pictures[0], result.grid(token=0, layer=0)
    for name in ("inferno", "viridis", "jet", "gray", "magma", "coolwarm"):
        assert overlay_on_image(picture, grid, colormap=name).size == picture.size
    assert overlay_on_image(picture, np.zeros((4, 6)), alpha=0.3).size == picture.size  # an all-zero map
    alpha_zero = overlay_on_image(picture, grid, alpha=0.0)
    assert np.array_equal(np.asarray(alpha_zero), np.asarray(picture))
    with pytest.raises(ValueError, match="unknown colormap 'nope': use one of inferno, viridis, jet, gray"):
        overlay_on_image(picture, grid, colormap="nope")
    with pytest.raises(ValueError, match="alpha must be between 0"):
        overlay_on_image(picture, grid, alpha=1.5)
    with pytest.raises(ValueError, match=r"grid must be a non-empty \[rows, cols\] map"):
        overlay_on_image(picture, grid.ravel())
    with pytest.raises(ValueError, match="vmax must be a positive top of the colour scale"):
        overlay_on_image(picture, grid, vmax=0.0)


# ----- layers figure ---------------------------------------------------------------------------------------


def figure_texts(figure: Figure) -> str:
    return figure.get_suptitle() + "\n" + "\n".join(axes.get_title() for axes in figure.axes)


def test_layers_figure_from_a_real_capture(capture):
    figure = layers_figure(capture, layers=(-3, -2, -1), head=1, phrase="RED cat")
    assert isinstance(figure, Figure)
    image_axes = [axes for axes in figure.axes if axes.images]
    assert len(image_axes) == 1 + 2 * 3  # the image, then a heatmap and an overlay per layer
    assert len(figure.axes) == len(image_axes) + 1  # and one shared colour bar
    assert [axes.get_title() for axes in image_axes] == ["image", "layer 0", "", "layer 1", "", "layer 2", ""]
    assert "Where is the red cat on the image?" in figure.get_suptitle()
    assert "“red cat” in the prompt" in figure.get_suptitle()  # the words as the prompt has them
    assert "head 1" in figure.get_suptitle()
    assert figure.axes[-1].get_ylabel().replace("\n", " ") == "share of the tokens' attention (mean)"
    # Each heatmap is the result's own map for that layer; each overlay is that map over the original image.
    for layer, (heat, overlay) in enumerate(zip(image_axes[1::2], image_axes[2::2], strict=True)):
        grid = capture.grid(phrase="red cat", layer=layer, head=1)
        np.testing.assert_array_equal(heat.images[0].get_array(), grid)
        assert overlay.images[0].get_array().shape == (336, 448, 3)


def test_layers_figure_titles_and_selection_on_known_maps():
    result = synthetic_result(grids=((4, 6), (3, 3)), layers=2, heads=2)
    figure = layers_figure(result, layers=[0, -1], head=None, reduce="max", image=1, token=3)
    suptitle = figure.get_suptitle()
    assert "max of 2 heads" in suptitle
    assert "“red” in the prompt" in suptitle and "token 3" not in suptitle
    assert figure.axes[-1].get_ylabel() == COLORBAR_LABEL == "share of the token's attention"
    assert "image 2 of 2" in suptitle
    heatmaps = [axes for axes in figure.axes if axes.get_title().startswith("layer")]
    assert [axes.get_title() for axes in heatmaps] == ["layer 0", "layer 1"]
    for layer, axes in enumerate(heatmaps):
        peak = np.unravel_index(np.argmax(axes.images[0].get_array()), (3, 3))
        assert peak == expected_peak(result, 3, layer, head="max", image=1)
    assert "all prompt tokens (their mean)" in layers_figure(result, layers=0).get_suptitle()
    assert len([axes for axes in layers_figure(result, layers="all").axes if axes.images]) == 1 + 2 * 2


def test_layers_figure_puts_every_layer_on_one_colour_scale():
    result = synthetic_result()  # token 3 looks harder at layer 1 than at layer 0
    figure = layers_figure(result, layers=[0, 1], token=3, colormap="gray", alpha=1.0, smooth=False)
    grids = [result.grid(token=3, layer=layer) for layer in (0, 1)]
    heatmaps = [axes.images[0] for axes in figure.axes if axes.get_title().startswith("layer")]
    assert [heat.norm.vmax for heat in heatmaps] == pytest.approx([grids[1].max()] * 2)
    overlays = [axes.images[0].get_array() for axes in figure.axes if axes.images and axes.get_title() == ""]
    for grid, overlay in zip(grids, overlays, strict=True):
        row, col = np.unravel_index(np.argmax(grid), grid.shape)
        top = overlay[row * 40 + 20, col * 50 + 25, 0]
        level = round(255 * grid.max() / grids[1].max())  # the peak's grey, and (alpha=1) its opacity in 1/255
        assert abs(int(top) - (90 * (255 - level) + level * level) / 255) <= 1  # over the grey-90 picture
    assert grids[0].max() < 0.95 * grids[1].max()


def test_matrix_figure_reduces_as_asked():
    result = synthetic_result(layers=3, heads=4)
    _, matrix = matrix_figure(result, layer="all", reduce="max")
    np.testing.assert_array_equal(matrix, result.attention.max(axis=(0, 1)))
    _, matrix = matrix_figure(result, layer=[0, 1], head=[1, 2])
    np.testing.assert_allclose(matrix, result.attention[:2, 1:3].mean(axis=(0, 1)), rtol=1e-6)


def test_layers_figure_shows_the_last_four_layers_or_all_of_fewer():
    titles = [axes.get_title() for axes in layers_figure(synthetic_result(layers=6)).axes if axes.images]
    assert titles == ["image", "layer 2", "", "layer 3", "", "layer 4", "", "layer 5", ""]
    titles = [axes.get_title() for axes in layers_figure(synthetic_result(layers=2)).axes if axes.images]
    assert titles == ["image", "layer 0", "", "layer 1", ""]


def test_layers_figure_shrinks_huge_pictures_for_its_panels():
    base = synthetic_result()
    huge = Image.new("RGB", (4000, 2000), (120, 120, 120))
    result = type(base)(**{**base.__dict__, "pictures": (huge,)})
    figure = layers_figure(result, layers=0)
    shown = [axes.images[0].get_array().shape for axes in figure.axes if axes.images]
    assert shown == [(800, 1600, 3), (4, 6), (800, 1600, 3)]  # image, heatmap, overlay


def test_layers_figure_errors_are_the_results(capture):
    with pytest.raises(ValueError, match="phrase 'blue dog' is not in the prompt"):
        layers_figure(capture, layers=-1, phrase="blue dog")
    with pytest.raises(IndexError, match="layer -4 is out of range: there are 3 layers"):
        layers_figure(capture, layers=(-4, -1))
    with pytest.raises(IndexError, match="image 1 is out of range"):
        layers_figure(capture, layers=-1, image=1)


# ----- matrix figure ---------------------------------------------------------------------------------------


def test_matrix_figure_of_a_real_capture(capture):
    figure, matrix = matrix_figure(capture, layer=-1, head=2)
    assert matrix.shape == (capture.num_queries, capture.images[0].num_tokens) == (23, 192)
    np.testing.assert_array_equal(matrix, capture.maps(layer=-1, head=2))
    (axes,) = [axes for axes in figure.axes if axes.images]
    np.testing.assert_array_equal(axes.images[0].get_array(), matrix)
    labels = axes.get_yticklabels()
    assert [label.get_text() for label in labels[:6]] == ["<|vision_end|>", "Where", "␣is", "␣the", "␣red", "␣cat"]
    assert labels[11].get_text() == "⏎"  # the chat template's newline
    grey = [label.get_color() == "0.55" for label in labels]  # chat-template tokens in grey, the prompt in black
    assert grey == [token.special for token in capture.tokens]
    assert sum(grey) == 14 and all(label.get_color() == "black" for label in labels[1:10])
    assert "image tokens" in axes.get_xlabel()
    assert "layer 2" in axes.get_title() and "head 2" in axes.get_title()
    assert figure.axes[-1].get_ylabel() == "share of the row token's attention"
    assert not [line for line in axes.lines if line.get_gid() == "image-boundary"]


def test_matrix_figure_marks_image_boundaries(two_images):
    figure, matrix = matrix_figure(two_images, layer="all", reduce="max")
    first, second = two_images.images
    assert matrix.shape == (two_images.num_queries, first.num_tokens + second.num_tokens)
    (axes,) = [axes for axes in figure.axes if axes.images]
    boundaries = [line for line in axes.lines if line.get_gid() == "image-boundary"]
    assert len(boundaries) == 1
    assert boundaries[0].get_xdata()[0] == second.first_column - 0.5
    top = [child for child in axes.child_axes]
    assert len(top) == 1
    assert [label.get_text() for label in top[0].get_xticklabels()] == [
        f"image 1 ({first.rows}×{first.cols})",
        f"image 2 ({second.rows}×{second.cols})",
    ]
    assert "max of all 3 layers" in axes.get_title()


def test_matrix_figure_stays_readable_with_many_tokens_and_columns():
    texts = ["<|vision_end|>", *[f" w{index}" for index in range(60)], "<|im_end|>", "\n", "assistant"]
    result = synthetic_result(texts=texts, grids=((30, 40),), layers=1, heads=1)
    figure, matrix = matrix_figure(result)
    assert matrix.shape == (64, 1200)
    (axes,) = [axes for axes in figure.axes if axes.images]
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    labels = axes.get_yticklabels()
    assert len(labels) == 64 and all(label.get_fontsize() >= 6.5 for label in labels)
    boxes = sorted((label.get_window_extent(renderer) for label in labels), key=lambda box: box.y0)
    assert all(lower.y1 <= upper.y0 + 0.5 for lower, upper in itertools.pairwise(boxes))  # no overlaps
    assert 4 <= len([tick for tick in axes.get_xticks() if 0 <= tick <= 1199]) <= 10
    assert figure.get_figheight() > 8  # grows with the tokens


# ----- the answer, producing maps, layers by id ------------------------------------------------------------

ANSWER_TEXTS = ("<|vision_end|>", "What", " color", "?", "<|im_end|>", "\n", "<|im_start|>", "assistant", "\n")


def answered_result(layer_ids: tuple[int, ...] = (29, 30, 31)) -> AttentionResult:
    """A synthetic result with the answer "Orange cat" (97%, 41%) and its end token, from the last three decoder
    layers of a deeper model; every row, head and layer looks somewhere else (see `synthetic_result`)."""
    base = synthetic_result(texts=(*ANSWER_TEXTS, "Orange", " cat", "<|im_end|>"), layers=3, heads=2)
    prompt_tokens = [
        QueryToken(text, None, None, special=True) if text in ("\n", "assistant") else token
        for text, token in zip(ANSWER_TEXTS, base.tokens, strict=False)
    ]
    answer_tokens = [
        QueryToken("Orange", 0, 6, special=False, part="answer", probability=0.97),
        QueryToken(" cat", 6, 10, special=False, part="answer", probability=0.41),
        QueryToken("<|im_end|>", None, None, special=True, part="answer", probability=0.9),
    ]
    return dataclasses.replace(
        base,
        tokens=(*prompt_tokens, *answer_tokens),
        prompt="What color?",
        answer="Orange cat",
        layer_ids=layer_ids,
    )


ORANGE, CAT = 9, 10  # the answer's word tokens in `answered_result`


def matrix_axes(figure: Figure):
    (axes,) = [axes for axes in figure.axes if axes.images]
    return axes


def test_matrix_figure_marks_the_answers_rows():
    result = answered_result()
    assert result.token_indices("orange") == [ORANGE]
    figure, _ = matrix_figure(result)
    axes = matrix_axes(figure)
    colours = [label.get_color() for label in axes.get_yticklabels()]
    expected = [
        _SPECIAL_COLOUR if token.special else _ANSWER_COLOUR if token.part == "answer" else "black"
        for token in result.tokens
    ]
    assert colours == expected
    assert colours[ORANGE] == colours[CAT] == _ANSWER_COLOUR != "black"
    # One line between the prompt's last row and the answer's first, and the two parts named on the right.
    (line,) = [line for line in axes.lines if line.get_gid() == "answer-boundary"]
    assert list(line.get_ydata()) == [ORANGE - 0.5, ORANGE - 0.5]
    (side,) = axes.child_axes
    assert [label.get_text() for label in side.get_yticklabels()] == ["prompt", "answer"]
    assert list(side.get_yticks()) == [(ORANGE - 1) / 2, (ORANGE + 11) / 2]
    assert side.get_yticklabels()[1].get_color() == _ANSWER_COLOUR
    renderer = FigureCanvasAgg(figure).get_renderer()
    figure.draw(renderer)
    heatmap, answer = axes.get_window_extent(renderer), side.get_yticklabels()[1].get_window_extent(renderer)
    assert answer.x0 >= heatmap.x1  # right of the heatmap, level with the answer's rows
    assert heatmap.y0 < (answer.y0 + answer.y1) / 2 < heatmap.y0 + heatmap.height * 3 / result.num_queries
    # A result without an answer has neither.
    axes = matrix_axes(matrix_figure(synthetic_result())[0])
    assert not [line for line in axes.lines if line.get_gid() == "answer-boundary"] and not axes.child_axes


# "Maybe" " red" "</think>" (thinking, rows 7-9), "\n\n" " A" " red" " cat" "<|im_end|>" (answer, rows 10-14).
FIRST_THOUGHT, THOUGHT_RED, FIRST_ANSWER_ROW = 7, 8, 10


def test_matrix_figure_tells_the_thinking_rows_from_the_answers():
    result = synthetic_answer_result(thinking_texts=THINKING_TEXTS)
    axes = matrix_axes(matrix_figure(result)[0])
    colours = [label.get_color() for label in axes.get_yticklabels()]
    assert colours[FIRST_THOUGHT : FIRST_THOUGHT + 2] == [_THINKING_COLOUR] * 2
    assert colours[FIRST_ANSWER_ROW + 1 : FIRST_ANSWER_ROW + 4] == [_ANSWER_COLOUR] * 3
    assert _THINKING_COLOUR not in (_ANSWER_COLOUR, _SPECIAL_COLOUR, "black")
    assert colours[FIRST_THOUGHT + 2] == colours[FIRST_ANSWER_ROW] == _SPECIAL_COLOUR  # "</think>", "\n\n"
    boundaries = {line.get_gid(): line.get_ydata()[0] for line in axes.lines if line.get_gid().endswith("-boundary")}
    assert boundaries == {"thinking-boundary": FIRST_THOUGHT - 0.5, "answer-boundary": FIRST_ANSWER_ROW - 0.5}
    (side,) = axes.child_axes
    assert [label.get_text() for label in side.get_yticklabels()] == ["prompt", "thinking", "answer"]
    assert [label.get_color() for label in side.get_yticklabels()] == ["black", _THINKING_COLOUR, _ANSWER_COLOUR]
    assert list(side.get_yticks()) == [3.0, 8.0, 12.0]
    # The thinking alone (tokens= picks it): one part, named; no line above its first row.
    axes = matrix_axes(matrix_figure(result, tokens=range(FIRST_THOUGHT, FIRST_ANSWER_ROW))[0])
    assert [label.get_text() for label in axes.child_axes[0].get_yticklabels()] == ["thinking"]
    assert not [line for line in axes.lines if line.get_gid().endswith("-boundary")]


def test_figure_titles_name_the_thinking():
    result = synthetic_answer_result(thinking_texts=THINKING_TEXTS)
    title = layers_figure(result, token=THOUGHT_RED, producing=True).get_suptitle()
    assert title.splitlines()[:3] == ["“Where is the red cat?”", "thinking: “Maybe red”", "answer: “A red cat”"]
    assert "while thinking “red” (the model's probability 80%)" in title.splitlines()[3]  # the word, never a position
    title = layers_figure(result, token=FIRST_ANSWER_ROW + 2, producing=True).get_suptitle()
    assert "while writing “red” (the model's probability 40%)" in title and "token" not in title
    title = layers_figure(result, token=[THOUGHT_RED, THOUGHT_RED + 1, FIRST_ANSWER_ROW], producing=True).get_suptitle()
    assert "while thinking and writing “red”" in title and "tokens" not in title
    assert (
        "“red” (3 times) in the prompt, the thinking and the answer"
        in layers_figure(result, phrase="red").get_suptitle()
    )
    assert "“Maybe” in the thinking" in layers_figure(result, phrase="maybe").get_suptitle()
    assert "“red” in the thinking" in layers_figure(result, token=THOUGHT_RED).get_suptitle()

    unfinished = synthetic_answer_result(answer_texts=(), thinking_texts=("Maybe", " red"))
    lines = layers_figure(unfinished).get_suptitle().splitlines()
    assert lines[1:3] == ["thinking: “Maybe red”", STILL_THINKING] and not any("answer:" in line for line in lines)
    assert matrix_axes(matrix_figure(unfinished)[0]).get_title().endswith(STILL_THINKING)


def test_matrix_figure_of_producing_steps_leaves_rows_without_one_blank():
    result = answered_result()
    figure, matrix = matrix_figure(result, layer=1, head=0, producing=True)
    np.testing.assert_array_equal(matrix, result.maps(layer=1, head=0, producing=True))
    own = result.maps(layer=1, head=0)
    np.testing.assert_array_equal(matrix[ORANGE], own[ORANGE - 1])  # the step that chose "Orange"
    assert not np.array_equal(matrix[ORANGE], own[ORANGE])
    assert np.isnan(matrix[0]).all() and not np.isnan(matrix[1:]).any()  # <|vision_end|>: the image is before it
    axes = matrix_axes(figure)
    np.testing.assert_array_equal(axes.images[0].get_array().filled(np.nan), matrix)
    title = axes.get_title()
    assert "· layer 30 · head 0" in title
    assert "each row: the step that wrote its token (in the prompt: that predicted it)" in title
    assert "1 blank row: an image token comes right before (no step captured)" in title
    # The blank row is drawn blank (the white background), not in the colour of 0.
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    pixels = np.asarray(canvas.buffer_rgba())
    box = axes.get_window_extent()
    row_height = box.height / result.num_queries
    x, height = int(box.x0 + box.width / 2), pixels.shape[0]
    blank_row = pixels[int(height - (box.y1 - row_height / 2)), x, :3]
    next_row = pixels[int(height - (box.y1 - 1.5 * row_height)), x, :3]
    assert (blank_row == 255).all() and not (next_row == 255).all()
    # Own rows: no producing step in the title, no blank row.
    figure, matrix = matrix_figure(result, layer=1, head=0)
    assert "each row: the step" not in matrix_axes(figure).get_title() and not np.isnan(matrix).any()


def test_every_layer_label_is_the_decoder_layer_id():
    result = answered_result(layer_ids=(29, 30, 31))  # the capture kept the last three of 32 layers
    titles = [axes.get_title() for axes in layers_figure(result, layers="all").axes if axes.images]
    assert titles == ["image", "layer 29", "", "layer 30", "", "layer 31", ""]
    titles = [axes.get_title() for axes in layers_figure(result).axes if axes.images]  # the default: the last four
    assert titles == ["image", "layer 29", "", "layer 30", "", "layer 31", ""]
    assert [axes.get_title() for axes in layers_figure(result, layers=[0, -1]).axes if axes.get_title()][1:] == [
        "layer 29",
        "layer 31",
    ]
    title = lambda **selection: matrix_axes(matrix_figure(result, **selection)[0]).get_title()  # noqa: E731
    assert "· layer 31 ·" in title()
    assert "· layer 29 ·" in title(layer=0)
    assert "mean of layers 29, 31 ·" in title(layer=[0, -1])
    assert "max of layers 29, 30, 31 ·" in title(layer="all", reduce="max")
    assert (
        "max of all 3 layers"
        in matrix_axes(matrix_figure(synthetic_result(layers=3), layer="all", reduce="max")[0]).get_title()
    )


def test_layers_figure_shows_where_the_model_looked_while_writing_an_answer_word():
    result = answered_result()
    figure = layers_figure(result, layers="all", phrase="orange", producing=True)
    heatmaps = [axes for axes in figure.axes if axes.get_title().startswith("layer")]
    for layer, axes in enumerate(heatmaps):
        shown = axes.images[0].get_array()
        np.testing.assert_array_equal(shown, result.grid(token=ORANGE, layer=layer, producing=True))
        np.testing.assert_array_equal(shown, result.grid(token=ORANGE - 1, layer=layer))  # the step before it
        assert not np.array_equal(shown, result.grid(token=ORANGE, layer=layer))
    suptitle = figure.get_suptitle()
    assert suptitle.splitlines()[:2] == ["“What color?”", "answer: “Orange cat”"]
    assert "while writing “Orange” (the model's probability 97%)" in suptitle
    both = layers_figure(result, token=[CAT, ORANGE], producing=True).get_suptitle()
    # 0.97 x 0.41: the text's probability
    assert "while writing “Orange cat” (the model's probability 40%)" in both
    mixed = layers_figure(result, token=[1, ORANGE], producing=True).get_suptitle()
    assert "the steps that produced “What” + “Orange”" in mixed and "while writing" not in mixed
    prompt = layers_figure(result, token=1, producing=True).get_suptitle()
    assert "the step that predicted “What”" in prompt
    own = layers_figure(result, phrase="orange").get_suptitle()
    assert "“Orange” in the answer" in own and "step" not in own and "while writing" not in own
    assert "“cat” in the answer" in layers_figure(result, token=CAT).get_suptitle()


def test_producing_maps_of_tokens_without_one_and_bad_options_get_one_line():
    result = answered_result()
    with pytest.raises(ValueError, match=r"token 0 \('<\|vision_end\|>'\) has no producing map") as info:
        layers_figure(result, token=0, producing=True)
    assert "\n" not in str(info.value)
    for figure in (layers_figure, matrix_figure):
        with pytest.raises(TypeError, match=r"producing must be True .* or False, not 'yes'") as info:
            figure(result, producing="yes")
        assert "\n" not in str(info.value)


def test_percentages_in_titles():
    assert [_percent(p) for p in (0.97, 0.4, 0.042, 0.0031, 0.9996, 1.0)] == [
        "97%",
        "40%",
        "4.2%",
        "0.31%",
        "99.9%",
        "100%",
    ]


@pytest.fixture(scope="module")
def answered(tiny_models):
    """A real capture with a given answer, keeping decoder layers 1 and 2 of the tiny model's three."""
    return tiny_models["qwen2_vl"].capture(
        example_image(112, 84), "What is on the image?", answer="A red cat.", layers=[1, 2]
    )


def test_figures_of_a_real_answer(answered):
    first = next(index for index, token in enumerate(answered.tokens) if token.part == "answer")
    assert answered.layer_ids == (1, 2)
    figure, matrix = matrix_figure(answered, layer=0, producing=True)
    axes = matrix_axes(figure)
    (line,) = [line for line in axes.lines if line.get_gid() == "answer-boundary"]
    assert line.get_ydata()[0] == first - 0.5
    assert "· layer 1 ·" in axes.get_title() and "each row: the step that wrote its token" in axes.get_title()
    np.testing.assert_array_equal(matrix, answered.maps(layer=0, producing=True))
    labels = axes.get_yticklabels()
    assert [label.get_color() for label in labels[first:]] == [_ANSWER_COLOUR] * (answered.num_queries - first)

    (cat,) = [index for index in answered.token_indices("red cat") if answered.tokens[index].text == " cat"]
    figure = layers_figure(answered, layers="all", token=cat, producing=True)
    assert [axes.get_title() for axes in figure.axes if axes.get_title().startswith("layer")] == ["layer 1", "layer 2"]
    probability = _percent(answered.tokens[cat].probability)
    assert f"while writing “cat” (the model's probability {probability})" in figure.get_suptitle()
    assert "answer: “A red cat.”" in figure.get_suptitle()
    heat = next(axes for axes in figure.axes if axes.get_title() == "layer 2")
    np.testing.assert_array_equal(heat.images[0].get_array(), answered.grid(token=cat - 1, layer=1))


# ----- paper use: width presets, fonts for the width, titles of your own -----------------------------------


def every_figure(result: AttentionResult, video: AttentionResult, **options) -> dict[str, Figure]:
    """Each figure function's figure, with the same `options` (width=, title=): an answer word's producing maps."""
    word = max(index for index, token in enumerate(result.tokens) if token.part == "answer" and not token.special)
    return {
        "layers": layers_figure(result, layers="all", token=word, producing=True, **options),
        "matrix": matrix_figure(result, layer=1, producing=True, **options)[0],
        "heads": heads_figure(result, token=word, producing=True, **options),
        "frames": frames_figure(video, token=3, **options),
    }


def drawn_texts(figure: Figure) -> list[str]:
    """The texts of `figure` a reader sees (drawn with the Agg renderer), and that nothing drawn runs past the
    figure's edges (one pixel of slack)."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    drawn = figure.get_tightbbox(renderer)  # in inches: what `bbox_inches="tight"` would keep
    slack = 1 / figure.dpi
    assert drawn.x0 >= -slack and drawn.y0 >= -slack, drawn
    assert drawn.x1 <= figure.get_figwidth() + slack and drawn.y1 <= figure.get_figheight() + slack, drawn
    return [text.get_text() for text in figure.findobj(Text) if text.get_visible() and text.get_text().strip()]


@pytest.mark.parametrize(("width", "inches"), [("column", 3.3), ("page", 7.0), (5, 5.0), (np.float32(12), 12.0)])
def test_every_figure_is_made_at_its_width_with_every_text_readable_and_inside_it(width, inches):
    """Printed at its width, no text of a figure is under 6 pt (the six-layer figure at a column's width
    included), and none runs past the figure's edges (long titles wrap)."""
    long = "Where is the small red cat that sits beside the blue box on the left of the picture?"
    result = dataclasses.replace(synthetic_answer_result(layers=6), prompt=long)
    for name, figure in every_figure(result, synthetic_video_result(), width=width).items():
        assert figure.get_figwidth() == pytest.approx(inches), name
        assert len(drawn_texts(figure)) > 5, name
        sizes = {text.get_text(): text.get_fontsize() for text in figure.findobj(Text) if text.get_text().strip()}
        assert min(sizes.values()) >= MIN_FONT_POINTS, (name, sizes)
    fonts = lambda width: layers_figure(result, width=width)._suptitle.get_fontsize()  # noqa: E731
    assert fonts("column") < fonts(5) < fonts("page") == fonts(12)  # sized for the width, a page's at most


def test_a_title_of_your_own_or_none():
    result = answered_result()
    video = synthetic_video_result()
    titled = every_figure(result, video, title="Figure 2: where the model looks")
    plain = every_figure(result, video, title=False)
    own = every_figure(result, video)
    for name in titled:
        heading = matrix_axes(titled[name]).get_title() if name == "matrix" else titled[name].get_suptitle()
        assert heading == "Figure 2: where the model looks", name
        texts = " ".join(drawn_texts(plain[name]))
        assert "“What color?”" not in texts and "Figure 2" not in texts and "text → image" not in texts, name
        assert plain[name].get_figheight() < own[name].get_figheight(), name  # no room kept for a title
    assert layers_figure(result, title=True).get_suptitle() == layers_figure(result).get_suptitle()


@pytest.mark.parametrize(
    ("options", "kind", "message"),
    [
        (
            {"width": "wide"},
            ValueError,
            "width must be 'column' (3.3 in), 'page' (7 in) or a number of inches from 3 to 40, not 'wide'",
        ),
        (
            {"width": 2},
            ValueError,
            "width must be 'column' (3.3 in), 'page' (7 in) or a number of inches from 3 to 40, not 2",
        ),
        (
            {"width": True},
            TypeError,
            "width must be 'column' (3.3 in), 'page' (7 in) or a number of inches from 3 to 40, not True",
        ),
        ({"width": float("nan")}, ValueError, "width must be 'column'"),
        (
            {"title": 3},
            TypeError,
            "title must be a text of your own, False (no title, e.g. for a LaTeX caption) or "
            "None (the figure's own), not 3",
        ),
        ({"title": " "}, ValueError, "title is empty: pass title=False for no title, or some text"),
    ],
)
def test_bad_widths_and_titles_get_one_line(options, kind, message):
    result = answered_result()
    for function in (layers_figure, matrix_figure, heads_figure):
        with pytest.raises(kind) as info:
            function(result, **options)
        assert str(info.value).startswith(message) and "\n" not in str(info.value), function.__name__
    with pytest.raises(kind, match=re.escape(message)):
        frames_figure(synthetic_video_result(), **options)


# ----- saving ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_figure():
    return layers_figure(synthetic_result(), layers=[0, 1])


@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("figure.png", lambda data: data.startswith(PNG_MAGIC)),
        ("figure.PNG", lambda data: data.startswith(PNG_MAGIC)),
        ("figure.pdf", lambda data: data.startswith(b"%PDF-") and b"%%EOF" in data[-64:]),
        ("figure.svg", lambda data: data.startswith(b"<?xml") and b"<svg" in data[:2000] and b"</svg>" in data[-64:]),
    ],
)
def test_save_figure_formats(small_figure, tmp_path, name, check):
    path = save_figure(small_figure, tmp_path / "new" / "folder" / name, dpi=40)
    assert path == tmp_path / "new" / "folder" / name
    assert check(path.read_bytes())
    assert [child.name for child in path.parent.iterdir()] == [name]
    if name == "figure.png":
        with Image.open(path) as saved:
            assert saved.width == round(small_figure.get_figwidth() * 40)


def test_save_figure_refuses_other_extensions(small_figure, tmp_path):
    with pytest.raises(
        ValueError, match=r"cannot save a figure as '\.jpg2'.*use a path ending in \.png, \.svg, \.pdf"
    ) as error:
        save_figure(small_figure, tmp_path / "out" / "figure.jpg2")
    assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match="a file without extension"):
        save_figure(small_figure, tmp_path / "figure")
    assert list(tmp_path.iterdir()) == []


def test_save_figure_leaves_no_partial_file(small_figure, tmp_path, monkeypatch):
    def broken(handle, **options):
        handle.write(b"half a figure")
        raise RuntimeError("disk full")

    monkeypatch.setattr(small_figure, "savefig", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        save_figure(small_figure, tmp_path / "figure.png")
    assert list(tmp_path.iterdir()) == []


def test_figures_are_detached_from_pyplot(tmp_path):
    plt.close("all")
    result = synthetic_result()
    figures = [layers_figure(result, layers=[0, 1]), matrix_figure(result)[0], layers_figure(result, layers="all")]
    assert plt.get_fignums() == []  # loops do not pile figures up in pyplot
    path = save_figure(figures[0], tmp_path / "figure.png", dpi=20)
    assert path.read_bytes().startswith(PNG_MAGIC)  # and the figures still draw


def test_figures_are_public():
    assert qvl_widget.figures.layers_figure is layers_figure
    assert qvl_widget.figures.save_figure is save_figure
