"""How close capture is to eager attention, per model dtype: the bounds behind `LoadedModel.verify`'s tolerances.

    PYTHONPATH=. .venv/bin/python benchmarks/faithfulness.py            # fp32, bf16, fp16: tiny models, demo model
    PYTHONPATH=. .venv/bin/python benchmarks/faithfulness.py --dtypes bfloat16 --no-demo

Runs `model.verify(...)` on the tiny random models of the three families (`qvl_widget.testing`) and on the
trained demo model (real Qwen2-VL architecture, sharp attention), loaded on the CPU in each dtype, for a few
images and prompts, and prints per dtype the largest differences over every layer, head, row and image column:
`attention` (capture as `capture` returns it against eager run separately), `image share` (each row's sum over
the image columns) and `fp32 reference` (capture against transformers' eager recomputed in fp32 from the same
pass's q and k), also in units of the dtype's unit roundoff u.

Then, without a model: eager's own rounding against the size of the attention logits. Random bf16 q, k and v,
scaled so the largest |logit| grows; the probabilities of eager (bf16 q @ k^T, fp32 softmax, bf16 output)
against fp32 probabilities from the same q and k (what capture computes), and the attention output of eager and
of sdpa (the model's own) against the output of those fp32 probabilities.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import transformers
from PIL import Image

import qvl_widget
from qvl_widget import demo
from qvl_widget._verify import tolerance_for
from qvl_widget.testing import TINY_FAMILIES, build_tiny_model

DTYPES = ("float32", "bfloat16", "float16")
PROMPTS = ("Where is the red cat on the image?", "What color is the box on the right, and is it bigger than the ball?")


def noise_image(width: int, height: int, seed: int) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def inputs_for_tiny() -> list[tuple[str, object, str]]:
    """(label, image or images, prompt): noise and a drawn picture, one and two images, two prompts."""
    cases: list[tuple[str, object, str]] = []
    for prompt_index, prompt in enumerate(PROMPTS):
        cases.append((f"noise 100x60, prompt {prompt_index}", noise_image(100, 60, prompt_index), prompt))
        cases.append((f"example 448x336, prompt {prompt_index}", qvl_widget.example_image(), prompt))
    cases.append(("two images", [noise_image(100, 60, 1), noise_image(70, 90, 2)], PROMPTS[0]))
    return cases


def unit_roundoff(dtype: torch.dtype) -> float:
    return torch.finfo(dtype).eps / 2


def measure(model, cases) -> list[dict]:
    rows = []
    for label, image, prompt in cases:
        started = time.perf_counter()
        report = model.verify(image, prompt, verbose=False)
        rows.append(
            dict(
                case=label,
                seconds=time.perf_counter() - started,
                attention=float(report.attention_max_diff.max()),
                mass=float(report.mass_max_diff.max()),
                reference=float(report.reference_max_diff.max()),
                logit=float(report.largest_logit.max()),
                # How much of the tolerance the worst layer used (1: at the limit).
                used=float(
                    np.max(np.maximum(report.attention_max_diff, report.mass_max_diff) / report.eager_tolerance)
                ),
                logits=report.logits_identical,
                tokens=report.sequence_length,
                passed=report.passed,
            )
        )
    return rows


def model_rows(dtype: str, folders: dict[str, Path], with_demo: bool) -> list[dict]:
    results = []
    for family, folder in folders.items():
        try:
            model = qvl_widget.load(folder, device="cpu", dtype=dtype)
            rows = measure(model, inputs_for_tiny())
        except Exception as error:  # fp16 on the CPU: report what happens
            print(f"  {dtype} {family}: {type(error).__name__}: {str(error).splitlines()[0][:160]}")
            continue
        results.extend(dict(row, model=f"tiny {family}") for row in rows)
    if with_demo:
        model = demo.load(device="cpu", dtype=dtype)
        cases = []
        for seed in range(200_006, 200_011):
            example = demo.make_example(seed)
            cases.append((f"scene {seed}", example["image"], example["prompt"]))
        results.extend(dict(row, model="demo (trained)") for row in measure(model, cases))
    return results


def print_model_table(dtype: str, rows: list[dict]) -> None:
    torch_dtype = getattr(torch, dtype)
    u = unit_roundoff(torch_dtype)
    tolerance = tolerance_for(torch_dtype)
    print(
        f"\n{dtype}: u = {u:.2e}; tolerance against eager max({tolerance.base:.3g}, {tolerance.per_logit:.3g} x "
        f"largest |logit|), against the fp32 reference {tolerance.reference:.0e}"
    )
    print(
        "| model | cases | attention | image share | fp32 reference | largest abs logit | tolerance used "
        "| logits identical | s / verify |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|")
    for model in dict.fromkeys(row["model"] for row in rows):
        mine = [row for row in rows if row["model"] == model]
        worst = {key: max(row[key] for row in mine) for key in ("attention", "mass", "reference", "logit", "used")}
        cells = [f"{worst[key]:.1e} ({worst[key] / u:.1f} u)" for key in ("attention", "mass", "reference")]
        identical = "yes" if all(row["logits"] for row in mine) else "NO"
        seconds = np.median([row["seconds"] for row in mine])
        print(
            f"| {model} | {len(mine)} | {' | '.join(cells)} | {worst['logit']:.1f} | {worst['used']:.2f} "
            f"| {identical} | {seconds:.2f} |"
        )
    failed = [f"{row['model']} / {row['case']}" for row in rows if not row["passed"]]
    print(f"verify passed: {len(rows) - len(failed)} of {len(rows)}" + (f"; failed: {failed}" if failed else ""))


def logit_scale_sweep(dtype: torch.dtype, scales=(0.5, 1, 2, 3, 4, 6)) -> None:
    """Eager's rounding against the largest |logit|, with sdpa beside it (one causal head group, no model)."""
    generator = torch.Generator().manual_seed(0)
    batch, heads, sequence, head_dim = 1, 4, 300, 128
    scaling = head_dim**-0.5
    unit = unit_roundoff(dtype)
    causal = torch.ones(sequence, sequence, dtype=torch.bool).tril()
    print(f"\n{str(dtype).removeprefix('torch.')}: eager's own rounding against the logits' size (random q, k, v)")
    print(
        "| largest abs logit | eager probabilities vs fp32 | per unit of logit | eager output vs fp32 "
        "| sdpa output vs fp32 |"
    )
    print("|---:|---:|---:|---:|---:|")
    for scale in scales:
        shape = (batch, heads, sequence, head_dim)
        query = (torch.randn(shape, generator=generator) * scale).to(dtype)
        key = (torch.randn(shape, generator=generator) * scale).to(dtype)
        value = torch.randn(shape, generator=generator).to(dtype)
        exact_logits = (query.float() @ key.float().transpose(-1, -2) * scaling).masked_fill(~causal, float("-inf"))
        exact = torch.softmax(exact_logits, dim=-1)  # what capture computes
        rounded = (query @ key.transpose(-1, -2) * scaling).masked_fill(~causal, float("-inf"))
        eager = torch.softmax(rounded, dim=-1, dtype=torch.float32).to(dtype)  # transformers' eager
        reference_output = exact @ value.float()
        eager_output = (eager @ value).float()
        sdpa_output = torch.nn.functional.scaled_dot_product_attention(query, key, value, is_causal=True).float()
        largest = float(exact_logits[causal.expand_as(exact_logits)].abs().max())
        probabilities = float((eager.float() - exact).abs().max())
        eager_error = float((eager_output - reference_output).abs().max())
        sdpa_error = float((sdpa_output - reference_output).abs().max())
        print(
            f"| {largest:.1f} | {probabilities:.1e} ({probabilities / unit:.1f} u) "
            f"| {probabilities / unit / largest:.2f} u | {eager_error:.1e} | {sdpa_error:.1e} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dtypes", nargs="+", default=list(DTYPES), choices=DTYPES)
    parser.add_argument("--no-demo", action="store_true", help="skip the trained demo model")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    options = parser.parse_args()
    if options.threads:
        torch.set_num_threads(options.threads)
    print(
        f"{datetime.date.today()}, {platform.processor() or platform.machine()}, {platform.system()}, "
        f"{torch.get_num_threads()} threads; python {platform.python_version()}, torch {torch.__version__}, "
        f"transformers {transformers.__version__}"
    )
    with tempfile.TemporaryDirectory() as root:
        folders = {family: build_tiny_model(Path(root) / family, family) for family in TINY_FAMILIES}
        for dtype in options.dtypes:
            started = time.perf_counter()
            rows = model_rows(dtype, folders, with_demo=not options.no_demo)
            print_model_table(dtype, rows)
            print(f"({time.perf_counter() - started:.1f} s for {dtype})")
            sys.stdout.flush()
    for dtype in options.dtypes:
        if dtype != "float32":
            logit_scale_sweep(getattr(torch, dtype))


if __name__ == "__main__":
    main()
