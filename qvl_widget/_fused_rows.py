"""The captured rows in one fused GPU kernel (Triton): what `attention_rows` computes, without its temporaries.

On a GPU the model's forward pass at a few hundred image tokens is bound by kernel launches, and the plain
row computation adds about ten launches and several fp32 `rows x keys` buffers per layer. This kernel reads
the bf16/fp16/fp32 queries and keys where they are, makes the softmax statistics of every kept row in one
streaming pass over the keys (online max and sum, as flash attention does), then computes the probabilities of
the image columns only and writes them, and each row's mass on them, into one buffer. Memory: that output
only. Launches: one.

Products are accumulated in fp32; fp32 inputs use exact (IEEE) products, not TF32.
Masks: None (causal, bottom-right aligned, optional sliding window), a `[B, S_k]` padding mask (flash
attention), and 4-D bool or additive masks, as `attention_rows` documents. Softcapping is left to it.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

_BLOCK_ROWS = 32
_BLOCK_KEYS = 64
_MASK_NONE, _MASK_PADDING, _MASK_BOOL, _MASK_ADDITIVE = 0, 1, 2, 3


@triton.jit
def _allowed_logits(
    logits,
    query_positions,
    key_positions,
    key_length,
    mask_rows,
    mask_base,
    mask_key_stride,
    sliding_window,
    MASK_KIND: tl.constexpr,
    WINDOW: tl.constexpr,
):
    """The logits with the mask applied: -inf where a row may not attend (see the module docstring)."""
    inside = key_positions[None, :] < key_length
    if MASK_KIND < 2:
        allowed = inside & (key_positions[None, :] <= query_positions[:, None])
        if WINDOW:
            allowed = allowed & (key_positions[None, :] > query_positions[:, None] - sliding_window)
        if MASK_KIND == 1:
            padding = tl.load(mask_base + key_positions * mask_key_stride, mask=key_positions < key_length, other=0)
            allowed = allowed & (padding != 0)[None, :]
    else:
        pointers = mask_rows[:, None] + key_positions[None, :] * mask_key_stride
        values = tl.load(pointers, mask=inside, other=0)
        if MASK_KIND == 2:
            allowed = inside & (values != 0)
        else:
            allowed = inside
            logits = logits + values.to(tl.float32)
    return tl.where(allowed, logits, float("-inf"))


@triton.jit
def _masked_logits(
    queries,
    key_base,
    key_strides_s,
    key_positions,
    key_valid,
    dims,
    dim_valid,
    scaling,
    query_positions,
    key_length,
    mask_rows,
    mask_base,
    mask_key_stride,
    sliding_window,
    MASK_KIND: tl.constexpr,
    WINDOW: tl.constexpr,
    IEEE: tl.constexpr,
):
    """`queries @ keys^T * scaling` for the keys at `key_positions`, masked (both passes use this)."""
    keys = tl.load(
        key_base + key_positions[None, :] * key_strides_s + dims[:, None],
        mask=key_valid[None, :] & dim_valid[:, None],
        other=0.0,
    )
    if IEEE:
        logits = tl.dot(queries, keys, input_precision="ieee")
    else:
        logits = tl.dot(queries, keys)
    return _allowed_logits(
        logits * scaling,
        query_positions,
        key_positions,
        key_length,
        mask_rows,
        mask_base,
        mask_key_stride,
        sliding_window,
        MASK_KIND,
        WINDOW,
    )


# Sizes and offsets change with every image: not specialising on them (e.g. "divisible by 16") keeps one
# compiled kernel for all images instead of one per size class.
@triton.jit(do_not_specialize=["row_count", "column_count", "query_offset", "key_length", "sliding_window"])
def fused_rows_kernel(
    query,
    key,
    rows,
    columns,
    mask,
    output,
    query_strides_b,
    query_strides_h,
    query_strides_s,
    key_strides_b,
    key_strides_h,
    key_strides_s,
    mask_strides_b,
    mask_strides_h,
    mask_strides_q,
    mask_strides_k,
    kv_heads,
    groups,
    row_count,
    column_count,
    query_offset,
    key_length,
    scaling,
    sliding_window,
    HEAD_DIM: tl.constexpr,
    BLOCK_DIM: tl.constexpr,
    BLOCK_ROWS: tl.constexpr,
    BLOCK_KEYS: tl.constexpr,
    MASK_KIND: tl.constexpr,
    WINDOW: tl.constexpr,
    IEEE: tl.constexpr,
):
    # One program: one sequence and KV head, a block of (group, row) pairs that share its keys.
    batch_kv = tl.program_id(0)
    batch = batch_kv // kv_heads
    kv_head = batch_kv % kv_heads
    pairs = tl.program_id(1) * BLOCK_ROWS + tl.arange(0, BLOCK_ROWS)
    pair_valid = pairs < groups * row_count
    head = kv_head * groups + pairs // row_count
    row_index = pairs % row_count
    row = tl.load(rows + row_index, mask=pair_valid, other=0)  # relative to this call's queries
    query_positions = row + query_offset  # absolute, comparable with key positions
    dims = tl.arange(0, BLOCK_DIM)
    dim_valid = dims < HEAD_DIM
    queries = tl.load(
        query
        + batch * query_strides_b
        + head[:, None] * query_strides_h
        + row[:, None] * query_strides_s
        + dims[None, :],
        mask=pair_valid[:, None] & dim_valid[None, :],
        other=0.0,
    )
    key_base = key + batch * key_strides_b + kv_head * key_strides_h
    mask_base = mask + batch * mask_strides_b
    mask_rows = mask_base + head * mask_strides_h + row * mask_strides_q

    # Pass 1: each row's max and sum of exp over every key it may attend to (online softmax).
    row_max = tl.full([BLOCK_ROWS], float("-inf"), tl.float32)
    row_sum = tl.zeros([BLOCK_ROWS], tl.float32)
    last_key = tl.minimum(tl.max(tl.where(pair_valid, query_positions, 0)) + 1, key_length)
    if MASK_KIND >= 2:
        last_key = key_length  # a 4-D mask may allow any key
    for start in range(0, last_key, BLOCK_KEYS):
        key_positions = start + tl.arange(0, BLOCK_KEYS)
        logits = _masked_logits(
            queries,
            key_base,
            key_strides_s,
            key_positions,
            key_positions < key_length,
            dims,
            dim_valid,
            scaling,
            query_positions,
            key_length,
            mask_rows,
            mask_base,
            mask_strides_k,
            sliding_window,
            MASK_KIND,
            WINDOW,
            IEEE,
        )
        new_max = tl.maximum(row_max, tl.max(logits, axis=1))
        safe_max = tl.where(new_max == float("-inf"), 0.0, new_max)  # a row with nothing allowed yet
        row_sum = row_sum * tl.exp(row_max - safe_max) + tl.sum(tl.exp(logits - safe_max[:, None]), axis=1)
        row_max = new_max
    safe_max = tl.where(row_max == float("-inf"), 0.0, row_max)
    inverse_sum = 1.0 / tl.where(row_sum > 0, row_sum, float("inf"))  # fully masked rows (padding) -> 0

    # Pass 2: the probabilities of the image columns, and their sum per row.
    output_row = (batch * kv_heads * groups + head) * row_count + row_index  # in [B, H, rows]
    # 64-bit offsets: rows x image columns x heads passes 2^31 for long videos.
    output_rows = output + output_row.to(tl.int64) * column_count
    mass = tl.zeros([BLOCK_ROWS], tl.float32)
    for start in range(0, column_count, BLOCK_KEYS):
        column_index = start + tl.arange(0, BLOCK_KEYS)
        column_valid = column_index < column_count
        key_positions = tl.load(columns + column_index, mask=column_valid, other=0)
        logits = _masked_logits(
            queries,
            key_base,
            key_strides_s,
            key_positions,
            column_valid,
            dims,
            dim_valid,
            scaling,
            query_positions,
            key_length,
            mask_rows,
            mask_base,
            mask_strides_k,
            sliding_window,
            MASK_KIND,
            WINDOW,
            IEEE,
        )
        probabilities = tl.exp(logits - safe_max[:, None]) * inverse_sum[:, None]
        probabilities = tl.where(column_valid[None, :], probabilities, 0.0)
        mass += tl.sum(probabilities, axis=1)
        tl.store(
            output_rows[:, None] + column_index[None, :],
            probabilities.to(output.dtype.element_ty),
            mask=pair_valid[:, None] & column_valid[None, :],
        )
    all_rows = (tl.num_programs(0) // kv_heads) * kv_heads * groups * row_count
    masses = output + all_rows.to(tl.int64) * column_count
    tl.store(masses + output_row, mass.to(output.dtype.element_ty), mask=pair_valid)


def fused_attention_rows(
    query: torch.Tensor,
    key: torch.Tensor,
    attention_mask: torch.Tensor | None,
    rows: torch.Tensor,
    columns: torch.Tensor,
    query_offset: int,
    scaling: float,
    sliding_window: int | None = None,
    output_dtype: torch.dtype = torch.float32,
    output: torch.Tensor | None = None,
) -> torch.Tensor:
    """`attention_rows`' results in one flat buffer: the probabilities `[B, H, len(rows), len(columns)]`, then
    the masses `[B, H, len(rows)]` (one buffer: one copy to the host). Arguments as for `attention_rows`
    (`rows` and `columns` on the query's device; a 4-D mask already holds any sliding window).
    `output`: a flat buffer of that size to write into instead of a new one on the device; pinned host memory
    works (the GPU writes the rows straight to the host).
    """
    batch, heads, _, head_dim = query.shape
    kv_heads, key_length = key.shape[1], key.shape[2]
    groups = heads // kv_heads
    if query.stride(-1) != 1 or key.stride(-1) != 1:
        query, key = query.contiguous(), key.contiguous()
    mask_kind, mask, mask_strides = _mask_layout(attention_mask, query)
    row_count, column_count = rows.shape[0], columns.shape[0]  # not len(): it is slow, and this runs per layer
    size = batch * heads * row_count * (column_count + 1)
    if output is None:
        output = torch.empty(size, dtype=output_dtype, device=query.device)
    elif output.shape != (size,) or not output.is_contiguous():
        raise ValueError(f"the output buffer must be flat and contiguous with {size} elements")
    grid = (batch * kv_heads, -(-groups * row_count // _BLOCK_ROWS))
    fused_rows_kernel[grid](
        query,
        key,
        rows,
        columns,
        mask,
        output,
        *query.stride()[:3],
        *key.stride()[:3],
        *mask_strides,
        kv_heads,
        groups,
        row_count,
        column_count,
        query_offset,
        key_length,
        float(scaling),
        sliding_window or 0,
        HEAD_DIM=head_dim,
        BLOCK_DIM=max(16, 1 << (head_dim - 1).bit_length()),
        BLOCK_ROWS=_BLOCK_ROWS,
        BLOCK_KEYS=_BLOCK_KEYS,
        MASK_KIND=mask_kind,
        WINDOW=sliding_window is not None,
        IEEE=query.dtype == torch.float32,
    )
    return output


def _mask_layout(attention_mask: torch.Tensor | None, query: torch.Tensor) -> tuple[int, torch.Tensor, list[int]]:
    """The kernel's mask kind, a tensor to read it from, and its (batch, head, query, key) strides; broadcast
    dimensions get stride 0."""
    if attention_mask is None:
        return _MASK_NONE, query, [0, 0, 0, 0]
    if attention_mask.dim() == 2:
        return _MASK_PADDING, attention_mask, [attention_mask.stride(0), 0, 0, attention_mask.stride(1)]
    if attention_mask.dim() != 4:
        raise RuntimeError(f"unexpected attention mask of shape {tuple(attention_mask.shape)} during capture")
    strides = [
        0 if size == 1 else stride for size, stride in zip(attention_mask.shape, attention_mask.stride(), strict=True)
    ]
    kind = _MASK_BOOL if attention_mask.dtype == torch.bool else _MASK_ADDITIVE
    return kind, attention_mask, strides
