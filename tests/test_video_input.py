"""Video input (`qvl_widget._video`): decoding files with PyAV, sampling as each family's video processor samples,
the processor arguments that keep our frames and their times, and one-line refusals of bad input."""

from __future__ import annotations

import copy
import math
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import qvl_widget
from qvl_widget._video import (
    SampledVideo,
    Video,
    group_labels,
    group_spans,
    groups,
    processor_video_kwargs,
    processor_videos,
    sample_video,
)
from qvl_widget.testing import TINY_FAMILIES, build_processor

av = pytest.importorskip("av")

WIDTH, HEIGHT, SQUARE = 64, 48, 16  # frame k: a white 16 px square at column k % 4, row (k // 4) % 3


def square_frame(k: int) -> np.ndarray:
    frame = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    x, y = (k % 4) * SQUARE, ((k // 4) % 3) * SQUARE
    frame[y : y + SQUARE, x : x + SQUARE] = 255
    return frame


def square_of(frame: Image.Image | np.ndarray) -> tuple[int, int]:
    """The (column, row) of the frame's bright square, from the bright pixels' centre."""
    bright = np.asarray(frame)[..., 0] > 128
    rows, columns = np.nonzero(bright)
    return int(columns.mean() // SQUARE), int(rows.mean() // SQUARE)


def expected_square(k: int) -> tuple[int, int]:
    return k % 4, (k // 4) % 3


def write_video(path: Path, count: int = 12, fps: int = 6, codec: str = "libx264") -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for k in range(count):
            for packet in stream.encode(av.VideoFrame.from_ndarray(square_frame(k), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


PROCESSORS = {family: build_processor(family).video_processor for family in ("qwen2_vl", "qwen3_vl")}


@pytest.fixture(scope="module")
def processors() -> dict:
    return {family: build_processor(family) for family in TINY_FAMILIES}


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 frames of 64 x 48 px at 6 fps (2 s)."""
    return write_video(tmp_path_factory.mktemp("video") / "squares.mp4")


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message, message
    return message


def exactly(message: str) -> str:
    """A `match=` pattern for the whole message."""
    return f"^{re.escape(message)}$"


def processor_indices(video_processor, total: int, fps: float, target: float | None = None) -> list[int]:
    from transformers.video_utils import VideoMetadata

    target = target or video_processor.fps or 2.0
    indices = video_processor.sample_frames(metadata=VideoMetadata(total_num_frames=total, fps=fps), fps=target)
    return [int(index) for index in np.asarray(indices)]


# ----- decoding and sampling -------------------------------------------------------------------------------


@pytest.mark.parametrize(("suffix", "codec"), [(".mp4", "libx264"), (".mkv", "libx264"), (".webm", "libvpx")])
def test_a_file_decodes_to_its_frames(tmp_path, processors, suffix, codec):
    """At fps = the file's own rate every frame is sampled, in order, with the file's rate and size (a WebM and an
    MKV state no frame count: it is counted)."""
    path = write_video(tmp_path / f"squares{suffix}", codec=codec)
    sampled = sample_video(Video(path, fps=6), processors["qwen2_vl"])
    assert sampled.indices == tuple(range(12))
    assert [square_of(frame) for frame in sampled.frames] == [expected_square(k) for k in range(12)]
    assert {(frame.mode, frame.size) for frame in sampled.frames} == {("RGB", (WIDTH, HEIGHT))}
    assert sampled.source_fps == 6.0
    assert sampled.index_fps == 6.0
    assert sampled.total_frames == 12
    assert sampled.original_size == (WIDTH, HEIGHT)
    assert sampled.timestamps == pytest.approx([k / 6 for k in range(12)])


@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_a_file_is_sampled_as_the_processor_samples(clip, processors, family):
    """Default fps (the processor's, 2.0 for Qwen2-VL's which names none): the indices are the processor's own
    `sample_frames` indices, and the decoded frames are those frames."""
    video_processor = processors[family].video_processor
    sampled = sample_video(Video(clip), processors[family])
    expected = processor_indices(video_processor, 12, 6.0)
    assert list(sampled.indices) == expected
    assert len(expected) == 4  # 2 s at 2 fps
    assert [square_of(frame) for frame in sampled.frames] == [expected_square(k) for k in expected]
    assert sampled.timestamps == pytest.approx([k / 6 for k in expected])
    assert sampled.sampled_fps == pytest.approx(2.0)


def test_sampling_matches_transformers_own_pyav_reader(clip, processors):
    """transformers' `load_video(backend="pyav")` with the processor's sampling picks the same frames, pixel for
    pixel."""
    from functools import partial

    from transformers.video_utils import load_video

    for family in ("qwen2_vl", "qwen3_vl"):
        video_processor = processors[family].video_processor
        frames, metadata = load_video(
            str(clip), backend="pyav", sample_indices_fn=partial(video_processor.sample_frames, fps=2.0)
        )
        sampled = sample_video(Video(clip, fps=2.0), video_processor)
        assert list(sampled.indices) == [int(index) for index in metadata.frames_indices]
        assert metadata.fps == sampled.source_fps
        assert np.array_equal(np.stack([np.asarray(frame) for frame in sampled.frames]), frames)


@pytest.mark.parametrize("family", ["qwen2_vl", "qwen3_vl"])
@pytest.mark.parametrize("fps", [1.0, 3.0, 6.0])
def test_fps_and_max_frames_follow_the_processor_rule(clip, processors, family, fps):
    video_processor = processors[family].video_processor
    sampled = sample_video(Video(clip, fps=fps), video_processor)
    assert list(sampled.indices) == processor_indices(video_processor, 12, 6.0, fps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        capped = sample_video(Video(clip, fps=fps, max_frames=4), video_processor)
    assert len(capped.indices) == min(4, len(sampled.indices))  # the cap, where the rate asks for more
    assert capped.indices == tuple(sorted(set(capped.indices)))


def test_more_frames_than_max_frames_warns_once(clip, processors):
    message = (
        "the video is 2.0 s long: 12 frames at 6 fps, over max_frames=4; sampled 4 frames evenly over the whole "
        "video instead (2.00 fps); pass max_frames= or a lower fps= to choose"
    )
    with pytest.warns(UserWarning, match=exactly(message)) as caught:
        sampled = sample_video(Video(clip, fps=6, max_frames=4), processors["qwen3_vl"])
    assert len(caught) == 1
    assert sampled.indices == (0, 4, 7, 11)  # first and last kept: Qwen3-VL's even spacing
    assert caught[0].filename == __file__  # pointed at the caller


def test_the_processor_max_frames_caps_a_long_video(clip, processors):
    """The processor's own max_frames is the default cap; the processor itself is not changed."""
    video_processor = processors["qwen2_vl"].video_processor
    video_processor.max_frames = 6
    try:
        with pytest.warns(UserWarning, match="over max_frames=6; sampled 6 frames"):
            sampled = sample_video(Video(clip, fps=6), video_processor)
    finally:
        video_processor.max_frames = 768
    assert sampled.indices == (0, 2, 4, 6, 8, 10)


def test_a_stream_holding_fewer_frames_than_it_states_is_sampled_on_what_it_holds(clip, processors, monkeypatch):
    from qvl_widget import _video

    real_probe = _video._probe
    monkeypatch.setattr(_video, "_probe", lambda path: _video._FileInfo(6.0, 24, real_probe(path).size))
    sampled = sample_video(Video(clip), processors["qwen3_vl"])
    assert sampled.total_frames == 12
    assert list(sampled.indices) == processor_indices(processors["qwen3_vl"].video_processor, 12, 6.0)


def test_qwen2_vl_rule_extra_index_is_dropped(processors):
    """Qwen2-VL's `torch.arange(0, total, total / count)` (float32) yields one index too many for some lengths, one
    past the end (113 frames, 50 asked: ..., 110, 113): it is dropped."""
    video_processor = processors["qwen2_vl"].video_processor
    rule = copy.copy(video_processor)
    rule.max_frames = 50
    own = processor_indices(rule, 113, 1.0, 0.5)  # the processor's rule, as it is, capped at 50
    assert len(own) == 51
    assert own[-1] == 113  # one past the last frame
    with pytest.warns(UserWarning, match="over max_frames=50; sampled 50 frames"):
        sampled = sample_video(Video(np.zeros((113, 2, 2, 3), np.uint8), source_fps=1, fps=0.5, max_frames=50), rule)
    assert list(sampled.indices) == own[:-1]
    with pytest.warns(UserWarning, match="over max_frames=14; sampled 14 frames"):
        capped = sample_video(Video(np.zeros((17, 2, 2, 3), np.uint8), source_fps=1, max_frames=14), video_processor)
    assert capped.indices[-1] == 15  # arange's 15th index, 17, is past the end
    assert len(capped.indices) == 14


# ----- frames and arrays -----------------------------------------------------------------------------------


def test_frames_without_a_rate_are_used_as_given(processors):
    """No source_fps: every frame is kept (no sampling), timed at the processor's fps."""
    frames = [Image.fromarray(square_frame(k)) for k in range(5)]
    sampled = sample_video(Video(frames), processors["qwen3_vl"])
    assert sampled.indices == (0, 1, 2, 3, 4)
    assert sampled.source_fps is None
    assert sampled.index_fps == 2.0
    assert sampled.timestamps == (0.0, 0.5, 1.0, 1.5, 2.0)
    assert [square_of(frame) for frame in sampled.frames] == [expected_square(k) for k in range(5)]
    # Qwen2-VL names no fps: its reference rate, 2.0
    assert sample_video(Video(frames), processors["qwen2_vl"]).timestamps == sampled.timestamps


def test_frames_without_a_rate_over_max_frames_are_thinned_evenly(processors):
    frames = [square_frame(k) for k in range(12)]
    message = "the video has 12 frames, over max_frames=4: sampled 4 of them evenly (pass max_frames= to take more)"
    with pytest.warns(UserWarning, match=exactly(message)) as caught:
        sampled = sample_video(Video(frames, max_frames=4), processors["qwen2_vl"])
    assert len(caught) == 1
    assert sampled.indices == (0, 4, 7, 11)


@pytest.mark.parametrize("family", ["qwen2_vl", "qwen3_vl"])
def test_an_array_with_a_rate_is_sampled_like_a_file(clip, processors, family):
    array = np.stack([square_frame(k) for k in range(12)])
    from_array = sample_video(Video(array, source_fps=6), processors[family])
    from_file = sample_video(Video(clip), processors[family])
    assert from_array.indices == from_file.indices
    assert from_array.timestamps == from_file.timestamps
    assert from_array.source_fps == 6.0
    assert [square_of(frame) for frame in from_array.frames] == [square_of(frame) for frame in from_file.frames]
    assert all(
        np.array_equal(np.asarray(frame), array[k])
        for frame, k in zip(from_array.frames, from_array.indices, strict=True)
    )


def test_list_and_array_sources_of_each_kind(processors):
    uint8 = np.stack([square_frame(k) for k in range(4)])
    sources = {
        "uint8 array": uint8,
        "float array": uint8.astype(np.float32) / 255,
        "gray array": uint8[..., :1],
        "RGBA array": np.concatenate([uint8, np.full((*uint8.shape[:3], 1), 255, np.uint8)], axis=3),
        "list of arrays": list(uint8),
        "list of gray arrays": [frame[..., 0] for frame in uint8],
        "tuple of PIL images": tuple(Image.fromarray(frame) for frame in uint8),
        "list of PIL L images": [Image.fromarray(frame[..., 0]) for frame in uint8],
    }
    for name, source in sources.items():
        sampled = sample_video(Video(source), processors["qwen2_vl"])
        assert sampled.indices == (0, 1, 2, 3), name
        assert {(frame.mode, frame.size) for frame in sampled.frames} == {("RGB", (WIDTH, HEIGHT))}, name
        assert [square_of(frame) for frame in sampled.frames] == [expected_square(k) for k in range(4)], name


def test_image_files_as_frames(tmp_path, processors):
    paths = []
    for k in range(3):
        paths.append(tmp_path / f"{k}.png")
        Image.fromarray(square_frame(k)).save(paths[-1])
    sampled = sample_video(Video(paths), processors["qwen2_vl"])
    assert [square_of(frame) for frame in sampled.frames] == [expected_square(k) for k in range(3)]


def test_video_is_exported_and_its_repr_is_short(clip):
    assert qvl_widget.Video is Video
    assert "Video" in qvl_widget.__all__
    assert repr(Video(clip, fps=1)) == f"Video({str(clip)!r}, fps=1.0)"
    assert repr(Video(np.zeros((3, 48, 64, 3), np.uint8), max_frames=8)) == (
        "Video(<3 array of 64 x 48 px>, max_frames=8)"
    )
    assert repr(Video([np.zeros((4, 4, 3), np.uint8)] * 2, source_fps=30)) == (
        "Video(<2 frames of 4 x 4 px>, source_fps=30.0)"
    )
    with pytest.raises(AttributeError):
        Video(clip).fps = 3  # type: ignore[misc]


# ----- temporal groups -------------------------------------------------------------------------------------


def test_groups_cover_the_frames_and_repeat_the_last(processors):
    sampled = sample_video(Video([square_frame(k) for k in range(5)], source_fps=2), processors["qwen3_vl"])
    assert groups(sampled, 2) == [(0, 1), (2, 3), (4, 4)]
    assert groups(sampled, 3) == [(0, 1, 2), (3, 4, 4)]
    assert group_spans(sampled, 2) == [(0.0, 0.5), (1.0, 1.5), (2.0, 2.0)]
    assert group_labels(sampled, 2) == ["<0.2 seconds>", "<1.2 seconds>", "<2.0 seconds>"]  # 0.25 -> 0.2: .1f


# ----- the processor arguments, on each family -------------------------------------------------------------

PROMPT_TEXT = "<|vision_start|><|video_pad|><|vision_end|>What"


def run_processor(processor, sampled: SampledVideo | list[SampledVideo], text: str = PROMPT_TEXT):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback warnings (fps guessed, pixel cap unset)
        return processor(
            text=[text],
            videos=processor_videos(sampled),
            return_tensors="pt",
            **processor_video_kwargs(processor, sampled),
        )


# (frames, source fps, fps): an even and an odd count of sampled frames (the processor pads the odd one)
CASES = [(12, 6.0, None), (7, 2.0, None), (5, None, None), (9, 3.0, 3.0)]


@pytest.mark.parametrize("family", TINY_FAMILIES)
@pytest.mark.parametrize(("count", "source_fps", "fps"), CASES)
def test_the_processor_takes_our_frames_and_their_times(processors, family, count, source_fps, fps):
    processor = processors[family]
    video_processor = processor.video_processor
    video = Video([square_frame(k) for k in range(count)], source_fps=source_fps, fps=fps)
    sampled = sample_video(video, processor)
    out = run_processor(processor, sampled)
    grid = out["video_grid_thw"][0].tolist()
    temporal = video_processor.temporal_patch_size
    assert grid[0] == math.ceil(len(sampled.frames) / temporal)
    ids = out["input_ids"][0].tolist()
    assert ids.count(processor.video_token_id) == math.prod(grid) // video_processor.merge_size**2
    if "mm_token_type_ids" in out:
        types = out["mm_token_type_ids"][0].tolist()
        assert [index for index, kind in enumerate(types) if kind == 2] == [
            index for index, token in enumerate(ids) if token == processor.video_token_id
        ]
    text = processor.tokenizer.decode(ids)
    labels = re.findall(r"<\d+\.\d seconds>", text)
    if family in ("qwen2_vl", "qwen2_5_vl"):
        assert labels == []
    else:
        assert labels == group_labels(sampled, temporal)
        assert len(labels) == grid[0]
    if family == "qwen2_5_vl":
        fps_used = len(sampled.indices) / sampled.total_frames * sampled.index_fps
        assert out["second_per_grid_ts"][0].item() == pytest.approx(temporal / fps_used)
        assert sampled.sampled_fps == pytest.approx(fps_used)
    else:
        assert "second_per_grid_ts" not in out


def test_the_processor_would_pick_the_same_frames_itself(clip, processors):
    """Qwen3-VL's processor samples by itself (do_sample_frames=True): given the whole array and its metadata it
    picks our indices and writes the same times."""
    processor = processors["qwen3_vl"]
    array = np.stack([square_frame(k) for k in range(12)])
    ours = run_processor(processor, sample_video(Video(array, source_fps=6), processor))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = processor(
            text=[PROMPT_TEXT],
            videos=[array],
            video_metadata=[{"total_num_frames": 12, "fps": 6.0}],
            cap_pixels_per_frame=True,
            return_tensors="pt",
        )
    assert ours["input_ids"].tolist() == theirs["input_ids"].tolist()
    assert ours["video_grid_thw"].tolist() == theirs["video_grid_thw"].tolist()


def test_several_videos_in_one_call(processors):
    processor = processors["qwen2_5_vl"]
    first = sample_video(Video([square_frame(k) for k in range(6)], source_fps=2), processor)
    second = sample_video(Video([square_frame(k) for k in range(4)]), processor)
    out = run_processor(processor, [first, second], text=PROMPT_TEXT + PROMPT_TEXT)
    assert out["video_grid_thw"][:, 0].tolist() == [math.ceil(len(first.frames) / 2), 2]
    assert out["second_per_grid_ts"].tolist() == pytest.approx([2 / first.sampled_fps, 2 / second.sampled_fps])


@pytest.mark.parametrize("family", ["qwen2_vl", "qwen3_vl"])
def test_min_and_max_pixels_bound_the_video_only(processors, family):
    """min_pixels / max_pixels reach the video processor (its `size`), not the image processor."""
    processor = processors[family]
    frames = [square_frame(k) for k in range(4)]
    default = run_processor(processor, sample_video(Video(frames), processor))
    small = sample_video(Video(frames, min_pixels=32 * 32, max_pixels=64 * 64), processor)
    kwargs = processor_video_kwargs(processor, small)
    assert kwargs["videos_kwargs"]["size"] == {"shortest_edge": 32 * 32, "longest_edge": 64 * 64}
    image = Image.fromarray(square_frame(0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = processor(
            text=["<|vision_start|><|image_pad|><|vision_end|>" + PROMPT_TEXT],
            images=[image],
            videos=processor_videos(small),
            return_tensors="pt",
            **kwargs,
        )
    image_alone = processor(text=["<|vision_start|><|image_pad|><|vision_end|>"], images=[image], return_tensors="pt")
    assert out["image_grid_thw"].tolist() == image_alone["image_grid_thw"].tolist()
    pixels = math.prod(out["video_grid_thw"][0].tolist()[1:]) * processor.video_processor.patch_size**2
    if family == "qwen3_vl":
        pixels *= len(small.frames)  # Qwen3-VL bounds the whole clip, frames x height x width
    assert pixels <= 64 * 64
    assert math.prod(out["video_grid_thw"][0].tolist()) < math.prod(default["video_grid_thw"][0].tolist())


# ----- bad input: one line each ----------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^video file not found: .*nope\.mp4'; check the path$") as error:
        Video(tmp_path / "nope.mp4")
    one_line(error)


def test_a_folder_is_not_a_video(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder; pass a video file in it") as error:
        Video(tmp_path)
    one_line(error)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "Invalid data found when processing input"),
        (b"this is not a video" * 20, "Invalid data found when processing input"),
    ],
    ids=["empty", "garbage"],
)
def test_unreadable_file(tmp_path, processors, content, reason):
    path = tmp_path / "broken.mp4"
    path.write_bytes(content)
    video = Video(path)  # exists: its contents are read when it is sampled
    with pytest.raises(ValueError, match=re.escape(f"cannot read video {str(path)!r} ({reason}); is it a complete")):
        sample_video(video, processors["qwen2_vl"])


def test_truncated_file(tmp_path, clip, processors):
    path = tmp_path / "cut.mp4"
    path.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    with pytest.raises(
        ValueError, match=r"^cannot read video .*cut\.mp4' \(.*\); is it a complete video file"
    ) as error:
        sample_video(Video(path), processors["qwen2_vl"])
    one_line(error)


def test_a_file_without_video(tmp_path, processors):
    path = tmp_path / "sound.wav"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    with pytest.raises(ValueError, match=r"sound\.wav' has no video stream \(only audio\); pass a video file") as error:
        sample_video(Video(path), processors["qwen2_vl"])
    one_line(error)


def test_a_one_frame_file_is_one_group(tmp_path, processors):
    """One frame: taken whole (the processors' rules ask for none), and repeated to fill its temporal group."""
    path = write_video(tmp_path / "still.mp4", count=1)
    for family in ("qwen2_vl", "qwen3_vl"):
        sampled = sample_video(Video(path), processors[family])
        assert sampled.indices == (0,) and len(sampled.frames) == 1
        assert groups(sampled, 2) == [(0, 0)]
        (frames,) = processor_videos(sampled, 2)
        assert len(frames) == 2 and frames[0] is frames[1]


def test_pyav_missing(monkeypatch, clip):
    monkeypatch.setitem(sys.modules, "av", None)  # `import av` raises ImportError
    with pytest.raises(
        ImportError, match=re.escape("needs PyAV, which is not installed: pip install av (the package's video extra)")
    ):
        Video(clip)
    assert Video([square_frame(0), square_frame(1)]).source  # frames need no decoder


BAD_SOURCES = [
    ([], ValueError, "the video has no frames; pass a non-empty list of frames (PIL images or arrays)"),
    (
        np.zeros((0, 48, 64, 3), np.uint8),
        ValueError,
        "the video array has no frames (shape (0, 48, 64, 3)); pass at least one frame",
    ),
    (
        [np.zeros((48, 64, 3), np.uint8), np.zeros((32, 32, 3), np.uint8)],
        ValueError,
        "frame 1 of the video is 32 x 32 px but frame 0 is 64 x 48 px; all frames of a video must have one size "
        "(resize them)",
    ),
    (
        [np.zeros((48, 64, 3), np.uint8), "not a frame"],
        FileNotFoundError,
        "frame 1 of the video: image file not found: 'not a frame'; check the path",
    ),
    (
        [np.zeros((48, 64, 3), np.uint8), 42],
        TypeError,
        "frame 1 of the video: an image must be a file path, a PIL image or a numpy array, not int 42",
    ),
    (
        np.zeros((48, 64, 3), np.uint8),
        ValueError,
        "a video array must be [frames, height, width, 3] (or 1 or 4 channels), got shape (48, 64, 3) (one image? "
        "pass [image] or image[None])",
    ),
    (
        np.full((2, 4, 4, 3), 2.0),
        ValueError,
        "a float video array must hold values in 0..1; scale it, or pass uint8 values 0..255",
    ),
    (
        np.zeros((2, 4, 4, 3), np.int64),
        ValueError,
        "an image array must be uint8 (0..255), uint16 (0..65535) or float (0..1), not int64",
    ),
    (
        b"video bytes",
        TypeError,
        "a video must be a file path, a list of frames (PIL images or arrays) or a [frames, height, width, 3] array, "
        "not bytes b'video bytes'",
    ),
    (None, TypeError, "a video must be a file path, a list of frames (PIL images or arrays) or a [frames, height, "),
]


@pytest.mark.parametrize(("source", "kind", "message"), BAD_SOURCES)
def test_bad_sources(source, kind, message):
    with pytest.raises(kind, match="^" + re.escape(message)) as error:
        Video(source)
    one_line(error)


FRAMES = [np.zeros((48, 64, 3), np.uint8)] * 4

BAD_OPTIONS = [
    (dict(fps=0), ValueError, "fps must be a number > 0 (frames to sample per second), not 0"),
    (dict(fps=-2.0), ValueError, "fps must be a number > 0 (frames to sample per second), not -2.0"),
    (dict(fps=float("nan")), ValueError, "fps must be a number > 0 (frames to sample per second), not nan"),
    (dict(fps="2"), TypeError, "fps must be a number > 0 (frames to sample per second), not '2'"),
    (dict(max_frames=0), ValueError, "max_frames must be a whole number >= 1 (frames to sample at most), not 0"),
    (dict(max_frames=2.5), ValueError, "max_frames must be a whole number >= 1 (frames to sample at most), not 2.5"),
    (dict(min_pixels=0), ValueError, "min_pixels must be a whole number >= 1 (pixels), not 0"),
    (
        dict(min_pixels=4096, max_pixels=1024),
        ValueError,
        "min_pixels=4096 is above max_pixels=1024; pass min_pixels <= max_pixels",
    ),
    (dict(source_fps=0), ValueError, "source_fps must be a number > 0 (the rate the frames were taken at), not 0"),
    (
        dict(fps=2),
        ValueError,
        "fps=2 needs source_fps= (the rate the frames were taken at) to sample from; or leave fps out to use every "
        "frame as given",
    ),
]


@pytest.mark.parametrize(("options", "kind", "message"), BAD_OPTIONS)
def test_bad_options(options, kind, message):
    with pytest.raises(kind, match=exactly(message)) as error:
        Video(FRAMES, **options)
    one_line(error)


def test_source_fps_is_for_frames_only(clip):
    message = "source_fps is for frames and arrays; a video file's own frame rate is read from the file"
    with pytest.raises(ValueError, match=exactly(message)) as error:
        Video(clip, source_fps=30)
    one_line(error)


def test_bounds_crossing_the_processor_defaults(processors):
    """One bound given, the other the processor's: refused where they cross, when sampling."""
    message = (
        "min_pixels=100352 is above max_pixels=1000 (max_pixels given, min_pixels the video processor's); pass "
        "min_pixels= too, so that min_pixels <= max_pixels"
    )
    with pytest.raises(ValueError, match=exactly(message)) as error:
        sample_video(Video(FRAMES, max_pixels=1000), processors["qwen2_vl"])
    one_line(error)


def test_max_frames_of_one_takes_one_frame(processors):
    with pytest.warns(UserWarning, match=r"^the video has 4 frames, over max_frames=1: sampled 1 of them evenly"):
        sampled = sample_video(Video(FRAMES, max_frames=1), processors["qwen2_vl"])
    assert len(sampled.frames) == 1


def test_wrong_arguments_to_the_helpers(processors):
    message = "sample_video takes a qvl_widget.Video, not str 'clip.mp4'"
    with pytest.raises(TypeError, match=exactly(message)) as error:
        sample_video("clip.mp4", processors["qwen2_vl"])  # type: ignore[arg-type]
    one_line(error)
    with pytest.raises(TypeError) as error:
        sample_video(Video(FRAMES), "Qwen/Qwen2-VL-2B-Instruct")
    assert one_line(error).startswith("expected a model's video processor (or its processor")
    message = "expected a SampledVideo or a non-empty list of them (from sample_video), not []"
    with pytest.raises(TypeError, match=exactly(message)) as error:
        processor_video_kwargs(processors["qwen2_vl"], [])
    one_line(error)
    first = sample_video(Video(FRAMES, max_pixels=200_000), processors["qwen2_vl"])
    second = sample_video(Video(FRAMES), processors["qwen2_vl"])
    with pytest.raises(ValueError, match="^the videos of one processor call must share min_pixels and max_pixels") as e:
        processor_video_kwargs(processors["qwen2_vl"], [first, second])
    one_line(e)


@settings(max_examples=40)
@given(
    total=st.integers(2, 400),
    source_fps=st.sampled_from([1.0, 6.0, 24.0, 29.97, 60.0]),
    fps=st.sampled_from([0.5, 1.0, 2.0, 4.0]),
    max_frames=st.integers(2, 64),
    family=st.sampled_from(["qwen2_vl", "qwen3_vl"]),
)
def test_sampled_indices_are_the_processor_rule_within_max_frames(total, source_fps, fps, max_frames, family):
    """Any length, rates and cap: the indices increase inside the video, stay within max_frames, fill at least one
    temporal group, are the processor's own where its own count fits max_frames, and the groups cover every
    frame."""
    processor = PROCESSORS[family]
    array = np.zeros((total, 2, 2, 3), np.uint8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sampled = sample_video(Video(array, source_fps=source_fps, fps=fps, max_frames=max_frames), processor)
    indices = list(sampled.indices)
    assert indices == sorted(set(indices))
    assert indices[0] >= 0
    assert indices[-1] < total
    assert 2 <= len(indices) <= max_frames
    asked = math.floor(total / source_fps * fps)
    assert len(caught) == (1 if asked > max_frames else 0)
    own = processor_indices(processor, total, source_fps, fps)  # the processor's rule with its own max_frames
    own = [index for index in own if index < total]  # Qwen2-VL's arange can step past the end
    if len(own) <= max_frames:
        assert indices == own
    covered = [frame for group in groups(sampled, 2) for frame in group]
    assert sorted(set(covered)) == list(range(len(indices)))
    assert sampled.timestamps == tuple(index / source_fps for index in indices)
