"""The one-file interactive HTML export: the widget's own front end, its CSS and the data, all inlined.

The page packs a `ViewState` as it is (the same state a widget mirrors as traits; only the layer/head menus are
narrowed to the embedded choices), its pictures (a video's: every temporal group's frame, JPEG, at most twice the
view's width), the full-size pictures for Save PNG (a video's frame: its display frame again, not the original),
one maps payload per embedded layer/head choice (and, where the result has a baseline or visual sinks, its
relative and sink-free variants, so the page's switches work), and the head overview's data into one binary
container, gzip-compressed and base64-encoded into the page.
`js/page.js` opens it with DecompressionStream and runs the same view as the notebook widget on an in-page model.
No network, no kernel, no widget: the page works from `file://` with the network off. User text (prompt, tokens)
travels only inside the compressed data and is shown with textContent, never as markup.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
from collections.abc import Mapping, Sequence, Set
from pathlib import Path
from typing import Any

import numpy as np

from ._arguments import checked_count, checked_file_path, integer_index, shown
from ._choices import (
    CanonicalChoice,
    Choice,
    Reduce,
    canonical_choice,
    choice_key,
    every_head_choice,
    every_layer_choice,
    last_layers,
)
from ._files import check_destinations, write_atomically
from ._memory import binary_size
from ._payload import Selections, encode_heads, payload_key
from ._pictures import full_pictures
from ._result import AttentionResult, shareable_name
from ._static import PAGE_MODULE, STYLES
from ._view_state import Available, ViewState, picture_kinds

CONTAINER_VERSION = 3
DEFAULT_MAX_BYTES = 25 * 2**20


class HtmlTooLargeError(ValueError):
    """The page would pass `max_bytes`; the message says how large and what to embed less of.

    `summary` is the size part alone (e.g. "it would be 31.0 MiB: 29.5 MiB for 170 layer/head maps and ..."),
    for callers that give their own advice (the command line)."""

    def __init__(self, summary: str, max_bytes: int) -> None:
        self.summary = summary
        super().__init__(
            f"the HTML is over its {binary_size(max_bytes)} limit ({summary}); embed fewer maps with "
            "layers=[...] and heads=[...] (e.g. layers=[-1], heads=['mean', 'max']), or pass a larger max_bytes"
        )


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>qvl_widget attention explorer</title>
<style>
body {{ margin: 24px; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328; }}
.qvl-page-title {{ font-size: 16px; font-weight: 600; margin: 0 0 4px; }}
.qvl-page-meta {{ color: #636c76; font-size: 13px; margin: 0 0 14px; }}
.qvl-page-answer {{ font-size: 14px; margin: 0 0 4px; }}
.qvl-page-thinking {{ font-size: 13px; margin: 0 0 4px; color: #636c76; }}
.qvl-page-thinking p {{ white-space: pre-wrap; margin: 4px 0 0 14px; max-height: 12em; overflow: auto; }}
{css}
</style>
</head>
<body>
<h1 class="qvl-page-title"></h1>
<details class="qvl-page-thinking" hidden><summary></summary><p></p></details>
<p class="qvl-page-answer" hidden></p>
<p class="qvl-page-meta"></p>
<div id="qvl-root"></div>
<script type="application/octet-stream" id="qvl-data">{data}</script>
<script type="module">
{script}
</script>
</body>
</html>
"""


# `layers=` / `heads=` of the export: one choice, a list of choices, or "all" (every one in the menu).
Choices = Sequence[Choice] | Choice
Pair = tuple[CanonicalChoice, CanonicalChoice]


