"""From images + a prompt to model inputs, and from model inputs to who-is-where.

This is the one place that knows the Qwen-VL token layout: it builds the chat text, runs the processor,
then finds the image-token columns, the query rows (text tokens after the first image), each query token's
character span in the prompt, and each image's merged token grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from ._result import ImageGeometry, QueryToken


@dataclass(frozen=True)
class PreparedInputs:
    model_inputs: dict[str, Any]  # what the processor returned (tensors on the CPU)
    query_positions: np.ndarray
    image_positions: np.ndarray
    tokens: tuple[QueryToken, ...]
    images: tuple[ImageGeometry, ...]
    pictures: tuple[Image.Image, ...]
    prompt: str


def prepare_inputs(
    processor: Any,
    config: Any,
    pictures: list[Image.Image],
    prompt: str,
    chat: bool = True,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
) -> PreparedInputs:
    """Processor inputs for `pictures` (in order, before the prompt) and `prompt`, plus their layout."""
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a string, not {type(prompt).__name__}")
    tokenizer = processor.tokenizer
    _reject_special_tokens(prompt, tokenizer)
    _reject_extreme_aspect_ratios(pictures)
    text = _input_text(processor, config, len(pictures), prompt, chat)
    model_inputs = processor(
        text=[text], images=pictures, return_tensors="pt", **_size_kwargs(processor, min_pixels, max_pixels)
    )
    input_ids = model_inputs["input_ids"][0].numpy()
    grids = model_inputs["image_grid_thw"].numpy()
    merge_size = int(processor.image_processor.merge_size)
    patch_size = int(processor.image_processor.patch_size)
    image_positions = _image_positions(input_ids, config.image_token_id, grids, merge_size)
    offsets = _token_offsets(tokenizer, text, input_ids, config.image_token_id)
    query_positions = _query_positions(input_ids, image_positions, config)
    prompt_start = _prompt_start(text, prompt, tokenizer.convert_ids_to_tokens(config.vision_end_token_id))
    special_ids = special_token_ids(tokenizer, config)
    tokens = tuple(
        _query_token(text, offsets[position], input_ids[position] in special_ids, prompt_start, len(prompt))
        for position in query_positions
    )
    images = _geometries(grids, merge_size, patch_size, pictures)
    return PreparedInputs(dict(model_inputs), query_positions, image_positions, tokens, images, tuple(pictures), prompt)


def special_token_ids(tokenizer: Any, config: Any) -> set[int]:
    """Token ids that are not text: the tokenizer's special tokens and the vision markers."""
    return set(tokenizer.all_special_ids) | {config.vision_start_token_id, config.vision_end_token_id}


