"""What explaining the model's answer costs: `capture(answer=True)` against a plain `model.generate`.

    .venv/bin/python benchmarks/answer.py                          # CPU: 2B text widths, 2 decoder layers
    .venv/bin/python benchmarks/answer.py --sizes 256 --new-tokens 16 64 --repeats 3

Both conditions generate the same number of tokens with the same settings (greedy, `min_new_tokens` = the
count, so a random model's end-of-text does not cut one short, and only the tokenizer's ids). Times are medians
of rounds that run both conditions side by side; peak memory is what a run adds above the loaded model (CPU: peak
resident set, each condition in a fresh process; CUDA: `max_memory_allocated`). Targets: time <= 1.15x, memory
<= 1.10x a plain `generate` (CPU); <= 1.10x time on a GPU at the 7B shape.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import torch
from capture import SHAPES, ResidentPeak, build_model, cpu_model, prepared_inputs  # beside this script

CONDITIONS = ("generate", "capture(answer=True)")


def generate_options(model, new_tokens: int) -> dict:
    """The same `generate` settings for both conditions: exactly `new_tokens` greedy tokens the tokenizer knows."""
    vocabulary = model.model.config.get_text_config().vocab_size
    known = len(model.processor.tokenizer)
    return {"min_new_tokens": new_tokens, "suppress_tokens": list(range(known, vocabulary))}


def run_condition(model, prepared, condition: str, new_tokens: int) -> None:
    options = generate_options(model, new_tokens)
    if condition == "generate":
        inputs = {name: value.to(model.device) for name, value in prepared.model_inputs.items()}
        with torch.inference_mode():
            model.model.generate(**inputs, max_new_tokens=new_tokens, do_sample=False, **options)
    else:
        model.capture_prepared(prepared, answer=True, max_new_tokens=new_tokens, generate_kwargs=options)
    if model.device.type == "cuda":
        torch.cuda.synchronize()


def timed(model, prepared, condition: str, new_tokens: int) -> float:
    start = time.perf_counter()
    run_condition(model, prepared, condition, new_tokens)
    return time.perf_counter() - start


def peak_in_this_process(model, prepared, condition: str, new_tokens: int) -> int:
    run_condition(model, prepared, condition, new_tokens)  # warm-up
    if model.device.type != "cuda":
        with ResidentPeak() as peak:
            run_condition(model, prepared, condition, new_tokens)
        return peak.extra
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    run_condition(model, prepared, condition, new_tokens)
    return torch.cuda.max_memory_allocated() - before


def peak_in_fresh_process(shape: str, size: int, condition: str, new_tokens: int) -> int:
    environment = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")  # large buffers go back to the OS when freed
    command = [sys.executable, __file__, "--worker", condition, "--shape", shape, "--sizes", str(size)]
    command += ["--new-tokens", str(new_tokens)]
    output = subprocess.run(command, env=environment, check=True, capture_output=True, text=True).stdout
    return int(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=sorted(SHAPES), default=None, help="default: 7b on CUDA, 2b on CPU")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024], help="image tokens")
    parser.add_argument("--new-tokens", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--worker", choices=CONDITIONS, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    cuda = torch.cuda.is_available()
    shape = arguments.shape or ("7b" if cuda else "2b")
    if arguments.worker:  # one peak-memory measurement, in a process of its own
        model = cpu_model(shape)
        prepared = prepared_inputs(model, arguments.sizes[0])
        print(peak_in_this_process(model, prepared, arguments.worker, arguments.new_tokens[0]))
        return
    model = build_model(shape, torch.device("cuda"), torch.bfloat16) if cuda else cpu_model(shape)
    print(
        f"# {shape} shape ({SHAPES[shape]['text']['num_hidden_layers']} decoder layers), {model.device}, torch "
        f"{torch.__version__}; medians of {arguments.repeats} interleaved rounds"
    )
    print("| image tokens | new tokens | generate | capture(answer=True) | ratio (time, memory) |")
    print("|---:|---:|---:|---:|---:|")
    for size in arguments.sizes:
        prepared = prepared_inputs(model, size)
        for new_tokens in arguments.new_tokens:
            for condition in CONDITIONS:  # warm-up
                timed(model, prepared, condition, new_tokens)
            times: dict[str, list[float]] = {condition: [] for condition in CONDITIONS}
            for _ in range(arguments.repeats):
                for condition in CONDITIONS:
                    times[condition].append(timed(model, prepared, condition, new_tokens))
            peaks = {
                condition: peak_in_this_process(model, prepared, condition, new_tokens)
                if cuda
                else peak_in_fresh_process(shape, size, condition, new_tokens)
                for condition in CONDITIONS
            }
            plain, answered = (statistics.median(times[condition]) for condition in CONDITIONS)
            mib = 2**20
            print(
                f"| {size} | {new_tokens} | {plain:.2f} s, {peaks['generate'] / mib:.0f} MiB | {answered:.2f} s, "
                f"{peaks['capture(answer=True)'] / mib:.0f} MiB | {answered / plain:.2f}x, "
                f"{peaks['capture(answer=True)'] / max(peaks['generate'], 1):.2f}x |",
                flush=True,
            )


if __name__ == "__main__":
    main()
