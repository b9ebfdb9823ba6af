"""From images + a prompt (or a conversation) to model inputs, and from model inputs to who-is-where.

This is the one place that knows the Qwen-VL token layout: it builds the chat text, runs the processor,
then finds the image-token columns, the query rows (text tokens after the first image), each query token's
character span in the prompt, and each image's merged token grid.

A conversation (`messages=`) is rendered by the model's own chat template, exactly as
`processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)` renders it (with
`enable_thinking=` where the caller sets `thinking`: the switch of templates that make the model think first). The texts
the user wrote that come after the first image (of any turn, the system's included) are the result's `prompt`:
joined by a newline where template text separates them, and each of their tokens carries its offsets into it.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from typing import Any

import numpy as np
from PIL import Image

from ._arguments import check_encodable, checked_count, checked_flag, described, shown
from ._images import ImageInput, as_image_list, load_rgb
from ._result import THINKING_MARKERS, ImageGeometry, QueryToken
from ._video import SampledVideo, Video, groups, processor_video_kwargs, processor_videos, sample_video

# An input as read: an image (RGB), or a video's sampled frames.
Medium = Image.Image | SampledVideo
# What capture takes for each image or video: an image (path, PIL image, array), a Video, or a video's frames
# already sampled (a baseline reuses the capture's).
MediaInput = ImageInput | Video | SampledVideo

ROLES = ("system", "user", "assistant")
Messages = Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class PreparedInputs:
    model_inputs: dict[str, Any]  # what the processor returned (tensors on the CPU)
    query_positions: np.ndarray
    image_positions: np.ndarray
    tokens: tuple[QueryToken, ...]
    images: tuple[ImageGeometry, ...]  # per image or video, in prompt order
    pictures: tuple[Image.Image, ...]  # per image one, per video one per temporal group (its first frame)
    prompt: str  # the user's text after the first image: the query tokens' offsets point into it
    text: str = ""  # the model's input text (chat template applied), one image pad per image
    opens_thinking: bool = False  # the text ends inside an open `<think>` block: the model's answer starts thinking
    media: tuple[Medium, ...] = ()  # the images and videos as read (a baseline sees the very same)


@dataclass(frozen=True)
class _TextPart:
    """One text the user wrote: where it came from (for errors) and what it says."""

    label: str  # "the prompt", "the system prompt", "message 2 (user)"
    text: str


@dataclass(frozen=True)
class _Chat:
    """A conversation ready for the template: image and video parts as bare {"type": "image"} / {"type":
    "video"}, its texts, and its images and videos as read."""

    messages: list[dict[str, Any]]
    parts: list[_TextPart]
    media: list[Medium]


def prepare_inputs(
    processor: Any,
    config: Any,
    image_or_images: MediaInput | Sequence[MediaInput] | None,
    prompt: str | None,
    chat: bool = True,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    *,
    system: str | None = None,
    messages: Messages | None = None,
    thinking: bool | None = None,
    prompt_label: str = "the prompt",
) -> PreparedInputs:
    """Processor inputs for images + a prompt (the images first), or for a conversation, plus their layout.

    `thinking`: None renders the chat template as it is; True / False are passed to it as `enable_thinking`.
    `prompt_label`: how errors name the prompt ("the baseline prompt" for a capture's baseline)."""
    _reject_messages_as_images(image_or_images)
    chat = checked_flag(chat, "chat")
    thinking = checked_thinking(thinking, chat, getattr(processor, "chat_template", None))
    _check_arguments(prompt, messages, system, chat)
    size = _size_kwargs(processor, min_pixels, max_pixels)  # before any image is read
    tokenizer = processor.tokenizer
    if messages is None:
        assert prompt is not None
        parts = ([_TextPart("the system prompt", system)] if system is not None else []) + [
            _TextPart(prompt_label, prompt)
        ]
        for part in parts:
            _check_text(part, tokenizer, "the image argument")
        media = [_read_medium(item, processor) for item in _media_list(image_or_images)]
        conversation = _Chat(_prompt_messages([_kind(medium) for medium in media], prompt, system), parts, media)
    else:
        conversation = _conversation(messages, image_or_images, system, processor)
        for part in conversation.parts:
            _check_text(part, tokenizer, '{"type": "image"} parts')
    media = conversation.media
    images = [medium for medium in media if isinstance(medium, Image.Image)]
    videos = [medium for medium in media if isinstance(medium, SampledVideo)]
    _reject_extreme_aspect_ratios([medium if isinstance(medium, Image.Image) else medium.frames[0] for medium in media])
    if chat:
        text, spans = _chat_text(processor, conversation, thinking)
    else:
        text, spans = _raw_text(processor, config, [_kind(medium) for medium in media], prompt or "")
    _check_image_tokens(processor, config, images, text, size)
    video_kwargs = processor_video_kwargs(processor, videos) if videos else {}
    try:
        model_inputs = processor(
            text=[text],
            images=images or None,
            videos=processor_videos(videos, _temporal_patch_size(processor)) if videos else None,
            return_tensors="pt",
            **size,
            **video_kwargs,
        )
    except ValueError as error:
        if videos and "must be larger than factor" in str(error):  # older Qwen3-VL video processors (5.0)
            raise _frames_too_small(videos, error) from None
        raise
    input_ids = model_inputs["input_ids"][0].numpy()
    merge_size = int(processor.image_processor.merge_size)
    patch_size = int(processor.image_processor.patch_size)
    grids = _grids(model_inputs, media)
    pad_ids = [config.image_token_id, _video_token_id(config)]
    image_positions = _image_positions(input_ids, pad_ids, grids, merge_size)
    offsets = _token_offsets(tokenizer, text, input_ids, pad_ids, bool(videos))
    query_positions = _query_positions(input_ids, image_positions, config)
    segments, prompt_text = _prompt_segments(text, spans, _first_medium(text, processor))
    special_ids = special_token_ids(tokenizer, config)
    tokens = tuple(
        _query_token(text, offsets[position], input_ids[position] in special_ids, segments)
        if offsets[position] is not None
        else QueryToken(tokenizer.decode([int(input_ids[position])]), None, None, special=True)
        for position in query_positions
    )
    geometries = _geometries(grids, merge_size, patch_size, media, _temporal_patch_size(processor))
    return PreparedInputs(
        dict(model_inputs),
        query_positions,
        image_positions,
        tokens,
        geometries,
        tuple(picture for medium in media for picture in _pictures_of(medium, _temporal_patch_size(processor))),
        prompt_text,
        text,
        opens_thinking=_opens_thinking(input_ids, thinking_marker_ids(tokenizer)),
        media=tuple(media),
    )


def _media_list(image_or_images: Any) -> list[Any]:
    """One image or video, or a sequence of them, as a non-empty list."""
    if isinstance(image_or_images, (Video, SampledVideo)):
        return [image_or_images]
    return list(as_image_list(image_or_images))


def _read_medium(item: Any, processor: Any) -> Medium:
    """An image read (RGB), or a video's frames sampled as the model's video processor samples them."""
    if isinstance(item, SampledVideo):
        return item
    if isinstance(item, Video):
        if getattr(processor, "video_processor", None) is None:
            raise ValueError(
                f"this model takes no videos ({type(processor).__name__} has no video processor): pass some of the "
                "video's frames as images instead"
            )
        return sample_video(item, processor)
    return load_rgb(item)


def _kind(medium: Medium) -> str:
    return "video" if isinstance(medium, SampledVideo) else "image"


def _video_token_id(config: Any) -> int:
    return int(getattr(config, "video_token_id", -1) or -1)


def _temporal_patch_size(processor: Any) -> int:
    video_processor = getattr(processor, "video_processor", None)
    return int(getattr(video_processor, "temporal_patch_size", 2) or 2)


def _pictures_of(medium: Medium, temporal_patch_size: int) -> list[Image.Image]:
    """A medium's pictures: an image itself; a video's first frame of each temporal group."""
    if isinstance(medium, Image.Image):
        return [medium]
    return [medium.frames[group[0]] for group in groups(medium, temporal_patch_size)]


def _first_medium(text: str, processor: Any) -> int:
    """Where the first image or video placeholder is in the input text."""
    found = [text.find(token) for token in (processor.image_token, getattr(processor, "video_token", None)) if token]
    return min(position for position in found if position >= 0)


def _grids(model_inputs: Mapping[str, Any], media: list[Medium]) -> list[np.ndarray]:
    """Each medium's `[t, h, w]` patch grid, in prompt order (the processor lists images and videos apart)."""
    image_grids = iter(model_inputs["image_grid_thw"].numpy()) if "image_grid_thw" in model_inputs else iter(())
    video_grids = iter(model_inputs["video_grid_thw"].numpy()) if "video_grid_thw" in model_inputs else iter(())
    return [next(video_grids if isinstance(medium, SampledVideo) else image_grids) for medium in media]


def special_token_ids(tokenizer: Any, config: Any) -> set[int]:
    """Token ids that are not text: the tokenizer's special tokens and the vision markers."""
    return set(tokenizer.all_special_ids) | {config.vision_start_token_id, config.vision_end_token_id}


# ----- thinking ------------------------------------------------------------------------------------------------

THINKING_SWITCH = "enable_thinking"  # the variable Qwen's chat templates read to think first or not


def has_thinking_switch(chat_template: object) -> bool:
    """Whether a chat template (its text, or a dict of named templates) reads the thinking switch."""
    templates = chat_template.values() if isinstance(chat_template, Mapping) else [chat_template]
    return any(isinstance(template, str) and THINKING_SWITCH in template for template in templates)


def checked_thinking(thinking: object, chat: bool, chat_template: object) -> bool | None:
    """`thinking=`: None (the chat template's own default), or True / False for a chat template with the switch;
    else a one-line error."""
    if thinking is None:
        return None
    if not isinstance(thinking, (bool, np.bool_)):
        raise TypeError(
            "thinking must be True (the model thinks before it answers), False (it answers at once) or None (the "
            f"chat template's default), not {described(thinking)}"
        )
    thinking = bool(thinking)
    if not chat:
        raise ValueError(
            f"thinking={thinking} is a switch of the chat template, and chat=False uses none: leave thinking out, "
            "or leave chat=True"
        )
    if not has_thinking_switch(chat_template):
        raise ValueError(
            f"thinking={thinking}: this model's chat template has no thinking switch (no {THINKING_SWITCH!r} in it), "
            "so there is nothing to turn on or off: leave thinking out"
        )
    return thinking


def thinking_marker_ids(tokenizer: Any) -> tuple[int, int] | None:
    """The token ids of `<think>` and `</think>` where the tokenizer has them as tokens of their own, else None."""
    added = tokenizer.get_added_vocab()
    if not all(marker in added for marker in THINKING_MARKERS):
        return None
    return added[THINKING_MARKERS[0]], added[THINKING_MARKERS[1]]


def _opens_thinking(input_ids: np.ndarray, markers: tuple[int, int] | None) -> bool:
    """Whether the input ends inside a thinking block: its last `<think>` comes after its last `</think>`."""
    if markers is None:
        return False
    opens, closes = (np.flatnonzero(input_ids == marker) for marker in markers)
    return bool(opens.size) and (not closes.size or opens[-1] > closes[-1])


# ----- arguments and conversations -------------------------------------------------------------------------


def _check_arguments(prompt: str | None, messages: Messages | None, system: str | None, chat: bool) -> None:
    if prompt is not None and messages is not None:
        raise ValueError("pass either a prompt or messages=[...] (a conversation), not both")
    if prompt is None and messages is None:
        raise ValueError("no prompt given: pass a prompt, e.g. capture('cat.jpg', 'Where is the cat?'), or messages=")
    if prompt is not None and not isinstance(prompt, str):
        raise TypeError(f"prompt must be a string, not {described(prompt)}")
    if system is not None and not isinstance(system, str):
        raise TypeError(f"system must be a string (the system prompt), not {described(system)}")
    if not chat and messages is not None:
        raise ValueError("chat=False takes a raw prompt; messages= are rendered by the chat template: leave chat=True")
    if not chat and system is not None:
        raise ValueError("system= is rendered by the chat template; with chat=False write it into the raw prompt")


def _reject_messages_as_images(image_or_images: Any) -> None:
    if (
        isinstance(image_or_images, Sequence)
        and not isinstance(image_or_images, str)
        and any(isinstance(item, Mapping) and "role" in item for item in image_or_images)
    ):
        raise TypeError("this looks like a conversation: pass it as messages=[...], not as the image argument")


def _prompt_messages(kinds: list[str], prompt: str, system: str | None) -> list[dict[str, Any]]:
    """One user turn: the images and videos (`kinds`: "image" or "video", in order), then the prompt; after a
    system turn when `system` is given."""
    content = [{"type": kind} for kind in kinds] + [{"type": "text", "text": prompt}]
    head = [{"role": "system", "content": system}] if system is not None else []
    return [*head, {"role": "user", "content": content}]


def _conversation(
    messages: Messages, image_or_images: MediaInput | Sequence[MediaInput] | None, system: str | None, processor: Any
) -> _Chat:
    """`messages` checked and normalised, with their images read and videos sampled (placeholders filled from
    `image_or_images`, in order)."""
    if isinstance(messages, (str, bytes, Mapping)) or not isinstance(messages, Sequence):
        raise TypeError('messages must be a list of {"role": ..., "content": ...} dicts, not ' + described(messages))
    if not messages:
        raise ValueError('messages is empty: pass e.g. [{"role": "user", "content": [image part, text part]}]')
    given = [] if image_or_images is None else _media_list(image_or_images)
    checked = [_checked_message(message, number) for number, message in enumerate(messages, start=1)]
    placeholders = sum(source is None for _, _, sources in checked for _, _, source in sources)
    if placeholders != len(given):
        raise ValueError(
            f'the messages have {placeholders} image placeholder(s) ({{"type": "image"}} without "image") and '
            f"{len(given)} image(s) came in image_or_images; give one image per placeholder, in order "
            '(or put each image in its part: {"type": "image", "image": "cat.jpg"})'
        )
    roles = [str(message["role"]) for message in messages]
    if system is not None and "system" in roles:
        raise ValueError("pass the system prompt either as system= or as a system message in messages, not both")
    if roles[-1] == "assistant":
        raise ValueError(
            "the last message is the assistant's: end with a user message (capture opens the assistant turn), "
            "or pass that text as answer='...' to capture it as a given answer"
        )
    normalised: list[dict[str, Any]] = [{"role": "system", "content": system}] if system is not None else []
    parts = [_TextPart("the system prompt", system)] if system is not None else []
    media: list[Medium] = []
    remaining = iter(given)
    for number, (message, (content, texts, sources)) in enumerate(zip(messages, checked, strict=True), 1):
        normalised.append({**message, "content": content})
        parts += [_TextPart(f"message {number} ({message['role']})", text) for text in texts]
        for index, kind, source in sources:
            media.append(_read_part(next(remaining) if source is None else source, kind, number, index, processor))
    if not media:
        raise ValueError(
            'the conversation has no image: add one to a user message, e.g. {"type": "image", "image": "cat.jpg"}'
        )
    return _Chat(normalised, parts, media)


def _checked_message(message: Any, number: int) -> tuple[Any, list[str], list[tuple[int, str, Any]]]:
    """A message's content for the template (image and video parts bare), its texts, and its image and video
    parts' numbers, kinds and sources (None: a placeholder), in order."""
    if not isinstance(message, Mapping):
        raise TypeError(f'message {number} must be a dict with "role" and "content", not {described(message)}')
    for key in ("role", "content"):
        if key not in message:
            raise ValueError(f'message {number} has no "{key}": each message is {{"role": ..., "content": ...}}')
    if message["role"] not in ROLES:
        raise ValueError(f"message {number} has role {message['role']!r}; use 'system', 'user' or 'assistant'")
    content = message["content"]
    if isinstance(content, str):
        return content, [content], []
    if isinstance(content, Mapping) or not isinstance(content, Sequence):
        raise TypeError(
            f"message {number}'s content must be a string or a list of text and image parts, not {described(content)}"
        )
    parts: list[dict[str, Any]] = []
    texts: list[str] = []
    sources: list[tuple[int, str, Any]] = []
    for index, part in enumerate(content, start=1):
        where = f"message {number}, part {index}"
        if not isinstance(part, Mapping):
            raise TypeError(f'{where} must be a dict like {{"type": "text", "text": ...}}, not {described(part)}')
        kind = part.get(
            "type", "image" if "image" in part else "video" if "video" in part else "text" if "text" in part else None
        )
        if kind == "text":
            if not isinstance(part.get("text"), str):
                raise TypeError(f'{where} is a text part without a string "text": {{"type": "text", "text": "..."}}')
            parts.append({"type": "text", "text": part["text"]})
            texts.append(part["text"])
        elif kind in ("image", "video") and not ({"url", "path", "image_url", "video_url"} & set(part)):
            parts.append({"type": kind})
            sources.append((index, kind, part.get(kind)))
        elif kind == "image":
            raise ValueError(f'{where}: give the image as "image": a file path, a PIL image or a numpy array')
        elif kind == "video":
            raise ValueError(f'{where}: give the video as "video": a qvl_widget.Video (or a video file path)')
        else:
            raise ValueError(f"{where} has type {kind!r}; qvl_widget takes 'text', 'image' and 'video' parts")
    return parts, texts, sources


def _read_part(source: Any, kind: str, number: int, index: int, processor: Any) -> Medium:
    """An image or video part's source, read: a video part takes a Video (or a video file path)."""
    if kind == "video" and isinstance(source, (str, PathLike)):
        source = Video(source)
    if (kind == "video") != isinstance(source, (Video, SampledVideo)):
        wanted = "a qvl_widget.Video" if kind == "video" else "an image (a path, a PIL image or an array)"
        raise TypeError(f"message {number}, part {index} is a {kind} part and takes {wanted}, not {described(source)}")
    try:
        return _read_medium(source, processor)
    except (OSError, ValueError, TypeError) as error:  # one line already: say which part it was
        raise type(error)(f"message {number}, part {index}: {error}") from error.__cause__  # the library's error


def _check_text(part: _TextPart, tokenizer: Any, images_go_in: str) -> None:
    """A one-line ValueError for a text the tokenizer cannot take: a lone surrogate, or a special token."""
    check_encodable(part.text, part.label)
    _reject_special_tokens(part, tokenizer, images_go_in)


def _reject_special_tokens(part: _TextPart, tokenizer: Any, images_go_in: str) -> None:
    for token in tokenizer.all_special_tokens + list(tokenizer.get_added_vocab()):
        if token and token in part.text:
            raise ValueError(
                f"{part.label} contains the special token {token!r}; remove it (images go in {images_go_in})"
            )


MAX_ASPECT_RATIO = 200  # Qwen-VL's image processors refuse longer strips (`smart_resize`)


def _reject_extreme_aspect_ratios(pictures: list[Image.Image]) -> None:
    for index, picture in enumerate(pictures):
        width, height = picture.size
        if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
            raise ValueError(
                f"image {index + 1} is {width} x {height} px, longer than {MAX_ASPECT_RATIO}:1, which Qwen-VL models "
                "cannot take; crop it, or pad it towards a square"
            )


# ----- the input text and where the user's texts are in it ------------------------------------------------

_MARKER = "\ue000qvl-text-{}\ue001"  # private-use characters: no template writes them
_MARKER_PATTERN = re.compile("\ue000qvl-text-(\\d+)\ue001")


def _raw_text(processor: Any, config: Any, kinds: list[str], prompt: str) -> tuple[str, list[tuple[int, int]]]:
    """chat=False: the images and videos (with their delimiters), then the prompt as it is."""
    tokenizer = processor.tokenizer
    start, end = tokenizer.convert_ids_to_tokens([config.vision_start_token_id, config.vision_end_token_id])
    pads = {"image": processor.image_token, "video": getattr(processor, "video_token", None)}
    media = "".join(f"{start}{pads[kind]}{end}" for kind in kinds)
    return media + prompt, [(len(media), len(media) + len(prompt))]


def _chat_text(processor: Any, conversation: _Chat, thinking: bool | None) -> tuple[str, list[tuple[int, int]]]:
    """The chat template's text for the conversation (assistant turn opened), and each user text's span in it.

    The spans come from a second rendering with a marker in place of each text, so they are exact whatever the
    template writes around the texts; only a template that changes a text as it renders it is followed by a
    search for that text, after the template's own text before it (a text "user" is not the "user" of
    "<|im_start|>user").
    """
    if not getattr(processor, "chat_template", None):
        raise ValueError("this model's processor has no chat template; pass a raw prompt with chat=False")
    text = _render(processor, conversation.messages, thinking)
    video_token = getattr(processor, "video_token", None)
    shown = text.count(processor.image_token) + (text.count(video_token) if video_token else 0)
    if shown != len(conversation.media):
        raise ValueError(
            f"this model's chat template shows {shown} of the conversation's {len(conversation.media)} images and "
            "videos (templates may leave out images outside user messages): put every image in a user message"
        )
    pieces = _MARKER_PATTERN.split(_render(processor, _with_markers(conversation.messages), thinking))
    order = [int(number) for number in pieces[1::2]]
    for number, part in enumerate(conversation.parts):
        if number not in order:
            raise ValueError(
                f"this model's chat template leaves out {part.label} (templates may drop system messages that "
                "are not first, for instance): remove it, or move its text into a user message"
            )
        if order.count(number) > 1:
            raise ValueError(f"this model's chat template repeats {part.label}, so its tokens cannot be mapped to it")
    spans: list[tuple[int, int]] = [(0, 0)] * len(conversation.parts)
    rebuilt = pieces[0]
    for number, template_text in zip(order, pieces[2::2], strict=True):
        spans[number] = (len(rebuilt), len(rebuilt) + len(conversation.parts[number].text))
        rebuilt += conversation.parts[number].text + template_text
    if rebuilt != text:  # the template changed some text (e.g. trimmed it): find each one in order
        cursor = 0
        for index, number in enumerate(order):
            before = pieces[2 * index]  # the template's own text before this one (e.g. "<|im_start|>user\n")
            if text.startswith(before, cursor):  # never taken for the user's ("user" in it, or "a")
                cursor += len(before)
            spans[number] = _find_text(text, conversation.parts[number], cursor)
            cursor = spans[number][1]
    return text, spans


def _render(processor: Any, messages: list[dict[str, Any]], thinking: bool | None) -> str:
    switch = {} if thinking is None else {THINKING_SWITCH: thinking}
    return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False, **switch)


