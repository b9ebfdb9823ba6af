"""The Qwen vision-language families qvl_widget supports, and what it needs to know about each.

All supported families share one token layout: `<|vision_start|>`, one `<|image_pad|>` per merged image
token, `<|vision_end|>`; merged tokens in row-major order over a grid of `grid_thw / merge_size` cells.
They differ in patch size (read from the processor) and in how the vision tower is built, which capture
never touches. A family entry is therefore small: its name, its `model_type`s and a display name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Family:
    """One supported model family."""

    name: str
    display_name: str
    model_types: tuple[str, ...]


FAMILIES: tuple[Family, ...] = (
    Family("qwen2_vl", "Qwen2-VL", ("qwen2_vl",)),
    Family("qwen2_5_vl", "Qwen2.5-VL", ("qwen2_5_vl",)),
    Family("qwen3_vl", "Qwen3-VL", ("qwen3_vl", "qwen3_vl_moe")),
)

# Model types that are Qwen language models without a vision tower: named so the error can say so.
_TEXT_ONLY_HINT = "it has no vision tower (no `vision_config`)"


def supported_names() -> str:
    """The supported families, for error messages."""
    return ", ".join(f"{family.display_name} ({', '.join(family.model_types)})" for family in FAMILIES)


def family_for_config(config: Any, source: str) -> Family:
    """The family of a transformers config, or a ValueError that names the supported families."""
    model_type = getattr(config, "model_type", None)
    for family in FAMILIES:
        if model_type in family.model_types:
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
