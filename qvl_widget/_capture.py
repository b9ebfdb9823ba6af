"""Capturing text->image attention probabilities on the model's own fast attention.

A wrapper attention function is registered in transformers' attention registry (with the wrapped
implementation's mask function, so masks are built exactly as before) and switched on for the text decoder
only, for the duration of one forward pass. It returns exactly what the wrapped implementation (sdpa, flash,
...) returns, so the model's outputs are unchanged, and on the side computes, in fp32, the softmax of
`q @ k^T * scaling` for the query rows only, keeping the image-token columns: on CUDA in one fused Triton
kernel (`_fused_rows.py`, memory: its output); on the CPU from the log-sum-exp of the model's own sdpa call
(`_lse_rows.py`: queries x image tokens of work, written chunk by chunk into the result); elsewhere with
`attention_rows` in chunks of rows (memory: queries x keys per chunk). Never sequence^2 in memory. Each layer's
rows go straight to host memory (`_host_copy.py`).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib.util
import os
import sys
import threading
import warnings
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal, TypeAlias, get_args

import torch
from transformers import AttentionInterface
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS, PreTrainedModel

from ._families import attention_layers
from ._host_copy import HostCopier
from ._lse_rows import CatchLogSumExp, SdpaCall, rows_from_log_sum_exp

_PREFIX = "qvl_capture__"
DEFAULT_CHUNK_BYTES = 64 * 2**20  # fp32 working memory per chunk of query rows (logits and probabilities)


# How the kept rows are computed: see `CaptureRequest`.
Kernel: TypeAlias = Literal["auto", "fused", "torch"]
KERNELS: tuple[Kernel, ...] = get_args(Kernel)
FUSED_KERNEL_DEVICES = ("cuda",)  # where "auto" uses the fused kernel


@dataclass
class CaptureRequest:
    """What to keep during one capture, and where the kept rows go.

    Positions are absolute sequence positions (for batch item 0's layout; batches share one layout), sorted.
    Rows may arrive over several forward calls: a prompt's all at once, a generated answer's one per step (each
    call's queries are the last positions of its keys). `layers` are the decoder layers kept (None: all).
    `kernel` computes the rows: "fused" (one Triton kernel, CUDA), "torch" (`attention_rows`, any device), or
    "auto": fused where it can run.
    """

    query_positions: torch.Tensor  # [Q] long, sorted
    image_positions: torch.Tensor  # [I] long
    storage_dtype: torch.dtype = torch.float32
    chunk_bytes: int = DEFAULT_CHUNK_BYTES
    kernel: Kernel = "auto"
    layers: tuple[int, ...] | None = None  # None: every decoder layer (`capturing` fills them in)
    copier: HostCopier = field(default_factory=HostCopier)
    # What every layer of one forward call shares, made once per call: positions on the device, causal biases.
    shared: dict = field(default_factory=dict)
    _call: tuple[int, int] | None = None  # the (query offset, query length) `shared` belongs to
    _columns: dict[torch.device, torch.Tensor] = field(default_factory=dict)  # image positions, per device
    _slots: dict[int, int] = field(default_factory=dict)  # decoder layer -> index in the host tensors
    _host: tuple[torch.Tensor, torch.Tensor] | None = None  # [layers, B, H, Q, I] attention, [layers, B, H, Q] mass
    _rows_kept: list[int] = field(default_factory=list)  # per slot: how many rows landed

    def __post_init__(self) -> None:
        if self.kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {', '.join(KERNELS)}, not {self.kernel!r}")
        if self.layers is not None:
            self.keep_layers(self.layers)

    def keep_layers(self, layers: tuple[int, ...]) -> None:
        self.layers = layers
        self._slots = {layer: slot for slot, layer in enumerate(layers)}
        self._rows_kept = [0] * len(layers)

    def slot(self, layer: int) -> int | None:
        """Where decoder layer `layer`'s rows go, or None when it is not kept."""
        return self._slots.get(layer)

    def rows_in(self, query_offset: int, query_length: int) -> tuple[int, int]:
        """`(first, stop)`: the kept rows whose positions this call computes (its queries are the positions
        `query_offset ..` `query_offset + query_length - 1`); equal when it computes none. Starts the call's
        `shared` cache when the call is a new one."""
        if self._call != (query_offset, query_length):
            self._call = (query_offset, query_length)
            self.shared = {}
        if "rows" not in self.shared:
            bounds = torch.tensor([query_offset, query_offset + query_length], dtype=self.query_positions.dtype)
            first, stop = torch.searchsorted(self.query_positions, bounds).tolist()
            self.shared["rows"] = (first, stop)
        return self.shared["rows"]

    def positions_on(self, device: torch.device, query_offset: int, first: int, stop: int):
        """This call's kept rows (relative to its queries) and the image columns, on `device`."""
        key = ("positions", device)
        if key not in self.shared:
            if device not in self._columns:
                self._columns[device] = self.image_positions.to(device)
            rows = (self.query_positions[first:stop] - query_offset).to(device)
            self.shared[key] = (rows, self._columns[device])
        return self.shared[key]

    def host_rows(self, slot: int, batch: int, heads: int, first: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Views of the host tensors for rows `first:stop` of one layer: `[B, H, rows, I]` attention and
        `[B, H, rows]` mass. The host tensors for every kept layer and row are allocated once."""
        if self._host is None:
            # `.shape[0]`, not `len()`: this runs on the thread the GPU may be waiting for.
            shape = (len(self._slots), batch, heads, self.query_positions.shape[0])
            self._host = (
                torch.empty(*shape, self.image_positions.shape[0], dtype=self.storage_dtype),
                torch.empty(shape, dtype=self.storage_dtype),
            )
        self._rows_kept[slot] += stop - first
        return self._host[0][slot, :, :, first:stop], self._host[1][slot, :, :, first:stop]

    def all_layers(self, rows: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """`[layers, B, H, rows, I]` attention and `[layers, B, H, rows]` mass of the first `rows` kept rows
        (default: all), checking that every kept layer got each of them once."""
        rows = self.query_positions.shape[0] if rows is None else rows
        if self._host is None or any(kept != rows for kept in self._rows_kept):
            seen = {layer: self._rows_kept[slot] for layer, slot in self._slots.items()}
            raise RuntimeError(
                f"capture expected {rows} rows from each kept layer but got {seen} (layer: rows); was the model run "
                "inside `capturing`, once, on the whole input?"
            )
        return self._host[0][:, :, :, :rows], self._host[1][:, :, :, :rows]


_active_request: contextvars.ContextVar[CaptureRequest | None] = contextvars.ContextVar(
    "qvl_widget_capture_request", default=None
)


def capture_name(implementation: str) -> str:
    """The registry name of the capturing wrapper around `implementation`.

    It keeps the wrapped name inside it, because transformers tests names (e.g. `"flash" in name`) to pick
    code paths: the model must take the same paths as without capture.
    """
    return f"{_PREFIX}{implementation}"


def _register(implementation: str) -> str:
    name = capture_name(implementation)
    if name not in ALL_ATTENTION_FUNCTIONS:
        AttentionInterface.register(name, _make_capturing_attention(implementation))
        if implementation in ALL_MASK_ATTENTION_FUNCTIONS:
            # Same mask function as the wrapped implementation; without one, mask creation exits early and
            # padded inputs would silently get no mask. Implementations without one get none either way.
            AttentionMaskInterface.register(name, ALL_MASK_ATTENTION_FUNCTIONS[implementation])
    return name


def _original_function(implementation: str, module: torch.nn.Module) -> Callable:
    if implementation == "eager":
        # Eager is not in the registry: each model file defines its own `eager_attention_forward`.
        return sys.modules[type(module).__module__].eager_attention_forward
    return ALL_ATTENTION_FUNCTIONS[implementation]


def _make_capturing_attention(implementation: str) -> Callable:
    def capturing_attention(module, query, key, value, attention_mask, **kwargs):
        request = _active_request.get()
        layer = getattr(module, "layer_idx", None)
        if request is None or layer is None or request.slot(layer) is None:
            return _original_function(implementation, module)(module, query, key, value, attention_mask, **kwargs)
        # On the CPU the model's own sdpa call also gives each row's log-sum-exp (`_lse_rows`): the rows then cost
        # queries x image tokens instead of a second pass over every key.
        catch = CatchLogSumExp() if _log_sum_exp_route(request, query, kwargs) else None
        with catch if catch is not None else contextlib.nullcontext():
            output = _original_function(implementation, module)(module, query, key, value, attention_mask, **kwargs)
        call = catch.call if catch is not None else None
        if call is not None and (call.query.shape != query.shape or call.key.shape[2] != key.shape[2]):
            call = None  # transformers reshaped the call (e.g. one query packed per head group): rows as elsewhere
        _keep_rows(request, module, query, key, attention_mask, kwargs, call)
        return output

    capturing_attention.__name__ = f"capturing_{implementation}_attention"
    return capturing_attention


# One capture per model at a time: a capture switches the model's attention setting, which every thread sees.
_capture_locks: weakref.WeakKeyDictionary[torch.nn.Module, threading.Lock] = weakref.WeakKeyDictionary()
_capture_locks_lock = threading.Lock()


def _capture_lock(model: torch.nn.Module) -> threading.Lock:
    with _capture_locks_lock:
        if model not in _capture_locks:
            _capture_locks[model] = threading.Lock()
        return _capture_locks[model]


@contextlib.contextmanager
def capturing(model: PreTrainedModel, request: CaptureRequest) -> Iterator[CaptureRequest]:
    """Within this block, forward passes of `model` fill `request`; afterwards the model is as it was.

    One capture per model at a time (other threads get a clear error at once, never a half capture); two models
    capture side by side, each in its own thread."""
    lock = _capture_lock(model)
    if not lock.acquire(blocking=False):
        raise RuntimeError(
            "another capture is running on this model (captures on one model run one at a time): wait for it to "
            "finish, or load a second model for a second thread"
        )
    try:
        with _switched_on(model, request):
            yield request
    finally:
        lock.release()


@contextlib.contextmanager
def _switched_on(model: PreTrainedModel, request: CaptureRequest) -> Iterator[None]:
    text_config = model.config.get_text_config()
    original = text_config._attn_implementation
    if original is None or original.startswith(_PREFIX):
        raise RuntimeError(f"capture is already active on this model (text attention is {original!r})")
    model.set_attn_implementation({"text_config": _register(original)})
    if request.layers is None:
        request.keep_layers(attention_layers(text_config))
    token = _active_request.set(request)
    try:
        yield
        request.copier.finish()  # every row is in host memory
    finally:
        request.copier.close()
        _active_request.reset(token)
        model.set_attn_implementation({"text_config": original})


def _log_sum_exp_route(request: CaptureRequest, query: torch.Tensor, kwargs: dict) -> bool:
    """Whether the rows may come from the model's own sdpa call's log-sum-exp: on the CPU, with the torch rows (not
    where "auto" would pick the fused kernel: tests run the GPU's path on the CPU by adding it to those devices)."""
    on_cpu = query.device.type == "cpu" and "cpu" not in FUSED_KERNEL_DEVICES
    return on_cpu and request.kernel != "fused" and kwargs.get("softcap") is None


def _keep_rows(request: CaptureRequest, module, query, key, attention_mask, kwargs, call: SdpaCall | None) -> None:
    slot = request.slot(module.layer_idx)
    if slot is None:
        return
    query_length, key_length = query.shape[2], key.shape[2]
    # Queries are the last `query_length` positions of the keys (prefill, or a step with a cache).
    query_offset = key_length - query_length
    first, stop = request.rows_in(query_offset, query_length)
    if first == stop:
        return
    rows, columns = request.positions_on(query.device, query_offset, first, stop)
    scaling = kwargs.get("scaling")
    arguments = dict(
        rows=rows,
        columns=columns,
        query_offset=query_offset,
        scaling=scaling if scaling is not None else query.shape[-1] ** -0.5,
        sliding_window=kwargs.get("sliding_window"),
    )
    destinations = request.host_rows(slot, query.shape[0], query.shape[1], first, stop)
    if call is not None:  # on the CPU: written chunk by chunk straight into the result's host memory
        rows_from_log_sum_exp(call, rows, columns, request.chunk_bytes, out=destinations)
        return
    _rows_to_host(request, query, key, attention_mask, kwargs.get("softcap"), arguments, destinations)


def _rows_to_host(request: CaptureRequest, query, key, attention_mask, softcap, arguments: dict, destinations) -> None:
    """One layer's rows and masses, computed and queued for copying into `destinations` (its host memory).

    `benchmarks/host_path_variants.py` swaps this step for other ways to host memory, to measure them."""
    request.copier.copy(_rows_and_masses(request, query, key, attention_mask, softcap, arguments), destinations)


def _rows_and_masses(request: CaptureRequest, query, key, attention_mask, softcap, arguments: dict) -> torch.Tensor:
    """One flat tensor in the storage dtype: the kept probabilities `[B, H, Q, I]`, then the masses `[B, H, Q]`."""
    if _use_fused_kernel(request.kernel, query, softcap):
        from ._fused_rows import fused_attention_rows  # imports Triton: only where it runs

        try:
            return fused_attention_rows(query, key, attention_mask, output_dtype=request.storage_dtype, **arguments)
        except Exception as error:
            if request.kernel == "fused":
                raise
            # "auto" promised a capture, not a kernel: on a GPU Triton cannot compile for (e.g. bf16 before
            # Turing), the torch rows give the same numbers.
            _fused_kernel_failed.add(query.device)
            warnings.warn(
                f"the fused capture kernel failed on {query.device} ({type(error).__name__}: {error}); using the "
                "torch rows from now on (pass kernel='torch' to choose them and silence this)",
                stacklevel=2,
            )
    attention, mass = attention_rows(
        query, key, attention_mask, softcap=softcap, chunk_bytes=request.chunk_bytes, shared=request.shared, **arguments
    )
    return torch.cat((attention.reshape(-1), mass.reshape(-1))).to(request.storage_dtype)


def _use_fused_kernel(kernel: Kernel, query: torch.Tensor, softcap: float | None) -> bool:
    if kernel == "torch":
        return False
    if kernel == "fused":
        if softcap is not None:
            raise RuntimeError("the fused capture kernel does not do softcapping; use kernel='torch'")
        return True
    usable = query.device.type in FUSED_KERNEL_DEVICES and query.device not in _fused_kernel_failed
    usable = usable and _triton_available()
    return softcap is None and usable


_fused_kernel_failed: set[torch.device] = set()


def check_kernel_runs_on(kernel: Kernel, device: torch.device) -> None:
    """A one-line ValueError, before the forward pass, where `kernel` cannot run on `device`."""
    if kernel != "fused":
        return
    if not _triton_available():
        raise ValueError("kernel='fused' needs Triton (pip install triton); use kernel='auto' or 'torch'")
    # Triton's interpreter (TRITON_INTERPRET=1) runs the kernel on the CPU: the test suite checks it that way.
    if device.type not in FUSED_KERNEL_DEVICES and os.environ.get("TRITON_INTERPRET") != "1":
        raise ValueError(
            f"kernel='fused' runs on a CUDA GPU and the model is on {device}; use kernel='auto' or 'torch'"
        )


@functools.cache
def _triton_available() -> bool:
    return importlib.util.find_spec("triton") is not None


@torch.no_grad()
def attention_rows(
    query: torch.Tensor,
    key: torch.Tensor,
    attention_mask: torch.Tensor | None,
    rows: torch.Tensor,
    columns: torch.Tensor,
    query_offset: int,
    scaling: float,
    sliding_window: int | None = None,
    softcap: float | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    shared: dict | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """fp32 attention probabilities of query `rows` restricted to key `columns`, and each row's mass on them.

    `query` is `[B, H, S_q, D]`, `key` `[B, KV_H, S_k, D]` (grouped-query heads not repeated). The mask is what
    the wrapped implementation received: None (plain causal), a bool `[B|1, 1|H, S_q, S_k]` mask (True = attend),
    an additive float mask of that shape, or a `[B, S_k]` padding mask (flash attention; 1 = attend).
    `shared` keeps what is the same in every layer (the causal bias when there is no mask) between calls.
    Returns `[B, H, len(rows), len(columns)]` and `[B, H, len(rows)]`.
    """
    batch, heads, _, head_dim = query.shape
    kv_heads, key_length = key.shape[1], key.shape[2]
    groups = heads // kv_heads
    # One batched matrix product per chunk: [B*KV_H, groups*rows, D] @ [B*KV_H, D, S_k], no repeated keys.
    keys = key.float().transpose(-1, -2).reshape(batch * kv_heads, head_dim, key_length)
    rows_per_chunk = max(1, chunk_bytes // (2 * 4 * batch * heads * key_length))  # logits + probabilities
    chunks = [rows] if len(rows) <= rows_per_chunk else list(rows.split(rows_per_chunk))
    if len(chunks) > 1:
        shared = None  # kept per chunk across layers, the biases would add up to a mask over the whole sequence
    kept, masses = [], []
    for start, chunk in zip(range(0, len(rows), rows_per_chunk), chunks, strict=True):
        count = len(chunk)
        queries = query[:, :, chunk].float().reshape(batch * kv_heads, groups * count, head_dim)
        logits = torch.bmm(queries, keys)
        if softcap is not None:
            logits = softcap * torch.tanh(logits * (scaling / softcap))
            scale = 1.0
        else:
            scale = scaling
        layout = (batch, kv_heads, groups)
        bias = _bias(attention_mask, chunk, start, query_offset, key_length, sliding_window, layout, shared)
        logits = logits.mul_(scale) if bias is None else logits.mul_(scale).add_(bias)
        probabilities = torch.softmax(logits.view(batch, heads, count, key_length), dim=-1)
        if attention_mask is not None:
            probabilities.nan_to_num_(0.0)  # fully masked rows (padding queries) -> 0
        image_part = probabilities.index_select(-1, columns)
        kept.append(image_part)
        masses.append(image_part.sum(dim=-1))
    if len(kept) == 1:
        return kept[0], masses[0]
    return torch.cat(kept, dim=2), torch.cat(masses, dim=2)


def _bias(
    attention_mask: torch.Tensor | None,
    chunk: torch.Tensor,
    start: int,
    query_offset: int,
    key_length: int,
    sliding_window: int | None,
    layout: tuple[int, int, int],
    shared: dict | None,
) -> torch.Tensor:
    """The additive mask for the chunk's logits (see `_additive_mask`), laid out like them:
    `[B*KV_H, groups*rows, S_k]`, head h = kv_head * groups + group. Without a mask it is the same in every
    layer, so it is made once and reused."""
    batch, kv_heads, groups = layout
    count = len(chunk)
    cache_key = ("causal bias", chunk.device, start, count, query_offset, key_length, sliding_window, groups)
    if attention_mask is None and shared is not None and cache_key in shared:
        return shared[cache_key]
    bias = _additive_mask(attention_mask, chunk, query_offset, key_length, sliding_window)  # [B|1, H|1, rows, S_k]
    if bias.shape[:2] == (1, 1):  # the same for every sequence and head: broadcast, repeated per group only
        bias = bias.reshape(1, count, key_length).repeat(1, groups, 1)
    else:
        heads = kv_heads * groups
        bias = bias.expand(batch, heads, count, key_length).reshape(batch * kv_heads, groups * count, key_length)
    if attention_mask is None and shared is not None:
        shared[cache_key] = bias
    return bias


def _additive_mask(
    attention_mask: torch.Tensor | None,
    chunk: torch.Tensor,
    query_offset: int,
    key_length: int,
    sliding_window: int | None,
) -> torch.Tensor:
    """`[B|1, H|1, rows, S_k]` fp32: 0 where a row may attend, -inf where not, or the additive mask's values."""
    if attention_mask is not None and attention_mask.dim() == 4:
        mask = attention_mask[:, :, chunk]
        if mask.dtype == torch.bool:
            return torch.zeros(mask.shape, device=chunk.device).masked_fill_(~mask, float("-inf"))
        return mask.float()
    # No 4-D mask: the causal rule (bottom-right aligned), the sliding window, then any padding mask.
    key_positions = torch.arange(key_length, device=chunk.device)[None, :]
    query_positions = (chunk + query_offset)[:, None]
    allowed = key_positions <= query_positions
    if sliding_window is not None:
        allowed &= key_positions > query_positions - sliding_window
    allowed = allowed[None, None]
    if attention_mask is not None:
        if attention_mask.dim() != 2:
            raise RuntimeError(f"unexpected attention mask of shape {tuple(attention_mask.shape)} during capture")
        allowed = allowed & attention_mask.bool()[:, None, None, :]
    return torch.zeros(allowed.shape, device=chunk.device).masked_fill_(~allowed, float("-inf"))


# ----- visual sink scores ------------------------------------------------------------------------------------------
#
# "See What You Are Told" (Kang et al., ICLR 2025) calls a token a visual sink where the largest absolute value, over
# a few model-specific "sink dimensions", of its RMS-normalized hidden state exceeds tau = 20. Those dimensions are
# found per base model by hand; here the largest absolute value is taken over every dimension, which needs no list
# for Qwen models and flags a superset (the sink dimensions are among all of them). The normalization is x / rms(x),
# without the norm's learned weight (Qwen3.5's norm scales by 1 + weight, the others by weight): the normalized
# vector has an RMS of 1 whatever the model, so tau means the same everywhere (a value over 20 in a D-wide state
# holds at least 400 / D of its squared norm).

SINK_CHUNK_BYTES = 64 * 2**20  # fp32 working memory for one layer's image tokens' hidden states


@dataclass
class SinkScores:
    """Per kept decoder layer, each image token's largest |value| of its RMS-normalized hidden state entering that
    layer's attention, from the forward call that computes the image tokens (the prefill)."""

    layers: tuple[int, ...]
    image_positions: torch.Tensor  # [I] long
    scores: dict[int, torch.Tensor] = field(default_factory=dict)  # decoder layer -> [B, I] fp32, on its device
    _positions: dict[torch.device, torch.Tensor] = field(default_factory=dict)

    def keep(self, layer: int, hidden: torch.Tensor, eps: float) -> None:
        if hidden.shape[1] <= int(self.image_positions[-1]):  # a decoding step: the image is in the cache
            return
        if hidden.device not in self._positions:
            self._positions[hidden.device] = self.image_positions.to(hidden.device)
        image = hidden.index_select(1, self._positions[hidden.device])  # [B, I, D], in the model's dtype
        per_chunk = max(1, SINK_CHUNK_BYTES // (4 * hidden.shape[-1]))
        parts = [sink_scores_of(part, eps) for part in image.flatten(0, 1).split(per_chunk)]
        self.scores[layer] = torch.cat(parts).view(image.shape[:2])

    def all_layers(self) -> torch.Tensor:
        """`[layers, B, I]` fp32 on the CPU, checking that every kept layer was seen."""
        missing = [layer for layer in self.layers if layer not in self.scores]
        if missing:
            raise RuntimeError(f"capture expected sink scores from decoder layers {missing} but got none")
        return torch.stack([self.scores[layer].cpu() for layer in self.layers])


def sink_scores_of(hidden: torch.Tensor, eps: float) -> torch.Tensor:
    """`[tokens]` fp32: max_d |x_d| / sqrt(mean_d x_d^2 + eps) of each row of `hidden` `[tokens, D]`."""
    values = hidden.float()
    return values.abs().amax(dim=-1) / values.square().mean(dim=-1).add(eps).sqrt()


def decoder_layers(model: torch.nn.Module) -> torch.nn.ModuleList:
    """The text decoder's layers (each with its `input_layernorm`, the norm in front of its attention)."""
    get_base_model = getattr(model, "get_base_model", None)
    inner = get_base_model() if callable(get_base_model) else model  # peft wraps the model
    for name, module in inner.named_modules():
        if name.endswith("language_model") and isinstance(getattr(module, "layers", None), torch.nn.ModuleList):
            return module.layers
    raise RuntimeError(f"cannot find the text decoder's layers in {type(model).__name__} (no language_model.layers)")


@contextlib.contextmanager
def recording_sink_scores(model: torch.nn.Module, sinks: SinkScores) -> Iterator[SinkScores]:
    """Within this block, forward passes of `model` fill `sinks`: a forward pre-hook on each kept layer's
    `input_layernorm` reads the hidden state entering it (the residual stream, visual features of Qwen3-VL's
    deepstack included) and returns nothing, so the model computes exactly what it computes without it."""
    layers = decoder_layers(model)
    handles = []
    try:
        for index in sinks.layers:
            norm: torch.nn.Module = layers[index].input_layernorm  # type: ignore[assignment]  # a module's child
            eps = float(getattr(norm, "variance_epsilon", getattr(norm, "eps", 1e-6)))

            def keep(module, args, index=index, eps=eps) -> None:
                sinks.keep(index, args[0], eps)

            handles.append(norm.register_forward_pre_hook(keep))
        yield sinks
    finally:
        for handle in handles:
            handle.remove()