def _with_markers(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`messages` with each text replaced by a numbered marker, in the order of `_Chat.parts`."""
    numbers = iter(range(1 << 30))
    marked = []
    for message in messages:
        content = message["content"]
        if isinstance(content, str):
            content = _MARKER.format(next(numbers))
        else:
            content = [
                {**part, "text": _MARKER.format(next(numbers))} if part["type"] == "text" else part for part in content
            ]
        marked.append({**message, "content": content})
    return marked


def _find_text(text: str, part: _TextPart, cursor: int) -> tuple[int, int]:
    for candidate in (part.text, part.text.strip()):
        start = text.find(candidate, cursor)
        if start >= 0:
            return start, start + len(candidate)
    raise ValueError(
        f"this model's chat template changes {part.label} as it renders it, so its tokens cannot be mapped to it; "
        "see processor.apply_chat_template(messages, tokenize=False)"
    )


def _prompt_segments(
    text: str, spans: list[tuple[int, int]], first_image: int
) -> tuple[list[tuple[int, int, int]], str]:
    """The user's texts after the first image, merged where they touch, as (start, end) in `text` and the offset
    in the prompt; and that prompt: the texts joined by newlines."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if start < first_image or end == start:
            continue
        if merged and merged[-1][1] == start:
            merged[-1][1] = end
        else:
            merged.append([start, end])
    segments = []
    offset = 0
    for start, end in merged:
        segments.append((start, end, offset))
        offset += end - start + 1
    return segments, "\n".join(text[start:end] for start, end in merged)


# ----- layout ----------------------------------------------------------------------------------------------


def checked_pixel_bounds(min_pixels: object, max_pixels: object) -> tuple[int | None, int | None]:
    """`min_pixels` / `max_pixels` as whole numbers >= 1 (or None), each with a one-line error."""
    if min_pixels is not None:
        min_pixels = checked_count(min_pixels, "min_pixels", "the resized image's fewest pixels, e.g. 256 * 28 * 28")
    if max_pixels is not None:
        max_pixels = checked_count(max_pixels, "max_pixels", "the resized image's most pixels, e.g. 1280 * 28 * 28")
    return min_pixels, max_pixels


def _size_kwargs(processor: Any, min_pixels: int | None, max_pixels: int | None) -> dict[str, Any]:
    """Processor arguments bounding the resized image's pixel count (Qwen's min_pixels / max_pixels)."""
    min_pixels, max_pixels = checked_pixel_bounds(min_pixels, max_pixels)
    if min_pixels is None and max_pixels is None:
        return {}
    size = dict(processor.image_processor.size)
    if min_pixels is not None:
        size["shortest_edge"] = min_pixels
    if max_pixels is not None:
        size["longest_edge"] = max_pixels
    if size["shortest_edge"] > size["longest_edge"]:
        if min_pixels is None:  # the user set only max_pixels: name the model's floor, not an unset option
            raise ValueError(
                f"max_pixels ({size['longest_edge']}) is below this model's smallest image ({size['shortest_edge']} "
                f"pixels): pass max_pixels >= {size['shortest_edge']}, or a smaller min_pixels too"
            )
        raise ValueError(
            f"min_pixels ({shown(size['shortest_edge'])}) is larger than max_pixels ({shown(size['longest_edge'])}): "
            "make min_pixels <= max_pixels"
        )
    return {"images_kwargs": {"size": size}}  # the images' bounds only: a Video has its own


def _check_image_tokens(
    processor: Any, config: Any, pictures: list[Image.Image], text: str, size: dict[str, Any]
) -> None:
    """A one-line ValueError, before the processor resizes anything, where the images at the size the processor
    will give them (Qwen's `smart_resize` between min_pixels and max_pixels) and the text would make more tokens
    than the model takes (its text config's `max_position_embeddings`): it says what max_pixels (or min_pixels)
    fits. A processor of another kind is not predicted (the processor itself then decides); nor are videos (their
    frames and pixels are bounded by their own processor)."""
    if not pictures:
        return
    try:
        from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

        image_processor = processor.image_processor
        factor = int(image_processor.patch_size) * int(image_processor.merge_size)
        bounds = size.get("images_kwargs", {}).get("size") or dict(image_processor.size)
        min_pixels, max_pixels = int(bounds["shortest_edge"]), int(bounds["longest_edge"])
        limit = int(config.get_text_config().max_position_embeddings)
    except (ImportError, AttributeError, KeyError, TypeError, ValueError):
        return
    try:
        resized = [
            smart_resize(picture.height, picture.width, factor=factor, min_pixels=min_pixels, max_pixels=max_pixels)
            for picture in pictures
        ]
    except OverflowError:
        raise ValueError(
            f"min_pixels={shown(min_pixels)} is more pixels than any image can be resized to; pass e.g. "
            "min_pixels=256 * 28 * 28, or leave it out"
        ) from None
    image_tokens = [height * width // factor**2 for height, width in resized]
    if sum(image_tokens) + len(text.encode("utf-8")) <= limit:  # a token has at least one byte: no need to count
        return
    text_tokens = len(processor.tokenizer(text)["input_ids"]) - len(pictures)
    if text_tokens + sum(image_tokens) <= limit:
        return
    listed = [
        f"image {number}: {picture.width} x {picture.height} px seen at {width} x {height}, {tokens} tokens"
        for number, (picture, (height, width), tokens) in enumerate(
            zip(pictures, resized, image_tokens, strict=True), start=1
        )
    ]
    seen = "; ".join(listed[:3]) + ("; ..." if len(listed) > 3 else "")
    per_image = (limit - text_tokens) // len(pictures)  # image tokens each image may have
    if per_image < 1:
        advice = "shorten the text, or pass fewer images"
    else:
        fitting = per_image * factor**2
        advice = f"pass max_pixels={fitting} or less"
        if min_pixels > fitting:  # the lower bound alone would make more
            advice += f" and min_pixels={fitting} or less"
        if len(pictures) > 1:
            advice += " (each image's most pixels)"
    raise ValueError(
        f"the images would make {sum(image_tokens)} image tokens ({seen}) and the text {text_tokens}, more than the "
        f"{limit} tokens this model takes (max_position_embeddings): {advice}"
    )


def _image_positions(input_ids: np.ndarray, pad_ids: list[int], grids: list[np.ndarray], merge_size: int) -> np.ndarray:
    """The image and video tokens' positions (the result's columns), in order."""
    positions = np.flatnonzero(np.isin(input_ids, pad_ids))
    expected = int(sum(np.prod(grid) for grid in grids)) // merge_size**2
    if len(positions) != expected:
        raise RuntimeError(f"found {len(positions)} image and video tokens, expected {expected} from their grids")
    return positions


def _query_positions(input_ids: np.ndarray, image_positions: np.ndarray, config: Any) -> np.ndarray:
    """Text tokens after the first image: tokens before it cannot attend to it under causal attention."""
    is_vision_pad = np.isin(input_ids, [config.image_token_id, getattr(config, "video_token_id", -1)])
    after_first_image = np.arange(len(input_ids)) > image_positions[0]
    return np.flatnonzero(after_first_image & ~is_vision_pad)


def _token_offsets(
    tokenizer: Any, text: str, input_ids: np.ndarray, pad_ids: list[int], has_videos: bool
) -> list[tuple[int, int] | None]:
    """Character span in `text` of every token of `input_ids` (the processor's ids, image and video pads
    expanded); None for tokens the processor added that are not in `text`.

    The tokenizer sees the unexpanded text (one pad per image or video); each of its pads stands for a run of
    pads in `input_ids`. A video's expansion may also hold text of the processor's own (Qwen3-VL writes each
    temporal group's time, "<1.5 seconds>", and vision markers between the groups), and transformers 5.0's
    Qwen3-VL replaces the template's markers around the video: the two sequences are aligned with pad runs as
    one token each, and only where there are videos may they differ."""
    encoded = tokenizer(text, return_offsets_mapping=True)
    written = [int(token_id) for token_id in encoded["input_ids"]]
    spans = spans_of_what_tokens_carry(tokenizer, text, written, [tuple(span) for span in encoded["offset_mapping"]])
    runs = _pad_runs(input_ids, pad_ids)  # [start, end) of each token of input_ids with pad runs as one
    expanded = [int(input_ids[start]) for start, _ in runs]
    offsets: list[tuple[int, int] | None] = [None] * len(input_ids)
    matcher = difflib.SequenceMatcher(None, written, expanded, autojunk=False)
    for operation, written_start, written_end, start, end in matcher.get_opcodes():
        if operation != "equal":
            if not has_videos:
                raise RuntimeError("the tokenizer and the processor disagree on the input tokens; please report this")
            continue  # the processor's own tokens: no span in the text
        for written_index, run in zip(range(written_start, written_end), runs[start:end], strict=True):
            for position in range(*run):
                offsets[position] = spans[written_index]
    return offsets


def spans_of_what_tokens_carry(
    tokenizer: Any, text: str, ids: list[int], spans: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """The tokenizer's spans, widened where tokens that share one span carry more of the text than it: Qwen's
    tokenizer reads text in NFC, so in NFD text (a macOS copy) "e" + a combining accent is one character's bytes,
    and its tokens all get the span of the "e" alone. Such a run gets the characters it decodes to (compared in
    NFC), so its tokens are labelled "é" and a phrase finds them."""
    widened = list(spans)
    first = 0
    while first < len(spans):
        stop = first + 1
        while stop < len(spans) and spans[stop] == spans[first]:
            stop += 1
        start, end = spans[first]
        if end > start and stop - first > 1:
            carried = _carried_end(text, start, end, tokenizer.decode(ids[first:stop]))
            widened[first:stop] = [(start, carried)] * (stop - first)
        first = stop
    return widened


def _carried_end(text: str, start: int, end: int, decoded: str) -> int:
    """Where the text that `decoded` (a run of tokens from `start`) stands for ends: `end`, or further where the
    characters after it (combining marks) compose with it in NFC."""
    target = unicodedata.normalize("NFC", decoded)
    for stop in range(end, min(len(text), end + len(decoded) + 8) + 1):
        if unicodedata.normalize("NFC", text[start:stop]) == target:
            return stop
    return end


def _frames_too_small(videos: list[SampledVideo], error: ValueError) -> ValueError:
    sizes = ", ".join(sorted({f"{video.frames[0].width}x{video.frames[0].height}" for video in videos}))
    return ValueError(
        f"the video's frames ({sizes} pixels) are smaller than this version of transformers' video processor takes "
        f"({error}): give larger frames (resize them to at least 32 pixels a side), or upgrade transformers, whose "
        "newer video processors resize small frames themselves"
    )


def _pad_runs(input_ids: np.ndarray, pad_ids: list[int]) -> list[tuple[int, int]]:
    """`[start, end)` of each token of `input_ids`, a run of one pad id counted as one token."""
    runs: list[tuple[int, int]] = []
    for position, token_id in enumerate(input_ids.tolist()):
        if runs and token_id in pad_ids and input_ids[runs[-1][0]] == token_id and runs[-1][1] == position:
            runs[-1] = (runs[-1][0], position + 1)
        else:
            runs.append((position, position + 1))
    return runs


def _query_token(
    text: str, span: tuple[int, int], is_special: bool, segments: list[tuple[int, int, int]]
) -> QueryToken:
    start, end = span
    if not is_special and end > start:
        for segment_start, segment_end, offset in segments:
            if segment_start <= start and end <= segment_end:
                return QueryToken(text[start:end], offset + start - segment_start, offset + end - segment_start, False)
    return QueryToken(text[start:end], None, None, special=True)


def _geometries(
    grids: list[np.ndarray], merge_size: int, patch_size: int, media: list[Medium], temporal_patch_size: int
) -> tuple[ImageGeometry, ...]:
    geometries = []
    first_column = 0
    for (frames, height, width), medium in zip(grids, media, strict=True):
        geometry = ImageGeometry(
            rows=int(height) // merge_size,
            cols=int(width) // merge_size,
            resized_size=(int(width) * patch_size, int(height) * patch_size),
            original_size=medium.size if isinstance(medium, Image.Image) else medium.original_size,
            first_column=first_column,
        )
        if isinstance(medium, Image.Image) and frames != 1:
            raise RuntimeError(f"an image has {frames} temporal patches; images are expected to have one")
        if isinstance(medium, SampledVideo):
            covered = groups(medium, temporal_patch_size)
            if len(covered) != frames:
                raise RuntimeError(f"a video has {frames} temporal groups where its frames make {len(covered)}")
            geometry = dataclasses.replace(
                geometry,
                groups=int(frames),
                group_frames=tuple(tuple(medium.indices[frame] for frame in group) for group in covered),
                group_times=tuple((medium.timestamps[group[0]], medium.timestamps[group[-1]]) for group in covered),
            )
        geometries.append(geometry)
        first_column += geometry.num_tokens
    return tuple(geometries)
