"""Faithfulness checks on a CUDA GPU (CI has none; run this where one is lent).

For each tiny model family, on CUDA, with each row kernel (the fused Triton one and plain torch) and with the
fused one taking each host path of `host_path_variants.py` (the kernel writing straight to host memory; the
copies on the compute stream): captured attention vs eager `output_attentions` (fp32), and logits with capture
vs a plain SDPA forward (fp32 and bf16, which must be bit-identical). Then the fused kernel against the torch
rows at the Qwen2-VL-7B head layout in bf16, fp16 and fp32 for every mask form (Triton's CPU interpreter, which
the test suite uses, cannot do bf16).
Prints one line per check and exits non-zero if any fails.
"""

from __future__ import annotations

import contextlib
import itertools
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from host_path_variants import VARIANTS, host_writes_failed  # beside this script
from PIL import Image

import qvl_widget
from qvl_widget._capture import CaptureRequest, attention_rows, capturing
from qvl_widget._fused_rows import fused_attention_rows
from qvl_widget.testing import TINY_FAMILIES, build_tiny_model

PROMPT = "Where is the red cat on the image?"


def eager_slice(model: qvl_widget.LoadedModel, prepared) -> np.ndarray:
    inputs = {name: value.to(model.device) for name, value in prepared.model_inputs.items()}
    original = model.model.config.get_text_config()._attn_implementation
    model.model.set_attn_implementation({"text_config": "eager"})
    try:
        with torch.no_grad():
            output = model.model(**inputs, output_attentions=True, use_cache=False)
    finally:
        model.model.set_attn_implementation({"text_config": original})
    full = torch.stack([layer[0] for layer in output.attentions]).float().cpu().numpy()
    return full[:, :, prepared.query_positions][:, :, :, prepared.image_positions]


def logits_unchanged(model: qvl_widget.LoadedModel, prepared, kernel: str) -> bool:
    inputs = {name: value.to(model.device) for name, value in prepared.model_inputs.items()}
    positions = torch.as_tensor(prepared.query_positions), torch.as_tensor(prepared.image_positions)
    with torch.no_grad(), row_kernel(kernel) as name:
        plain = model.model(**inputs).logits
        with capturing(model.model, CaptureRequest(*positions, kernel=name)):
            captured = model.model(**inputs).logits
    return torch.equal(plain, captured)


def fused_against_torch_rows() -> int:
    """Failures of the fused kernel against `attention_rows` on random 7B-shaped heads, every mask form."""
    generator = torch.Generator(device="cuda").manual_seed(0)
    heads, kv_heads, keys, head_dim = 28, 4, 1500, 128
    rows = torch.arange(keys - 42, keys, device="cuda")
    columns = torch.arange(20, 20 + 1024, device="cuda")
    query = torch.randn(2, heads, keys, head_dim, device="cuda", generator=generator)
    key = torch.randn(2, kv_heads, keys, head_dim, device="cuda", generator=generator)
    allowed = torch.ones(keys, keys, device="cuda").tril().bool()[None, None].repeat(2, 1, 1, 1)
    allowed[1, ..., :7] = False  # left padding
    padding = torch.ones(2, keys, dtype=torch.int64, device="cuda")
    padding[1, :7] = 0
    additive = torch.zeros(allowed.shape, device="cuda").masked_fill(~allowed, torch.finfo(torch.float32).min)
    masks = {"none": (None, None), "window": (None, 700), "padding": (padding, None), "bool": (allowed, None)}
    masks["additive"] = (additive, None)
    failures = 0
    for dtype in (torch.bfloat16, torch.float16, torch.float32):
        for name, (mask, window) in masks.items():
            arguments = dict(rows=rows, columns=columns, query_offset=0, scaling=head_dim**-0.5, sliding_window=window)
            q, k = query.to(dtype), key.to(dtype)
            attention, mass = attention_rows(q, k, mask, **arguments)
            fused = fused_attention_rows(q, k, mask, **arguments)
            difference = max(
                float((fused[: attention.numel()].view(attention.shape) - attention).abs().max()),
                float((fused[attention.numel() :].view(mass.shape) - mass).abs().max()),
            )
            failures += difference > 1e-5
            print(f"fused vs torch rows, {dtype!s:15s} mask {name:8s}: max difference {difference:.2e} (limit 1e-5)")
    return failures


# The row paths checked: the fused and torch kernels, and the fused kernel with each host-path variant of the
# benchmarks (`host_path_variants.py`).
KERNELS = ("fused", "torch", *(f"fused, {variant}" for variant in VARIANTS))


@contextlib.contextmanager
def row_kernel(kernel: str) -> Iterator[str]:
    """Within the block, rows are made as `kernel` (one of KERNELS) says; yields the name for `kernel=`."""
    name, _, variant = kernel.partition(", ")
    with VARIANTS[variant]() if variant else contextlib.nullcontext():
        yield name


def main() -> int:
    assert torch.cuda.is_available(), "this script needs a CUDA GPU"
    print(f"# {torch.cuda.get_device_name()}, torch {torch.__version__}")
    failures = 0
    images = [Image.fromarray(np.random.default_rng(0).integers(0, 256, (300, 500, 3), dtype=np.uint8))]
    images.append(Image.fromarray(np.random.default_rng(1).integers(0, 256, (200, 120, 3), dtype=np.uint8)))
    with tempfile.TemporaryDirectory() as folder:
        for family in TINY_FAMILIES:
            path = build_tiny_model(Path(folder) / family, family)
            for dtype, kernel in itertools.product((torch.float32, torch.bfloat16), KERNELS):
                model = qvl_widget.load(path, device="cuda", dtype=dtype)
                prepared = model.prepare(images, PROMPT)
                same_logits = logits_unchanged(model, prepared, kernel)
                failures += not same_logits
                line = f"{family:11s} {dtype!s:15s} rows {kernel!r}: logits identical with capture: {same_logits}"
                if dtype == torch.float32:
                    with row_kernel(kernel) as name:
                        captured = model.capture(images, PROMPT, kernel=name).attention
                    difference = float(np.abs(captured - eager_slice(model, prepared)).max())
                    failures += difference > 1e-5
                    line += f"; max |capture - eager| = {difference:.2e} (limit 1e-5)"
                print(line, flush=True)
    if host_writes_failed:  # the "kernel writes to host" lines above then checked the default path
        print(f"the fused kernel could not write to host memory on {sorted(map(str, host_writes_failed))}")
    failures += fused_against_torch_rows()
    print("FAILED" if failures else "all CUDA checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
