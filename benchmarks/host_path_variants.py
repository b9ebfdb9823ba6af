"""Other ways for capture's rows to reach host memory, kept beside the package until a GPU measures them.

The package's path (`_capture._rows_to_host`): the row kernel writes each layer's rows into a device buffer,
and `HostCopier.copy` copies it on a side stream into a pinned staging buffer (overlapping the next layer),
which a worker thread lands in ordinary memory. The variants:

- "kernel writes to host": the fused kernel writes the rows straight into the pinned staging buffer (no
  device buffer, no copy to queue; its writes cross PCIe inside the kernel, on the compute stream). Where the
  kernel cannot write to host memory it warns once, records the device in `host_writes_failed` and takes the
  package's path from then on.
- "copies on the compute stream": each layer's copy queued on the current (compute) stream: fewer CUDA calls
  per layer than the side stream's wait, switch and `record_stream`, but copies in series with compute.

Both stage only where the copier does (CUDA, or `HostCopier(staged=True)`); elsewhere they are the package's
path. Each is a context manager (`VARIANTS`) that patches it in: `capture.py --breakdown` measures them beside
the default, `cuda_checks.py` checks their numbers on CUDA, and `tests/test_fused_rows.py` and
`tests/test_capture.py` run them on the CPU (interpreted Triton, staged copier). This file imports nothing from
the other benchmark scripts, so tests can load it by path.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Sequence
from unittest.mock import patch

import torch

from qvl_widget import _capture
from qvl_widget._host_copy import HostCopier, _Job, _scatter

PACKAGE_ROWS_TO_HOST = _capture._rows_to_host
PACKAGE_COPY = HostCopier.copy
host_writes_failed: set[torch.device] = set()  # devices where the fused kernel could not write to host memory


def copy_written(
    copier: HostCopier,
    write: Callable[[torch.Tensor], object],
    destinations: Sequence[torch.Tensor],
    device: torch.device,
) -> None:
    """Like `copier.copy`, for a source that `write(buffer)` writes straight into a flat host `buffer` of the
    destinations' size and dtype (a GPU kernel can: staging buffers are pinned), with work it queues on `device`'s
    current stream; `destinations` hold it once `copier.finish()` has returned. If `write` raises, the error
    passes on and nothing is queued. Built on the copier's internals: it is what both variants share."""
    numel = sum(destination.numel() for destination in destinations)
    dtype = destinations[0].dtype
    if not copier.stages(device):
        written = torch.empty(numel, dtype=dtype)
        write(written)
        _scatter(written, destinations)
        return
    slot = copier._free_slot(numel, dtype, device)
    written = slot[:numel]
    try:
        write(written)
    except BaseException:
        copier._free.put(slot)
        raise
    copied = stream = None
    if device.type == "cuda":
        stream = torch.cuda.current_stream(device)
        copied = torch.cuda.Event()
        copied.record(stream)
    copier._enqueue(_Job(copied, stream, written, destinations, slot))


def kernel_rows_to_host(
    request: _capture.CaptureRequest, query, key, attention_mask, softcap, arguments: dict, destinations
) -> None:
    """`_capture._rows_to_host` with the fused kernel writing into a staging buffer, where it and staging run."""
    if (
        query.device in host_writes_failed
        or not request.copier.stages(query.device)
        or not _capture._use_fused_kernel(request.kernel, query, softcap)
    ):
        PACKAGE_ROWS_TO_HOST(request, query, key, attention_mask, softcap, arguments, destinations)
        return
    from qvl_widget._fused_rows import fused_attention_rows  # imports Triton: only where it runs

    def write(buffer: torch.Tensor) -> None:
        fused_attention_rows(query, key, attention_mask, output=buffer, **arguments)

    try:
        copy_written(request.copier, write, destinations, query.device)
    except Exception as error:
        host_writes_failed.add(query.device)
        warnings.warn(
            f"the fused capture kernel cannot write to host memory on {query.device} ({type(error).__name__}: "
            f"{error}); it writes to device memory from now on",
            stacklevel=2,
        )
        PACKAGE_ROWS_TO_HOST(request, query, key, attention_mask, softcap, arguments, destinations)


def copy_on_compute_stream(self: HostCopier, source: torch.Tensor, destinations) -> None:
    """`HostCopier.copy` without the side stream: the copy is queued on the current (compute) stream."""
    if not self.stages(source.device):
        PACKAGE_COPY(self, source, destinations)
        return
    write = lambda staged: staged.copy_(source.reshape(-1), non_blocking=True)  # noqa: E731
    copy_written(self, write, destinations, source.device)


def kernel_writes_to_host() -> contextlib.AbstractContextManager:
    return patch.object(_capture, "_rows_to_host", kernel_rows_to_host)


def copies_on_compute_stream() -> contextlib.AbstractContextManager:
    return patch.object(HostCopier, "copy", copy_on_compute_stream)


# Name -> a context manager within which every capture takes that path.
VARIANTS: dict[str, Callable[[], contextlib.AbstractContextManager]] = {
    "kernel writes to host": kernel_writes_to_host,
    "copies on the compute stream": copies_on_compute_stream,
}
