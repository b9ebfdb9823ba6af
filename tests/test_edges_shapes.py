"""Issue EDGES, shapes and sizes: inputs the processors could misread, and inputs refused before they cost time or
memory (checked on bytes, allocations and calls, never on seconds)."""

from __future__ import annotations

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


@pytest.mark.parametrize("size", [(56, 1), (56, 3), (56, 4), (1, 1), (3, 3), (4, 56), (64, 48)])
def test_a_red_clip_reaches_the_model_red_whatever_its_frames_shape(tiny, size):
    """A frame 1 or 3 pixels tall is [1|3, width, 3] once stacked: guessed channels-first, the model got rows as
    colours. Its channels reach the model as the same frame's as an image, and its grid is as wide as the frame."""
    frames = [Image.new("RGB", size, RED)] * 2
    for media in (Video(frames), frames[0]):
        inputs = prepare_inputs(tiny.processor, tiny.model.config, media, "What")
        kind = "pixel_values_videos" if isinstance(media, Video) else "pixel_values"
        means = channel_means(inputs.model_inputs[kind])
        of = tiny.processor.video_processor if isinstance(media, Video) else tiny.processor.image_processor
        np.testing.assert_allclose(means, (np.array([1.0, 0, 0]) - of.image_mean) / of.image_std, atol=1e-3)
        grid = inputs.model_inputs["video_grid_thw" if isinstance(media, Video) else "image_grid_thw"]
        _, rows, cols = grid[0].tolist()
        width, height = size
        assert (width < 4 * height or cols > rows) and (height < 4 * width or rows > cols), (size, rows, cols)
