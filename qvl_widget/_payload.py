"""What the views draw from: one layer/head selection of a result, and its compact binary form.

A selection is a layer choice and a head choice (`_choices.py`: an index, a list, "mean", "max"). Its maps are
`[queries, image_tokens]` probabilities. The payload sends all of them at once, each row as bytes relative to the
row's maximum, so hovering in the browser needs no round trip. A selection may be baseline-relative and leave
the visual sinks out (`AttentionResult.maps`' `relative` and `drop_sinks`); its key (`payload_key`) says so.
Layout (little-endian; `js/payload.js` decodes it):
    uint32 version, uint32 queries, uint32 columns | float32 scales[queries] | float32 mass[queries] |
    uint8 values[queries * columns]

The head overview's payload (`encode_heads`, sent once: `js/heads.js` decodes it) has every head's image share and
spatial entropy for every query row, so the overview follows the hovered token in the browser:
    uint32 version, uint32 layers, uint32 heads, uint32 queries | float32 mass_scales[layers * heads] |
    uint8 mass[layers * heads * queries] | uint8 entropy[layers * heads * queries]
`mass` is relative to its head's largest share (as maps rows are); `entropy` is `round(entropy * 254)`, 255 where
a row has none (no mass on the image).
"""

from __future__ import annotations

import threading

import numpy as np

from ._choices import CanonicalChoice, Choice, Reduce, canonical_choice, checked_reduce, choice_key, selected
from ._result import AttentionResult, token_entropies

PAYLOAD_VERSION = 1
HEADS_PAYLOAD_VERSION = 1
NO_ENTROPY = 255  # the byte of a row without a spatial entropy


def payload_key(layer: CanonicalChoice, head: CanonicalChoice, relative: bool = False, drop_sinks: bool = False) -> str:
    """A selection's name (the HTML page's payloads, `js/state.js`' `payloadKey`): "3|mean", "3|mean|relative"."""
    flags = ("|relative" if relative else "") + ("|drop_sinks" if drop_sinks else "")
    return f"{choice_key(layer)}|{choice_key(head)}{flags}"


def encode_maps(maps: np.ndarray, mass: np.ndarray) -> bytes:
    """The payload for `[queries, columns]` probabilities and each row's image mass."""
    queries, columns = maps.shape
    scales = maps.max(axis=1).astype("<f4")
    safe = np.where(scales > 0, scales, 1.0).astype(np.float32)
    values = np.rint(maps / safe[:, None] * 255.0).astype(np.uint8)
    header = np.array([PAYLOAD_VERSION, queries, columns], dtype="<u4")
    return header.tobytes() + scales.tobytes() + mass.astype("<f4").tobytes() + values.tobytes()


def decode_maps(payload: bytes) -> tuple[np.ndarray, np.ndarray]:
    """`(maps, mass)` back from a payload, maps dequantised (for tests and checks)."""
    version, queries, columns = np.frombuffer(payload, dtype="<u4", count=3)
    if version != PAYLOAD_VERSION:
        raise ValueError(f"payload version {version}, expected {PAYLOAD_VERSION}")
    scales = np.frombuffer(payload, dtype="<f4", count=queries, offset=12)
    mass = np.frombuffer(payload, dtype="<f4", count=queries, offset=12 + 4 * queries)
    values = np.frombuffer(payload, dtype=np.uint8, offset=12 + 8 * queries).reshape(queries, columns)
    return values / np.float32(255.0) * scales[:, None], mass


