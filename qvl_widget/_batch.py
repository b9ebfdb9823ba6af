"""Several prepared inputs as one batch for one forward pass (`LoadedModel.capture_batch`; studies use it).

Inputs batch together when their image and video tokens sit at the same positions (`batch_key`). Shorter ones are
padded on the right: under causal attention no earlier token sees a later one, so every real token computes what it
computes alone (same keys, same rotary positions), and the padding's own rows are never read.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # torch is imported where a batch is made: a study is read without it
    import torch

    from ._inputs import PreparedInputs

# Inputs with one value per token (`[1, sequence]`), and what their padding holds; every other input (pixels,
# grids) is per image or video, concatenated in batch order as the processor does for a batch.
TOKEN_INPUT_PADDING = {"input_ids": None, "attention_mask": 1, "mm_token_type_ids": 0, "token_type_ids": 0}


def batch_key(prepared: PreparedInputs) -> Hashable:
    """Inputs with equal keys batch together: the same image and video token positions and the same input names."""
    return prepared.image_positions.tobytes(), tuple(sorted(prepared.model_inputs))


def batched_query_positions(prepared: Sequence[PreparedInputs]) -> np.ndarray:
    """The query positions of the longest input: every other input's are its first ones (same image positions,
    and query rows are the text tokens after the first image, up to the end)."""
    longest = max(prepared, key=lambda one: len(one.query_positions)).query_positions
    for one in prepared:
        if not np.array_equal(one.query_positions, longest[: len(one.query_positions)]):
            raise ValueError("inputs batched together must share their layout up to the shortest one's end")
    return longest


def batched_model_inputs(prepared: Sequence[PreparedInputs], pad_id: int) -> dict[str, torch.Tensor]:
    """The inputs' model inputs as one batch: per-token inputs padded on the right to the longest, the rest
    concatenated. `pad_id`: the token id the padding holds (any text token: nothing real attends to it)."""
    import torch

    keys = {batch_key(one) for one in prepared}
    if len(keys) != 1:
        raise ValueError("inputs batched together must have their images at the same token positions (batch_key)")
    length = max(int(one.model_inputs["input_ids"].shape[1]) for one in prepared)
    batch: dict[str, torch.Tensor] = {}
    for name in prepared[0].model_inputs:
        values = [_as_tensor(one.model_inputs[name], name) for one in prepared]
        if name in TOKEN_INPUT_PADDING:
            fill = TOKEN_INPUT_PADDING[name]
            value = pad_id if fill is None else fill
            values = [torch.nn.functional.pad(tensor, (0, length - tensor.shape[1]), value=value) for tensor in values]
        batch[name] = torch.cat(values)
    return batch


def _as_tensor(value: Any, name: str) -> torch.Tensor:
    import torch

    if not isinstance(value, torch.Tensor):
        raise TypeError(f"model input {name!r} is a {type(value).__name__}, not a tensor: it cannot be batched")
    return value
