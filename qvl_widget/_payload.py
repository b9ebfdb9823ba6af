"""What the views draw from: one layer/head selection of a result, and its compact binary form.

A selection is a layer (an index or "mean" over layers) and a head (an index, or "mean" / "max" over
heads). Its maps are `[queries, image_tokens]` probabilities. The payload sends all of them at once, each
row as bytes relative to the row's maximum, so hovering in the browser needs no round trip.
Layout (little-endian; `js/payload.js` decodes it):
    uint32 version, uint32 queries, uint32 columns | float32 scales[queries] | float32 mass[queries] |
    uint8 values[queries * columns]
"""

from __future__ import annotations

import threading

import numpy as np

from ._choices import HeadChoice, LayerChoice, checked_head_choice, checked_layer_choice
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
    """Maps of a result per (layer, head) choice.

    Head means and maxima of all layers are computed once (`warm_up`, which the widget runs in the background
    as soon as it is made); with them every choice is a view or one small reduction, a few milliseconds.
    """

    def __init__(self, result: AttentionResult) -> None:
        self.result = result
        self._over_heads: dict[str, np.ndarray] = {}  # "mean" / "max" -> [layers, queries, image_tokens]
        self._lock = threading.Lock()

    def normalize(self, layer: LayerChoice, head: HeadChoice) -> tuple[LayerChoice, HeadChoice]:
        """Non-negative indices, or a clear error for a choice that does not exist."""
        return checked_layer_choice(layer, self.result.num_layers), checked_head_choice(head, self.result.num_heads)

    def warm_up(self) -> None:
        for head in ("mean", "max"):
            self._all_layers(head)

    def _all_layers(self, head: str) -> np.ndarray:
        with self._lock:
            if head not in self._over_heads:
                self._over_heads[head] = _over_heads(self.result.attention, head)
            return self._over_heads[head]

    def maps(self, layer: LayerChoice, head: HeadChoice) -> np.ndarray:
        """`[queries, image_tokens]` float32 for one choice. Over layers, "mean" averages the per-layer maps."""
        layer, head = self.normalize(layer, head)
        attention = self.result.attention
        if isinstance(head, str):  # "mean" or "max"
            if layer == "mean":
                return self._all_layers(head).mean(axis=0, dtype=np.float32)
            ready = self._over_heads.get(head)
            return ready[layer] if ready is not None else _over_heads(attention[layer : layer + 1], head)[0]
        if isinstance(layer, str):  # "mean"
            return attention[:, head].mean(axis=0, dtype=np.float32)
        return attention[layer, head].astype(np.float32, copy=False)

    def mass(self, layer: LayerChoice, head: HeadChoice) -> np.ndarray:
        """`[queries]`: each query's share of attention on the image for one choice, from the captured per-head
        shares: their mean, or for "max" the largest (the max map's cells, each from its own head, could add up
        to more than 1)."""
        layer, head = self.normalize(layer, head)
        mass = self.result.image_mass
        if head == "mean":
            per_layer = mass.mean(axis=1, dtype=np.float64)
        elif head == "max":
            per_layer = mass.max(axis=1).astype(np.float64)
        else:
            per_layer = mass[:, head].astype(np.float64)
        return per_layer.mean(axis=0) if layer == "mean" else per_layer[layer]

    def payload(self, layer: LayerChoice, head: HeadChoice) -> bytes:
        return encode_maps(self.maps(layer, head), self.mass(layer, head))


def _over_heads(attention: np.ndarray, head: str) -> np.ndarray:
    """`[layers, heads, q, i]` -> `[layers, q, i]` float32, the mean or max over heads."""
    if head == "mean":
        return attention.mean(axis=1, dtype=np.float32)
    return attention.max(axis=1).astype(np.float32, copy=False)
