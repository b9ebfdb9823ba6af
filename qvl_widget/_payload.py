"""What the views draw from: one layer/head selection of a result, and its compact binary form.

A selection is a layer choice and a head choice (`_choices.py`: an index, a list, "mean", "max"). Its maps are
`[queries, image_tokens]` probabilities. The payload sends all of them at once, each row as bytes relative to the
row's maximum, so hovering in the browser needs no round trip.
Layout (little-endian; `js/payload.js` decodes it):
    uint32 version, uint32 queries, uint32 columns | float32 scales[queries] | float32 mass[queries] |
    uint8 values[queries * columns]
"""

from __future__ import annotations

import threading

import numpy as np

from ._choices import CanonicalChoice, Choice, Reduce, canonical_choice, checked_reduce, selected
from ._result import AttentionResult

PAYLOAD_VERSION = 1


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

    def maps(self, layer: Choice, head: Choice) -> np.ndarray:
        """`[queries, image_tokens]` float32 for one choice."""
        layer, head = self.normalize(layer, head)
        if not isinstance(head, str):
            return self.result.maps(layer, head, self.reduce)
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

    def payload(self, layer: Choice, head: Choice) -> bytes:
        return encode_maps(self.maps(layer, head), self.mass(layer, head))


def _over_heads(attention: np.ndarray, head: str) -> np.ndarray:
    """`[layers, heads, q, i]` -> `[layers, q, i]` float32, the mean or max over heads."""
    if head == "mean":
        return attention.mean(axis=1, dtype=np.float32)
    return attention.max(axis=1).astype(np.float32, copy=False)
