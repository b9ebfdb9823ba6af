"""What the host copier costs the thread that queues the forward pass, measured without a GPU.

On a GPU at a few hundred image tokens the forward pass is bound by the CPU queuing kernels, so every
microsecond the copier takes from that thread (its own calls, and the GIL its worker thread takes) adds to the
forward's time. This simulates such a forward on the CPU, 28 layers of 60 small tensor operations, and prints
the median time of: no copier, the staged path (pinned staging buffers and the worker thread, forced on the
CPU, where the device-to-staging copy is synchronous), and direct copies. The rows copied are small (the
copier's overhead, not memory bandwidth), and the worker's batching threshold is scaled so it wakes as often
as it would for layers of `--layer-bytes` (default: the 7B shape at 256 image tokens, 28 x 42 x 257 fp32).

    python benchmarks/host_copy.py [--rounds 40] [--layer-bytes 1208928]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from qvl_widget import _host_copy
from qvl_widget._host_copy import HostCopier

LAYERS, OPERATIONS_PER_LAYER = 28, 60


def forward(copier: HostCopier | None, rows: torch.Tensor, destinations: list[list[torch.Tensor]]) -> float:
    start = time.perf_counter()
    value = torch.ones(16)
    for layer in range(LAYERS):
        for _ in range(OPERATIONS_PER_LAYER):
            value = value + 1
        if copier is not None:
            copier.copy(rows, destinations[layer])
    if copier is not None:
        copier.finish()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--layer-bytes", type=int, default=28 * 42 * 257 * 4)
    arguments = parser.parse_args()
    rows = torch.ones(64)
    scale = rows.numel() * rows.element_size() / arguments.layer_bytes
    _host_copy.LANDING_BATCH_BYTES = max(1, round(_host_copy.LANDING_BATCH_BYTES * scale))
    destinations = [[torch.empty(48), torch.empty(16)] for _ in range(LAYERS)]
    times: dict[str, list[float]] = {"no copier": [], "staged": [], "direct": []}
    for _ in range(arguments.rounds):  # interleaved, side by side
        times["no copier"].append(forward(None, rows, destinations))
        times["staged"].append(forward(HostCopier(staged=True), rows, destinations))
        times["direct"].append(forward(HostCopier(staged=False), rows, destinations))
    base = statistics.median(times["no copier"])
    for name, seconds in times.items():
        extra = (statistics.median(seconds) - base) / LAYERS * 1e6
        print(f"{name:10s} {statistics.median(seconds) * 1e3:6.2f} ms  ({extra:+.0f} us per layer)")


if __name__ == "__main__":
    main()
