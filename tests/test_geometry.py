"""Image tokens map to the right cells and to the right boxes of the original image."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import qvl_widget
from qvl_widget._geometry import cell_of_point, token_boxes

PROMPT = "What color is the cat?"


def noise(width: int, height: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def cell_pixels(model: qvl_widget.LoadedModel) -> int:
    image_processor = model.processor.image_processor
    return image_processor.patch_size * image_processor.merge_size


def test_token_boxes_tile_the_original_image():
    boxes = token_boxes(rows=3, cols=4, original_size=(100, 60))
    assert boxes.shape == (12, 4)
    np.testing.assert_allclose(boxes[0], [0, 0, 25, 20])
    np.testing.assert_allclose(boxes[4 + 3], [75, 20, 100, 40])  # token 7 = row 1, col 3
    np.testing.assert_allclose(boxes[-1], [75, 40, 100, 60])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    assert areas.sum() == pytest.approx(100 * 60)


def test_cell_of_point_inverts_token_boxes():
    boxes = token_boxes(rows=5, cols=7, original_size=(333, 201))
    for token, (x0, y0, x1, y1) in enumerate(boxes):
        assert cell_of_point((x0 + x1) / 2, (y0 + y1) / 2, 5, 7, (333, 201)) == divmod(token, 7)


@pytest.mark.parametrize(("width", "height"), [(100, 60), (60, 100), (333, 201)])
def test_non_square_images_keep_their_orientation(tiny, width, height):
    result = tiny.capture(Image.fromarray(noise(width, height)), PROMPT)
    (geometry,) = result.images
    assert geometry.original_size == (width, height)
    assert (geometry.cols > geometry.rows) == (width > height)
    cell = cell_pixels(tiny)
    assert geometry.resized_size == (geometry.cols * cell, geometry.rows * cell)
    boxes = result.token_boxes()
    assert boxes.shape == (geometry.rows * geometry.cols, 4)
    np.testing.assert_allclose(boxes[-1, 2:], [width, height])
    assert result.grid().shape == (geometry.rows, geometry.cols)


def test_tiny_image_is_upscaled_to_the_minimum(tiny):
    result = tiny.capture(Image.fromarray(noise(10, 10)), PROMPT)
    (geometry,) = result.images
    width, height = geometry.resized_size
    assert width * height >= tiny.processor.image_processor.size["shortest_edge"]
    assert geometry.original_size == (10, 10)
    assert result.token_boxes().max() == pytest.approx(10)


def test_huge_image_is_capped_at_the_maximum(qwen2):
    result = qwen2.capture(Image.fromarray(noise(4000, 3000)), PROMPT)
    (geometry,) = result.images
    width, height = geometry.resized_size
    assert width * height <= qwen2.processor.image_processor.size["longest_edge"]
    assert geometry.num_tokens <= 1280
    np.testing.assert_allclose(result.token_boxes()[-1, 2:], [4000, 3000])


def test_max_pixels_option_bounds_the_token_count(qwen2):
    image = Image.fromarray(noise(800, 600))
    default = qwen2.capture(image, PROMPT)
    small = qwen2.capture(image, PROMPT, max_pixels=200 * 28 * 28 // 4)
    assert small.images[0].num_tokens < default.images[0].num_tokens
    assert small.images[0].num_tokens <= 50


def test_two_images_get_consecutive_columns(tiny):
    images = [Image.fromarray(noise(100, 60, 1)), Image.fromarray(noise(64, 128, 2))]
    result = tiny.capture(images, PROMPT)
    first, second = result.images
    assert first.first_column == 0
    assert second.first_column == first.num_tokens
    assert result.attention.shape[-1] == first.num_tokens + second.num_tokens
    assert (second.rows > second.cols) and (first.cols > first.rows)
    # Each image's tokens are one consecutive run of positions, the second after the first.
    for geometry in result.images:
        positions = result.image_positions[geometry.columns]
        assert np.all(np.diff(positions) == 1)
    assert result.image_positions[second.first_column] > result.image_positions[first.num_tokens - 1] + 1
    np.testing.assert_allclose(result.token_boxes(image=1)[-1, 2:], [64, 128])
    assert result.grid(image=1).shape == (second.rows, second.cols)


def test_processor_puts_cell_k_in_patch_group_k(tiny):
    """Changing one cell of an image changes exactly the 2x2 patch group of token k = row * cols + col."""
    cell = cell_pixels(tiny)
    rows, cols = 3, 5
    base = noise(cols * cell, rows * cell)
    merge = tiny.processor.image_processor.merge_size
    for row, col in [(0, 0), (0, 4), (2, 1), (1, 3)]:
        changed = base.copy()
        changed[row * cell : (row + 1) * cell, col * cell : (col + 1) * cell] = (
            255 - changed[row * cell : (row + 1) * cell, col * cell : (col + 1) * cell]
        )
        patches = [
            tiny.processor.image_processor(Image.fromarray(pixels))["pixel_values"] for pixels in (base, changed)
        ]
        differing = np.flatnonzero(np.abs(np.asarray(patches[0]) - np.asarray(patches[1])).sum(axis=1) > 0)
        token = row * cols + col
        assert list(differing // merge**2) == [token] * merge**2


@pytest.fixture
def local_vision_model(tiny_model_dirs, family) -> qvl_widget.LoadedModel:
    """A fresh copy of the tiny model whose vision tower mixes nothing across tokens (attention output zeroed)."""
    model = qvl_widget.load(tiny_model_dirs[family], device="cpu")
    with torch.no_grad():
        for block in model.model.model.visual.blocks:
            block.attn.proj.weight.zero_()
            block.attn.proj.bias.zero_()
    return model


def image_embeddings(
    model: qvl_widget.LoadedModel, pixels: np.ndarray
) -> tuple[np.ndarray, qvl_widget.AttentionResult]:
    """The language model's input embeddings at the image positions, in position order."""
    seen = {}

    def keep_inputs(_module, _args, kwargs):
        seen["embeds"] = kwargs["inputs_embeds"][0].detach().clone()

    handle = model.model.model.language_model.register_forward_pre_hook(keep_inputs, with_kwargs=True)
    try:
        result = model.capture(Image.fromarray(pixels), PROMPT)
    finally:
        handle.remove()
    return seen["embeds"][torch.as_tensor(result.image_positions)].numpy(), result


