"""The fused Triton kernel computes what `attention_rows` computes, for every mask form, and capture with it
equals eager attention.

Without a GPU the kernel runs in Triton's interpreter (numpy on the CPU; `conftest.py` switches it on).
The interpreter's bf16 matrix product is wrong (it multiplies the raw bits), so bf16 is checked on the GPU
only (`benchmarks/cuda_checks.py`); fp32 and fp16 are checked here.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_capture import PROMPT, benchmark_module, eager_slice, noise_image

import qvl_widget._capture
from qvl_widget._capture import CaptureRequest, attention_rows, capturing
from qvl_widget._families import attention_layers
from qvl_widget._fused_rows import fused_attention_rows
from qvl_widget._host_copy import HostCopier

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"

# 7 groups x 6 rows = 42 (group, row) pairs per KV head: more than one block of the kernel's rows.
BATCH, HEADS, KV_HEADS, KEYS, QUERIES, HEAD_DIM = 2, 14, 2, 150, 9, 24
ROWS = torch.tensor([0, 2, 3, 4, 7, 8])
COLUMNS = torch.tensor([2, 3, 5, 7, 11, 40, 41, 42, 100, 120, 139])
OFFSET = KEYS - QUERIES


@pytest.fixture(scope="module")
def qk() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    query = torch.randn(BATCH, HEADS, QUERIES, HEAD_DIM, generator=generator)
    key = torch.randn(BATCH, KV_HEADS, KEYS, HEAD_DIM, generator=generator)
    return query.to(DEVICE), key.to(DEVICE)


def causal_allowed() -> torch.Tensor:
    allowed = torch.arange(KEYS)[None, :] <= torch.arange(QUERIES)[:, None] + OFFSET
    allowed = allowed[None, None].repeat(BATCH, 1, 1, 1)
    allowed[1, :, :, :30] = False  # the second sequence is left-padded by 30
    allowed[0, :, 2, :] = False  # a fully masked row (a padding query)
    return allowed


def padding_mask() -> torch.Tensor:
    padding = torch.ones(BATCH, KEYS, dtype=torch.int64)
    padding[0, :30] = 0
    return padding


def additive_mask() -> torch.Tensor:
    additive = torch.zeros(causal_allowed().shape).masked_fill(~causal_allowed(), torch.finfo(torch.float32).min)
    additive[0, :, :, 5] -= 2.0  # a soft bias, not just a hard mask
    return additive


MASKS = {
    "none": (None, {}),
    "sliding window": (None, {"sliding_window": 20}),
    "padding": (padding_mask(), {}),
    "bool": (causal_allowed(), {}),
    "additive": (additive_mask(), {}),
}


def both_kernels(query, key, mask, dtype=torch.float32, **options):
    rows, columns = ROWS.to(DEVICE), COLUMNS.to(DEVICE)
    mask = mask.to(DEVICE) if mask is not None else None
    query, key = query.to(dtype), key.to(dtype)
    arguments = dict(rows=rows, columns=columns, query_offset=OFFSET, scaling=0.3, **options)
    attention, mass = attention_rows(query, key, mask, **arguments)
    fused = fused_attention_rows(query, key, mask, **arguments)
    fused_attention = fused[: attention.numel()].view(attention.shape)
    fused_mass = fused[attention.numel() :].view(mass.shape)
    return (fused_attention, fused_mass), (attention, mass)


@pytest.mark.parametrize("mask_name", list(MASKS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16], ids=["fp32", "fp16"])
def test_fused_kernel_equals_the_torch_rows(qk, mask_name, dtype):
    mask, options = MASKS[mask_name]
    (attention, mass), (expected_attention, expected_mass) = both_kernels(*qk, mask, dtype, **options)
    torch.testing.assert_close(attention, expected_attention, rtol=0, atol=1e-6)
    torch.testing.assert_close(mass, expected_mass, rtol=0, atol=1e-6)
    assert expected_attention.amax() > 0.05  # the comparison is not between two near-zero tensors


def test_fused_kernel_writes_into_a_given_buffer(qk):
    """`output=`: the rows and masses go into that flat buffer (pinned host memory on a GPU), of exactly their size."""
    query, key = qk
    rows, columns = ROWS.to(DEVICE), COLUMNS.to(DEVICE)
    expected = fused_attention_rows(query, key, None, rows, columns, OFFSET, 0.3)
    given = torch.full_like(expected, float("nan"))
    assert fused_attention_rows(query, key, None, rows, columns, OFFSET, 0.3, output=given) is given
    torch.testing.assert_close(given, expected, rtol=0, atol=0)
    with pytest.raises(ValueError, match="flat and contiguous"):
        fused_attention_rows(query, key, None, rows, columns, OFFSET, 0.3, output=given[1:])


def test_fully_masked_rows_are_zero(qk):
    (attention, mass), _ = both_kernels(*qk, causal_allowed())
    padding_row = ROWS.tolist().index(2)
    assert attention[0, :, padding_row].abs().max() == 0 and mass[0, :, padding_row].abs().max() == 0


def test_fused_kernel_writes_the_storage_dtype(qk):
    query, key = qk
    rows, columns = ROWS.to(DEVICE), COLUMNS.to(DEVICE)
    half = fused_attention_rows(query, key, None, rows, columns, OFFSET, 0.3, output_dtype=torch.float16)
    exact = fused_attention_rows(query, key, None, rows, columns, OFFSET, 0.3)
    assert half.dtype == torch.float16
    torch.testing.assert_close(half.float(), exact, rtol=1e-3, atol=1e-4)


def test_capture_with_the_fused_kernel_equals_eager(tiny):
    if tiny.device.type != DEVICE:
        pytest.fail(f"the tiny models are on {tiny.device}, the kernel test runs on {DEVICE}")
    image = noise_image(100, 60)
    fused = tiny.capture(image, PROMPT, kernel="fused")
    reference = eager_slice(tiny, image, PROMPT)
    np.testing.assert_allclose(fused.attention, reference, rtol=0, atol=1e-5)
    np.testing.assert_allclose(fused.image_mass, reference.sum(axis=-1), rtol=0, atol=1e-5)


def test_auto_uses_the_fused_kernel_only_on_cuda(qwen2, monkeypatch):
    calls = []
    import qvl_widget._fused_rows as module

    original = module.fused_attention_rows
    monkeypatch.setattr(module, "fused_attention_rows", lambda *a, **k: calls.append(1) or original(*a, **k))
    qwen2.capture(noise_image(64, 64), PROMPT)
    layers = qwen2.model.config.get_text_config().num_hidden_layers
    assert len(calls) == (layers if DEVICE == "cuda" else 0)


def test_unknown_kernel_is_a_clear_error(qwen2):
    with pytest.raises(ValueError, match="kernel must be one of auto, fused, torch, not 'triton'"):
        qwen2.capture(noise_image(64, 64), PROMPT, kernel="triton")


def test_auto_falls_back_to_the_torch_rows_when_the_kernel_fails(qwen2, monkeypatch):
    """On a GPU Triton cannot compile for, "auto" still captures (one warning); "fused" raises the error."""
    import qvl_widget._fused_rows as module

    def broken_kernel(*arguments, **options):
        raise RuntimeError("no bf16 dot on this GPU")

    monkeypatch.setattr(qvl_widget._capture, "FUSED_KERNEL_DEVICES", ("cuda", "cpu"))
    monkeypatch.setattr(qvl_widget._capture, "_fused_kernel_failed", set())
    monkeypatch.setattr(module, "fused_attention_rows", broken_kernel)
    image = noise_image(64, 64)
    with pytest.warns(UserWarning, match="no bf16 dot on this GPU.*kernel='torch'") as warned:
        result = qwen2.capture(image, PROMPT)
    assert len(warned) == 1  # later layers go straight to the torch rows
    np.testing.assert_array_equal(result.attention, qwen2.capture(image, PROMPT, kernel="torch").attention)
    with pytest.raises(RuntimeError, match="no bf16 dot"):
        qwen2.capture(image, PROMPT, kernel="fused")


def capture_rows(model, prepared, **options) -> torch.Tensor:
    """`[layers, B, H, Q, I]` from one capture forward with a staged copier (the GPU's path, forced here)."""
    request = CaptureRequest(
        torch.as_tensor(prepared.query_positions),
        torch.as_tensor(prepared.image_positions),
        copier=HostCopier(staged=True),
        **options,
    )
    with capturing(model.model, request), torch.inference_mode():
        model.model(**prepared.model_inputs, use_cache=False)
    return request.all_layers()


def test_the_kernel_can_write_rows_straight_to_host_memory(tiny, monkeypatch):
    """The benchmark's variant "kernel writes to host" (`benchmarks/host_path_variants.py`): the fused kernel
    writes every layer's rows into a staging buffer, with the same rows and masses as through a device buffer."""
    variants = benchmark_module("host_path_variants")
    prepared = tiny.prepare(noise_image(100, 60), PROMPT)
    through_device = capture_rows(tiny, prepared, kernel="fused")
    monkeypatch.setattr(qvl_widget._capture, "FUSED_KERNEL_DEVICES", ("cuda", "cpu"))  # for "auto", as on CUDA
    monkeypatch.setattr(variants, "host_writes_failed", set())
    written = []
    copy_written = variants.copy_written
    monkeypatch.setattr(variants, "copy_written", lambda *arguments: written.append(1) or copy_written(*arguments))
    with variants.VARIANTS["kernel writes to host"]():
        written_to_host = capture_rows(tiny, prepared)
    assert len(written) == len(attention_layers(tiny.model.config.get_text_config()))  # every layer took this path
    assert not variants.host_writes_failed
    for host, device in zip(written_to_host, through_device, strict=True):
        torch.testing.assert_close(host, device, rtol=0, atol=0)


def test_a_kernel_that_cannot_write_to_host_memory_writes_to_the_device(qwen2, monkeypatch):
    """Where the kernel cannot write to host memory, the variant warns once and takes the package's path."""
    import qvl_widget._fused_rows as module

    variants = benchmark_module("host_path_variants")
    original = module.fused_attention_rows

    def no_host_pointers(*arguments, output=None, **options):
        if output is not None:
            raise ValueError("Pointer argument (at 5) cannot be accessed from Triton (cpu tensor?)")
        return original(*arguments, **options)

    prepared = qwen2.prepare(noise_image(64, 64), PROMPT)
    expected = capture_rows(qwen2, prepared, kernel="fused")
    monkeypatch.setattr(variants, "host_writes_failed", set())
    monkeypatch.setattr(module, "fused_attention_rows", no_host_pointers)
    with (
        variants.VARIANTS["kernel writes to host"](),
        pytest.warns(UserWarning, match="cannot write to host") as warned,
    ):
        rows = capture_rows(qwen2, prepared, kernel="fused")
    assert len(warned) == 1
    assert variants.host_writes_failed == {torch.device("cpu")}
    for layer, expected_layer in zip(rows, expected, strict=True):
        torch.testing.assert_close(layer, expected_layer, rtol=0, atol=0)
