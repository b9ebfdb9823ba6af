"""Tiny random-weight Qwen-VL models for tests, CI and offline demos.

`build_tiny_model(folder, family)` writes a model folder (config, safetensors weights, tokenizer, processor,
chat template) that loads through exactly the path a hub id takes: `qvl_widget.load(folder)`.
Nothing is downloaded: the tokenizer is byte-level with the Qwen special tokens and an empty merge table.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import torch
from tokenizers import AddedToken
from transformers import AutoModelForImageTextToText, Qwen2Tokenizer
from transformers.convert_slow_tokenizer import bytes_to_unicode

# Qwen3.5 (hybrid: linear-attention and attention layers) is in transformers from 5.2.0; older releases skip it.
_HAS_QWEN3_5 = importlib.util.find_spec("transformers.models.qwen3_5") is not None
TINY_FAMILIES: tuple[str, ...] = ("qwen2_vl", "qwen2_5_vl", "qwen3_vl") + (
    ("qwen3_5", "qwen3_5_moe") if _HAS_QWEN3_5 else ()
)
THINKING_FAMILIES = ("qwen3_5", "qwen3_5_moe")  # their chat template opens a <think> block, as Qwen3.5's does

SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)

# The shape of Qwen's templates: each turn's images/videos and texts in order.
_TURNS = (
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}"
    "{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n"
)
# Qwen2/2.5/3-VL: a default system turn, then the turns; the assistant turn opened.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}" + _TURNS + "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# Qwen3.5: no default system turn, and the assistant turn opens thinking (`<think>\n`) unless
# `enable_thinking=False`, which writes an empty thinking block instead.
THINKING_CHAT_TEMPLATE = (
    "{% for message in messages %}" + _TURNS + "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n"
    "{% else %}<think>\n{% endif %}{% endif %}"
)
THINKING_MARKERS = ("<think>", "</think>")  # added tokens, not special (as in Qwen's tokenizers)


# Whole-word BPE tokens for a few common words, so tiny models split text like real ones (" red" is one
# token, "reddish" is " red" + bytes); every other word falls back to one token per byte.
COMMON_WORDS = ("Where", " is", " the", " red", " cat", " What", " color", " image", " on", " in", " a")


def build_tokenizer(words: tuple[str, ...] = COMMON_WORDS, thinking: bool = False) -> Qwen2Tokenizer:
    """A byte-level BPE tokenizer with merges for `words` only, carrying the Qwen special tokens (and, with
    `thinking`, the `<think>` / `</think>` markers)."""
    byte_to_char = bytes_to_unicode()
    vocab = {char: index for index, char in enumerate(byte_to_char.values())}
    merges: list[tuple[str, str]] = []
    for word in words:
        chars = "".join(byte_to_char[byte] for byte in word.encode("utf-8"))
        for length in range(1, len(chars)):
            pair = (chars[:length], chars[length])
            if chars[: length + 1] not in vocab:
                vocab[chars[: length + 1]] = len(vocab)
                merges.append(pair)
    tokenizer = Qwen2Tokenizer(vocab=vocab, merges=merges)  # type: ignore[arg-type]  # pairs, as the fast tokenizer takes them
    tokenizer.add_tokens([AddedToken(token, special=True, normalized=False) for token in SPECIAL_TOKENS])
    if thinking:
        tokenizer.add_tokens([AddedToken(token, special=False, normalized=False) for token in THINKING_MARKERS])
    tokenizer.pad_token = "<|endoftext|>"
    tokenizer.eos_token = "<|im_end|>"
    return tokenizer


def special_token_ids(tokenizer: Qwen2Tokenizer) -> dict[str, Any]:
    ids = tokenizer.convert_tokens_to_ids
    return {
        "image_token_id": ids("<|image_pad|>"),
        "video_token_id": ids("<|video_pad|>"),
        "vision_start_token_id": ids("<|vision_start|>"),
        "vision_end_token_id": ids("<|vision_end|>"),
    }


def _text_config(vocab_size: int, family: str) -> dict[str, Any]:
    rope: dict[str, Any] = {"rope_type": "default", "rope_theta": 1e4, "mrope_section": [2, 3, 3]}
    config: dict[str, Any] = dict(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        bos_token_id=None,
        eos_token_id=None,
        rope_parameters=rope,
    )
    if family == "qwen3_vl":
        config["head_dim"] = 16
        rope["mrope_interleaved"] = True
    if family in ("qwen3_5", "qwen3_5_moe"):
        # Hybrid, as the real model: linear attention (Gated DeltaNet) with every second layer softmax attention
        # (every fourth in the real one). Rotary on a quarter of each head (partial_rotary_factor), split 2/1/1.
        config.update(
            num_hidden_layers=4,
            head_dim=32,
            layer_types=["linear_attention", "full_attention", "linear_attention", "full_attention"],
            linear_key_head_dim=16,
            linear_value_head_dim=16,
            linear_num_key_heads=2,
            linear_num_value_heads=4,
        )
        rope.update(mrope_section=[2, 1, 1], mrope_interleaved=True, partial_rotary_factor=0.25)
    if family == "qwen3_5_moe":
        config.update(moe_intermediate_size=32, shared_expert_intermediate_size=32)
        config.update(num_experts=4, num_experts_per_tok=2)
    return config


def _vision_config(family: str) -> dict:
    if family == "qwen2_vl":
        return dict(depth=2, embed_dim=32, hidden_size=64, num_heads=4, mlp_ratio=2)
    if family == "qwen2_5_vl":
        # window_size 56 px = 2x2 merged tokens per window; one full-attention block, as in the real model.
        return dict(
            depth=2,
            hidden_size=32,
            intermediate_size=64,
            num_heads=4,
            out_hidden_size=64,
            window_size=56,
            fullatt_block_indexes=[1],
        )
    vision: dict[str, Any] = dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=4, out_hidden_size=64)
    vision["num_position_embeddings"] = 64
    if family == "qwen3_vl":
        vision["deepstack_visual_indexes"] = [0]  # Qwen3.5 has no deepstack
    return vision


def _config(family: str, tokenizer: Qwen2Tokenizer):
    from transformers import AutoConfig

    return AutoConfig.for_model(
        family,
        text_config=_text_config(len(tokenizer), family),
        vision_config=_vision_config(family),
        **special_token_ids(tokenizer),
    )


def build_processor(family: str = "qwen2_vl", tokenizer: Qwen2Tokenizer | None = None):
    """The family's real processor around the tiny tokenizer (or `tokenizer`), with the family's style of chat
    template (Qwen3.5's thinks)."""
    tokenizer = tokenizer or build_tokenizer(thinking=family in THINKING_FAMILIES)
    from transformers import (
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
        Qwen2VLVideoProcessor,
        Qwen3VLProcessor,
        Qwen3VLVideoProcessor,
    )

    video_processor: Qwen2VLVideoProcessor | Qwen3VLVideoProcessor
    processor_class: type[Qwen2VLProcessor | Qwen2_5_VLProcessor | Qwen3VLProcessor]
    if family in ("qwen3_vl", *THINKING_FAMILIES):  # Qwen3.5 uses Qwen3-VL's processor
        image_processor = Qwen2VLImageProcessor(patch_size=16)
        video_processor = Qwen3VLVideoProcessor(patch_size=16)
        processor_class = Qwen3VLProcessor
    else:
        image_processor = Qwen2VLImageProcessor()
        video_processor = Qwen2VLVideoProcessor()
        processor_class = Qwen2VLProcessor if family == "qwen2_vl" else Qwen2_5_VLProcessor
    return processor_class(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        chat_template=THINKING_CHAT_TEMPLATE if family in THINKING_FAMILIES else CHAT_TEMPLATE,
    )


def build_tiny_model(folder: str | Path, family: str = "qwen2_vl", seed: int = 0) -> Path:
    """Write a tiny random-weight model of `family` to `folder` and return the folder.

    The model is about 1 MB, uses the family's real architecture, image processor and video processor,
    and loads with `qvl_widget.load(folder)` or any `from_pretrained` call, like a hub id.
    """
    if family not in TINY_FAMILIES:
        raise ValueError(f"unknown tiny model family {family!r}: choose one of {', '.join(TINY_FAMILIES)}")
    folder = Path(folder)
    tokenizer = build_tokenizer(thinking=family in THINKING_FAMILIES)
    torch.manual_seed(seed)
    model = AutoModelForImageTextToText.from_config(_config(family, tokenizer))
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    build_processor(family, tokenizer).save_pretrained(folder)
    return folder
