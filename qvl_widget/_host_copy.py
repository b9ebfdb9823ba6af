"""Moving captured rows from the GPU to ordinary CPU memory without stalling the forward pass.

A plain `.cpu()` per layer waits for the GPU to finish everything queued so far, so the CPU stops queuing the
next layer's work. Copying into pinned memory avoids the wait, but page-locking a buffer for the whole result
(2 GiB for a 7B model at 16k image tokens) takes longer than the forward pass. So each layer's rows go, without
waiting, into a pinned staging buffer, on a side stream so the copy overlaps the next layer's compute, and a
worker thread moves them into ordinary memory once the copy is done. Staging buffers are made as the GPU falls
behind (up to `STAGING_BYTES`), and kept for later captures: the main thread waits for one only when that many
layers are in flight. The worker lands layers in batches of about `LANDING_BATCH_BYTES`: each time it runs it
takes the GIL from the main thread, which, at small sizes, is what the whole forward pass waits for.
`benchmarks/host_copy.py` measures that cost without a GPU.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Hashable, Sequence
from typing import NamedTuple

import torch

STAGING_BYTES = 256 * 2**20  # pinned memory for rows in flight (at least MIN_STAGING_SLOTS buffers)
LANDING_BATCH_BYTES = 8 * 2**20  # the worker wakes when this much is queued (or at the end)
MIN_STAGING_SLOTS = 2
_staging_lock = threading.Lock()
_staging: dict[tuple[torch.device, torch.dtype], list[torch.Tensor]] = {}
_copy_streams: dict[torch.device, torch.cuda.Stream] = {}


def _pinned(numel: int, dtype: torch.dtype) -> torch.Tensor:
    # Made outside inference mode even during an inference-mode forward pass: staging buffers outlive it, and
    # a later capture without that mode could not write into an inference tensor.
    with torch.inference_mode(False):
        return torch.empty(numel, dtype=dtype, pin_memory=torch.cuda.is_available())


def _take_staging(key: tuple[torch.device, torch.dtype]) -> list[torch.Tensor]:
    """The staging buffers a finished capture gave back (a capture running at the same time gets none)."""
    with _staging_lock:
        return _staging.pop(key, [])


def _give_back_staging(key: tuple[torch.device, torch.dtype], buffers: list[torch.Tensor]) -> None:
    with _staging_lock:
        kept = _staging.get(key, [])
        if sum(buffer.numel() for buffer in buffers) > sum(buffer.numel() for buffer in kept):
            _staging[key] = buffers


def _copy_stream(device: torch.device) -> torch.cuda.Stream:
    with _staging_lock:
        if device not in _copy_streams:
            _copy_streams[device] = torch.cuda.Stream(device)
        return _copy_streams[device]


def _check_sizes(numel: int, destinations: Sequence[torch.Tensor]) -> None:
    if sum(destination.numel() for destination in destinations) != numel:
        raise ValueError("the destinations must hold exactly the source's elements")


def _scatter(flat: torch.Tensor, destinations: Sequence[torch.Tensor]) -> None:
    start = 0
    for destination in destinations:
        destination.copy_(flat[start : start + destination.numel()].view(destination.shape))
        start += destination.numel()


class _Job(NamedTuple):
    """One layer's rows in a staging buffer, to land in `destinations` once `copied` (if any) has happened."""

    copied: torch.cuda.Event | None
    stream: Hashable  # which stream `copied` was recorded on (events on one stream complete in order)
    staged: torch.Tensor
    destinations: Sequence[torch.Tensor]
    slot: torch.Tensor