def embedded_choices(
    result: AttentionResult,
    layers: Choices,
    heads: Choices,
    current: tuple[Choice, Choice] | None = None,
    reduce: Reduce = "mean",
) -> list[Pair]:
    """The (layer, head) choices to embed, canonical (`canonical_choice`), in menu order.

    Default: every layer, the layer mean and max, each with the head mean and max, plus every head of the last
    four layers. With `layers` and/or `heads`: their cross product (layers default to every layer, the mean
    and the max; heads to the mean, the max and every head). `current` (the view the page opens on) is always
    among them.
    """
    every_layer = every_layer_choice(result.num_layers)
    every_head = every_head_choice(result.num_heads)
    chosen_layers, chosen_heads = _as_choices(layers, "layers", every_layer), _as_choices(heads, "heads", every_head)
    pairs: list[tuple[Choice, Choice]]
    if chosen_layers is None and chosen_heads is None:
        pairs = [(layer, head) for layer in every_layer for head in ("mean", "max")]
        pairs += [(layer, head) for layer in last_layers(result.num_layers) for head in range(result.num_heads)]
    else:
        pairs = [(layer, head) for layer in (chosen_layers or every_layer) for head in (chosen_heads or every_head)]
    if current is not None:
        pairs.append(current)
    canonical: dict[tuple[str, str], Pair] = {}
    for layer, head in pairs:
        pair = (
            canonical_choice(layer, result.num_layers, "layer", reduce),
            canonical_choice(head, result.num_heads, "head", reduce),
        )
        canonical.setdefault((choice_key(pair[0]), choice_key(pair[1])), pair)
    layer_order = {choice_key(layer): index for index, layer in enumerate(every_layer)}
    head_order = {choice_key(head): index for index, head in enumerate(every_head)}
    last = len(layer_order) + len(head_order)  # choices off the menus (a list of layers) come after

    def menu_order(key: tuple[str, str]) -> tuple[int, int]:
        return layer_order.get(key[0], last), head_order.get(key[1], last)

    return [canonical[key] for key in sorted(canonical, key=menu_order)]


def _as_choices(value: Any, name: str, every: list[CanonicalChoice]) -> list[Choice] | None:
    """`layers=` / `heads=` as a list of choices: one choice (an index, "mean", "max") or "all" is accepted too,
    and a list, tuple, set or array of choices (an array of indices: each index one choice, as in a list)."""
    if value is None:
        return None
    if isinstance(value, str) and value == "all":
        return list(every)
    if isinstance(value, str) or integer_index(value) is not None:
        return [value]
    is_array = isinstance(value, np.ndarray) and value.ndim > 0
    if isinstance(value, (bytes, Mapping)) or not (is_array or isinstance(value, (Sequence, Set))):
        raise TypeError(
            f"{name} must be a choice (an index, 'mean', 'max', 'all') or a list of choices, e.g. {name}=[-1, "
            f"'mean'], not {shown(value)}"
        )
    choices = list(value)
    if not choices:
        raise ValueError(f"{name} is empty: pass some, e.g. {name}=[-1], or leave it out for the default")
    return choices


