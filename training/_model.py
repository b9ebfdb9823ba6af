"""The demo model's word-level tokenizer, its real Qwen2-VL processor and its small Qwen2-VL config.

The tokenizer is a `tokenizers` WordLevel model (lower-cased, split on whitespace and punctuation): every colour,
shape and question word is one token, so hovering a word shows that word's attention. It carries the Qwen special
tokens with fixed ids 0..6 and is wrapped as a transformers fast tokenizer, so `AutoProcessor.from_pretrained`
loads the saved folder like any Qwen2-VL checkpoint.
"""

from __future__ import annotations

from typing import Any

from qvl_widget.demo._scenes import COLOURS, IMAGE_SIZE, REGIONS, SHAPES
from qvl_widget.testing import CHAT_TEMPLATE, SPECIAL_TOKENS

UNKNOWN = "[unk]"
# Words of the chat template's system turn and of the questions and answers (lower case: the tokenizer lower-cases).
TEMPLATE_WORDS = ("system", "user", "assistant", "you", "are", "a", "helpful", ".")
QUESTION_WORDS = ("what", "color", "shape", "is", "the", "one", "where", "?")
REGION_WORDS = tuple(dict.fromkeys(word for region in REGIONS for word in region.split()))
WORDS = (*TEMPLATE_WORDS, *QUESTION_WORDS, *COLOURS, *SHAPES, *REGION_WORDS)
VOCABULARY = (*SPECIAL_TOKENS, UNKNOWN, *WORDS)  # token id = index
# The prompt of descriptions ("Describe the shapes."), known only to a model trained on them (`--tasks demo2`).
# Appended, so every other word keeps its id and the default vocabulary (today's model) is unchanged.
DESCRIPTION_WORDS = ("describe", "shapes")
DESCRIPTION_VOCABULARY = (*VOCABULARY, *DESCRIPTION_WORDS)


def vocabulary_for(kinds) -> tuple[str, ...]:
    """The vocabulary of a model trained on prompts of `kinds`: with "describe", the description words too."""
    return DESCRIPTION_VOCABULARY if "describe" in kinds else VOCABULARY


PATCH_SIZE = 14
MERGE_SIZE = 2
TEMPORAL_PATCH_SIZE = 2
IMAGE_PIXELS = IMAGE_SIZE * IMAGE_SIZE  # min = max pixels: every image is seen at about 224 x 224

# Widths: ~2.2M parameters, 8.9 MB of fp32 safetensors.
TEXT_CONFIG = dict(
    hidden_size=128,
    intermediate_size=384,
    num_hidden_layers=4,
    num_attention_heads=4,
    num_key_value_heads=4,
    rope_theta=1e4,
    mrope_section=[4, 6, 6],  # sums to head_dim / 2 = 16
)
VISION_CONFIG = dict(depth=4, embed_dim=128, num_heads=4, mlp_ratio=2)


def build_word_tokenizer(vocabulary: tuple[str, ...] = VOCABULARY):
    """The word-level fast tokenizer (a transformers `PreTrainedTokenizerFast`) of `vocabulary`."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {word: index for index, word in enumerate(vocabulary)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNKNOWN))
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.decoder = decoders.WordPiece(prefix="##", cleanup=True)  # joins words with spaces
    core.add_special_tokens([AddedToken(token, special=True, normalized=False) for token in SPECIAL_TOKENS])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        unk_token=UNKNOWN,
        pad_token="<|endoftext|>",
        eos_token="<|im_end|>",
        additional_special_tokens=list(SPECIAL_TOKENS[1:]),
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_processor(tokenizer=None, vocabulary: tuple[str, ...] = VOCABULARY):
    """The real Qwen2-VL processor around the word tokenizer (of `vocabulary`): 224 x 224 images are not resized."""
    from transformers import Qwen2VLImageProcessor, Qwen2VLProcessor, Qwen2VLVideoProcessor

    image_processor = Qwen2VLImageProcessor(
        min_pixels=IMAGE_PIXELS,
        max_pixels=IMAGE_PIXELS,
        patch_size=PATCH_SIZE,
        merge_size=MERGE_SIZE,
        temporal_patch_size=TEMPORAL_PATCH_SIZE,
    )
    return Qwen2VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer or build_word_tokenizer(vocabulary),
        video_processor=Qwen2VLVideoProcessor(),
        chat_template=CHAT_TEMPLATE,
    )


def token_id(word: str) -> int:
    return VOCABULARY.index(word.lower())


def build_config(vocabulary: tuple[str, ...] = VOCABULARY, **overrides: Any):
    """The demo `Qwen2VLConfig` for `vocabulary`; `overrides` may hold `text` / `vision` dicts that update the
    widths."""
    from transformers import Qwen2VLConfig

    text = {**TEXT_CONFIG, **overrides.pop("text", {})}
    vision = {**VISION_CONFIG, **overrides.pop("vision", {})}
    if overrides:
        raise TypeError(f"unknown config overrides: {', '.join(overrides)}")
    rope_theta = text.pop("rope_theta")
    mrope_section = text.pop("mrope_section")
    head_dim = text["hidden_size"] // text["num_attention_heads"]
    if sum(mrope_section) != head_dim // 2:
        raise ValueError(f"mrope_section {mrope_section} must sum to head_dim / 2 = {head_dim // 2}")
    return Qwen2VLConfig(
        text_config=dict(
            vocab_size=len(vocabulary),
            bos_token_id=None,
            eos_token_id=token_id("<|im_end|>"),
            pad_token_id=token_id("<|endoftext|>"),
            tie_word_embeddings=False,
            rope_parameters={"rope_type": "default", "rope_theta": rope_theta, "mrope_section": mrope_section},
            **text,
        ),
        vision_config=dict(
            hidden_size=text["hidden_size"],
            in_channels=3,
            patch_size=PATCH_SIZE,
            spatial_merge_size=MERGE_SIZE,
            temporal_patch_size=TEMPORAL_PATCH_SIZE,
            **vision,
        ),
        image_token_id=token_id("<|image_pad|>"),
        video_token_id=token_id("<|video_pad|>"),
        vision_start_token_id=token_id("<|vision_start|>"),
        vision_end_token_id=token_id("<|vision_end|>"),
    )
