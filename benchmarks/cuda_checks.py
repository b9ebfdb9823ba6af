"""Faithfulness checks on a CUDA GPU (CI has none; run this where one is lent).

For each tiny model family, on CUDA: captured attention vs eager `output_attentions` (fp32), and logits with
capture vs a plain SDPA forward (fp32 and bf16, which must be bit-identical). Prints one line per check and
exits non-zero if any fails.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import qvl_widget
from qvl_widget._capture import CaptureRequest, capturing
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


def logits_unchanged(model: qvl_widget.LoadedModel, prepared) -> bool:
    inputs = {name: value.to(model.device) for name, value in prepared.model_inputs.items()}
    request = CaptureRequest(torch.as_tensor(prepared.query_positions), torch.as_tensor(prepared.image_positions))
    with torch.no_grad():
        plain = model.model(**inputs).logits
        with capturing(model.model, request):
            captured = model.model(**inputs).logits
    return torch.equal(plain, captured)


def main() -> int:
    assert torch.cuda.is_available(), "this script needs a CUDA GPU"
    print(f"# {torch.cuda.get_device_name()}, torch {torch.__version__}")
    failures = 0
    images = [Image.fromarray(np.random.default_rng(0).integers(0, 256, (300, 500, 3), dtype=np.uint8))]
    images.append(Image.fromarray(np.random.default_rng(1).integers(0, 256, (200, 120, 3), dtype=np.uint8)))
    with tempfile.TemporaryDirectory() as folder:
        for family in TINY_FAMILIES:
            path = build_tiny_model(Path(folder) / family, family)
            for dtype in (torch.float32, torch.bfloat16):
                model = qvl_widget.load(path, device="cuda", dtype=dtype)
                prepared = model.prepare(images, PROMPT)
                same_logits = logits_unchanged(model, prepared)
                failures += not same_logits
                line = f"{family:11s} {dtype!s:15s} logits identical with capture: {same_logits}"
                if dtype == torch.float32:
                    difference = float(
                        np.abs(model.capture(images, PROMPT).attention - eager_slice(model, prepared)).max()
                    )
                    failures += difference > 1e-5
                    line += f"; max |capture - eager| = {difference:.2e} (limit 1e-5)"
                print(line, flush=True)
    print("FAILED" if failures else "all CUDA checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
