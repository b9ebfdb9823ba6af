"""Rows from the model's own attention's log-sum-exp (the CPU path, `qvl_widget/_lse_rows.py`): the same output
as sdpa, bit for bit; the same probabilities as a full softmax; taken on every tiny family; and never a second
pass over the whole sequence."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F  # noqa: N812  (the name PyTorch's documentation uses)

import qvl_widget
from qvl_widget import _capture, _lse_rows
from qvl_widget._lse_rows import CatchLogSumExp, rows_from_log_sum_exp


def softmax_rows(query, key, scale, mask, rows, columns):
    """The reference: fp32 softmax of the whole rows (GQA keys repeated), then the kept columns."""
    groups = query.shape[1] // key.shape[1]
    keys = key.float().repeat_interleave(groups, dim=1)
    logits = (query.float() @ keys.transpose(-1, -2)) * scale
    if mask is not None:
        logits = logits.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else logits + mask.float()
    return torch.softmax(logits, dim=-1)[:, :, rows][..., columns]


def causal(length: int) -> torch.Tensor:
    return torch.ones(length, length, dtype=torch.bool).tril()[None, None]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("mask_kind", ["causal flag", "bool mask", "additive mask"])
def test_the_caught_call_gives_sdpas_output_and_the_full_softmaxs_rows(dtype, mask_kind):
    torch.manual_seed(0)
    length, heads, kv_heads = 96, 4, 2
    query = torch.randn(1, heads, length, 16, dtype=dtype)
    key, value = torch.randn(1, kv_heads, length, 16, dtype=dtype), torch.randn(1, kv_heads, length, 16, dtype=dtype)
    mask = {"causal flag": None, "bool mask": causal(length), "additive mask": None}[mask_kind]
    if mask_kind == "additive mask":
        mask = torch.zeros(1, 1, length, length, dtype=dtype).masked_fill(~causal(length), float("-inf"))
        mask[..., 3] += 0.5  # a bias the rows must carry too
    arguments = dict(attn_mask=mask, is_causal=mask is None, scale=0.3, enable_gqa=True)
    expected = F.scaled_dot_product_attention(query, key, value, **arguments)
    with CatchLogSumExp() as catch:
        output = F.scaled_dot_product_attention(query, key, value, **arguments)
    assert catch.call is not None and torch.equal(output, expected)
    rows, columns = torch.arange(20, length), torch.tensor([0, 3, 5, 40, 60, 95])  # some columns after some rows
    attention, mass = rows_from_log_sum_exp(catch.call, rows, columns, chunk_bytes=4096)  # many chunks
    full_mask = causal(length) if mask is None else mask
    reference = softmax_rows(query, key, 0.3, full_mask, rows, columns)
    torch.testing.assert_close(attention, reference, rtol=0, atol=1e-6)
    torch.testing.assert_close(mass, reference.sum(-1), rtol=0, atol=1e-6)
    assert attention[0, 0, 0, 3:].eq(0).all()  # row 20 sees no key after it


def test_calls_sdpa_would_not_run_on_the_flash_kernel_run_as_they_are():
    query = torch.randn(1, 2, 8, 16)
    with CatchLogSumExp() as catch:
        F.scaled_dot_product_attention(query, query, query, dropout_p=0.5)  # dropout: not the flash kernel
        F.scaled_dot_product_attention(query[:, :, :3], query, query, is_causal=True)  # causal, not square
    assert catch.call is None


def count_calls(monkeypatch, module, name: str) -> list:
    calls: list = []
    original = getattr(module, name)

    def counted(*arguments, **options):
        calls.append(1)
        return original(*arguments, **options)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_every_family_captures_through_the_log_sum_exp_and_gets_the_same_rows(tiny, monkeypatch):
    """The route is taken on the CPU (no full pass of `attention_rows`), and gives what the full rows give."""
    image = qvl_widget.example_image()
    prompt = "Where is the red cat? " * 8
    from_lse = count_calls(monkeypatch, _capture, "rows_from_log_sum_exp")
    full = count_calls(monkeypatch, _capture, "attention_rows")
    captured = tiny.capture([image, image.rotate(90)], prompt)  # rows between the images see only the first
    assert from_lse and not full
    monkeypatch.setattr(_capture, "_log_sum_exp_route", lambda *arguments: False)
    reference = tiny.capture([image, image.rotate(90)], prompt)
    assert full
    assert captured.attention.shape == reference.attention.shape
    assert abs(captured.attention - reference.attention).max() <= 1e-6
    assert abs(captured.image_mass - reference.image_mass).max() <= 1e-6


def test_an_answer_is_captured_through_the_log_sum_exp_with_the_same_tokens(qwen2, monkeypatch):
    image = qvl_widget.example_image()
    answered = qwen2.capture(image, "What is on the image?", answer=True, max_new_tokens=6)
    monkeypatch.setattr(_capture, "_log_sum_exp_route", lambda *arguments: False)
    reference = qwen2.capture(image, "What is on the image?", answer=True, max_new_tokens=6)
    assert [token.text for token in answered.tokens] == [token.text for token in reference.tokens]
    assert abs(answered.attention - reference.attention).max() <= 1e-6


def test_the_rows_cost_queries_times_image_tokens_not_the_sequence_squared(qwen2, monkeypatch):
    """No tensor of the rows' work spans the whole key sequence: the largest one made per chunk has one entry per
    image token (a second pass over every key would make [rows, sequence] logits)."""
    largest: list[int] = []
    original = _lse_rows.torch.baddbmm

    def recorded(*arguments, **options):
        product = original(*arguments, **options)
        largest.append(product.shape[-1])
        return product

    monkeypatch.setattr(_lse_rows.torch, "baddbmm", recorded)
    image = qvl_widget.example_image()
    captured = qwen2.capture(image, "Where is the cat? " * 40)
    columns = captured.attention.shape[-1]
    assert largest and max(largest) == columns  # logits [rows, image tokens], never [rows, sequence]


def test_the_full_rows_keep_no_bias_per_chunk_across_layers():
    """Where the rows need several chunks, no chunk's bias is kept for the next layer: kept, they would add up to a
    mask over the whole sequence (0.74 GiB at 8,000 text tokens)."""
    torch.manual_seed(0)
    query, key = torch.randn(1, 4, 64, 16), torch.randn(1, 2, 64, 16)
    rows, columns = torch.arange(10, 64), torch.arange(0, 8)
    arguments = dict(query_offset=0, scaling=0.25)
    shared: dict = {}
    _capture.attention_rows(query, key, None, rows, columns, chunk_bytes=4096, shared=shared, **arguments)
    assert not [key for key in shared if key[0] == "causal bias"]
    _capture.attention_rows(query, key, None, rows, columns, shared=shared, **arguments)  # one chunk: kept
    assert len([key for key in shared if key[0] == "causal bias"]) == 1


def test_the_memory_check_counts_the_rows_working_memory(qwen2, monkeypatch):
    image, prompt = qvl_widget.example_image(), "Where is the cat?"
    size = qwen2.capture(image, prompt).attention.nbytes
    result_bytes = size + size // 300  # the image shares too, within a rounding
    # All the rows against all the keys (fp32 logits and probabilities) take more than 32 KiB: a chunk is the
    # working memory.
    result = qwen2.capture(image, prompt)
    assert 8 * result.num_heads * result.num_queries * result.image_positions.max() > 2**15
    monkeypatch.setattr("qvl_widget._memory.available_bytes", lambda: result_bytes + 2**14)
    with pytest.raises(MemoryError, match="this capture's result would take"):
        qwen2.capture(image, prompt, chunk_bytes=2**15)  # result + 32 KiB of chunk > what is free
    assert qwen2.capture(image, prompt, chunk_bytes=2**12).attention.nbytes == size
