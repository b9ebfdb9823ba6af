"""Video through capture: exact (equal to eager attention), its geometry proven through the whole model, its
temporal groups and their frames in the result, saved and loaded; on every tiny family, alone and mixed with
images, with an odd frame count, one frame, and frames of a size that is no multiple of a cell."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from browser_support import synthetic_result, synthetic_video_result
from PIL import Image
from test_capture import PROMPT, eager_attention, noise_image
from test_geometry import cell_pixels, local_vision_model, noise  # noqa: F401  (a fixture)
from test_result_files import assert_same

import qvl_widget
from qvl_widget import AttentionResult, Video
from qvl_widget._result import BASELINE_PROMPT


def frames(count: int, width: int, height: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(count, height, width, 3), dtype=np.uint8)


def eager_slice(model: qvl_widget.LoadedModel, media, prompt: str = PROMPT) -> np.ndarray:
    prepared = model.prepare(media, prompt)
    full = eager_attention(model.model, prepared.model_inputs)
    return full[:, :, prepared.query_positions][:, :, :, prepared.image_positions]


@pytest.mark.parametrize("count", [5, 1, 4])
def test_a_video_capture_equals_eager_attention(tiny, count):
    video = Video(frames(count, 90, 60))  # 90 x 60: no multiple of a cell; 5: an odd count; 1: one frame
    result = tiny.capture(video, PROMPT)
    reference = eager_slice(tiny, video)
    assert result.attention.shape == reference.shape
    np.testing.assert_allclose(result.attention, reference, rtol=0, atol=1e-5)
    np.testing.assert_allclose(result.image_mass, reference.sum(axis=-1), rtol=0, atol=1e-5)
    (geometry,) = result.images
    assert geometry.kind == "video" and geometry.groups == (count + 1) // 2 and geometry.original_size == (90, 60)
    assert geometry.group_frames == tuple(
        tuple(min(frame, count - 1) for frame in (start, start + 1)) for start in range(0, count, 2)
    )
    assert result.grid().shape == (geometry.groups, geometry.rows, geometry.cols)
    assert len(result.pictures) == geometry.groups


def test_images_and_videos_mixed_in_one_prompt_equal_eager(tiny):
    media = [noise_image(100, 60, seed=1), Video(frames(4, 70, 90, seed=2)), noise_image(56, 56, seed=3)]
    result = tiny.capture(media, PROMPT)
    reference = eager_slice(tiny, media)
    np.testing.assert_allclose(result.attention, reference, rtol=0, atol=1e-5)
    kinds = [geometry.kind for geometry in result.images]
    assert kinds == ["image", "video", "image"]
    # Columns in prompt order, each medium's right after the one before; one picture per image and per group.
    assert [geometry.first_column for geometry in result.images] == list(
        np.cumsum([0] + [geometry.num_tokens for geometry in result.images[:-1]])
    )
    assert len(result.pictures) == 1 + result.images[1].groups + 1
    assert result.picture(2) is result.pictures[-1] and result.picture(1, 1) is result.pictures[2]
    assert result.grid(image=0).shape == (result.images[0].rows, result.images[0].cols)
    assert result.grid(image=1).ndim == 3


def test_a_videos_time_text_are_query_tokens_of_the_template(tiny, family):
    """Qwen3-VL and Qwen3.5 write each group's time before it ("<1.0 seconds>"): text inside the video, so
    query tokens (the later groups' rows see the earlier groups), marked as the template's; never image columns."""
    result = tiny.capture(Video(frames(6, 64, 64)), PROMPT)
    texts = "".join(token.text for token in result.tokens)
    timed = family.startswith("qwen3")
    assert ("seconds>" in texts) == timed
    for token in result.tokens:
        if token.part == "prompt" and not token.special:
            assert token.text in PROMPT
    assert result.prompt == PROMPT and "".join(result.tokens[i].text for i in result.token_indices("red cat")) in (
        " red cat",
        "red cat",
    )
    assert not set(result.query_positions) & set(result.image_positions)
    if timed:  # rows between the groups: after group 0's columns, before group 1's
        group_0_end = result.image_positions[result.images[0].tokens_per_group - 1]
        group_1_start = result.image_positions[result.images[0].tokens_per_group]
        between = [position for position in result.query_positions if group_0_end < position < group_1_start]
        assert between and all(
            result.tokens[list(result.query_positions).index(position)].special for position in between
        )


def test_a_videos_groups_carry_their_frames_and_times(qwen2):
    video = Video(frames(12, 64, 48), source_fps=6.0)  # 2 s at 6 fps, sampled at the processor's 2 fps
    result = qwen2.capture(video, PROMPT)
    (geometry,) = result.images
    assert geometry.group_frames == ((0, 3), (6, 9))
    assert geometry.group_times == ((0.0, 0.5), (1.0, 1.5))
    assert result.token_groups().tolist() == [0] * geometry.tokens_per_group + [1] * geometry.tokens_per_group
    boxes = result.token_boxes()
    assert boxes.shape == (geometry.num_tokens, 4)
    np.testing.assert_array_equal(boxes[: geometry.tokens_per_group], boxes[geometry.tokens_per_group :])
    np.testing.assert_allclose(boxes[-1, 2:], [64, 48])  # in frame pixels
    # Each group's picture is its first frame, at the frames' original size.
    for group, first in enumerate((0, 6)):
        np.testing.assert_array_equal(np.asarray(result.picture(0, group)), frames(12, 64, 48)[first])


def test_video_results_save_and_load_bit_exact(qwen2, tmp_path):
    result = qwen2.capture([Video(frames(5, 90, 60)), noise_image(70, 50)], PROMPT)
    loaded = AttentionResult.load(result.save(tmp_path / "video.npz"))
    assert_same(loaded, result)
    assert loaded.images == result.images
    for mine, theirs in zip(loaded.pictures, result.pictures, strict=True):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))


def video_embeddings(model: qvl_widget.LoadedModel, clip: np.ndarray) -> tuple[np.ndarray, AttentionResult]:
    """The language model's input embeddings at the video's positions, in position order."""
    seen = {}

    def keep_inputs(_module, _args, kwargs):
        seen["embeds"] = kwargs["inputs_embeds"][0].detach().clone()

    handle = model.model.model.language_model.register_forward_pre_hook(keep_inputs, with_kwargs=True)
    try:  # pixel bounds wide open: the frames are seen at their own size, one cell per token
        result = model.capture(Video(clip, min_pixels=1, max_pixels=10**8), PROMPT)
    finally:
        handle.remove()
    return seen["embeds"][torch.as_tensor(result.image_positions)].numpy(), result


def test_a_change_in_one_groups_cell_reaches_exactly_that_token(local_vision_model):  # noqa: F811
    """Through the processor, the vision tower (its temporal patches, Qwen2.5-VL's window permutation) and the
    merge into the text sequence: a change in cell (row, col) of frame f reaches exactly video token
    (f // 2) * rows * cols + row * cols + col."""
    cell = cell_pixels(local_vision_model)
    rows, cols = 3, 5
    base = np.stack([noise(cols * cell, rows * cell, seed=frame) for frame in range(4)])
    before, result = video_embeddings(local_vision_model, base)
    (geometry,) = result.images
    assert (geometry.groups, geometry.rows, geometry.cols) == (2, rows, cols)
    for frame, row, col in [(0, 0, 0), (1, 2, 4), (2, 1, 2), (3, 0, 4)]:
        changed = base.copy()
        changed[frame, row * cell : (row + 1) * cell, col * cell : (col + 1) * cell] = noise(cell, cell, seed=99)
        after, _ = video_embeddings(local_vision_model, changed)
        tokens = list(np.flatnonzero(np.abs(before - after).max(axis=1) > 1e-6))
        assert tokens == [(frame // 2) * rows * cols + row * cols + col], (frame, row, col)


def test_a_conversation_takes_video_parts(qwen2):
    video = Video(frames(4, 64, 48))
    messages = [
        {"role": "user", "content": [{"type": "video", "video": video}, {"type": "text", "text": "What moves?"}]},
    ]
    result = qwen2.capture(messages=messages)
    assert [geometry.kind for geometry in result.images] == ["video"]
    placeholder = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "What moves?"}]}]
    assert qwen2.capture(video, messages=placeholder).attention.shape == result.attention.shape
    wrong = [{"role": "user", "content": [{"type": "video", "video": Image.new("RGB", (8, 8))}]}]
    with pytest.raises(TypeError, match=r"^message 1, part 1 is a video part and takes a qvl_widget.Video, not"):
        qwen2.capture(messages=wrong)


def test_a_baseline_sees_the_same_video(qwen2):
    """The baseline's rows are the last row of a capture of the baseline prompt on the very same frames, in every
    layer and head; here each frame differs, so other frames, or the same in another order, give other rows."""
    video = Video(frames(6, 64, 48))
    result = qwen2.capture(video, PROMPT, baseline=True, layers=[0, -1])
    direct = qwen2.capture(video, BASELINE_PROMPT, layers=[0, -1])
    assert result.baseline_prompt == BASELINE_PROMPT and direct.images == result.images
    np.testing.assert_allclose(result.baseline_attention, direct.attention[:, :, -1], rtol=0, atol=1e-6)
    reversed_frames = qwen2.capture(Video(frames(6, 64, 48)[::-1]), BASELINE_PROMPT, layers=[0, -1])
    assert np.abs(reversed_frames.attention[:, :, -1] - result.baseline_attention).max() > 100 * 1e-6


def test_a_video_on_a_model_without_a_video_processor_is_refused(qwen2, monkeypatch):
    monkeypatch.setattr(qwen2.processor, "video_processor", None)
    with pytest.raises(
        ValueError, match=r"^this model takes no videos \(Qwen2VLProcessor has no video processor\): pass"
    ) as info:
        qwen2.capture(Video(frames(4, 64, 48)), PROMPT)
    assert "\n" not in str(info.value)


def test_full_size_video_frames_go_as_jpeg_and_images_as_png():
    """Save PNG asks the kernel for the full-size pictures once: a long video's frames as PNG would be tens of MB
    in one message, so large frames go as JPEG (they come from a lossy video anyway); images stay lossless."""
    widget = synthetic_video_result().widget()  # frames of 1200 x 800 px
    widget.want_full_pictures = True
    assert widget.full_pictures and all(frame.startswith(b"\xff\xd8") for frame in widget.full_pictures)  # JPEG
    big_image = dataclasses.replace(synthetic_result(), pictures=(Image.new("RGB", (1200, 800), "red"),))
    widget = big_image.widget()
    widget.want_full_pictures = True
    assert widget.full_pictures[0].startswith(b"\x89PNG")


def test_a_videos_group_pictures_and_token_groups_refuse_bad_indices_in_one_line():
    result = synthetic_video_result()
    groups = result.images[0].groups
    with pytest.raises(IndexError, match=rf"^group {groups} is out of range: there are {groups} groups"):
        result.picture(0, groups)
    with pytest.raises(IndexError, match=r"^image 5 is out of range"):
        result.picture(5)
    with pytest.raises(TypeError, match=r"^group must be"):
        result.picture(0, "first")
    with pytest.raises(IndexError, match=r"^image 3 is out of range"):
        result.token_groups(3)
    assert result.picture(0, -1) is result.pictures[groups - 1]  # negative counts from the end, as everywhere
