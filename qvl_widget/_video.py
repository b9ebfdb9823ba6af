"""Video input: a `Video` value, its frames sampled the way the model's video processor samples them, and the
processor arguments that make the processor take those frames as they are.

    video = Video("clip.mp4")                            # decoded with PyAV: pip install av
    sampled = sample_video(video, processor)             # frames, their indices and times in seconds
    inputs = processor(text=[text], videos=processor_videos(sampled), **processor_video_kwargs(processor, sampled))

Sampling follows the video processor's own `sample_frames` rule (called with a `VideoMetadata`), so the indices
are the ones the processor would pick itself; the processor then gets `do_sample_frames=False` and the metadata
of what was picked, so it neither samples again nor guesses the timing: Qwen2.5-VL's `second_per_grid_ts` and
Qwen3-VL's `<t seconds>` texts come from our frames' times. The docs' Internals page ("Video input: what the
processors do") has the token layout of each family.

Numpy and Pillow only at import; PyAV and transformers are imported when first needed.
"""

from __future__ import annotations

import copy
import math
import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import KW_ONLY, dataclass
from typing import Any, cast

import numpy as np
from PIL import Image

from ._arguments import checked_count, described, error_kind, real_number, shown, shown_path
from ._images import checked_media_path, load_rgb

DEFAULT_FPS = 2.0  # frames sampled per second where the video processor names no rate (Qwen2-VL, Qwen2.5-VL)
INSTALL_HINT = "pip install av (the package's video extra)"

VideoSource = str | os.PathLike | Sequence[Any] | np.ndarray


@dataclass(frozen=True, eq=False)
class Video:
    """A video for the model: a file, a list of frames, or a `[frames, height, width, 3]` array.

    Args:
        source: a video file path (str or pathlib.Path; decoded with PyAV, the `video` extra:
            `pip install av`); a list of frames (PIL images, `[height, width(, 3)]` arrays or image
            paths, all of one size); or a `[frames, height, width(, 1|3|4)]` array (uint8 0..255, uint16, or
            float 0..1), kept as given (frames are converted to RGB only once sampled).
        fps: frames to sample per second; default the model's video processor's `fps` (2.0 for Qwen2-VL and
            Qwen2.5-VL, whose processors name none: 2.0 is Qwen's reference rate). Qwen2-VL's video processor has
            `do_sample_frames=False` only for backward compatibility; its frames are sampled all the same, at its
            `sample_frames` rule.
        max_frames: at most this many frames; default the video processor's `max_frames` (768). A longer video is
            sampled evenly over its whole length, with one warning saying what was taken.
        min_pixels, max_pixels: the video processor's pixel bounds (its `size` `shortest_edge` / `longest_edge`),
            default the processor's. They bound each frame for Qwen2-VL and Qwen2.5-VL, but the whole clip
            (frames x height x width) for Qwen3-VL and Qwen3.5, as their video processors do.
        source_fps: for frames and arrays only, the rate they were taken at. Given, the frames are a video like a
            file's and are sampled at `fps`. Not given (the default), they are taken to be the frames to use
            already: none are dropped (unless there are more than max_frames), and their times are counted at the
            processor's fps (frame k at k / fps seconds), which is what the processor assumes of frames it
            samples itself. `fps` then cannot be given: there is no rate to sample from.

    Arguments are checked here, each refusal one line; a file's existence is checked here, its contents when it
    is sampled. The value is frozen; an array source is held, not copied.
    """

    source: VideoSource  # after construction: a str, a tuple of RGB PIL images, or the array
    _: KW_ONLY
    fps: float | None = None
    max_frames: int | None = None
    min_pixels: int | None = None
    max_pixels: int | None = None
    source_fps: float | None = None

    def __post_init__(self) -> None:
        set_field = object.__setattr__  # frozen: the checked values replace the given ones once, here
        source = _checked_source(self.source)
        set_field(self, "source", source)
        set_field(self, "fps", _checked_rate(self.fps, "fps", "frames to sample per second"))
        if self.max_frames is not None:
            set_field(self, "max_frames", checked_count(self.max_frames, "max_frames", "frames to sample at most"))
        for name in ("min_pixels", "max_pixels"):
            value = getattr(self, name)
            if value is not None:
                set_field(self, name, checked_count(value, name, "pixels"))
        if self.min_pixels is not None and self.max_pixels is not None and self.min_pixels > self.max_pixels:
            raise ValueError(
                f"min_pixels={self.min_pixels} is above max_pixels={self.max_pixels}; pass min_pixels <= max_pixels"
            )
        source_fps = _checked_rate(self.source_fps, "source_fps", "the rate the frames were taken at")
        set_field(self, "source_fps", source_fps)
        if isinstance(source, str):
            if source_fps is not None:
                raise ValueError(
                    "source_fps is for frames and arrays; a video file's own frame rate is read from the file"
                )
            _import_av()  # a missing decoder is reported now, not when the video is first sampled
        elif self.fps is not None and source_fps is None:
            raise ValueError(
                f"fps={self.fps:g} needs source_fps= (the rate the frames were taken at) to sample from; or leave "
                "fps out to use every frame as given"
            )

    def __repr__(self) -> str:
        if isinstance(self.source, str):
            what = shown_path(self.source)
        else:
            frames = cast("tuple[Image.Image, ...] | np.ndarray", self.source)
            height, width = _frame_height_width(frames)
            kind = "array" if isinstance(frames, np.ndarray) else "frames"
            what = f"<{len(frames)} {kind} of {width} x {height} px>"
        options = [
            f"{name}={getattr(self, name)!r}"
            for name in ("fps", "max_frames", "min_pixels", "max_pixels", "source_fps")
            if getattr(self, name) is not None
        ]
        return f"Video({', '.join([what, *options])})"