def _reject_special_tokens(prompt: str, tokenizer: Any) -> None:
    for token in tokenizer.all_special_tokens + list(tokenizer.get_added_vocab()):
        if token and token in prompt:
            raise ValueError(
                f"the prompt contains the special token {token!r}; remove it (images go in the image argument)"
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


def _input_text(processor: Any, config: Any, num_images: int, prompt: str, chat: bool) -> str:
    if not chat:
        tokenizer = processor.tokenizer
        start, end = tokenizer.convert_ids_to_tokens([config.vision_start_token_id, config.vision_end_token_id])
        return f"{start}{processor.image_token}{end}" * num_images + prompt
    if not getattr(processor, "chat_template", None):
        raise ValueError("this model's processor has no chat template; pass chat=False to use the raw prompt")
    content = [{"type": "image"}] * num_images + [{"type": "text", "text": prompt}]
    messages = [{"role": "user", "content": content}]
    return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


def _size_kwargs(processor: Any, min_pixels: int | None, max_pixels: int | None) -> dict[str, Any]:
    """Processor arguments bounding the resized image's pixel count (Qwen's min_pixels / max_pixels)."""
    if min_pixels is None and max_pixels is None:
        return {}
    size = dict(processor.image_processor.size)
    if min_pixels is not None:
        size["shortest_edge"] = int(min_pixels)
    if max_pixels is not None:
        size["longest_edge"] = int(max_pixels)
    if size["shortest_edge"] > size["longest_edge"]:
        if min_pixels is None:  # the user set only max_pixels: name the model's floor, not an unset option
            raise ValueError(
                f"max_pixels ({size['longest_edge']}) is below this model's smallest image ({size['shortest_edge']} "
                f"pixels): pass max_pixels >= {size['shortest_edge']}, or a smaller min_pixels too"
            )
        raise ValueError(
            f"min_pixels ({size['shortest_edge']}) is larger than max_pixels ({size['longest_edge']}): "
            "make min_pixels <= max_pixels"
        )
    return {"size": size}


def _image_positions(input_ids: np.ndarray, image_token_id: int, grids: np.ndarray, merge_size: int) -> np.ndarray:
    positions = np.flatnonzero(input_ids == image_token_id)
    expected = int(sum(np.prod(grid) for grid in grids)) // merge_size**2
    if len(positions) != expected:
        raise RuntimeError(f"found {len(positions)} image tokens, expected {expected} from the image grids")
    return positions


def _query_positions(input_ids: np.ndarray, image_positions: np.ndarray, config: Any) -> np.ndarray:
    """Text tokens after the first image: tokens before it cannot attend to it under causal attention."""
    is_vision_pad = np.isin(input_ids, [config.image_token_id, getattr(config, "video_token_id", -1)])
    after_first_image = np.arange(len(input_ids)) > image_positions[0]
    return np.flatnonzero(after_first_image & ~is_vision_pad)


def _token_offsets(tokenizer: Any, text: str, input_ids: np.ndarray, image_token_id: int) -> list[tuple[int, int]]:
    """Character span in `text` of every token of `input_ids` (the processor's ids, image pads expanded).

    The tokenizer sees the unexpanded text (one image pad per image); each of its pads stands for a run of
    pads in `input_ids`, which all get the single pad's span.
    """
    encoded = tokenizer(text, return_offsets_mapping=True)
    offsets: list[tuple[int, int]] = []
    position = 0
    for token_id, span in zip(encoded["input_ids"], encoded["offset_mapping"], strict=True):
        run = 1
        if token_id == image_token_id:
            while position + run < len(input_ids) and input_ids[position + run] == image_token_id:
                run += 1
        if position + run > len(input_ids) or any(input_ids[position : position + run] != token_id):
            raise RuntimeError("the tokenizer and the processor disagree on the input tokens; please report this")
        offsets.extend([tuple(span)] * run)
        position += run
    if position != len(input_ids):
        raise RuntimeError("the tokenizer and the processor disagree on the input length; please report this")
    return offsets


def _prompt_start(text: str, prompt: str, vision_end: str) -> int:
    """Where the prompt begins in the templated text: after the last image, as the template put it."""
    search_from = text.rfind(vision_end) + len(vision_end)
    start = text.find(prompt, search_from)
    if start < 0:
        raise ValueError("the chat template changed the prompt text, so tokens cannot be mapped to it; pass chat=False")
    return start


def _query_token(
    text: str, span: tuple[int, int], is_special: bool, prompt_start: int, prompt_length: int
) -> QueryToken:
    start, end = span
    in_prompt = not is_special and start >= prompt_start and end <= prompt_start + prompt_length and end > start
    if in_prompt:
        return QueryToken(text[start:end], start - prompt_start, end - prompt_start, special=False)
    return QueryToken(text[start:end], None, None, special=True)


def _geometries(
    grids: np.ndarray, merge_size: int, patch_size: int, pictures: list[Image.Image]
) -> tuple[ImageGeometry, ...]:
    geometries = []
    first_column = 0
    for (frames, height, width), picture in zip(grids, pictures, strict=True):
        if frames != 1:
            raise RuntimeError(f"an image has {frames} temporal patches; images are expected to have one")
        geometry = ImageGeometry(
            rows=int(height) // merge_size,
            cols=int(width) // merge_size,
            resized_size=(int(width) * patch_size, int(height) * patch_size),
            original_size=picture.size,
            first_column=first_column,
        )
        geometries.append(geometry)
        first_column += geometry.num_tokens
    return tuple(geometries)