def write_html(
    result: AttentionResult,
    state: ViewState,
    path: str | os.PathLike,
    layers: Choices = None,
    heads: Choices = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Path:
    """Write `state` (a view of `result`) as one self-contained HTML file; return the path.

    The page opens on the state's layer and head, embedded whatever `layers` and `heads` say."""
    path = checked_html_destination(path)
    page = page_bytes(result, state, layers, heads, max_bytes)
    write_atomically(path, lambda handle: handle.write(page))
    return path


def page_bytes(
    result: AttentionResult,
    state: ViewState,
    layers: Choices = None,
    heads: Choices = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> bytes:
    """The page `write_html` writes, as bytes (for writers that put several files in place at once)."""
    max_bytes = checked_max_bytes(max_bytes)
    choices = embedded_choices(result, layers, heads, current=(state.layer, state.head), reduce=state.reduce)
    raw_estimate = len(choices) * len(_variants(result)) * (12 + result.num_queries * (8 + result.attention.shape[-1]))
    if raw_estimate > 3 * max_bytes:  # even the best compression cannot bring this under the limit
        raise HtmlTooLargeError(_size_summary(len(choices), raw_estimate, None), max_bytes)
    container, picture_bytes = _container(result, state, choices)
    page = _page(container).encode("utf-8")
    if len(page) > max_bytes:
        # Pictures are JPEG/PNG: gzip leaves them as they are, and base64 adds a third.
        raise HtmlTooLargeError(_size_summary(len(choices), len(page), picture_bytes * 4 / 3), max_bytes)
    return page


def checked_html_destination(path: str | os.PathLike) -> Path:
    """`path` when it is an .html file path that can be written (nothing is written), else a one-line error."""
    (checked,) = check_destinations([checked_file_path(path, "HTML path", (".html", ".htm"), "'attention.html'")])
    return checked


def checked_max_bytes(max_bytes: int) -> int:
    return checked_count(max_bytes, "max_bytes", f"the page's most bytes; default {DEFAULT_MAX_BYTES} = 25 MiB")


def _size_summary(count: int, size: float, picture_bytes: float | None) -> str:
    """How large the page would be: the maps and the images apart, where known."""
    if picture_bytes is None:
        return f"its {count} layer/head maps alone take about {binary_size(size)} before compression"
    maps = max(0.0, size - picture_bytes)
    return (
        f"it would be {binary_size(size)}: {binary_size(maps)} for {count} layer/head maps and "
        f"{binary_size(picture_bytes)} for the images"
    )


def _container(result: AttentionResult, state: ViewState, choices: list[Pair]) -> tuple[bytes, int]:
    """Header JSON + blobs: `uint32 header length | header | blobs`, blobs located by [offset, length]; and how
    many of its bytes are pictures."""
    blobs: list[bytes] = []
    spans: dict[bytes, list[int]] = {}  # a blob already added (a layer without sinks: its sink-free variant)
    offset = 0

    def add(blob: bytes) -> list[int]:
        nonlocal offset
        if blob not in spans:
            blobs.append(blob)
            offset += len(blob)
            spans[blob] = [offset - len(blob), len(blob)]
        return spans[blob]

    layers: dict[str, CanonicalChoice] = {}
    heads_by_layer: dict[str, list[CanonicalChoice]] = {}
    for layer, head in choices:
        layers.setdefault(choice_key(layer), layer)
        heads_by_layer.setdefault(choice_key(layer), []).append(head)
    embedded = Available(layers=list(layers.values()), heads=heads_by_layer)
    selections = Selections(result, state.reduce)
    variants = _variants(result)
    # Where no layer has a visual sink, leaving them out changes no map: the page embeds no sink-free variant and
    # hides that switch, so it opens on the maps it has (asked to drop them, it would find none to show).
    opening = state.replace(available=embedded, drop_sinks=state.drop_sinks and any(drop for _, drop in variants))
    pictures = [add(bytes(picture)) for picture in state.pictures]
    # Save PNG of a video's frame saves its display frame (JPEG, at most twice the width): a page carries every
    # group's frame, and the originals of a long video would fill it.
    full_size = [
        add(bytes(shown) if kind == "video" else full_pictures((picture,), compact=True)[0])
        for picture, shown, kind in zip(result.pictures, state.pictures, picture_kinds(result), strict=True)
    ]
    header = {
        "version": CONTAINER_VERSION,
        "state": opening.json_fields(),
        "prompt": result.prompt,
        "answer": result.answer,
        "thinking": result.thinking,
        "model": shareable_name(result.model),  # a path of this machine (from an older file) by its last part
        "pictures": pictures,
        "full_pictures": full_size,
        "payloads": {
            payload_key(layer, head, relative, drop_sinks): add(selections.payload(layer, head, relative, drop_sinks))
            for relative, drop_sinks in variants
            for layer, head in choices
        },
        "heads": add(encode_heads(result)),
    }
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    picture_bytes = sum(length for _, length in {tuple(span) for span in pictures + full_size})  # each blob once
    return len(header_bytes).to_bytes(4, "little") + header_bytes + b"".join(blobs), picture_bytes


def _variants(result: AttentionResult) -> list[tuple[bool, bool]]:
    """The (relative, drop_sinks) variants of each choice the page embeds: those its switches can show."""
    relative = [False, True] if result.baseline_attention is not None else [False]
    has_sinks = result.sink_scores is not None and any(len(result.sinks(layer)) for layer in range(result.num_layers))
    drop_sinks = [False, True] if has_sinks else [False]
    return [(flag, drop) for flag in relative for drop in drop_sinks]


def smallest_page_bytes() -> int:
    """The size of a page with no data at all (its script and styles): no page this writes is smaller, so a
    limit under it can be refused before anything runs."""
    return len(_page(b"").encode("utf-8"))


def _page(container: bytes) -> str:
    script = PAGE_MODULE.read_text(encoding="utf-8")
    if "</script" in script.lower() or "<!--" in script:
        raise RuntimeError("the page bundle contains '</script' or '<!--' and cannot be inlined; please report this")
    data = base64.b64encode(gzip.compress(container, compresslevel=6, mtime=0)).decode("ascii")
    css = STYLES.read_text(encoding="utf-8")
    return PAGE.format(css=css, data=data, script=script)
