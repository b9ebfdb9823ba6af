"""Model inputs for a batch of rendered scenes, built straight as tensors (no PIL, no processor).

They equal what the real processor and chat template give for the same images and prompts (checked in
tests/test_demo.py and again at the start of every training run): the chat text as word tokens, 64 image pads
(224 x 224 px = 16 x 16 patches of 14 px = 8 x 8 merged tokens), pixel values normalised with the CLIP mean and std
and patchified in the processor's order, and Qwen2-VL's M-RoPE position ids for this one layout.

The text after the image has room for the longest prompt and answer of the batch's kinds: questions ("color",
"shape", "where") are answered in one or two words (today's layout, `SEQUENCE` tokens); a batch that may hold
descriptions ("describe", `build_batch(..., kinds=...)` with "describe") has room for one: up to 4 objects of 4 words.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import torch

from qvl_widget.demo._scenes import (
    COLOURS,
    IMAGE_SIZE,
    KINDS,
    MAX_OBJECTS,
    QUESTION_KINDS,
    REGIONS,
    SHAPES,
    Scenes,
    device_table,
)

from ._model import DESCRIPTION_VOCABULARY, MERGE_SIZE, PATCH_SIZE, TEMPORAL_PATCH_SIZE

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

GRID = IMAGE_SIZE // PATCH_SIZE  # patches per side (16)
CELLS = GRID // MERGE_SIZE  # merged tokens per side (8)
IMAGE_TOKENS = CELLS * CELLS

# The chat template's text before the image: system turn, then the user turn up to the image.
PREFIX = (
    "<|im_start|>",
    "system",
    "you",
    "are",
    "a",
    "helpful",
    "assistant",
    ".",
    "<|im_end|>",
    "<|im_start|>",
    "user",
    "<|vision_start|>",
)
ASSISTANT_OPEN = ("<|im_end|>", "<|im_start|>", "assistant")  # closes the user turn, opens the answer
MAX_QUESTION = 7
MAX_ANSWER = 2  # a question's answer: one or two words
MAX_DESCRIPTION = MAX_OBJECTS * 4  # a description: shape, colour and one or two region words per object
IMAGE_START = len(PREFIX)
TAIL_START = IMAGE_START + IMAGE_TOKENS  # <|vision_end|>


def answer_room(kinds: tuple[str, ...] = QUESTION_KINDS) -> int:
    """Answer tokens (before <|im_end|>) a batch of `kinds` has room for."""
    return MAX_DESCRIPTION if "describe" in kinds else MAX_ANSWER


def tail_length(kinds: tuple[str, ...] = QUESTION_KINDS) -> int:
    """Tokens from <|vision_end|> on: the question, the assistant turn's opening, the answer and <|im_end|>."""
    return 1 + MAX_QUESTION + len(ASSISTANT_OPEN) + answer_room(kinds) + 1


TAIL = tail_length()  # questions only (today's layout)
SEQUENCE = TAIL_START + TAIL


def _id(word: str) -> int:
    """A word's token id: the description vocabulary only appends words, so every other id is the same in both."""
    return DESCRIPTION_VOCABULARY.index(word.lower())


PAD = _id("<|endoftext|>")
IM_END = _id("<|im_end|>")
IMAGE_PAD = _id("<|image_pad|>")


@dataclass
class Batch:
    pixel_values: torch.Tensor  # [B * 256, 1176] float32, as the processor gives
    image_grid_thw: torch.Tensor  # [B, 3] long
    input_ids: torch.Tensor  # [B, S] long, right-padded with <|endoftext|> (S = SEQUENCE for questions only)
    lengths: torch.Tensor  # [B] long, tokens before padding (chat text + answer + <|im_end|>)
    prompt_lengths: torch.Tensor  # [B] long, tokens up to the opened assistant turn (what the processor sees)
    targets: torch.Tensor  # [B, S] bool, the answer tokens and the closing <|im_end|>
    position_ids: torch.Tensor  # [3, B, S] long, M-RoPE (temporal, height, width)
    mm_token_type_ids: torch.Tensor  # [B, S] long, 1 on image tokens

    def to(self, device: torch.device | str) -> Batch:
        return Batch(**{field.name: getattr(self, field.name).to(device) for field in dataclasses.fields(self)})


