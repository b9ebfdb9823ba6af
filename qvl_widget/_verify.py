"""Checking capture against eager attention on the user's own model: `LoadedModel.verify`.

Four forward passes on one small input:

1. the model as loaded (its own attention: sdpa, flash, ...), full logits;
2. the same inside `capturing`, full logits: they must equal pass 1's bit for bit (capture changes no output);
3. `capture_prepared`, the path `capture` takes: the rows a user gets;
4. transformers' eager attention with `output_attentions=True`, with capture switched on around it. Eager runs
   through a wrapper (`_reference_attention`) that also recomputes each layer's weights from the same q and k in
   fp32 (transformers' own `eager_attention_forward` on upcast tensors) and keeps the kept rows' image columns.

Pass 3 against pass 4's eager weights is the check a user would write (`attention_max_diff`, `mass_max_diff`):
exact up to rounding in fp32; in bf16 / fp16 it also holds eager's own rounding (eager rounds `q @ k^T` and the
probabilities to the model dtype, capture does not) and the drift between two runs. Pass 4's capture against
its fp32 recomputation (`reference_max_diff`) is capture's arithmetic alone, from identical q and k: within
1e-5 in every dtype. `output_attentions=True` keeps every layer's `[heads, sequence, sequence]` weights, so the
input is small by default and the cost is checked, and refused, before anything runs.
"""

from __future__ import annotations

import contextlib
import contextvars
import html
import logging
import math
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from transformers import AttentionInterface
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

from . import _memory
from ._arguments import checked_flag
from ._capture import DEFAULT_CHUNK_BYTES, CaptureRequest, Kernel, capturing, check_kernel_runs_on
from ._families import attention_layers
from ._inputs import MediaInput, Messages, checked_pixel_bounds

if TYPE_CHECKING:
    from ._loading import LoadedModel

# The default image size: at most this many image tokens. The eager reference keeps layers x heads x sequence^2
# weights, so its cost grows with the square of the tokens: 256 image tokens (a 16 x 16 grid, most of a ~300
# token sequence) cost ~0.13 GiB in bf16 at the 7B shape (28 layers x 28 heads) and ~0.86 GiB at the 72B shape
# (80 x 64); 1024 would cost 16x that. The check does not depend on the image size: capture computes every row
# over all keys the same way, whatever their number.
DEFAULT_VERIFY_IMAGE_TOKENS = 256

# How far capture (as `capture` returns it) may be from eager attention run separately in the model's dtype,
# per dtype: measured by `benchmarks/faithfulness.py` (the README's table), with margin. u: the dtype's unit
# roundoff (2^-24 fp32, 2^-8 bf16, 2^-11 fp16). fp32: both compute the same fp32 softmax, only the two runs'
# summation orders differ (measured <= 1.6e-6 = 27 u): 1e-5. bf16 / fp16: eager rounds q @ k^T (and its
# probabilities) to the model dtype, capture does not. That rounding is relative to the logits, so the difference
# grows with the layer's largest |logit| L: measured <= 0.65 u per unit of L in a layer of the trained demo model
# (L up to 40; 16.6 u at most), <= 0.41 u per unit with random q and k (L 1-160), <= 0.9 u in all on the random
# tiny models (L < 4). Allowed: max(16 u, 2 u L).
_FP32_BASE = 1e-5
_ROUNDING_UNITS = 16
_ROUNDING_UNITS_PER_LOGIT = 2
# Capture against transformers' eager recomputed in fp32 from the same pass's q and k, in every dtype
# (measured: 0, bit-identical on the CPU).
REFERENCE_TOLERANCE = 1e-5
_REFERENCE = "qvl_verify__eager"  # the registry name of `_reference_attention`


@dataclass(frozen=True)
class Tolerance:
    """What a passing check allows. Capture against eager run separately, for a layer's attention and image
    shares: `max(base, per_logit * L)`, L the layer's largest |logit|; against the same pass's fp32
    recomputation: `reference`."""

    base: float
    per_logit: float
    reference: float = REFERENCE_TOLERANCE

    def against_eager(self, largest_logit: float) -> float:
        return max(self.base, self.per_logit * largest_logit)


