"""What the "maps that mean something" options cost, side by side in one run: a plain capture (`sink_scores=False`:
capture keeps them by default), capture with `sink_scores=True`, with `baseline=True` (one more forward pass, of
the image and the generic prompt), and both.

For each size (image tokens, one square image, the prompt after it), each round runs every condition once
(interleaved), and the script prints each condition's median time and its ratio to the plain capture, and the
bytes the options add to the result. With `--answer N`, every condition also lets the model answer (N tokens:
random weights never stop early), as `capture(..., answer=True)` does. Random weights, real architecture and
processor (no download).

    python benchmarks/maps.py                         # CPU: Qwen2-VL-2B widths, 2 decoder layers
    python benchmarks/maps.py --answer 16 --layers 4
"""

from __future__ import annotations

import argparse
import statistics
import time
from unittest.mock import patch

import torch
from capture import SHAPES, build_model, cpu_model, machine, prepared_inputs  # beside this script

from qvl_widget._capture import SinkScores
from qvl_widget._loading import LoadedModel
from qvl_widget._result import BASELINE_PROMPT

CONDITIONS = {
    "capture": {},
    "+ sink scores": {"sink_scores": True},
    "+ baseline": {"baseline": True},
    "+ both": {"sink_scores": True, "baseline": True},
}


def run(model: LoadedModel, image, prepared, baseline, options: dict, answer: int) -> object:
    """One capture of `prepared` with `options` (the baseline's inputs prepared beforehand, as `capture` does
    before the model runs: preparing them is image processing, timed with the rest)."""
    start = time.perf_counter()
    if options.get("baseline"):
        baseline = model.prepare(image, BASELINE_PROMPT, max_pixels=len(prepared.image_positions) * 28 * 28)
    result = model.capture_prepared(
        prepared,
        answer=True if answer else None,
        max_new_tokens=max(answer, 1),
        baseline=baseline if options.get("baseline") else None,
        sink_scores=options.get("sink_scores", False),
    )
    if model.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, result


def measure(model: LoadedModel, size: int, repeats: int, answer: int) -> list[str]:
    prepared = prepared_inputs(model, size)
    image = prepared.pictures[0]
    times: dict[str, list[float]] = {name: [] for name in CONDITIONS}
    extra: dict[str, int] = {}
    run(model, image, prepared, None, CONDITIONS["+ both"], answer)  # warm-up
    for _ in range(repeats):
        for name, options in CONDITIONS.items():
            seconds, result = run(model, image, prepared, None, options, answer)
            times[name].append(seconds)
            extra[name] = sum(
                array.nbytes for array in (result.baseline_attention, result.sink_scores) if array is not None
            )
    plain = statistics.median(times["capture"])
    hook = statistics.median(sink_hook_seconds(model, image, prepared, answer) for _ in range(repeats))
    rows = [f"| {size} | {answer or '-'} | sink score hook alone | {1000 * hook:.1f} ms | {hook / plain:.3f}× | |"]
    for name in CONDITIONS:
        median = statistics.median(times[name])
        rows.append(
            f"| {size} | {answer or '-'} | {name} | {1000 * median:.0f} ms | {median / plain:.2f}× | "
            f"{extra[name] / 1024:.1f} KiB |"
        )
    return rows


def sink_hook_seconds(model: LoadedModel, image, prepared, answer: int) -> float:
    """The time spent inside the sink score hooks during one capture (all layers): their cost without the noise
    of timing whole captures against each other."""
    spent = [0.0]
    keep = SinkScores.keep

    def timed_keep(self, *arguments) -> None:
        start = time.perf_counter()
        keep(self, *arguments)
        if model.device.type == "cuda":
            torch.cuda.synchronize()
        spent[0] += time.perf_counter() - start

    with patch.object(SinkScores, "keep", timed_keep):
        run(model, image, prepared, None, CONDITIONS["+ sink scores"], answer)
    return spent[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024], help="image tokens (squares)")
    parser.add_argument("--repeats", type=int, default=5, help="rounds of all conditions per size")
    parser.add_argument("--answer", type=int, default=0, help="answer tokens per capture (0: the prompt only)")
    parser.add_argument("--layers", type=int, default=None, help="decoder layers (default: the 2b shape's 2)")
    arguments = parser.parse_args()
    if arguments.layers is not None:
        SHAPES["2b"]["text"]["num_hidden_layers"] = arguments.layers
    model = cpu_model("2b") if not torch.cuda.is_available() else build_model("2b", torch.device("cuda"), torch.float32)
    import transformers

    layers = SHAPES["2b"]["text"]["num_hidden_layers"]
    print(f"# maps benchmark: {time.strftime('%Y-%m-%d')}, {machine()}, transformers {transformers.__version__}")
    print(f"# model: random Qwen2-VL, 2b widths, {layers} decoder layers; {arguments.repeats} rounds, medians")
    print("| image tokens | answer tokens | condition | time | / capture | added to the result |")
    print("|---:|---:|---|---:|---:|---:|")
    for size in arguments.sizes:
        for row in measure(model, size, arguments.repeats, arguments.answer):
            print(row, flush=True)


if __name__ == "__main__":
    main()