def pixel_values(images: torch.Tensor) -> torch.Tensor:
    """uint8 `[B, 3, 224, 224]` -> `[B * 256, 3 * 2 * 14 * 14]` exactly as Qwen2VLImageProcessor does it.

    Rescale and normalise fused as `(x - 255 mean) / (255 std)`, then patches ordered by 2 x 2 merge block,
    row-major, each flattened as (channel, temporal copy, row, column).
    """
    batch, channels, height, width = images.shape
    if (height, width) != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"images must be {IMAGE_SIZE} x {IMAGE_SIZE}, got {height} x {width}")
    mean = device_table(CLIP_MEAN, images.device, torch.float32) * 255
    std = device_table(CLIP_STD, images.device, torch.float32) * 255
    x = images.float().sub_(mean[:, None, None]).div_(std[:, None, None])
    m, p = MERGE_SIZE, PATCH_SIZE
    x = x.reshape(batch, channels, GRID // m, m, p, GRID // m, m, p).permute(0, 2, 5, 3, 6, 1, 4, 7)
    x = x.unsqueeze(6).expand(-1, -1, -1, -1, -1, -1, TEMPORAL_PATCH_SIZE, -1, -1)
    return x.reshape(batch * GRID * GRID, channels * TEMPORAL_PATCH_SIZE * p * p)


def mrope_position_ids(device: torch.device | str = "cpu", sequence: int = SEQUENCE) -> torch.Tensor:
    """`[3, 1, sequence]` Qwen2-VL M-RoPE positions for the fixed layout (text, 8 x 8 image, text).

    Text before the image counts 0, 1, ...; image token (row, col) gets (t, h, w) = (s, s + row, s + col) with
    s the image's start; text after the image continues from s + max(rows, cols).
    """
    text_before = torch.arange(IMAGE_START).expand(3, -1)
    token = torch.arange(IMAGE_TOKENS)
    row, col = token // CELLS, token % CELLS
    image = IMAGE_START + torch.stack([torch.zeros_like(row), row, col])
    after = IMAGE_START + CELLS + torch.arange(sequence - TAIL_START).expand(3, -1)
    return torch.cat([text_before, image, after], dim=1)[:, None].to(device)


@functools.lru_cache(maxsize=8)
def _position_table(device: torch.device, sequence: int) -> torch.Tensor:
    return mrope_position_ids(device, sequence)


def _word_table(words, device) -> torch.Tensor:
    return device_table(tuple(_id(word) for word in words), device)


def _description(scenes: Scenes) -> tuple[torch.Tensor, torch.Tensor]:
    """`[B, MAX_DESCRIPTION + 1]` token ids of each scene's description (`_scenes.description_words`: objects in
    the reading order of their regions, each as shape, colour, region words), then <|im_end|>, then padding; and
    `[B]` the number of description words."""
    device = scenes.device
    batch = scenes.batch_size
    used = torch.arange(MAX_OBJECTS, device=device)[None] < scenes.count[:, None]  # [B, 4]
    order = torch.where(used, scenes.region, len(REGIONS)).argsort(dim=1)  # used slots by region, unused last
    region = scenes.region.gather(1, order)
    words = torch.stack(
        [
            _word_table(SHAPES, device)[scenes.shape.gather(1, order)],
            _word_table(COLOURS, device)[scenes.colour.gather(1, order)],
            _word_table([name.split()[0] for name in REGIONS], device)[region],
            _word_table([name.split()[-1] for name in REGIONS], device)[region],
        ],
        dim=2,
    )  # [B, 4 objects, 4 words]
    two_words = device_table(tuple(len(name.split()) == 2 for name in REGIONS), device, torch.bool)[region]
    valid = used.gather(1, order)[..., None] & torch.stack(
        [torch.ones_like(two_words), torch.ones_like(two_words), torch.ones_like(two_words), two_words], dim=2
    )
    words, valid = words.flatten(1), valid.flatten(1)
    keep = (~valid).to(torch.uint8).argsort(dim=1, stable=True)  # the valid words first, in order
    count = valid.sum(dim=1)
    position = torch.arange(MAX_DESCRIPTION + 1, device=device)[None]
    padded = torch.cat([words.gather(1, keep), torch.full((batch, 1), PAD, device=device)], dim=1)
    answer = torch.where(position < count[:, None], padded, PAD)
    return torch.where(position == count[:, None], IM_END, answer), count


def token_ids(
    scenes: Scenes, kinds: tuple[str, ...] = QUESTION_KINDS
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """`input_ids [B, S]`, `lengths [B]`, `prompt_lengths [B]` and `targets [B, S]` for `scenes`, whose prompts
    are of `kinds` (S = `TAIL_START + tail_length(kinds)`; `SEQUENCE` for questions only)."""
    device = scenes.device
    batch = scenes.batch_size
    tail_width = tail_length(kinds)
    if "describe" not in kinds and device.type == "cpu" and bool((scenes.kind == KINDS.index("describe")).any()):
        raise ValueError('these scenes hold descriptions: pass kinds=(..., "describe")')  # (a GPU would sync)
    rows = torch.arange(batch, device=device)
    colour = _word_table(COLOURS, device)[scenes.colour[rows, scenes.target]]
    shape = _word_table(SHAPES, device)[scenes.shape[rows, scenes.target]]
    region = scenes.region[rows, scenes.target]
    region_first = _word_table([name.split()[0] for name in REGIONS], device)[region]
    region_second = _word_table([name.split()[-1] for name in REGIONS], device)[region]
    region_two = device_table(tuple(len(name.split()) == 2 for name in REGIONS), device, torch.bool)[region]

    def constant(word: str) -> torch.Tensor:
        return torch.full((batch,), _id(word), device=device)

    # question words, answer words; a None answer: the region (one or two words), "describe": the description
    questions = {
        "color": (
            [constant("what"), constant("color"), constant("is"), constant("the"), shape, constant("?")],
            [colour],
        ),
        "shape": (
            [
                constant("what"),
                constant("shape"),
                constant("is"),
                constant("the"),
                colour,
                constant("one"),
                constant("?"),
            ],
            [shape],
        ),
        "where": ([constant("where"), constant("is"), constant("the"), colour, shape, constant("?")], None),
        "describe": ([constant("describe"), constant("the"), constant("shapes"), constant(".")], "describe"),
    }
    tail = torch.full((batch, tail_width), PAD, device=device)
    tail_targets = torch.zeros((batch, tail_width), dtype=torch.bool, device=device)
    tail_lengths = torch.zeros(batch, dtype=torch.long, device=device)
    prompt_lengths = torch.zeros(batch, dtype=torch.long, device=device)
    for kind_index, kind in enumerate(KINDS):
        if kind == "describe" and "describe" not in kinds:
            continue
        question, answer = questions[kind]
        chosen = scenes.kind == kind_index
        columns = [constant("<|vision_end|>"), *question, *(constant(word) for word in ASSISTANT_OPEN)]
        start = len(columns)
        if answer == "describe":  # the description's words, then <|im_end|>
            description, count = _description(scenes)
            columns += list(description.unbind(1))
            length = start + count + 1
        elif answer is None:  # region: one or two words, then <|im_end|>
            second = torch.where(region_two, region_second, IM_END)
            third = torch.where(region_two, IM_END, PAD)
            columns += [region_first, second, third]
            length = start + 2 + region_two.long()
        else:
            columns += [*answer, constant("<|im_end|>")]
            length = torch.full((batch,), start + len(answer) + 1, device=device)
        values = torch.stack(columns, dim=1)
        positions = torch.arange(values.shape[1], device=device)
        is_target = (positions[None] >= start) & (positions[None] < length[:, None])
        tail[:, : values.shape[1]] = torch.where(chosen[:, None], values, tail[:, : values.shape[1]])
        tail_targets[:, : values.shape[1]] |= chosen[:, None] & is_target
        tail_lengths = torch.where(chosen, length, tail_lengths)
        prompt_lengths = torch.where(chosen, TAIL_START + start, prompt_lengths)
    tail = torch.where(torch.arange(tail_width, device=device)[None] < tail_lengths[:, None], tail, PAD)
    head = torch.cat([_word_table(PREFIX, device), torch.full((IMAGE_TOKENS,), IMAGE_PAD, device=device)])
    input_ids = torch.cat([head.expand(batch, -1), tail], dim=1)
    targets = torch.cat([torch.zeros((batch, TAIL_START), dtype=torch.bool, device=device), tail_targets], dim=1)
    return input_ids, TAIL_START + tail_lengths, prompt_lengths, targets


def build_batch(scenes: Scenes, images: torch.Tensor, kinds: tuple[str, ...] = QUESTION_KINDS) -> Batch:
    """Everything the model needs for `scenes` rendered as `images` (uint8 `[B, 3, 224, 224]`), on their device.

    `kinds`: the prompt kinds the scenes were sampled with; with "describe" the sequence has room for descriptions.
    """
    device = images.device
    batch = images.shape[0]
    input_ids, lengths, prompt_lengths, targets = token_ids(scenes, kinds)
    return Batch(
        pixel_values=pixel_values(images),
        image_grid_thw=device_table(((1, GRID, GRID),), device).expand(batch, -1),
        input_ids=input_ids,
        lengths=lengths,
        prompt_lengths=prompt_lengths,
        targets=targets,
        position_ids=_position_table(device, input_ids.shape[1]).expand(-1, batch, -1),
        mm_token_type_ids=(input_ids == IMAGE_PAD).long(),
    )
