"""Capture cost, side by side in one run: a plain forward, capture, and eager attention + output_attentions.

For 256 / 1024 / 4096 image tokens (one square image, the prompt after it), this prints each condition's
median time and peak memory over what the model weights already hold, and capture's and eager's ratios
to the plain forward. Random weights, real architecture and processor (no download).

    python benchmarks/capture.py                    # CPU: Qwen2-VL-2B widths, 2 decoder layers
    python benchmarks/capture.py --shape 7b         # GPU: the full Qwen2-VL-7B shape in bf16
    python benchmarks/capture.py --video-frames 8 32   # CPU: a video of 8 / 32 frames (16 x 16 tokens a group)
    python benchmarks/capture.py --shape tiny --text-tokens 1024 4096 16384 32768   # CPU: long prompts, 1024
                                                    # image tokens; the full-rows path (before the log-sum-exp
                                                    # rows) beside, up to 4096 text tokens

On CUDA, capture uses the fused Triton kernel (its default there), and a fourth condition measures the plain
torch row computation (`kernel="torch"`) beside it. Times are medians over rounds that run every condition once
(side by side, interleaved). Peak memory on CUDA is `max_memory_allocated` above the allocation before the run;
on CPU it is read in a fresh process per condition, as the peak resident set size above the level before the
run (sampled every 0.2 ms). All conditions skip the full-vocabulary logits (`logits_to_keep=1`, as
generation's prefill does).
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from unittest.mock import patch

import numpy as np
import torch
from host_path_variants import VARIANTS, host_writes_failed  # beside this script
from PIL import Image

from qvl_widget import _capture
from qvl_widget._families import FAMILIES
from qvl_widget._host_copy import HostCopier
from qvl_widget._loading import LoadedModel
from qvl_widget.testing import build_processor, build_tokenizer, special_token_ids

PROMPT = "Where is the red cat on the image? Answer with the region."
CONDITIONS = ("plain", "capture", "eager")
# On CUDA capture runs with the fused kernel; the plain torch rows are measured beside it.
CUDA_CONDITIONS = ("plain", "capture", "capture (torch rows)", "eager")
# --breakdown: capture with parts switched off, to see where its extra cost is, and with the host path swapped
# for each variant in `host_path_variants.py` (the fused kernel writing straight into pinned host memory; the
# copies on the compute stream). Each condition: what it replaces for one capture.
BREAKDOWN_PATCHES = {
    "capture: hook only": lambda: patch.object(_capture, "_keep_rows", lambda *arguments: None),
    "capture: rows, no host copy": lambda: patch.object(HostCopier, "copy", lambda self, source, destinations: None),
    **{f"capture: {name}": variant for name, variant in VARIANTS.items()},
}
BREAKDOWN = tuple(BREAKDOWN_PATCHES)
# These still give a whole result; the others leave it incomplete, so they run the forward pass alone.
WHOLE_CAPTURES = tuple(f"capture: {name}" for name in VARIANTS)
MAX_ROUNDS = 50

# Long prompts (--text-tokens): the capture beside the plain forward, and up to FULL_ROWS_UP_TO text tokens the rows
# computed as before the log-sum-exp path (a softmax over every key per row, `attention_rows`).
# "writing the result": a fresh float32 tensor of the result's size, written once (its pages faulted in and
# filled): what any capture pays beyond the forward, the floor under capture's time.
LONG_CONDITIONS = ("plain", "capture", "writing the result", "capture (full rows)")
FULL_ROWS_UP_TO = 4096
LONG_TEXT = "The red cat sits on the left of the blue mat, and the dog looks at it. "

SHAPES = {
    # The tiny test model's widths (qvl_widget.testing), with a vision tower as small.
    "tiny": dict(
        text=dict(
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=3,
            num_attention_heads=4,
            num_key_value_heads=2,
            vocab_size=4096,
            max_position_embeddings=65536,
            rope_parameters={"rope_type": "default", "rope_theta": 1e4, "mrope_section": [2, 3, 3]},
        ),
        vision=dict(depth=1, embed_dim=32, hidden_size=64, num_heads=4, mlp_ratio=2),
    ),
    # Qwen2-VL-2B text widths, few layers; a small vision tower (it is the same in all three conditions).
    "2b": dict(
        text=dict(
            hidden_size=1536,
            intermediate_size=8960,
            num_hidden_layers=2,
            num_attention_heads=12,
            num_key_value_heads=2,
            vocab_size=151936,
            max_position_embeddings=65536,  # room for the long-prompt benchmark's 32k text tokens
            rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [16, 24, 24]},
        ),
        vision=dict(depth=1, embed_dim=64, hidden_size=1536, num_heads=4, mlp_ratio=2),
    ),
    # The full Qwen2-VL-7B shape.
    "7b": dict(
        text=dict(
            hidden_size=3584,
            intermediate_size=18944,
            num_hidden_layers=28,
            num_attention_heads=28,
            num_key_value_heads=4,
            vocab_size=152064,
            rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [16, 24, 24]},
        ),
        vision=dict(depth=32, embed_dim=1280, hidden_size=3584, num_heads=16, mlp_ratio=4),
    ),
}


@dataclass
class Measurement:
    condition: str
    image_tokens: int
    query_tokens: int
    seconds: float
    peak_bytes: int | None  # None: out of memory


def build_model(shape: str, device: torch.device, dtype: torch.dtype) -> LoadedModel:
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

    tokenizer = build_tokenizer()
    sizes = SHAPES[shape]
    config = Qwen2VLConfig(
        text_config=dict(bos_token_id=None, eos_token_id=None, **sizes["text"]),
        vision_config=sizes["vision"],
        **special_token_ids(tokenizer),
    )
    torch.manual_seed(0)
    with device:
        model = Qwen2VLForConditionalGeneration._from_config(config, dtype=dtype)
    model.eval()
    family = next(family for family in FAMILIES if family.name == "qwen2_vl")
    return LoadedModel(model, build_processor("qwen2_vl", tokenizer), family, f"random Qwen2-VL {shape} shape")


def prepared_inputs(model: LoadedModel, image_tokens: int, text_tokens: int | None = None):
    """One square image of `image_tokens` tokens, then the benchmark's prompt, or with `text_tokens` a prompt of
    about that many tokens."""
    side = round(image_tokens**0.5)
    pixels = np.random.default_rng(0).integers(0, 256, size=(side * 28, side * 28, 3), dtype=np.uint8)
    prompt = PROMPT if text_tokens is None else long_prompt(model, text_tokens)
    prepared = model.prepare(Image.fromarray(pixels), prompt, max_pixels=image_tokens * 28 * 28)
    assert len(prepared.image_positions) == image_tokens, len(prepared.image_positions)
    return prepared


def long_prompt(model: LoadedModel, tokens: int) -> str:
    """A prompt of `tokens` tokens (the benchmark's text repeated, cut at a token)."""
    tokenizer = model.processor.tokenizer
    ids = tokenizer(LONG_TEXT * (tokens // 10 + 1), add_special_tokens=False)["input_ids"][:tokens]
    return tokenizer.decode(ids)


VIDEO_SIDE = 16  # tokens per side of each temporal group of the benchmark's videos


def prepared_video_inputs(model: LoadedModel, frames: int):
    """A video of `frames` random frames of 16 x 16 tokens each (448 px square), seen at their own size: `frames`
    / 2 temporal groups of 256 tokens."""
    from qvl_widget import Video

    side = VIDEO_SIDE * 28
    pixels = np.random.default_rng(0).integers(0, 256, size=(frames, side, side, 3), dtype=np.uint8)
    prepared = model.prepare(Video(pixels, min_pixels=side * side, max_pixels=side * side), PROMPT)
    assert len(prepared.image_positions) == (frames + 1) // 2 * VIDEO_SIDE**2, len(prepared.image_positions)
    return prepared


def inputs_for(model: LoadedModel, size: int, video: bool):
    """`size` image tokens of one square image, or with `video`, a video of `size` frames."""
    return prepared_video_inputs(model, size) if video else prepared_inputs(model, size)


def run_condition(model: LoadedModel, prepared, condition: str) -> None:
    """One forward pass of `condition`, inputs moved to the device included (capture moves its own)."""
    if condition in BREAKDOWN:
        capture_part(model, prepared, condition)
    elif condition == "capture (full rows)":
        with patch.object(_capture, "_log_sum_exp_route", lambda *arguments: False):
            model.capture_prepared(prepared)
    elif condition == "writing the result":
        write_result_alone(model, prepared)
    elif condition.startswith("capture"):
        model.capture_prepared(prepared, kernel="torch" if "torch" in condition else "auto")
    else:
        plain_or_eager_forward(model, prepared, eager=condition == "eager")
    if model.device.type == "cuda":
        torch.cuda.synchronize()


def write_result_alone(model: LoadedModel, prepared) -> None:
    """A float32 tensor of a capture result's size (every layer and head, query tokens x image tokens and a mass),
    allocated and written once."""
    text = model.model.config.get_text_config()
    layers_heads = text.num_hidden_layers * text.num_attention_heads
    torch.empty(layers_heads, len(prepared.query_positions), len(prepared.image_positions) + 1).fill_(0.0)


def capture_part(model: LoadedModel, prepared, condition: str) -> None:
    """A capture forward with a part switched off or swapped (`BREAKDOWN_PATCHES`)."""
    with BREAKDOWN_PATCHES[condition]():
        if condition in WHOLE_CAPTURES:
            model.capture_prepared(prepared)
            return
        inputs = {name: value.to(model.device) for name, value in prepared.model_inputs.items()}
        positions = torch.as_tensor(prepared.query_positions), torch.as_tensor(prepared.image_positions)
        with _capture.capturing(model.model, _capture.CaptureRequest(*positions)), torch.inference_mode():
            model.model(**inputs, use_cache=False, logits_to_keep=1)


def plain_or_eager_forward(model: LoadedModel, prepared, eager: bool) -> None:
    inputs = {name: value.to(model.device) for name, value in prepared.model_inputs.items()}
    text_config = model.model.config.get_text_config()
    original = text_config._attn_implementation
    if eager:
        model.model.set_attn_implementation({"text_config": "eager"})
    try:
        with torch.inference_mode():
            model.model(**inputs, use_cache=False, logits_to_keep=1, output_attentions=eager)
    finally:
        model.model.set_attn_implementation({"text_config": original})


class ResidentPeak:
    """Peak resident set size of this process while the block runs, above the level at its start (CPU)."""

    def __enter__(self) -> ResidentPeak:
        self._page = os.sysconf("SC_PAGE_SIZE")
        self.start = self._rss()
        self.peak = self.start
        self._running = True
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _rss(self) -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * self._page

    def _sample(self) -> None:
        while self._running:
            self.peak = max(self.peak, self._rss())
            time.sleep(0.0002)

    def __exit__(self, *exc) -> None:
        self._running = False
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def extra(self) -> int:
        return self.peak - self.start


def timed(model: LoadedModel, prepared, condition: str) -> float:
    if model.device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    run_condition(model, prepared, condition)
    return time.perf_counter() - start


def peak_memory(model: LoadedModel, prepared, condition: str) -> int:
    """Peak memory of one run of `condition` above the level before it (after a warm-up run)."""
    run_condition(model, prepared, condition)
    if model.device.type != "cuda":
        with ResidentPeak() as peak:
            run_condition(model, prepared, condition)
        return peak.extra
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    run_condition(model, prepared, condition)
    return torch.cuda.max_memory_allocated() - before


def measure_size(
    model: LoadedModel, prepared, repeats: int, peak_of, conditions, min_seconds: float = 0.0
) -> list[Measurement]:
    """Times side by side: rounds that each run every condition once (`repeats` rounds, more where that takes
    under `min_seconds`: small sizes are the noisy ones); then each condition's peak."""
    feasible, round_seconds = [], 0.0
    for condition in conditions:  # warm-up, and find what fits in memory
        try:
            round_seconds += timed(model, prepared, condition)
            feasible.append(condition)
        except torch.OutOfMemoryError:
            torch.cuda.empty_cache()
    rounds = max(repeats, min(MAX_ROUNDS, math.ceil(min_seconds / max(round_seconds, 1e-9))))
    times: dict[str, list[float]] = {condition: [] for condition in feasible}
    for _ in range(rounds):
        for condition in feasible:
            times[condition].append(timed(model, prepared, condition))
    sizes = len(prepared.image_positions), len(prepared.query_positions)
    return [
        Measurement(condition, *sizes, statistics.median(times[condition]), peak_of(condition))
        if condition in feasible
        else Measurement(condition, *sizes, float("nan"), None)
        for condition in conditions
    ]


def measure_all_cuda(
    shape: str, sizes: list[int], repeats: int, breakdown: bool, min_seconds: float
) -> list[Measurement]:
    model = build_model(shape, torch.device("cuda"), torch.bfloat16)
    results = []
    for size in sizes:
        prepared = prepared_inputs(model, size)
        peak_of = functools.partial(peak_memory, model, prepared)
        conditions = CUDA_CONDITIONS + (BREAKDOWN if breakdown else ())
        results += measure_size(model, prepared, repeats, peak_of, conditions, min_seconds)
        if breakdown:
            for condition in ("capture", *WHOLE_CAPTURES):
                microseconds = hook_time_per_layer(model, prepared, condition)
                print(f"# {size} image tokens, {condition}: the hook holds the CPU {microseconds:.0f} us per layer")
        print(f"  {size} image tokens: done", file=sys.stderr, flush=True)
    if host_writes_failed:  # then that condition took the default path, after one warning
        devices = ", ".join(sorted(map(str, host_writes_failed)))
        print(f"# the fused kernel could not write to host memory on {devices}: 'kernel writes to host' is the default")
    return results


def hook_time_per_layer(model: LoadedModel, prepared, condition: str) -> float:
    """Median CPU time, in microseconds, that one capture spends per layer in the row hook (kernel launch and
    host copy queued): when the GPU waits for the CPU, it adds to the forward's time one for one."""
    keep_rows, seconds = _capture._keep_rows, []

    def timed_keep_rows(*arguments) -> None:
        start = time.perf_counter()
        keep_rows(*arguments)
        seconds.append(time.perf_counter() - start)

    _capture._keep_rows = timed_keep_rows
    try:
        run_condition(model, prepared, condition)
    finally:
        _capture._keep_rows = keep_rows
    return statistics.median(seconds) * 1e6


def cpu_model(shape: str) -> LoadedModel:
    torch.set_num_threads(os.cpu_count() or 1)
    return build_model(shape, torch.device("cpu"), torch.float32)


def peak_memory_in_fresh_process(
    shape: str, size: int, video: bool, condition: str, text_tokens: int | None = None
) -> int:
    """On the CPU, each peak is read in its own process, so no condition's freed memory hides another's."""
    environment = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")  # large buffers go back to the OS when freed
    command = [sys.executable, __file__, "--worker", condition, "--shape", shape]
    command += ["--video-frames", str(size)] if video else ["--sizes", str(size)]
    command += [] if text_tokens is None else ["--text-tokens", str(text_tokens)]
    output = subprocess.run(command, env=environment, check=True, capture_output=True, text=True).stdout
    return int(output.strip().splitlines()[-1])


def measure_all_cpu(
    shape: str, sizes: list[int], repeats: int, breakdown: bool, min_seconds: float, video: bool = False
) -> list[Measurement]:
    model = cpu_model(shape)
    results = []
    for size in sizes:
        prepared = inputs_for(model, size, video)
        peak_of = functools.partial(peak_memory_in_fresh_process, shape, size, video)
        conditions = CONDITIONS + (BREAKDOWN if breakdown else ())
        results += measure_size(model, prepared, repeats, peak_of, conditions, min_seconds)
        print(f"  {size} {'frames' if video else 'image tokens'}: done", file=sys.stderr, flush=True)
    return results


def measure_long_prompts(shape: str, image_tokens: int, text_tokens: list[int], repeats: int) -> list[Measurement]:
    """Long prompts on the CPU: plain, capture and (up to `FULL_ROWS_UP_TO` text tokens) the full-rows capture."""
    model = cpu_model(shape)
    results = []
    for length in text_tokens:
        prepared = prepared_inputs(model, image_tokens, length)
        peak_of = functools.partial(peak_memory_in_fresh_process, shape, image_tokens, False, text_tokens=length)
        conditions = LONG_CONDITIONS if length <= FULL_ROWS_UP_TO else LONG_CONDITIONS[:3]
        results += measure_size(model, prepared, repeats, peak_of, conditions)
        print(f"  {length} text tokens: done", file=sys.stderr, flush=True)
    return results


def result_bytes(shape: str, measurement: Measurement) -> int:
    """The size of a float32 capture result at this shape: what capture must hold beyond the forward's own memory."""
    text = SHAPES[shape]["text"]
    heads, layers = text["num_attention_heads"], text["num_hidden_layers"]
    return layers * heads * measurement.query_tokens * (measurement.image_tokens + 1) * 4


def long_table(shape: str, results: list[Measurement]) -> str:
    """One row per prompt length: each condition's time and peak; capture's ratios to the plain forward, its memory
    also without its result's own bytes (the result is the product; `check_result_fits` counts it)."""
    mib = 2**20
    lines = [
        "| query tokens | plain | capture | capture / plain: time | memory | memory beyond the result | "
        "writing the result alone / plain: time | full rows / plain: time, memory |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    by_length: dict[int, dict[str, Measurement]] = {}
    for result in results:
        by_length.setdefault(result.query_tokens, {})[result.condition] = result
    for length, row in sorted(by_length.items()):
        plain, capture, floor = row["plain"], row["capture"], row["writing the result"]
        beyond = (capture.peak_bytes or 0) - result_bytes(shape, capture)
        full = row.get("capture (full rows)")
        full_cell = (
            "-"
            if full is None
            else (f"{full.seconds / plain.seconds:.2f}x, {(full.peak_bytes or 0) / max(plain.peak_bytes or 1, 1):.2f}x")
        )
        lines.append(
            f"| {length} | {plain.seconds:.2f} s, {(plain.peak_bytes or 0) / mib:.0f} MiB | {capture.seconds:.2f} s, "
            f"{(capture.peak_bytes or 0) / mib:.0f} MiB | {capture.seconds / plain.seconds:.3f}x | "
            f"{(capture.peak_bytes or 0) / max(plain.peak_bytes or 1, 1):.3f}x | "
            f"{beyond / max(plain.peak_bytes or 1, 1):.3f}x | {floor.seconds / plain.seconds:.3f}x | {full_cell} |"
        )
    return "\n".join(lines)


def table(results: list[Measurement]) -> str:
    """One row per size: each condition's time and peak, then each one's ratios to the plain forward."""
    mib = 2**20
    conditions = list(dict.fromkeys(result.condition for result in results))
    others = [condition for condition in conditions if condition != "plain"]
    header = [
        "image tokens",
        "query tokens",
        *conditions,
        *(f"{condition} / plain (time, memory)" for condition in others),
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    by_size: dict[int, dict[str, Measurement]] = {}
    for result in results:
        by_size.setdefault(result.image_tokens, {})[result.condition] = result

    def cell(result: Measurement) -> str:
        if result.peak_bytes is None:
            return "out of memory"
        return f"{result.seconds * 1000:.0f} ms, {result.peak_bytes / mib:.0f} MiB"

    def ratio(result: Measurement, plain: Measurement) -> str:
        if result.peak_bytes is None:
            return "out of memory"
        return f"{result.seconds / plain.seconds:.3f}x, {result.peak_bytes / max(plain.peak_bytes, 1):.3f}x"

    for size, row in sorted(by_size.items()):
        plain = row["plain"]
        cells = [str(size), str(plain.query_tokens), *(cell(row[condition]) for condition in conditions)]
        cells += [ratio(row[condition], plain) for condition in others]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine() -> str:
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name()}, torch {torch.__version__}"
    cpu = platform.processor() or "CPU"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass  # keep platform.processor()'s answer
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=sorted(SHAPES), default=None, help="default: 7b on CUDA, 2b on CPU")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024, 4096], help="image tokens (squares)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of all conditions per size (at least)")
    parser.add_argument(
        "--min-seconds", type=float, default=0.0, help=f"more rounds (up to {MAX_ROUNDS}) until they take this long"
    )
    parser.add_argument("--breakdown", action="store_true", help="also capture with parts switched off")
    parser.add_argument(
        "--video-frames", type=int, nargs="+", default=None, help="instead of images: videos of these frame counts"
    )
    parser.add_argument(
        "--text-tokens", type=int, nargs="+", default=None, help="long prompts of these lengths (CPU; one image)"
    )
    parser.add_argument("--worker", choices=CONDITIONS + BREAKDOWN + LONG_CONDITIONS, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    cuda = torch.cuda.is_available()
    shape = arguments.shape or ("7b" if cuda else "2b")
    video = arguments.video_frames is not None
    sizes = arguments.video_frames if video else arguments.sizes
    if arguments.worker:
        model = cpu_model(shape)
        length = arguments.text_tokens[0] if arguments.text_tokens else None
        prepared = prepared_inputs(model, sizes[0], length) if length else inputs_for(model, sizes[0], video)
        print(peak_memory(model, prepared, arguments.worker))
        return
    import transformers

    print(f"# capture benchmark: {time.strftime('%Y-%m-%d')}, {machine()}, transformers {transformers.__version__}")
    print(f"# model: random Qwen2-VL, {shape} shape ({SHAPES[shape]['text']['num_hidden_layers']} decoder layers)")
    if arguments.text_tokens:
        if cuda:
            raise SystemExit("--text-tokens is measured on the CPU")
        image_tokens = arguments.sizes[0] if arguments.sizes != [256, 1024, 4096] else 1024
        print(f"# input: one image of {image_tokens} tokens, prompts of {', '.join(map(str, arguments.text_tokens))}")
        results = measure_long_prompts(shape, image_tokens, arguments.text_tokens, arguments.repeats)
        print(long_table(shape, results))
        return
    if video:
        if cuda:
            raise SystemExit("--video-frames is measured on the CPU (2B widths)")
        print(f"# input: videos of {', '.join(map(str, sizes))} frames, {VIDEO_SIDE} x {VIDEO_SIDE} tokens a group")
        results = measure_all_cpu(shape, sizes, arguments.repeats, arguments.breakdown, arguments.min_seconds, True)
        print(table(results))
        return
    measure_all = measure_all_cuda if cuda else measure_all_cpu
    print(table(measure_all(shape, arguments.sizes, arguments.repeats, arguments.breakdown, arguments.min_seconds)))


if __name__ == "__main__":
    main()