class Selections:
    """Maps of a result per (layer, head) choice (`_choices.py`'s vocabulary; lists combined by `reduce`).

    Head means and maxima of all layers are computed once (`warm_up`, which the widget runs in the background
    as soon as it is made); with them every choice over all heads is a view or one small reduction, a few
    milliseconds. Other choices go through `AttentionResult.maps`, the one definition of what a choice means.
    """

    def __init__(self, result: AttentionResult, reduce: Reduce = "mean") -> None:
        self.result = result
        self.reduce = checked_reduce(reduce)
        self._over_heads: dict[str, np.ndarray] = {}  # "mean" / "max" -> [layers, queries, image_tokens]
        self._lock = threading.Lock()

    def normalize(self, layer: Choice, head: Choice) -> tuple[CanonicalChoice, CanonicalChoice]:
        """Both choices in canonical form, or a clear error for a choice that does not exist."""
        return (
            canonical_choice(layer, self.result.num_layers, "layer", self.reduce),
            canonical_choice(head, self.result.num_heads, "head", self.reduce),
        )

    def warm_up(self) -> None:
        for head in ("mean", "max"):
            self._all_layers(head)

    def _all_layers(self, head: str) -> np.ndarray:
        with self._lock:
            if head not in self._over_heads:
                self._over_heads[head] = _over_heads(self.result.attention, head)
            return self._over_heads[head]

    def maps(self, layer: Choice, head: Choice, relative: bool = False, drop_sinks: bool = False) -> np.ndarray:
        """`[queries, image_tokens]` float32 for one choice (baseline-relative, sinks left out: as in
        `AttentionResult.maps`)."""
        layer, head = self.normalize(layer, head)
        if relative or drop_sinks or not isinstance(head, str):
            return self.result.maps(layer, head, self.reduce, relative=relative, drop_sinks=drop_sinks)
        if isinstance(layer, int):
            ready = self._over_heads.get(head)
            attention = self.result.attention
            return ready[layer] if ready is not None else _over_heads(attention[layer : layer + 1], head)[0]
        layers, over_layers = selected(layer, self.result.num_layers, "layer", self.reduce)
        per_layer = self._all_layers(head)[layers]
        return per_layer.mean(axis=0, dtype=np.float32) if over_layers == "mean" else per_layer.max(axis=0)

    def mass(self, layer: Choice, head: Choice) -> np.ndarray:
        """`[queries]`: each query's share of attention on the image for one choice, from the captured per-head
        shares: their mean, or for "max" the largest (the max map's cells, each from its own head, could add up
        to more than 1)."""
        layers, over_layers = selected(layer, self.result.num_layers, "layer", self.reduce)
        heads, over_heads = selected(head, self.result.num_heads, "head", self.reduce)
        shares = self.result.image_mass[np.ix_(layers, heads)].astype(np.float64)
        per_layer = shares.mean(axis=1) if over_heads == "mean" else shares.max(axis=1)
        return per_layer.mean(axis=0) if over_layers == "mean" else per_layer.max(axis=0)

    def payload(self, layer: Choice, head: Choice, relative: bool = False, drop_sinks: bool = False) -> bytes:
        """The payload of one choice. Its mass is the raw image share either way: dropping sinks keeps each row's
        total, and a relative map's caption still says how much of the token's attention is on the image."""
        return encode_maps(self.maps(layer, head, relative, drop_sinks), self.mass(layer, head))


def encode_heads(result: AttentionResult) -> bytes:
    """The head overview's payload (module docstring): every head's image share and spatial entropy per row.

    One pass over the cached tensor, a head at a time (the memory of one head's maps)."""
    layers, heads, queries = result.image_mass.shape
    mass = result.image_mass.astype(np.float32)
    scales = mass.max(axis=2)
    safe = np.where(scales > 0, scales, 1.0)
    mass_bytes = np.rint(mass / safe[:, :, None] * 255.0).astype(np.uint8)
    entropy_bytes = np.empty((layers, heads, queries), dtype=np.uint8)
    for layer in range(layers):
        for head in range(heads):
            entropy = token_entropies(result.attention[layer, head])  # [queries], NaN where none
            entropy_bytes[layer, head] = np.where(np.isnan(entropy), NO_ENTROPY, np.rint(np.nan_to_num(entropy) * 254))
    header = np.array([HEADS_PAYLOAD_VERSION, layers, heads, queries], dtype="<u4")
    return header.tobytes() + scales.astype("<f4").tobytes() + mass_bytes.tobytes() + entropy_bytes.tobytes()


def decode_heads(payload: bytes) -> tuple[np.ndarray, np.ndarray]:
    """`(mass, entropy)` `[layers, heads, queries]` back from a heads payload (entropy NaN where none)."""
    version, layers, heads, queries = np.frombuffer(payload, dtype="<u4", count=4)
    if version != HEADS_PAYLOAD_VERSION:
        raise ValueError(f"heads payload version {version}, expected {HEADS_PAYLOAD_VERSION}")
    cells = int(layers * heads)
    scales = np.frombuffer(payload, dtype="<f4", count=cells, offset=16).reshape(layers, heads)
    values = np.frombuffer(payload, dtype=np.uint8, offset=16 + 4 * cells).reshape(2, layers, heads, queries)
    entropy = np.where(values[1] == NO_ENTROPY, np.nan, values[1] / 254.0)
    return values[0] / np.float32(255.0) * scales[:, :, None], entropy


def _over_heads(attention: np.ndarray, head: str) -> np.ndarray:
    """`[layers, heads, q, i]` -> `[layers, q, i]` float32, the mean or max over heads."""
    if head == "mean":
        return attention.mean(axis=1, dtype=np.float32)
    return attention.max(axis=1).astype(np.float32, copy=False)
