"""Moving captured rows from the GPU to ordinary CPU memory without stalling the forward pass.

A plain `.cpu()` per layer waits for the GPU to finish everything queued so far, so the CPU stops queuing the
next layer's work. Copying into pinned memory avoids the wait, but page-locking a buffer for the whole result
(2 GB for a 7B model at 16k image tokens) takes longer than the forward pass. So each layer's rows go, without
waiting, into one of a few small pinned staging buffers (kept for later captures), and a worker thread moves
them into ordinary memory as soon as their copy is done, while the GPU computes the next layers.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor

import torch

STAGING_SLOTS = 4
_staging_lock = threading.Lock()
_staging: dict[tuple[torch.device, torch.dtype], list[torch.Tensor]] = {}


def _pinned(numel: int, dtype: torch.dtype) -> torch.Tensor:
    return torch.empty(numel, dtype=dtype, pin_memory=torch.cuda.is_available())


def _take_staging(device: torch.device, dtype: torch.dtype, numel: int) -> list[torch.Tensor]:
    """Flat pinned buffers of at least `numel` elements, for one capture's use: those a finished capture gave
    back when they are large enough, new ones otherwise (a capture running at the same time gets its own)."""
    with _staging_lock:
        buffers = _staging.pop((device, dtype), None)
    if buffers is None or buffers[0].numel() < numel:
        buffers = [_pinned(numel, dtype) for _ in range(STAGING_SLOTS)]
    return buffers


def _give_back_staging(device: torch.device, dtype: torch.dtype, buffers: list[torch.Tensor]) -> None:
    with _staging_lock:
        kept = _staging.get((device, dtype))
        if kept is None or kept[0].numel() < buffers[0].numel():
            _staging[(device, dtype)] = buffers


class HostCopier:
    """Copies tensors to the CPU as they are produced; `finish()` waits until every copy has landed.

    From a CUDA device the copies are staged as described above; from elsewhere they are plain `.cpu()` copies
    (`staged=True` stages them anyway: tests check the staging that way on machines without a GPU).
    """

    def __init__(self, staged: bool | None = None) -> None:
        self._staged = staged
        self._free: queue.Queue[torch.Tensor] | None = None
        self._worker: ThreadPoolExecutor | None = None
        self._pending: list[Future] = []
        self._buffers: list[torch.Tensor] = []
        self._key: tuple[torch.device, torch.dtype] | None = None

    def copy(self, tensor: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """A CPU tensor that will hold `tensor` (cast to `dtype`) once `finish()` has returned."""
        tensor = tensor.to(dtype)
        on_gpu = tensor.device.type == "cuda"
        if not (on_gpu if self._staged is None else self._staged):
            return tensor.cpu()
        slot = self._free_slot(tensor)
        staged = slot[: tensor.numel()].view(tensor.shape)
        staged.copy_(tensor, non_blocking=on_gpu)
        copied = None
        if on_gpu:
            copied = torch.cuda.Event()
            copied.record()
        destination = torch.empty(tensor.shape, dtype=dtype)
        self._pending.append(self._worker.submit(self._land, copied, staged, destination, slot))
        return destination

    def _free_slot(self, tensor: torch.Tensor) -> torch.Tensor:
        if self._free is None:
            self._key = (tensor.device, tensor.dtype)
            self._buffers = _take_staging(tensor.device, tensor.dtype, tensor.numel())
            self._free = queue.Queue()
            for buffer in self._buffers:
                self._free.put(buffer)
            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qvl-host-copy")
        slot = self._free.get()  # waits only if the worker is STAGING_SLOTS copies behind
        if slot.numel() < tensor.numel():  # a larger tensor than the first one: a bigger buffer for this slot
            slot = _pinned(tensor.numel(), tensor.dtype)
        return slot

    def _land(self, copied, staged: torch.Tensor, destination: torch.Tensor, slot: torch.Tensor) -> None:
        if copied is not None:
            copied.synchronize()
        destination.copy_(staged)
        self._free.put(slot)

    def finish(self) -> None:
        """Wait for every copy; re-raise the first error of the worker."""
        try:
            for future in self._pending:
                future.result()
        finally:
            self.close()

    def close(self) -> None:
        """Stop the worker once it is idle and give the staging buffers back (also after an error)."""
        self._pending.clear()
        if self._worker is not None:
            self._worker.shutdown(wait=True)
            _give_back_staging(*self._key, self._buffers)
            self._worker, self._free = None, None