@dataclass(frozen=True, eq=False)
class SampledVideo:
    """The frames of a video the model will see, with where and when each was taken.

    `frames` are RGB, all of `original_size`, unpadded (the processor repeats the last frame up to a multiple of
    its `temporal_patch_size`; `groups` says which frames each temporal group holds). `indices` are the frames'
    indices in the source and `timestamps` their times in seconds, `indices[i] / index_fps`, as the processors
    count them. `source_fps` is the source's rate (None for frames given without one); `index_fps` is the rate
    the indices are counted at: `source_fps`, or the processor's fps for frames given without a rate.
    """

    frames: tuple[Image.Image, ...]
    indices: tuple[int, ...]
    timestamps: tuple[float, ...]
    source_fps: float | None
    total_frames: int
    original_size: tuple[int, int]  # (width, height)
    index_fps: float
    min_pixels: int | None = None
    max_pixels: int | None = None

    @property
    def sampled_fps(self) -> float:
        """The rate of the sampled frames over the whole source, `len(frames) / total_frames * index_fps`:
        transformers' `VideoMetadata.sampled_fps`, from which Qwen2.5-VL's `second_per_grid_ts` is computed."""
        return len(self.indices) / self.total_frames * self.index_fps

    def metadata(self) -> dict[str, Any]:
        """The processor's `video_metadata` for these frames (a dict of `VideoMetadata` fields)."""
        width, height = self.original_size
        return {
            "total_num_frames": self.total_frames,
            "fps": self.index_fps,
            "width": width,
            "height": height,
            "duration": self.total_frames / self.index_fps,
            "frames_indices": list(self.indices),
        }

    def __repr__(self) -> str:
        width, height = self.original_size
        return (
            f"SampledVideo({len(self.frames)} of {self.total_frames} frames, {width} x {height} px, "
            f"indices {shown(self.indices)}, {self.timestamps[0]:g}..{self.timestamps[-1]:g} s)"
        )


# ----- sampling --------------------------------------------------------------------------------------------