def tolerance_for(dtype: torch.dtype) -> Tolerance:
    """The tolerance of a model dtype: fp32 (and wider) 1e-5, bf16 / fp16 16 units of roundoff; in every dtype at
    least two units of roundoff per unit of the layer's largest |logit|."""
    unit = torch.finfo(dtype).eps / 2
    per_logit = _ROUNDING_UNITS_PER_LOGIT * unit
    if torch.finfo(dtype).bits < 32:
        return Tolerance(base=_ROUNDING_UNITS * unit, per_logit=per_logit)
    return Tolerance(base=_FP32_BASE, per_logit=per_logit)


@dataclass(frozen=True, eq=False)
class VerifyReport:
    """What `LoadedModel.verify` measured: capture against eager attention, per kept decoder layer.

    `attention_max_diff[k]` / `mass_max_diff[k]`: the largest absolute difference, over heads, query rows and
    image columns, between capture's attention (its image share) and eager attention's, in decoder layer
    `layer_ids[k]`; `reference_max_diff[k]`: capture against eager recomputed in fp32 from the same q and k.
    `logits_identical`: the model's logits with and without capture are bit-identical.
    """

    model: str
    family: str
    dtype: str  # the model's, e.g. "bfloat16"
    device: str
    implementation: str  # the model's own text attention, checked against eager (e.g. "sdpa")
    layer_ids: tuple[int, ...]
    heads: int
    sequence_length: int
    image_tokens: int
    query_rows: int
    eager_bytes: int  # the eager attention output_attentions keeps: layers x heads x sequence^2 x dtype bytes
    attention_max_diff: np.ndarray = field(repr=False)  # [len(layer_ids)] float64
    mass_max_diff: np.ndarray = field(repr=False)
    reference_max_diff: np.ndarray = field(repr=False)
    largest_logit: np.ndarray = field(repr=False)  # largest |q . k * scaling| of the kept rows, per layer
    logits_identical: bool
    logits_max_diff: float
    tolerance: Tolerance

    def __post_init__(self) -> None:
        for name in ("attention_max_diff", "mass_max_diff", "reference_max_diff", "largest_logit"):
            values = np.array(getattr(self, name), dtype=np.float64)  # a copy: the report does not change
            if values.shape != (len(self.layer_ids),):
                raise ValueError(f"{name} needs one value per layer ({len(self.layer_ids)}), got {values.shape}")
            values.setflags(write=False)
            object.__setattr__(self, name, values)

    @property
    def passed(self) -> bool:
        """Every layer within the dtype's tolerance (NaN fails), and the logits unchanged by capture."""
        return not self.failures

    @property
    def eager_tolerance(self) -> np.ndarray:
        """Per layer: the largest difference from eager run separately that passes (see `Tolerance`)."""
        return np.array([self.tolerance.against_eager(float(logit)) for logit in self.largest_logit])

    @property
    def failures(self) -> tuple[str, ...]:
        """One line per failed check; empty when the report passed."""
        failed = []
        checks = (
            ("attention vs eager", self.attention_max_diff, self.eager_tolerance),
            ("image share vs eager", self.mass_max_diff, self.eager_tolerance),
            ("fp32 reference", self.reference_max_diff, np.full(len(self.layer_ids), self.tolerance.reference)),
        )
        for name, values, bounds in checks:
            bad = [
                f"{layer} ({value:.1e} > {bound:.2g})"
                for layer, value, bound in zip(self.layer_ids, values, bounds, strict=True)
                if not value <= bound  # NaN fails
            ]
            if bad:
                failed.append(f"{name}: layer {', '.join(bad)}")
        if not self.logits_identical:
            failed.append(f"logits: capture changed them (by up to {self.logits_max_diff:.1e})")
        if failed and all(line.startswith(("attention vs", "image share vs")) for line in failed):
            failed.append(
                "capture equals eager recomputed in fp32 from the same q and k, so this is how far eager itself "
                f"rounds in {self.dtype} (more where logits are large, and across two runs); to check capture at "
                "1e-5, load the model with dtype='float32'"
            )
        return tuple(failed)

    @property
    def eager_mib(self) -> float:
        return self.eager_bytes / 2**20  # binary units, as everywhere in the package

    def to_dict(self) -> dict[str, Any]:
        """Plain Python values (JSON-ready)."""
        return {
            "passed": self.passed,
            "failures": list(self.failures),
            "model": self.model,
            "family": self.family,
            "dtype": self.dtype,
            "device": self.device,
            "implementation": self.implementation,
            "layer_ids": list(self.layer_ids),
            "heads": self.heads,
            "sequence_length": self.sequence_length,
            "image_tokens": self.image_tokens,
            "query_rows": self.query_rows,
            "eager_bytes": self.eager_bytes,
            "attention_max_diff": self.attention_max_diff.tolist(),
            "mass_max_diff": self.mass_max_diff.tolist(),
            "reference_max_diff": self.reference_max_diff.tolist(),
            "largest_logit": self.largest_logit.tolist(),
            "logits_identical": self.logits_identical,
            "logits_max_diff": self.logits_max_diff,
            "eager_tolerance": self.eager_tolerance.tolist(),
            "tolerance": {
                "base": self.tolerance.base,
                "per_logit": self.tolerance.per_logit,
                "reference": self.tolerance.reference,
            },
        }

    def _title(self) -> str:
        verdict = "PASSED" if self.passed else "FAILED"
        return f"verify {verdict}: {self.model} ({self.family}, {self.dtype}, {self.device}, {self.implementation})"

    def _sizes(self) -> str:
        return (
            f"{self.sequence_length} tokens ({self.image_tokens} image, {self.query_rows} query rows), "
            f"{self.heads} heads; eager reference {_memory.binary_size(self.eager_bytes)}"
        )

    def _rows(self) -> list[tuple[str, ...]]:
        columns = (
            self.attention_max_diff,
            self.mass_max_diff,
            self.eager_tolerance,
            self.reference_max_diff,
            self.largest_logit,
        )
        return [
            (str(layer), f"{attention:.1e}", f"{mass:.1e}", f"{bound:.2g}", f"{reference:.1e}", f"{logit:.1f}")
            for layer, attention, mass, bound, reference, logit in zip(self.layer_ids, *columns, strict=True)
        ]

    def _notes(self) -> list[str]:
        logits = "bit-identical" if self.logits_identical else f"DIFFERENT (by up to {self.logits_max_diff:.1e})"
        return [
            f"fp32 reference: capture vs eager recomputed in fp32 from the same q, k (tolerance "
            f"{self.tolerance.reference:.0e})",
            f"logits with and without capture: {logits}",
            *self.failures,
        ]

    _HEADER = ("layer", "attention", "image share", "tolerance", "fp32 reference", "largest |logit|")

    def __str__(self) -> str:
        widths = [max(len(row[column]) for row in [self._HEADER, *self._rows()]) for column in range(len(self._HEADER))]
        table = [
            "  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True))
            for row in [self._HEADER, *self._rows()]
        ]
        return "\n".join([self._title(), self._sizes(), "largest |capture - eager| per layer:", *table, *self._notes()])

    def __repr__(self) -> str:
        worst = float(np.max(self.attention_max_diff, initial=0.0))
        return (
            f"VerifyReport(passed={self.passed}, model={self.model!r}, dtype={self.dtype}, "
            f"layers={len(self.layer_ids)}, attention_max_diff={worst:.1e}, logits_identical={self.logits_identical})"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # IPython's terminal
        printer.text(repr(self) if cycle else str(self))

    def _repr_html_(self) -> str:  # notebooks: one table
        def cells(row: Sequence[str], tag: str) -> str:
            return "".join(f"<{tag}>{html.escape(cell)}</{tag}>" for cell in row)

        body = "".join(f"<tr>{cells(row, 'td')}</tr>" for row in self._rows())
        notes = "".join(f"<br>{html.escape(line)}" for line in self._notes())
        return (
            f"<table><caption>{html.escape(self._title())}<br>{html.escape(self._sizes())}<br>"
            f"largest |capture - eager| per layer</caption><thead><tr>{cells(self._HEADER, 'th')}</tr></thead>"
            f"<tbody>{body}</tbody></table>{notes[4:]}"
        )


def default_max_pixels(processor: Any) -> int:
    """The pixel count of `DEFAULT_VERIFY_IMAGE_TOKENS` image tokens for this processor (one token: a merged
    patch, e.g. 28 x 28 pixels in Qwen2/2.5-VL, 32 x 32 in Qwen3-VL)."""
    return DEFAULT_VERIFY_IMAGE_TOKENS * _pixels_per_token(processor)


def _pixels_per_token(processor: Any) -> int:
    image_processor = processor.image_processor
    return (int(image_processor.patch_size) * int(image_processor.merge_size)) ** 2


def eager_cost(layers: int, heads: int, sequence: int, itemsize: int) -> int:
    """Bytes of the weights `output_attentions=True` keeps: every layer's `[heads, sequence, sequence]`."""
    return layers * heads * sequence**2 * itemsize


def _working_bytes(heads: int, sequence: int, vocabulary: int, itemsize: int) -> int:
    """Besides the eager weights: one layer's fp32 softmax and fp32 recomputation, and two passes' logits."""
    return 3 * heads * sequence**2 * 4 + 2 * sequence * vocabulary * itemsize


def free_bytes(device: torch.device) -> int | None:
    """Memory free for new allocations where the eager pass runs (None: not known, no check)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))
    return _memory.available_bytes()


def check_eager_fits(
    layers: int,
    heads: int,
    sequence: int,
    image_tokens: int,
    pixels_per_token: int,
    vocabulary: int,
    itemsize: int,
    device: torch.device,
) -> int:
    """The eager weights' size in bytes; a one-line CaptureTooLargeError, before anything runs, when they and the
    working memory would not fit in the memory free, naming how to shrink the input."""
    eager = eager_cost(layers, heads, sequence, itemsize)
    total = eager + _working_bytes(heads, sequence, vocabulary, itemsize)
    available = free_bytes(device)
    if available is None or total <= available:
        return eager
    per_token_squared = layers * heads * itemsize + 3 * heads * 4  # the terms that grow with sequence^2
    fitting = math.isqrt(max(0, available - 2 * sequence * vocabulary * itemsize) // per_token_squared)
    image_fitting = (fitting - (sequence - image_tokens)) // 2  # the text stays; half, for what else runs
    if image_fitting >= 4:
        shrink = f"pass a smaller image (max_pixels={image_fitting * pixels_per_token} or less)"
    else:
        shrink = "pass a shorter prompt and a smaller image (max_pixels=...)"
    raise _memory.CaptureTooLargeError(
        f"verify's eager reference would take {_memory.binary_size(eager)} ({layers} layers x {heads} heads x "
        f"{sequence}^2 tokens x {itemsize} bytes) plus {_memory.binary_size(total - eager)} working memory, and the "
        f"{device.type} has {_memory.binary_size(available)} free: {shrink}, or verify on a machine with more memory"
    )


@dataclass
class _Reference:
    """What `_reference_attention` keeps during the eager pass: per decoder layer, the fp32 recomputation of
    the kept rows' image columns `[heads, rows, image tokens]` (batch item 0)."""

    rows: torch.Tensor
    columns: torch.Tensor
    layers: frozenset[int]
    kept: dict[int, torch.Tensor] = field(default_factory=dict)
    largest_logit: dict[int, float] = field(default_factory=dict)


_active_reference: contextvars.ContextVar[_Reference | None] = contextvars.ContextVar(
    "qvl_widget_verify_reference", default=None
)


def _reference_attention(module, query, key, value, attention_mask, **kwargs):
    """transformers' eager attention, unchanged; on the side, the same eager function on the same q, k and v
    upcast to fp32, whose weights' kept rows and image columns are kept."""
    eager = sys.modules[type(module).__module__].eager_attention_forward
    output, weights = eager(module, query, key, value, attention_mask, **kwargs)
    reference = _active_reference.get()
    layer = getattr(module, "layer_idx", None)
    if reference is not None and layer in reference.layers:
        if query.dtype == torch.float32:
            exact = weights
        else:
            floating = attention_mask is not None and attention_mask.is_floating_point()
            mask = attention_mask.float() if floating else attention_mask
            _, exact = eager(module, query.float(), key.float(), value.float(), mask, **kwargs)
        rows, columns = reference.rows.to(exact.device), reference.columns.to(exact.device)
        reference.kept[layer] = exact[0].index_select(1, rows).index_select(2, columns).float().cpu()
        scaling = kwargs.get("scaling")
        scaling = query.shape[-1] ** -0.5 if scaling is None else scaling
        reference.largest_logit[layer] = _largest_logit(query, key, attention_mask, rows, scaling)
    return output, weights


def _largest_logit(query, key, attention_mask, rows: torch.Tensor, scaling: float) -> float:
    """The largest |q . k * scaling| of the kept rows (batch item 0) over the keys they attend to, in fp32: what
    eager's rounding of `q @ k^T` to the model dtype is relative to."""
    queries = query[0].index_select(1, rows).float()  # [H, rows, D]
    keys = key[0].float().repeat_interleave(queries.shape[0] // key.shape[1], dim=0)  # [H, S, D]
    logits = queries @ keys.transpose(-1, -2) * scaling
    if attention_mask is not None and attention_mask.dim() == 4:
        mask = attention_mask[0].index_select(1, rows)
        allowed = mask if mask.dtype == torch.bool else mask > torch.finfo(mask.dtype).min / 2
    else:  # no cache here: row r attends to keys 0..r
        allowed = torch.arange(keys.shape[1], device=rows.device)[None, :] <= rows[:, None]
    return float(logits.masked_fill(~allowed, 0.0).abs().max())


def _register_reference() -> str:
    if _REFERENCE not in ALL_ATTENTION_FUNCTIONS:
        AttentionInterface.register(_REFERENCE, _reference_attention)
        AttentionMaskInterface.register(_REFERENCE, ALL_MASK_ATTENTION_FUNCTIONS["eager"])
    return _REFERENCE


@contextlib.contextmanager
def _text_attention(model: Any, implementation: str) -> Iterator[None]:
    """The text decoder on `implementation` within the block; as it was afterwards, also after an error."""
    original = model.config.get_text_config()._attn_implementation
    model.set_attn_implementation({"text_config": implementation})
    try:
        yield
    finally:
        model.set_attn_implementation({"text_config": original})


class _DropMessages(logging.Filter):
    """Drops the log records whose message contains `fragment`."""

    def __init__(self, fragment: str) -> None:
        super().__init__()
        self.fragment = fragment

    def filter(self, record: logging.LogRecord) -> bool:
        return self.fragment not in record.getMessage()


@contextlib.contextmanager
def _vision_tower_warning_dropped() -> Iterator[None]:
    """Within the block, transformers' warning that sdpa returns no attention weights is dropped: the eager pass
    asks for the text decoder's weights, and the kwarg also reaches the vision tower (sdpa), whose weights verify
    never reads. (It is a `warning_once`: dropped here, it is not repeated later in the process either.)"""
    logger = logging.getLogger("transformers.integrations.sdpa_attention")
    drop = _DropMessages("does not support `output_attentions=True`")
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


def verify_model(
    loaded: LoadedModel,
    image_or_images: MediaInput | Sequence[MediaInput] | None,
    prompt: str | None,
    *,
    messages: Messages | None = None,
    system: str | None = None,
    thinking: bool | None = None,
    layers: Sequence[int] | None = None,
    chat: bool = True,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    kernel: Kernel = "auto",
    verbose: bool = True,
) -> VerifyReport:
    """`LoadedModel.verify`: see there."""
    from ._loading import checked_chunk_bytes, checked_kernel

    model = loaded.model
    # Every argument is checked before anything runs (the model's attention is switched only in pass 4).
    verbose = checked_flag(verbose, "verbose")
    layer_ids = loaded.kept_layers(layers)
    chunk_bytes = checked_chunk_bytes(chunk_bytes)
    check_kernel_runs_on(checked_kernel(kernel), loaded.device)
    min_pixels, max_pixels = checked_pixel_bounds(min_pixels, max_pixels)
    if max_pixels is None:
        max_pixels = max(default_max_pixels(loaded.processor), min_pixels or 0)
    prepared = loaded.prepare(
        image_or_images,
        prompt,
        chat=chat,
        min_pixels=min_pixels,
        max_pixels=max_pixels,
        system=system,
        messages=messages,
        thinking=thinking,
    )
    text = model.config.get_text_config()
    sequence = int(prepared.model_inputs["input_ids"].shape[1])
    image_tokens, query_rows = len(prepared.image_positions), len(prepared.query_positions)
    itemsize = loaded.dtype.itemsize
    mapped_layers = attention_layers(text)  # output.attentions holds these only (all layers but linear attention)
    eager_bytes = check_eager_fits(
        len(mapped_layers),
        text.num_attention_heads,
        sequence,
        image_tokens,
        _pixels_per_token(loaded.processor),
        text.vocab_size,
        itemsize,
        loaded.device,
    )
    if verbose:
        print(
            f"verify: {sequence} tokens ({image_tokens} image); eager reference {_memory.binary_size(eager_bytes)} "
            f"({len(mapped_layers)} layers x {text.num_attention_heads} heads x {sequence}^2 x {itemsize} bytes)",
            file=sys.stderr,
        )
    inputs = {name: value.to(loaded.device) for name, value in prepared.model_inputs.items()}
    implementation = text._attn_implementation
    rows, columns = torch.as_tensor(prepared.query_positions), torch.as_tensor(prepared.image_positions)

    # 1 and 2: the logits without and with capture.
    with torch.inference_mode():
        plain = model(**inputs, use_cache=False).logits
        with capturing(model, CaptureRequest(rows, columns, chunk_bytes=chunk_bytes, kernel=kernel, layers=layer_ids)):
            captured_logits = model(**inputs, use_cache=False).logits
    logits_identical = bool(torch.equal(plain, captured_logits))
    logits_max_diff = float((plain.float() - captured_logits.float()).abs().max())
    del plain, captured_logits

    # 3: what `capture` returns.
    result = loaded.capture_prepared(prepared, layers=layers, chunk_bytes=chunk_bytes, kernel=kernel)

    # 4: eager, with capture around it and the fp32 recomputation beside it.
    request = CaptureRequest(rows, columns, chunk_bytes=chunk_bytes, kernel=kernel, layers=layer_ids)
    reference = _Reference(rows, columns, frozenset(layer_ids))
    token = _active_reference.set(reference)
    try:
        with _text_attention(model, _register_reference()), torch.inference_mode(), _vision_tower_warning_dropped():
            with capturing(model, request):
                output = model(**inputs, output_attentions=True, use_cache=False, logits_to_keep=1)
            on_device = rows.to(loaded.device), columns.to(loaded.device)
            eager = [
                output.attentions[mapped_layers.index(layer)][0].index_select(1, on_device[0]) for layer in layer_ids
            ]
            eager_rows = torch.stack(eager).index_select(3, on_device[1]).float().cpu().numpy()
            del output, eager  # [layers, heads, rows, image tokens] kept
    finally:
        _active_reference.reset(token)
    same_pass = request.all_layers()[0][:, 0].numpy()
    exact = torch.stack([reference.kept[layer] for layer in layer_ids]).numpy()

    return VerifyReport(
        model=loaded.name,  # shareable: a report may be posted; never a local path
        family=loaded.family.name,
        dtype=str(loaded.dtype).removeprefix("torch."),
        device=str(loaded.device),
        implementation=str(implementation),
        layer_ids=layer_ids,
        heads=text.num_attention_heads,
        sequence_length=sequence,
        image_tokens=image_tokens,
        query_rows=query_rows,
        eager_bytes=eager_bytes,
        attention_max_diff=_max_per_layer(result.attention, eager_rows),
        mass_max_diff=_max_per_layer(result.image_mass, eager_rows.sum(axis=-1, dtype=np.float64)),
        reference_max_diff=_max_per_layer(same_pass, exact),
        largest_logit=np.array([reference.largest_logit[layer] for layer in layer_ids]),
        logits_identical=logits_identical,
        logits_max_diff=logits_max_diff,
        tolerance=tolerance_for(loaded.dtype),
    )


def _max_per_layer(values: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Largest absolute difference per layer (first axis); NaN where either side has one."""
    difference = np.abs(values.astype(np.float64) - expected.astype(np.float64))
    return difference.reshape(len(difference), -1).max(axis=1, initial=0.0)
