"""The Qwen vision-language families qvl_widget supports, and what it needs to know about each.

All supported families share one token layout: `<|vision_start|>`, one `<|image_pad|>` per merged image
token, `<|vision_end|>`; merged tokens in row-major order over a grid of `grid_thw / merge_size` cells.
They differ in patch size (read from the processor) and in how the vision tower is built, which capture
never touches. A family entry is therefore small: its name, its `model_type`s, a display name, the first
transformers release that has it and a hub id to show.

Qwen3.5's decoder is hybrid: most layers are linear attention (Gated DeltaNet), which keeps a running state and
never forms an attention matrix, so they have no map; every few layers is softmax attention, which goes through
transformers' attention-function registry like every layer of the older families. `attention_layers` says which
layers those are, from the text config's `layer_types`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Family:
    """One supported model family."""

    name: str
    display_name: str
    model_types: tuple[str, ...]
    transformers: str  # the first transformers release with this family
    hub_example: str


FAMILIES: tuple[Family, ...] = (
    Family("qwen2_vl", "Qwen2-VL", ("qwen2_vl",), "5.0.0", "Qwen/Qwen2-VL-2B-Instruct"),
    Family("qwen2_5_vl", "Qwen2.5-VL", ("qwen2_5_vl",), "5.0.0", "Qwen/Qwen2.5-VL-3B-Instruct"),
    Family("qwen3_vl", "Qwen3-VL", ("qwen3_vl", "qwen3_vl_moe"), "5.0.0", "Qwen/Qwen3-VL-2B-Instruct"),
    Family("qwen3_5", "Qwen3.5", ("qwen3_5", "qwen3_5_moe"), "5.2.0", "Qwen/Qwen3.5-0.8B"),
)

# Layer types whose layers form no attention matrix (transformers' names in `text_config.layer_types`).
MAPLESS_LAYER_TYPES = frozenset({"linear_attention"})

# Model types that are Qwen language models without a vision tower: named so the error can say so.
_TEXT_ONLY_HINT = "it has no vision tower (no `vision_config`)"


def supported_names() -> str:
    """The supported families, for error messages."""
    return ", ".join(f"{family.display_name} ({', '.join(family.model_types)})" for family in FAMILIES)


def family_of_model_type(model_type: object) -> Family | None:
    return next((family for family in FAMILIES if model_type in family.model_types), None)


def family_for_config(config: Any, source: str) -> Family:
    """The family of a transformers config, or a ValueError that names the supported families."""
    model_type = getattr(config, "model_type", None)
    family = family_of_model_type(model_type)
    if family is not None:
        return family
    if getattr(config, "vision_config", None) is None:
        raise ValueError(
            f"{source!r} is a text-only model (model_type {model_type!r}): {_TEXT_ONLY_HINT}; "
            f"qvl_widget needs a Qwen vision-language model: {supported_names()}"
        )
    raise ValueError(
        f"{source!r} is a {model_type!r} model, which qvl_widget does not support; "
        f"supported families: {supported_names()}"
    )


def unknown_to_transformers(error: ValueError, source: str) -> ValueError | None:
    """For transformers' "does not recognize this architecture": one line saying which release has it."""
    found = re.search(r"model type `([^`]+)`", str(error))
    if found is None or "does not recognize" not in str(error):
        return None
    import transformers

    model_type = found.group(1)
    family = family_of_model_type(model_type)
    if family is None:
        return ValueError(
            f"{source!r} is a {model_type!r} model, which neither transformers {transformers.__version__} nor "
            f"qvl_widget supports; supported families: {supported_names()}"
        )
    return ValueError(
        f"{source!r} is a {family.display_name} model ({model_type}), which needs transformers >= "
        f"{family.transformers} (installed: {transformers.__version__}): pip install -U "
        f"'transformers>={family.transformers}'"
    )


def attention_layers(text_config: Any) -> tuple[int, ...]:
    """The decoder layers that form attention maps: every layer, or in a hybrid decoder (Qwen3.5) the softmax
    attention layers, as `text_config.layer_types` lists them."""
    count = int(text_config.num_hidden_layers)
    layer_types = getattr(text_config, "layer_types", None)
    if not layer_types:
        return tuple(range(count))
    return tuple(index for index, kind in enumerate(layer_types[:count]) if kind not in MAPLESS_LAYER_TYPES)


def is_hybrid(text_config: Any) -> bool:
    return len(attention_layers(text_config)) < int(text_config.num_hidden_layers)
