"""Kept rows at the cost of the model's own attention, on the CPU: from its flash kernel's log-sum-exp.

Where `scaled_dot_product_attention` runs PyTorch's CPU flash kernel (causal or masked attention without dropout,
what sdpa runs there for a prompt), that kernel also returns each query row's log-sum-exp, `lse = log sum_k
exp(q . k * scale + mask)`. `CatchLogSumExp` runs the model's one sdpa call as that very kernel (the output is the
same, bit for bit: it is what the call runs) and keeps the log-sum-exp; the probabilities on the image keys are then
`exp(q . k_image * scale + mask - lse)`: queries x image tokens of work and memory, no second pass over the text
keys and no mask over the whole sequence. `rows_from_log_sum_exp` computes them in chunks of rows.

The kernel's log-sum-exp is exact to float32 rounding for float32 inputs; for float16 / bfloat16 inputs the kernel
rounds on the way, so the rows' log-sum-exp is computed once more in float32 from the same q and k (one more pass of
the kernel, still linear in memory): the rows are the float32 softmax of the model's own q and k, as everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn.attention import SDPBackend
from torch.nn.functional import scaled_dot_product_attention
from torch.overrides import TorchFunctionMode

_FLASH = int(SDPBackend.FLASH_ATTENTION.value)
CACHED_CHUNK_BYTES = 16 * 2**20  # fastest of 4-256 MiB at 2B widths (BENCHMARKS.md, long prompts)


@dataclass
class SdpaCall:
    """One `scaled_dot_product_attention` call as the CPU flash kernel ran it, with its rows' log-sum-exp."""

    query: torch.Tensor  # [B, H, S_q, D]
    key: torch.Tensor  # [B, KV_H, S_k, D]
    additive_mask: torch.Tensor | None  # float, broadcastable to [B, H, S_q, S_k]
    is_causal: bool
    scale: float
    log_sum_exp: torch.Tensor  # [B, H, S_q] float32


class CatchLogSumExp(TorchFunctionMode):
    """Within the block, the first `scaled_dot_product_attention` call that would run the CPU flash kernel runs as
    that kernel directly, and `call` keeps what it computed the rows from; other calls run as they are."""

    def __init__(self) -> None:
        super().__init__()
        self.call: SdpaCall | None = None

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is not scaled_dot_product_attention or self.call is not None:
            return func(*args, **kwargs)
        caught = _flash_call(*args, **kwargs)
        if caught is None:
            return func(*args, **kwargs)
        output, self.call = caught
        return output


def _flash_call(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attn_mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> tuple[torch.Tensor, SdpaCall] | None:
    """The call run as the CPU flash kernel, where sdpa itself would run that kernel; else None."""
    if query.device.type != "cpu" or dropout_p != 0.0 or query.dim() != 4:
        return None
    if is_causal and query.shape[2] != key.shape[2]:
        return None  # sdpa aligns a non-square causal mask top-left; transformers never asks for one
    choice = torch._fused_sdp_choice(
        query, key, value, attn_mask, dropout_p, is_causal, scale=scale, enable_gqa=enable_gqa
    )
    if choice != _FLASH:
        return None
    mask = _additive(attn_mask, query.dtype)
    scale = query.shape[-1] ** -0.5 if scale is None else scale
    output, log_sum_exp = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
        query, key, value, 0.0, is_causal, attn_mask=mask, scale=scale
    )
    if query.dtype != torch.float32:  # the kernel's own sum is rounded: the rows get one in float32
        exact = query.float(), key.float()
        log_sum_exp = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
            *exact, exact[1], 0.0, is_causal, attn_mask=None if mask is None else mask.float(), scale=scale
        )[1]
    return output, SdpaCall(query, key, mask, is_causal, scale, log_sum_exp)


def _additive(mask: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """A boolean mask as sdpa turns it into an additive one (0 where True, -inf where False); others as they are."""
    if mask is None or mask.dtype != torch.bool:
        return mask
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill_(~mask, float("-inf"))


@torch.no_grad()
def rows_from_log_sum_exp(
    call: SdpaCall,
    rows: torch.Tensor,
    columns: torch.Tensor,
    chunk_bytes: int,
    out: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """fp32 probabilities of query `rows` (indices into the call's queries) on key `columns`, and each row's mass
    on them: `[B, H, len(rows), len(columns)]` and `[B, H, len(rows)]`, written chunk by chunk into `out` where
    given (then the working memory is one chunk, `chunk_bytes`). The causal rule and the call's mask are applied on
    these entries only."""
    query, key = call.query, call.key
    batch, heads, _, head_dim = query.shape
    width = len(columns)
    if out is None:
        out = (
            query.new_empty(batch, heads, len(rows), width, dtype=torch.float32),
            query.new_empty(batch, heads, len(rows), dtype=torch.float32),
        )
    # Each head's own copy of its key-value head's image keys, `[B * H, D, I]`: one batched product per chunk whose
    # output is the result's own memory (the result is `[B, H, rows, I]`), no temporary and no copy.
    image_keys = key.index_select(2, columns).float().repeat_interleave(heads // key.shape[1], dim=1)
    image_keys = image_keys.transpose(-1, -2).reshape(batch * heads, head_dim, width)
    # A chunk's logits take at most `chunk_bytes`, no more than the layer's queries themselves (in float32: the rows'
    # working memory, where storage is half precision, stays that of an activation the forward holds anyway), and
    # at most CACHED_CHUNK_BYTES, so that the exp and the sum read the chunk from the cache its product was written to.
    budget = min(chunk_bytes, max(query.numel() * 4, 2**20), CACHED_CHUNK_BYTES)
    rows_per_chunk = max(1, budget // (4 * batch * heads * max(1, width)))
    last_column = int(columns.max()) if width else -1
    for start in range(0, len(rows), rows_per_chunk):
        chunk = rows[start : start + rows_per_chunk]
        target = out[0][:, :, start : start + len(chunk)]
        if target.dtype != torch.float32:  # half-precision storage: computed in float32, then stored
            target = torch.empty(target.shape, dtype=torch.float32)
        logits = target.view(batch * heads, len(chunk), width)
        queries = query[:, :, chunk].float().reshape(batch * heads, len(chunk), head_dim)
        shift = call.log_sum_exp[:, :, chunk].neg().reshape(batch * heads, len(chunk), 1)
        torch.baddbmm(shift, queries, image_keys, alpha=call.scale, out=logits)  # q . k * scale - lse
        if call.additive_mask is not None:
            target += call.additive_mask[..., chunk, :][..., columns].float()
        if call.is_causal and last_column > int(chunk.min()):  # square (`_flash_call`): a row's position is its index
            target.masked_fill_(columns[None, :] > chunk[:, None], float("-inf"))
        target.exp_()
        if not torch.isfinite(shift).all():  # a row with nothing to attend to (-inf - -inf) has none
            target.nan_to_num_(0.0)
        out[1][:, :, start : start + len(chunk)] = target.sum(dim=-1)
        if out[0].dtype != torch.float32:
            out[0][:, :, start : start + len(chunk)] = target
    return out
