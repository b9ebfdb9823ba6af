"""Issue EDGES, shapes and sizes: inputs the processors could misread, and inputs refused before they cost time or
memory (checked on bytes, allocations and calls, never on seconds)."""

from __future__ import annotations

import re
import tracemalloc

import numpy as np
import pytest
import torch
from PIL import Image

from qvl_widget._inputs import prepare_inputs
from qvl_widget._video import Video

RED = (255, 0, 0)


def channel_means(pixel_values: torch.Tensor) -> np.ndarray:
    """Each colour channel's mean over the processor's patches (a patch is channel-major: [C, T, P, P] flat)."""
    return pixel_values.reshape(pixel_values.shape[0], 3, -1).mean(dim=(0, 2)).numpy()


# ----- frames and images the processor could read channels-first ---------------------------------------------


def prepared_or_refusal(tiny, media) -> tuple:
    """`prepare_inputs` on the question "What", or the one line it refused with."""
    try:
        return prepare_inputs(tiny.processor, tiny.model.config, media, "What"), None
    except ValueError as error:
        return None, str(error)


@pytest.mark.parametrize("size", [(56, 1), (56, 3), (56, 4), (1, 1), (3, 3), (4, 56), (64, 48)])
def test_a_red_clip_reaches_the_model_red_whatever_its_frames_shape(tiny, size):
    """A frame 1 or 3 pixels tall is [1|3, width, 3] once stacked: guessed channels-first, the model got rows as
    colours. Its channels reach the model as the same frame's as an image, and its grid is as wide as the frame."""
    frames = [Image.new("RGB", size, RED)] * 2
    for media in (Video(frames), frames[0]):
        inputs, refusal = prepared_or_refusal(tiny, media)
        if refusal is not None:  # transformers 5.0's Qwen3-VL video processor takes no side under 32 pixels
            assert isinstance(media, Video) and min(size) < 32, refusal
            assert "are smaller than this version of transformers' video processor takes" in refusal
            assert "\n" not in refusal
            continue
        kind = "pixel_values_videos" if isinstance(media, Video) else "pixel_values"
        means = channel_means(inputs.model_inputs[kind])
        of = tiny.processor.video_processor if isinstance(media, Video) else tiny.processor.image_processor
        np.testing.assert_allclose(means, (np.array([1.0, 0, 0]) - of.image_mean) / of.image_std, atol=1e-3)
        grid = inputs.model_inputs["video_grid_thw" if isinstance(media, Video) else "image_grid_thw"]
        _, rows, cols = grid[0].tolist()
        width, height = size
        assert (width < 4 * height or cols > rows) and (height < 4 * width or rows > cols), (size, rows, cols)


# ----- the model's context, checked from the processor's output before the model runs -------------------------


@pytest.fixture
def never_run(qwen2, monkeypatch):
    """The tiny Qwen2-VL, whose forward must not be reached."""

    def forward(*args, **kwargs):
        raise AssertionError("the model ran")

    monkeypatch.setattr(qwen2.model, "forward", forward)
    return qwen2


def refused_in_one_line(call, *fragments: str, peak_bytes: int = 20 * 2**20) -> str:
    """`call()` raises qvl_widget's one-line ValueError naming `fragments`, allocating at most `peak_bytes`."""
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=re.escape(fragments[0])) as info:
            call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert "\n" not in message and all(fragment in message for fragment in fragments), message
    assert peak < peak_bytes, f"{peak / 2**20:.0f} MiB allocated before the refusal"
    return message


@pytest.mark.parametrize("max_new_tokens", [10**8, 10**12])
def test_max_new_tokens_past_the_context_is_refused_before_any_allocation(never_run, max_new_tokens):
    image = Image.new("RGB", (56, 56), RED)
    refused_in_one_line(
        lambda: never_run.capture(image, "What", answer=True, max_new_tokens=max_new_tokens),
        f"max_new_tokens={max_new_tokens:,} go past the model's context of 32,768 tokens",
        "pass max_new_tokens=",
    )


def test_a_given_answer_past_the_context_is_refused_before_the_model_runs(never_run):
    image = Image.new("RGB", (56, 56), RED)
    refused_in_one_line(
        lambda: never_run.capture(image, "What", answer="a" * 33_000),
        "and the given answer (33,000 tokens) go past the model's context of 32,768 tokens",
        "give a shorter answer",
    )


def test_a_video_past_the_context_is_refused_before_the_model_runs(never_run, monkeypatch):
    """The tokens are counted from the processor's output (images are counted before it, see test_inputs): a small
    context stands for 32,768 (a 768-frame clip made 55,296 tokens) at a cost the tests can pay."""
    clip = Video([Image.new("RGB", (56, 56), RED)] * 16)
    length = never_run.prepare(clip, "What").model_inputs["input_ids"].shape[1]
    monkeypatch.setattr(never_run.model.config.get_text_config(), "max_position_embeddings", length - 1)
    message = refused_in_one_line(
        lambda: never_run.capture(clip, "What"),
        f"past the model's context of {length - 1:,} tokens",
        "Video(max_frames=",
    )
    assert f"the prompt with its images and videos makes {length:,} tokens" in message
    monkeypatch.setattr(never_run.model.config.get_text_config(), "max_position_embeddings", length + 5)
    refused_in_one_line(
        lambda: never_run.capture(clip, "What", baseline="x " * 20),
        "the baseline prompt 'x x x",
        f"past the model's context of {length + 5:,} tokens",
    )