def changed_tokens(model, base: np.ndarray, changed: np.ndarray) -> tuple[list[int], qvl_widget.AttentionResult]:
    before, result = image_embeddings(model, base)
    after, _ = image_embeddings(model, changed)
    return list(np.flatnonzero(np.abs(before - after).max(axis=1) > 1e-6)), result


def test_image_token_k_sees_cell_k_through_the_whole_model(local_vision_model):
    """Through the processor, the vision tower (Qwen2.5-VL's window permutation included) and the merge into the
    text sequence: a change in cell (row, col) reaches exactly image position k = row * cols + col."""
    cell = cell_pixels(local_vision_model)
    rows, cols = 3, 5
    base = noise(cols * cell, rows * cell)
    for row, col in [(0, 0), (0, 4), (2, 0), (2, 4), (1, 2)]:
        changed = base.copy()
        changed[row * cell : (row + 1) * cell, col * cell : (col + 1) * cell] = noise(cell, cell, seed=row * 10 + col)
        tokens, result = changed_tokens(local_vision_model, base, changed)
        assert (result.images[0].rows, result.images[0].cols) == (rows, cols)
        assert tokens == [row * cols + col]
        box = result.token_boxes()[row * cols + col]
        np.testing.assert_allclose(box, [col * cell, row * cell, (col + 1) * cell, (row + 1) * cell])


def test_token_boxes_locate_a_change_in_a_resized_image(local_vision_model):
    """With an original size that is not a multiple of the cell, a change well inside token k's box
    (in original pixels) reaches token k and no other."""
    base = noise(203, 117)
    _, probe = image_embeddings(local_vision_model, base)
    boxes = probe.token_boxes()
    cols = probe.images[0].cols
    for token in [0, cols - 1, len(boxes) // 2, len(boxes) - 1]:
        x0, y0, x1, y1 = boxes[token]
        margin_x, margin_y = (x1 - x0) * 0.3, (y1 - y0) * 0.3
        changed = base.copy()
        changed[round(y0 + margin_y) : round(y1 - margin_y), round(x0 + margin_x) : round(x1 - margin_x)] = 0
        tokens, _ = changed_tokens(local_vision_model, base, changed)
        assert tokens == [token]
