"""Training speed of the demo model on this machine (issue DEMO2, item 1): steps/s at each batch, float32 against
bfloat16 autocast, from scratch or warm-started from the shipped model. Each setting is one short run of
`python -m training.train` (a fresh process, its own thread count); the rate is its "training done" line.

    python benchmarks/training_speed.py --init qvl_widget/demo/model --batches 16 32 64 128 --examples 640
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DONE = re.compile(r"training done: (\d+) steps in ([\d.]+) s \(([\d.]+) steps/s\)")


def steps_per_second(batch: int, steps: int, bf16: bool, init: str | None, threads: int, out: Path) -> float:
    command = [sys.executable, "-m", "training.train", "--device", "cpu", "--tasks", "demo2", "--out", str(out)]
    command += ["--batch", str(batch), "--max-steps", str(steps), "--val-size", "8", "--pointing-examples", "1"]
    command += ["--log-every", str(steps + 1)] + (["--bf16"] if bf16 else []) + (["--init", init] if init else [])
    environment = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
    log = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, check=True).stdout
    match = DONE.search(log)
    if match is None:
        raise SystemExit(f"no 'training done' line in the run's log:\n{log}")
    return float(match.group(3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--init", default=None, help="warm start from this model folder (default: from scratch)")
    parser.add_argument("--batches", type=int, nargs="+", default=[16, 32, 64, 128])
    parser.add_argument("--examples", type=int, default=640, help="examples per run (steps = examples / batch)")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    print(f"init {args.init or 'none (from scratch)'}, {args.threads} threads, {args.examples} examples per run")
    print(f"{'batch':>5}  {'fp32 steps/s':>12}  {'bf16 steps/s':>12}  {'bf16 / fp32':>11}")
    with tempfile.TemporaryDirectory() as folder:
        for batch in args.batches:
            steps = max(2, args.examples // batch)
            fp32, bf16 = (
                steps_per_second(batch, steps, bf16, args.init, args.threads, Path(folder) / f"b{batch}-{bf16}")
                for bf16 in (False, True)
            )
            print(f"{batch:>5}  {fp32:>12.2f}  {bf16:>12.2f}  {bf16 / fp32:>10.2f}x", flush=True)


if __name__ == "__main__":
    main()