def sample_video(video: Video, video_processor: Any) -> SampledVideo:
    """The frames of `video` that the model's video processor would sample, decoded (a file) or taken from the
    given frames.

    `video_processor` is the video processor (or the processor holding it, `processor.video_processor`). The
    number of frames and which ones follow its own `sample_frames` rule, called with a `VideoMetadata` of the
    source (so the indices are the processor's), at `video.fps` or the processor's fps (2.0 where it names none,
    as Qwen2-VL's: its `do_sample_frames=False` is only for backward compatibility, and its frames are sampled
    here all the same), with `video.max_frames` in place of the processor's `max_frames` when given, and the
    processor's `min_frames`. Frames given without `source_fps` are all kept (see `Video`). Where the rate asks
    for more than max_frames, max_frames are sampled evenly over the whole video and one warning says so.

    A file is decoded once, front to back, converting only the sampled frames to RGB: no more than the sampled
    frames and the one being decoded are held.
    """
    if not isinstance(video, Video):
        raise TypeError(f"sample_video takes a qvl_widget.Video, not {described(video)}")
    processor = _video_processor(video_processor)
    temporal_patch_size = int(getattr(processor, "temporal_patch_size", None) or 1)
    processor_fps = float(getattr(processor, "fps", None) or DEFAULT_FPS)
    target_fps = video.fps or processor_fps
    max_frames = video.max_frames or int(getattr(processor, "max_frames", None) or 768)
    _pixel_bounds(processor, video.min_pixels, video.max_pixels)  # refused now rather than in the processor
    if isinstance(video.source, str):
        sampled = _sample_file(video, video.source, processor, temporal_patch_size, target_fps, max_frames)
    else:
        frames = cast("tuple[Image.Image, ...] | np.ndarray", video.source)
        total = len(frames)
        _check_enough_frames(total, temporal_patch_size, "the video")
        if video.source_fps is None:  # the frames to use: all of them, up to max_frames
            index_fps = processor_fps
            indices = list(range(total)) if total <= max_frames else _even_indices(total, max_frames)
        else:
            index_fps = video.source_fps
            indices = _processor_indices(processor, total, index_fps, target_fps, max_frames, (0, 0))
        height, width = _frame_height_width(frames)
        picked = tuple(_as_frame(frames, index) for index in indices)
        sampled = _sampled(video, picked, indices, video.source_fps, total, (width, height), index_fps)
    cut = _cut_by_max_frames(
        sampled, video.source_fps is None and not isinstance(video.source, str), target_fps, max_frames
    )
    if cut:
        warnings.warn(cut, stacklevel=2)
    return sampled


def _cut_by_max_frames(sampled: SampledVideo, as_given: bool, target_fps: float, max_frames: int) -> str | None:
    """The warning where max_frames cut the frames the rate asked for (or, for frames to use as given, their
    count), else None."""
    count = len(sampled.indices)
    if as_given:
        if sampled.total_frames <= max_frames:
            return None
        return (
            f"the video has {sampled.total_frames} frames, over max_frames={max_frames}: sampled {count} of them "
            "evenly (pass max_frames= to take more)"
        )
    duration = sampled.total_frames / sampled.index_fps
    asked = math.floor(duration * target_fps)  # whole frames, as the processors count them
    if asked <= max_frames:
        return None
    return (
        f"the video is {duration:.1f} s long: {asked} frames at {target_fps:g} fps, over max_frames={max_frames}; "
        f"sampled {count} frames evenly over the whole video instead ({count / duration:.2f} fps); pass "
        "max_frames= or a lower fps= to choose"
    )


def _sample_file(
    video: Video, path: str, processor: Any, temporal_patch_size: int, target_fps: float, max_frames: int
) -> SampledVideo:
    info = _probe(path)
    _check_enough_frames(info.total_frames, temporal_patch_size, f"video {shown_path(path)}")
    indices = _processor_indices(processor, info.total_frames, info.fps, target_fps, max_frames, info.size)
    picked, decoded = _decode_frames(path, indices)
    if len(picked) < len(set(indices)):  # the stream holds fewer frames than it states: sample those it holds
        _check_enough_frames(decoded, temporal_patch_size, f"video {shown_path(path)}")
        info = _FileInfo(info.fps, decoded, info.size)
        indices = _processor_indices(processor, decoded, info.fps, target_fps, max_frames, info.size)
        picked, decoded = _decode_frames(path, indices)
    frames = tuple(picked[index] for index in indices)
    sizes = sorted({frame.size for frame in frames})
    if len(sizes) > 1:
        raise ValueError(
            f"video {shown_path(path)} changes frame size mid-stream "
            f"({' and '.join(f'{width} x {height} px' for width, height in sizes)}); re-encode it at one size first"
        )
    return _sampled(video, frames, indices, info.fps, info.total_frames, frames[0].size, info.fps)


