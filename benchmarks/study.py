"""What a study costs: `model.study` against a plain loop of forwards over the same examples, its memory as the
examples grow, and two processes under `accelerate launch` against one. Prints numbers (BENCHMARKS.md keeps them).

    PYTHONPATH=. python benchmarks/study.py [--examples 200] [--shapes demo 2b] [--memory 100 1000] [--processes]

- time: on the same demo scenes (`demo.write_scenes`, prompt only, query "last"), side by side in rounds, the
  median of each: `model.study(manifest, ...)` into a fresh folder (its default batch_size=8, and batch_size=1: one
  capture per example), a plain loop of batches of 8 (`model(**processor(8 images, 8 texts, padding=True))`: what
  the study's batching does, without capturing), and a plain loop of `model(**processor(...))`:
  each example's image file read, the processor run on it and the chat template's text, and the model's forward
  (`use_cache=False, logits_to_keep=1`, as capture runs it; the issue's baseline, before 2026-12-07 the loop used
  capture's own `model.prepare`, which also checks the inputs and maps tokens to text: 1.5 ms more). Shapes: the
  demo model, and a random Qwen2-VL at 2B widths (2 decoder layers; benchmarks/capture.py's "2b").
- memory: the peak resident memory of a fresh process that runs a study of N examples (demo model), for each N.
- processes: the same study of the demo model on one process (2 threads) and under `accelerate launch --multi_gpu
  --num_processes 2` on the CPU (1 thread each, over gloo); wall time of each command, model loading included.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from capture import build_model, machine  # beside this script
from PIL import Image

from qvl_widget import demo

ROUNDS = 3


def loaded(shape: str):
    torch.set_num_threads(os.cpu_count() or 1)
    if shape == "demo":
        return demo.load(device="cpu")
    return build_model(shape, torch.device("cpu"), torch.float32)


def plain_loop(model, manifest: Path, count: int | None = None) -> None:
    """`model(**processor(...))` as a user writes it: each example's image read from its file, the processor on it
    and the chat template's text, then the forward (without every position's logits: capture skips them too)."""
    processor = model.processor
    for line in manifest.read_text().splitlines()[:count]:
        example = json.loads(line)
        image = Image.open(manifest.parent / example["image"]).convert("RGB")
        content = [{"type": "image"}, {"type": "text", "text": example["prompt"]}]
        text = processor.apply_chat_template([{"role": "user", "content": content}], add_generation_prompt=True)
        inputs = processor(text=[text], images=[image], return_tensors="pt")
        with torch.inference_mode():
            model.model(**inputs, use_cache=False, logits_to_keep=1)


def batched_loop(model, manifest: Path, batch: int = 8) -> None:
    """The plain loop, `batch` examples to a forward: `model(**processor(images, texts, padding=True))`."""
    processor = model.processor
    examples = [json.loads(line) for line in manifest.read_text().splitlines()]
    for start in range(0, len(examples), batch):
        chunk = examples[start : start + batch]
        images = [Image.open(manifest.parent / example["image"]).convert("RGB") for example in chunk]
        texts = [
            processor.apply_chat_template(
                [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": example["prompt"]}]}],
                add_generation_prompt=True,
            )
            for example in chunk
        ]
        inputs = processor(text=texts, images=images, return_tensors="pt", padding=True)
        with torch.inference_mode():
            model.model(**inputs, use_cache=False, logits_to_keep=1)


def timed(run, *arguments, **options) -> float:
    started = time.perf_counter()
    run(*arguments, **options)
    return time.perf_counter() - started


TIMED = ("study", "study, batch_size=1", "plain loop, 8 per forward", "plain loop")


def compare_times(shape: str, count: int, workdir: Path) -> dict[str, float]:
    """Median seconds of the study (batched, and one by one) and of the plain loops, measured side by side."""
    model = loaded(shape)
    manifest = demo.write_scenes(count, workdir / "scenes")
    plain_loop(model, manifest, 4)  # warm-up
    seconds: dict[str, list[float]] = {name: [] for name in TIMED}
    for number in range(ROUNDS):
        folder = workdir / f"study-{shape}-{number}"
        seconds["study"].append(timed(model.study, manifest, folder, answer=False, progress=False))
        seconds["study, batch_size=1"].append(
            timed(model.study, manifest, f"{folder}-1", answer=False, progress=False, batch_size=1)
        )
        seconds["plain loop, 8 per forward"].append(timed(batched_loop, model, manifest))
        seconds["plain loop"].append(timed(plain_loop, model, manifest))
    return {name: statistics.median(values) for name, values in seconds.items()}


def peak_of_study(count: int, workdir: Path) -> int:
    """Peak resident bytes of a fresh process that runs a demo study of `count` examples."""
    manifest = demo.write_scenes(count, workdir / f"scenes-{count}")
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so a child would report this process's peak.
    code = (
        "import re, sys\n"
        "from qvl_widget import demo\n"
        "demo.load(device='cpu').study(sys.argv[1], sys.argv[2], answer=False, progress=False)\n"
        "status = open('/proc/self/status').read()\n"
        "print(int(re.search(r'VmHWM:\\s+(\\d+) kB', status)[1]) * 1024)\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code, str(manifest), str(workdir / f"memory-{count}")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return int(output.strip().splitlines()[-1])


STUDY_COMMAND = ["-m", "qvl_widget.cli", "study", "{manifest}", "--model", str(demo.MODEL_DIR), "--out", "{out}"]


def processes_seconds(count: int, workdir: Path) -> tuple[float, float]:
    """Wall seconds of the demo study as one process and as two under accelerate (fresh folders)."""
    manifest = demo.write_scenes(count, workdir / "scenes-processes")
    timings = []
    for launcher, threads in (([sys.executable], str(os.cpu_count() or 1)), (ACCELERATE, "1")):
        out = workdir / f"processes-{len(launcher)}"
        command = [*launcher, *(part.format(manifest=manifest, out=out) for part in STUDY_COMMAND), "--prompt-only"]
        environment = {**os.environ, "OMP_NUM_THREADS": threads}
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=environment)
        timings.append(time.perf_counter() - started)
    return timings[0], timings[1]


ACCELERATE = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--shapes", nargs="*", default=["demo", "2b"])
    parser.add_argument("--memory", type=int, nargs="*", default=[100, 1000])
    parser.add_argument("--processes", action="store_true", help="also one process against two")
    arguments = parser.parse_args()
    print(f"# study benchmark: {machine()}")
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        for shape in arguments.shapes:
            times = compare_times(shape, arguments.examples, workdir)
            listed = ", ".join(f"{name} {value:.2f} s" for name, value in times.items())
            loop, batched = times["plain loop"], times["plain loop, 8 per forward"]
            print(f"time, {shape}, {arguments.examples} examples: {listed}; study / plain loop "
                  f"{times['study'] / loop:.3f}x, one by one / plain loop {times['study, batch_size=1'] / loop:.3f}x, "
                  f"study / batched loop {times['study'] / batched:.3f}x", flush=True)  # fmt: skip
        peaks = {count: peak_of_study(count, workdir) for count in arguments.memory}
        for count, peak in peaks.items():
            first = peaks[arguments.memory[0]]
            print(f"memory, {count} examples: peak {peak / 2**20:.0f} MiB, {peak / first:.3f}x of the first")
        if arguments.processes:
            one, two = processes_seconds(arguments.examples, workdir)
            count = arguments.examples
            print(f"processes, {count} examples: one {one:.1f} s, two {two:.1f} s, speed-up {one / two:.2f}x")


if __name__ == "__main__":
    main()
