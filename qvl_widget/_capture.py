"""Capturing text->image attention probabilities on the model's own fast attention.

A wrapper attention function is registered in transformers' attention registry (with the wrapped
implementation's mask function, so masks are built exactly as before) and switched on for the text decoder
only, for the duration of one forward pass. It returns exactly what the wrapped implementation (sdpa, flash,
...) returns, so the model's outputs are unchanged, and on the side computes, in fp32, the softmax of
`q @ k^T * scaling` for the query rows only, keeping the image-token columns. Rows go in chunks, so memory
grows with queries x keys per chunk, never with sequence^2.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from transformers import AttentionInterface
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

_PREFIX = "qvl_capture__"
DEFAULT_CHUNK_BYTES = 256 * 2**20  # fp32 working memory per chunk of query rows


@dataclass
class CaptureRequest:
    """What to keep during one forward pass, and where the kept rows go.

    Positions are absolute sequence positions (for batch item 0's layout; batches share one layout).
    """

    query_positions: torch.Tensor  # [Q] long
    image_positions: torch.Tensor  # [I] long
    storage_dtype: torch.dtype = torch.float32
    chunk_bytes: int = DEFAULT_CHUNK_BYTES
    attention: dict[int, torch.Tensor] = field(default_factory=dict)  # layer -> [B, H, Q, I] on the CPU
    image_mass: dict[int, torch.Tensor] = field(default_factory=dict)  # layer -> [B, H, Q] on the CPU
    # Per device: the positions there, and pinned host buffers the rows are copied into without a sync.
    _on_device: dict = field(default_factory=dict)
    _host: dict = field(default_factory=dict)

    def positions_on(self, device: torch.device, query_offset: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Query rows (relative to this call's queries) and image columns on `device`, copied there once."""
        key = (device, query_offset)
        if key not in self._on_device:
            rows = (self.query_positions - query_offset).to(device, non_blocking=True)
            self._on_device[key] = (rows, self.image_positions.to(device, non_blocking=True))
        return self._on_device[key]

    def host_buffer(self, name: str, layer: int, shape: tuple[int, ...], num_layers: int) -> torch.Tensor:
        """A pinned CPU slice for one layer's rows, from one buffer allocated for all layers at first use."""
        if name not in self._host:
            self._host[name] = torch.empty((num_layers, *shape), dtype=self.storage_dtype, pin_memory=True)
        return self._host[name][layer]


_active_request: contextvars.ContextVar[CaptureRequest | None] = contextvars.ContextVar(
    "qvl_widget_capture_request", default=None
)


def capture_name(implementation: str) -> str:
    """The registry name of the capturing wrapper around `implementation`.

    It keeps the wrapped name inside it, because transformers tests names (e.g. `"flash" in name`) to pick
    code paths: the model must take the same paths as without capture.
    """
    return f"{_PREFIX}{implementation}"


def wrapped_implementation(name: str) -> str:
    return name[len(_PREFIX) :] if name.startswith(_PREFIX) else name


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
        output = _original_function(implementation, module)(module, query, key, value, attention_mask, **kwargs)
        request = _active_request.get()
        if request is not None and getattr(module, "layer_idx", None) is not None:
            _keep_rows(request, module, query, key, attention_mask, kwargs)
        return output

    capturing_attention.__name__ = f"capturing_{implementation}_attention"
    return capturing_attention


@contextlib.contextmanager
def capturing(model: torch.nn.Module, request: CaptureRequest) -> Iterator[CaptureRequest]:
    """Within this block, forward passes of `model` fill `request`; afterwards the model is as it was."""
    text_config = model.config.get_text_config()
    original = text_config._attn_implementation
    if original is None or original.startswith(_PREFIX):
        raise RuntimeError(f"capture is already active on this model (text attention is {original!r})")
    model.set_attn_implementation({"text_config": _register(original)})
    token = _active_request.set(request)
    try:
        yield request
        if torch.cuda.is_available() and model.device.type == "cuda":
            torch.cuda.synchronize(model.device)  # the non-blocking copies to the host are complete
    finally:
        _active_request.reset(token)
        model.set_attn_implementation({"text_config": original})


def _keep_rows(request: CaptureRequest, module, query, key, attention_mask, kwargs) -> None:
    query_length, key_length = query.shape[2], key.shape[2]
    # Queries are the last `query_length` positions of the keys (prefill, or a step with a cache).
    query_offset = key_length - query_length
    rows = request.query_positions - query_offset  # on the CPU: no device sync per layer
    inside = (rows >= 0) & (rows < query_length)
    if not bool(inside.all()):
        if bool(inside.any()):
            raise RuntimeError("capture needs all query tokens in one forward pass; run the whole prompt at once")
        return
    device_rows, device_columns = request.positions_on(query.device, query_offset)
    scaling = kwargs.get("scaling")
    attention, mass = attention_rows(
        query,
        key,
        attention_mask,
        rows=device_rows,
        columns=device_columns,
        query_offset=query_offset,
        scaling=scaling if scaling is not None else query.shape[-1] ** -0.5,
        sliding_window=kwargs.get("sliding_window"),
        softcap=kwargs.get("softcap"),
        chunk_bytes=request.chunk_bytes,
    )
    num_layers = module.config.num_hidden_layers
    for name, rows_out, store in (("attention", attention, request.attention), ("mass", mass, request.image_mass)):
        store[module.layer_idx] = _to_host(request, name, module.layer_idx, rows_out, num_layers)


def _to_host(request: CaptureRequest, name: str, layer: int, tensor: torch.Tensor, num_layers: int) -> torch.Tensor:
    """A CPU copy. From a GPU it goes into one pinned buffer without waiting, so the forward pass never stalls
    on a copy or an allocation; `capturing` synchronises once at the end."""
    tensor = tensor.to(request.storage_dtype)
    if tensor.device.type != "cuda":
        return tensor.cpu()
    host = request.host_buffer(name, layer, tuple(tensor.shape), num_layers)
    return host.copy_(tensor, non_blocking=True)


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
) -> tuple[torch.Tensor, torch.Tensor]:
    """fp32 attention probabilities of query `rows` restricted to key `columns`, and each row's mass on them.

    `query` is `[B, H, S_q, D]`, `key` `[B, KV_H, S_k, D]` (grouped-query heads not repeated). The mask is what
    the wrapped implementation received: None (plain causal), a bool `[B|1, 1|H, S_q, S_k]` mask (True = attend),
    an additive float mask of that shape, or a `[B, S_k]` padding mask (flash attention; 1 = attend).
    Returns `[B, H, len(rows), len(columns)]` and `[B, H, len(rows)]`.
    """
    batch, heads, _, head_dim = query.shape
    kv_heads, key_length = key.shape[1], key.shape[2]
    groups = heads // kv_heads
    keys = key.float().transpose(-1, -2)  # [B, KV_H, D, S_k]
    rows_per_chunk = max(1, chunk_bytes // (3 * 4 * batch * heads * key_length))
    kept, masses = [], []
    for chunk in rows.split(rows_per_chunk):
        queries = query[:, :, chunk].float().reshape(batch, kv_heads, groups * len(chunk), head_dim)
        logits = (queries @ keys).reshape(batch, heads, len(chunk), key_length) * scaling
        if softcap is not None:
            logits = softcap * torch.tanh(logits / softcap)
        logits = _apply_mask(logits, attention_mask, chunk, query_offset, sliding_window)
        probabilities = torch.softmax(logits, dim=-1).nan_to_num_(0.0)  # fully masked rows (padding) -> 0
        image_part = probabilities[..., columns]
        kept.append(image_part)
        masses.append(image_part.sum(dim=-1))
    return torch.cat(kept, dim=2), torch.cat(masses, dim=2)


def _apply_mask(
    logits: torch.Tensor,
    attention_mask: torch.Tensor | None,
    chunk: torch.Tensor,
    query_offset: int,
    sliding_window: int | None,
) -> torch.Tensor:
    key_positions = torch.arange(logits.shape[-1], device=logits.device)
    if attention_mask is not None and attention_mask.dim() == 4:
        mask = attention_mask[:, :, chunk]
        if mask.dtype == torch.bool:
            return logits.masked_fill(~mask, float("-inf"))
        return logits + mask.float()
    # No 4-D mask: the causal rule (bottom-right aligned), the sliding window, then any padding mask.
    query_positions = (chunk + query_offset)[:, None]
    allowed = key_positions[None, :] <= query_positions
    if sliding_window is not None:
        allowed &= key_positions[None, :] > query_positions - sliding_window
    allowed = allowed[None, None]
    if attention_mask is not None:
        if attention_mask.dim() != 2:
            raise RuntimeError(f"unexpected attention mask of shape {tuple(attention_mask.shape)} during capture")
        allowed = allowed & attention_mask.bool()[:, None, None, :]
    return logits.masked_fill(~allowed, float("-inf"))