def _sampled(
    video: Video,
    frames: tuple[Image.Image, ...],
    indices: Sequence[int],
    source_fps: float | None,
    total: int,
    size: tuple[int, int],
    index_fps: float,
) -> SampledVideo:
    return SampledVideo(
        frames=frames,
        indices=tuple(indices),
        timestamps=tuple(index / index_fps for index in indices),
        source_fps=source_fps,
        total_frames=total,
        original_size=size,
        index_fps=index_fps,
        min_pixels=video.min_pixels,
        max_pixels=video.max_pixels,
    )


def _processor_indices(
    processor: Any, total: int, source_fps: float, target_fps: float, max_frames: int, size: tuple[int, int]
) -> list[int]:
    """The processor's `sample_frames` indices for a video of `total` frames at `source_fps`, sampled at
    `target_fps`, with `max_frames` in place of the processor's own (on a shallow copy: Qwen3-VL's rule reads
    `self.max_frames` alone).

    Qwen2-VL's rule, `torch.arange(0, total, total / count).int()` in float32, returns one index too many for some
    lengths (2466 of the (total < 800, even count <= 200) pairs), the extra one `total` itself, past the end (113
    frames, 50 asked: ..., 110, 113): indices outside the video are dropped (and at most max_frames kept).

    A video shorter than one temporal group (one frame) is taken whole: the processors' rules ask for no frame
    there, and the frame is repeated to fill the group (`processor_videos`), as the processors pad. So is a
    `max_frames` below one group (max_frames=1): its frames are spread evenly, as Qwen3-VL's rule spreads them."""
    from transformers.video_utils import VideoMetadata

    temporal_patch_size = int(getattr(processor, "temporal_patch_size", None) or 1)
    if total < temporal_patch_size:
        return list(range(total))
    if max_frames < temporal_patch_size:  # Qwen2/2.5-VL's rules round max_frames down to 0 groups and divide by it
        return _even_indices(total, max_frames)  # Qwen3-VL's pick: the first frame, repeated to fill its group
    rule = copy.copy(processor)
    rule.max_frames = max_frames
    width, height = size
    metadata = VideoMetadata(
        total_num_frames=total,
        fps=source_fps,
        width=width or None,
        height=height or None,
        duration=total / source_fps,
    )
    indices = np.asarray(rule.sample_frames(metadata=metadata, fps=target_fps)).tolist()
    return sorted({int(index) for index in indices if 0 <= index < total})[:max_frames]


def _even_indices(total: int, count: int) -> list[int]:
    """`count` indices spread evenly over `total` frames, first and last included (Qwen3-VL's spacing)."""
    return [int(index) for index in np.linspace(0, total - 1, count).round().astype(int)]


def _check_enough_frames(total: int, temporal_patch_size: int, what: str) -> None:
    if total == 0:
        raise ValueError(f"{what} has no frames; pass a video with at least one frame")


def _video_processor(processor: Any) -> Any:
    video_processor = getattr(processor, "video_processor", processor)
    if not callable(getattr(video_processor, "sample_frames", None)):
        raise TypeError(
            f"expected a model's video processor (or its processor, e.g. AutoProcessor.from_pretrained(...)), not "
            f"{described(processor)}"
        )
    return video_processor


# ----- temporal groups -------------------------------------------------------------------------------------


def groups(sampled: SampledVideo, temporal_patch_size: int) -> list[tuple[int, ...]]:
    """Which sampled frames (positions in `sampled.frames`) each temporal group of `temporal_patch_size` frames
    covers: `[(0, 1), (2, 3), (4, 4)]` for 5 frames and 2 a group. The last group repeats the last frame where
    the count does not divide, as the processor pads. Group g holds the video tokens
    `g * tokens_per_group .. (g + 1) * tokens_per_group - 1`."""
    size = checked_count(temporal_patch_size, "temporal_patch_size", "frames per temporal group")
    count = len(sampled.frames)
    return [tuple(min(index, count - 1) for index in range(start, start + size)) for start in range(0, count, size)]


def group_spans(sampled: SampledVideo, temporal_patch_size: int) -> list[tuple[float, float]]:
    """Each temporal group's time span in seconds: (time of its first frame, time of its last frame)."""
    return [
        (sampled.timestamps[group[0]], sampled.timestamps[group[-1]]) for group in groups(sampled, temporal_patch_size)
    ]