class HostCopier:
    """Copies tensors to the CPU as they are produced; `finish()` waits until every copy has landed.

    From a CUDA device the copies are staged as described above; from elsewhere they are plain copies
    (`staged=True` stages them anyway, without streams: tests check the staging that way without a GPU).
    The worker is a plain thread fed by a `SimpleQueue`: per layer the main thread only queues work, because
    on a launch-bound GPU every microsecond it spends adds to the forward pass.
    """

    def __init__(self, staged: bool | None = None) -> None:
        self._staged = staged
        self._free: queue.SimpleQueue[torch.Tensor] = queue.SimpleQueue()
        # Jobs wait here until a batch's worth is queued (or a buffer is wanted, or the copier closes).
        self._ready = threading.Condition()
        self._queued: list[_Job] = []
        self._queued_bytes = 0
        self._wake_now = False
        self._closing = False
        self._worker: threading.Thread | None = None
        self._error: BaseException | None = None
        self._buffers: list[torch.Tensor] = []
        self._key: tuple[torch.device, torch.dtype] | None = None
        self._stream: torch.cuda.Stream | None = None

    def stages(self, device: torch.device) -> bool:
        """Whether rows from `device` go through staging buffers (else they are copied directly)."""
        return device.type == "cuda" if self._staged is None else self._staged

    def copy(self, source: torch.Tensor, destinations: Sequence[torch.Tensor]) -> None:
        """Copy `source`, flattened, into CPU `destinations` of its dtype (views, maybe strided), in order; they
        hold it once `finish()` has returned."""
        _check_sizes(source.numel(), destinations)
        if not self.stages(source.device):
            _scatter(source.reshape(-1), destinations)
            return
        slot = self._free_slot(source.numel(), source.dtype, source.device)
        staged, copied = slot[: source.numel()], None
        if source.device.type == "cuda":
            stream = self._stream = self._stream or _copy_stream(source.device)
            stream.wait_stream(torch.cuda.current_stream(source.device))  # the rows are computed
            with torch.cuda.stream(stream):
                staged.copy_(source.reshape(-1), non_blocking=True)
                copied = torch.cuda.Event()
                copied.record(stream)
            source.record_stream(stream)  # its memory is not reused before the copy has read it
        else:
            staged.copy_(source.reshape(-1))
        self._enqueue(_Job(copied, "copy stream", staged, destinations, slot))

    def _enqueue(self, job: _Job) -> None:
        with self._ready:
            self._queued.append(job)
            self._queued_bytes += job.staged.numel() * job.staged.element_size()
            if self._queued_bytes >= LANDING_BATCH_BYTES:
                self._ready.notify()

    def _free_slot(self, numel: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """A staging buffer for `numel` elements: a free one, a new one while under the byte budget, else the
        next one the worker frees (then the GPU is that far behind, and waiting costs nothing)."""
        if self._worker is None:
            self._start(numel, dtype, device)
        try:
            slot = self._free.get(block=False)
        except queue.Empty:
            budget = max(MIN_STAGING_SLOTS, STAGING_BYTES // (numel * dtype.itemsize))
            if len(self._buffers) < budget:
                slot = _pinned(numel, dtype)
                self._buffers.append(slot)
            else:
                self._wake(now=True)  # land what is queued, even less than a batch
                slot = self._free.get()
        if slot.numel() < numel:  # a larger source than the first ones: a bigger buffer for this copy
            slot = _pinned(numel, dtype)
        return slot

    def _start(self, numel: int, dtype: torch.dtype, device: torch.device) -> None:
        self._key = (device, dtype)
        for buffer in _take_staging(self._key):
            if buffer.numel() >= numel:
                self._buffers.append(buffer)
                self._free.put(buffer)
        self._worker = threading.Thread(target=self._land_all, name="qvl-host-copy", daemon=True)
        self._worker.start()

    def _wake(self, now: bool = False, closing: bool = False) -> None:
        with self._ready:
            self._wake_now |= now
            self._closing |= closing
            self._ready.notify()

    def _land_all(self) -> None:
        # Destinations made during an inference-mode forward pass are inference tensors, and the mode is per
        # thread: without it here, writing into them is refused.
        with torch.inference_mode():
            closing = False
            while not closing:
                jobs, closing = self._next_batch()
                self._land(jobs)

    def _next_batch(self) -> tuple[list[_Job], bool]:
        """Wait for a batch's worth of jobs (or a wake-up) and take all queued: the worker then takes the GIL,
        which the main thread queuing the forward pass must wait for, a few times per batch, not per layer."""
        with self._ready:
            self._ready.wait_for(lambda: self._closing or self._wake_now or self._queued_bytes >= LANDING_BATCH_BYTES)
            jobs, self._queued, self._queued_bytes, self._wake_now = self._queued, [], 0, False
            return jobs, self._closing

    def _land(self, jobs: list[_Job]) -> None:
        if not jobs:
            return
        try:
            if self._error is None:
                # Work on one stream completes in order: the last event of each stream covers the batch.
                for copied in {job.stream: job.copied for job in jobs if job.copied is not None}.values():
                    copied.synchronize()
                sources, destinations = [], []
                for job in jobs:
                    start = 0
                    for target in job.destinations:
                        sources.append(job.staged[start : start + target.numel()].view(target.shape))
                        destinations.append(target)  # a view, maybe strided (some rows of every head)
                        start += target.numel()
                torch._foreach_copy_(destinations, sources)  # one call (one GIL release) for the batch
        except Exception as error:  # kept for finish() to raise in the main thread
            self._error = error
        finally:
            for job in jobs:
                self._free.put(job.slot)  # also after an error: the main thread may be waiting for a free slot

    def finish(self) -> None:
        """Wait for every copy; raise the worker's first error."""
        self.close()
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        """Stop the worker once it has landed every job and give the staging buffers back (also after an
        error)."""
        if self._worker is not None:
            self._wake(closing=True)
            self._worker.join()
            if self._key is not None:
                _give_back_staging(self._key, self._buffers)
            self._worker, self._free, self._buffers, self._closing = None, queue.SimpleQueue(), [], False