def group_labels(sampled: SampledVideo, temporal_patch_size: int) -> list[str]:
    """The text Qwen3-VL (and Qwen3.5) write before each temporal group: `f"<{t:.1f} seconds>"` with t the mean of
    the group's first and last frame times, `(first + last) / 2`, formatted by Python's `.1f` (round half to even
    on the exact binary value: 0.25 s is written "<0.2 seconds>", 0.75 s "<0.8 seconds>")."""
    return [f"<{(start + end) / 2:.1f} seconds>" for start, end in group_spans(sampled, temporal_patch_size)]


# ----- processor arguments ---------------------------------------------------------------------------------


def processor_videos(
    sampled: SampledVideo | Sequence[SampledVideo], temporal_patch_size: int = 2
) -> list[list[Image.Image]]:
    """The `videos=` argument of the processor: each video's frames as a list; a video shorter than one temporal
    group has its last frame repeated to fill it, as the processors pad (Qwen3-VL's would refuse it)."""
    videos = []
    for video in _sampled_list(sampled):
        frames = list(video.frames)
        videos.append(frames + [frames[-1]] * (temporal_patch_size - len(frames)))
    return videos


def processor_video_kwargs(processor: Any, sampled: SampledVideo | Sequence[SampledVideo]) -> dict[str, Any]:
    """Keyword arguments for `processor(text=..., images=..., videos=processor_videos(sampled), **kwargs)` that
    make the processor take the sampled frames as they are, timed as they were taken.

    Returned as `{"videos_kwargs": {...}}`, so that nothing reaches the image processor:
    - `do_sample_frames=False`: the frames are not sampled again;
    - `video_metadata`: per video, `total_num_frames`, `fps` (`index_fps`) and `frames_indices` (our indices). The
      processors read the timing from it: Qwen2.5-VL's `second_per_grid_ts = temporal_patch_size /
      sampled_fps` with `sampled_fps = len(frames_indices) / total_num_frames * fps` (transformers 5.x reads no
      `fps` argument there when the processor does not sample), and Qwen3-VL's `<t seconds>` texts, one per
      temporal group (see `group_labels`). Qwen2-VL reads none of it;
    - `input_data_format="channels_last"`: the frames' layout, which the processor would otherwise guess from the
      shape (a frame 1 or 3 pixels tall looks channels-first to it);
    - `size={"shortest_edge": min_pixels, "longest_edge": max_pixels}` where the video sets either (one size per
      call: the videos of one call must agree);
    - `cap_pixels_per_frame=True` where the processor has that switch and leaves it unset: the reference
      (qwen-vl-utils) bound on a video's pixels, which transformers announces as its default, and which silences
      its warning. A processor that sets it keeps its own choice.
    """
    videos = _sampled_list(sampled)
    video_processor = _video_processor(processor)
    bounds = {(video.min_pixels, video.max_pixels) for video in videos}
    if len(bounds) > 1:
        given = " and ".join(f"(min_pixels={low}, max_pixels={high})" for low, high in sorted(bounds, key=str))
        raise ValueError(
            "the videos of one processor call must share min_pixels and max_pixels (the processor takes one size "
            f"for all), got {given}; process them in separate calls or give them the same bounds"
        )
    videos_kwargs: dict[str, Any] = {
        "do_sample_frames": False,
        "video_metadata": [video.metadata() for video in videos],
        # Our frames are RGB images, [height, width, 3] once stacked; left to guess, the processor takes a frame
        # 1 or 3 pixels tall for channels-first and feeds the model rows of pixels as colours.
        "input_data_format": "channels_last",
    }
    min_pixels, max_pixels = next(iter(bounds))
    if min_pixels is not None or max_pixels is not None:
        low, high = _pixel_bounds(video_processor, min_pixels, max_pixels)
        videos_kwargs["size"] = {"shortest_edge": low, "longest_edge": high}
    if hasattr(video_processor, "cap_pixels_per_frame") and video_processor.cap_pixels_per_frame is None:
        videos_kwargs["cap_pixels_per_frame"] = True
    return {"videos_kwargs": videos_kwargs}


def _sampled_list(sampled: SampledVideo | Sequence[SampledVideo]) -> list[SampledVideo]:
    videos = [sampled] if isinstance(sampled, SampledVideo) else sampled
    if isinstance(videos, (str, bytes)) or not isinstance(videos, Sequence) or not videos:
        raise TypeError(
            f"expected a SampledVideo or a non-empty list of them (from sample_video), not {shown(sampled)}"
        )
    for video in videos:
        if not isinstance(video, SampledVideo):
            raise TypeError(f"expected SampledVideo values (from sample_video), not {described(video)}")
    return list(videos)


def _pixel_bounds(video_processor: Any, min_pixels: int | None, max_pixels: int | None) -> tuple[int, int]:
    """The video pixel bounds: the given ones, the processor's `size` where not given; refused where they cross."""
    size = getattr(video_processor, "size", None) or {}
    low = min_pixels if min_pixels is not None else _size_value(size, "shortest_edge")
    high = max_pixels if max_pixels is not None else _size_value(size, "longest_edge")
    if low is not None and high is not None and low > high:
        given, other = ("min_pixels", "max_pixels") if min_pixels is not None else ("max_pixels", "min_pixels")
        raise ValueError(
            f"min_pixels={low} is above max_pixels={high} ({given} given, {other} the video processor's); pass "
            f"{other}= too, so that min_pixels <= max_pixels"
        )
    return int(low or 0), int(high or 0)


def _size_value(size: Any, key: str) -> int | None:
    value = size.get(key) if isinstance(size, dict) else getattr(size, key, None)
    return None if value is None else int(value)


# ----- checking the source ---------------------------------------------------------------------------------


def _checked_rate(value: Any, name: str, what: str) -> float | None:
    if value is None:
        return None
    number = real_number(value)
    if number is None or number <= 0:
        raise error_kind(value)(f"{name} must be a number > 0 ({what}), not {shown(value)}")
    return number


def _checked_source(source: Any) -> str | tuple[Image.Image, ...] | np.ndarray:
    if isinstance(source, (str, os.PathLike)):
        return _checked_path(source)
    if isinstance(source, np.ndarray):
        return _checked_array(source)
    if isinstance(source, Sequence) and not isinstance(source, (bytes, bytearray)):
        return _checked_frames(source)
    raise TypeError(
        "a video must be a file path, a list of frames (PIL images or arrays) or a [frames, height, width, 3] "
        f"array, not {described(source)}"
    )


def _checked_path(source: str | os.PathLike) -> str:
    return checked_media_path(source, "video", "Video('clip.mp4')")


def _checked_array(frames: np.ndarray) -> np.ndarray:
    if frames.ndim != 4 or frames.shape[3] not in (1, 3, 4):
        hint = " (one image? pass [image] or image[None])" if frames.ndim == 3 else ""
        raise ValueError(
            f"a video array must be [frames, height, width, 3] (or 1 or 4 channels), got shape {frames.shape}{hint}"
        )
    if frames.shape[0] == 0:
        raise ValueError(f"the video array has no frames (shape {frames.shape}); pass at least one frame")
    if frames.shape[1] == 0 or frames.shape[2] == 0:
        raise ValueError(f"the video array's frames are empty (shape {frames.shape}); pass frames with pixels")
    if np.issubdtype(frames.dtype, np.floating):  # checked over all frames here, not frame by frame when sampled
        if not np.isfinite(frames).all():
            raise ValueError("the float video array holds NaN or infinite values; replace them (e.g. np.nan_to_num)")
        if frames.min() < 0 or frames.max() > 1:
            raise ValueError("a float video array must hold values in 0..1; scale it, or pass uint8 values 0..255")
    load_rgb(frames[0])  # dtype: the same rules as images, refused with their one line
    return frames


def _checked_frames(frames: Sequence[Any]) -> tuple[Image.Image, ...]:
    if not frames:
        raise ValueError("the video has no frames; pass a non-empty list of frames (PIL images or arrays)")
    loaded: list[Image.Image] = []
    for index, frame in enumerate(frames):
        try:
            picture = load_rgb(frame)
        except (TypeError, ValueError, OSError) as error:  # the image's own line, prefixed; its kind kept
            kinds = (FileNotFoundError, IsADirectoryError, TypeError, ValueError, OSError)
            kind = next(kind for kind in kinds if isinstance(error, kind))
            raise kind(f"frame {index} of the video: {error}") from error
        if loaded and picture.size != loaded[0].size:
            raise ValueError(
                f"frame {index} of the video is {picture.width} x {picture.height} px but frame 0 is "
                f"{loaded[0].width} x {loaded[0].height} px; all frames of a video must have one size (resize them)"
            )
        loaded.append(picture)
    return tuple(loaded)


def _frame_height_width(frames: tuple[Image.Image, ...] | np.ndarray) -> tuple[int, int]:
    if isinstance(frames, np.ndarray):
        return int(frames.shape[1]), int(frames.shape[2])
    return frames[0].height, frames[0].width


def _as_frame(frames: tuple[Image.Image, ...] | np.ndarray, index: int) -> Image.Image:
    return load_rgb(frames[index]) if isinstance(frames, np.ndarray) else frames[index]


# ----- decoding files (PyAV) -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _FileInfo:
    fps: float
    total_frames: int
    size: tuple[int, int]  # (width, height) as the stream states it


def _import_av() -> Any:
    try:
        import av
    except ImportError as error:
        raise ImportError(
            f"reading video files needs PyAV, which is not installed: {INSTALL_HINT}; or pass "
            "the frames as a list of images or an array"
        ) from error
    return av


def _probe(path: str) -> _FileInfo:
    """The first video stream's frame rate, frame count and size. Where the container does not state the count,
    its packets are counted (no decoding)."""
    with _opened(path) as (container, stream):
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        if not math.isfinite(fps) or fps <= 0:
            raise ValueError(
                f"cannot tell the frame rate of video {shown_path(path)}; re-encode it, or pass its frames"
            )
        total = int(stream.frames or 0)
        if total == 0:
            total = sum(1 for packet in container.demux(stream) if packet.size)
        return _FileInfo(fps, total, (int(stream.width or 0), int(stream.height or 0)))


def _decode_frames(path: str, indices: Sequence[int]) -> tuple[dict[int, Image.Image], int]:
    """The frames at `indices` as RGB images, decoding front to back and stopping after the last; with the number
    of frames decoded (the whole stream's where it ended before the last index)."""
    wanted = set(indices)
    last = max(wanted)
    picked: dict[int, Image.Image] = {}
    decoded = 0
    with _opened(path) as (container, stream):
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            if decoded in wanted:
                picked[decoded] = frame.to_image().convert("RGB")
            decoded += 1
            if decoded > last:
                break
    if decoded == 0:
        raise ValueError(f"video {shown_path(path)} has no frames that decode; is it a complete video file?")
    return picked, decoded


@contextmanager
def _opened(path: str) -> Iterator[tuple[Any, Any]]:
    """`with _opened(path) as (container, stream)`: the file opened with PyAV and its first video stream; what
    PyAV raises on the way (opening, demuxing, decoding) becomes one line."""
    av = _import_av()
    try:
        container = av.open(path)
    except av.error.FFmpegError as error:
        raise _unreadable(path, error) from error
    try:
        streams = container.streams.video
        if not streams and not container.streams:  # e.g. an MP4 cut before its index
            raise ValueError(
                f"cannot read video {shown_path(path)} (no streams found); is it a complete video file (MP4, WebM, "
                "MKV, AVI, ...)?"
            )
        if not streams:
            kinds = sorted({stream.type for stream in container.streams})
            raise ValueError(f"{shown_path(path)} has no video stream (only {' and '.join(kinds)}); pass a video file")
        yield container, streams[0]
    except av.error.FFmpegError as error:
        raise _unreadable(path, error) from error
    finally:
        container.close()


def _unreadable(path: str, error: BaseException) -> Exception:
    if isinstance(error, FileNotFoundError):
        return FileNotFoundError(f"video file not found: {shown_path(path)}; check the path")
    return ValueError(
        f"cannot read video {shown_path(path)} ({_reason(error)}); is it a complete video file (MP4, WebM, MKV, "
        "AVI, ...)?"
    )


def _reason(error: BaseException) -> str:
    strerror = getattr(error, "strerror", None)
    if strerror:
        return " ".join(str(strerror).split())
    return " ".join(str(error).split()) or type(error).__name__
