"""AttentionWidget: the notebook explorer (an anywidget) over a cached AttentionResult.

The kernel keeps the full tensor. A layer/head change sends one binary payload with every query token's
map for that choice; hovering, pinning and colours then happen in the browser without a round trip.
"""

from __future__ import annotations

import io
import numbers
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import anywidget
import traitlets
from PIL import Image

from ._colormaps import COLORMAPS
from ._html import DEFAULT_MAX_BYTES, write_html
from ._payload import HeadChoice, LayerChoice, Selections
from ._result import AttentionResult, _checked_indices

STATIC = Path(__file__).parent / "static"
# Images are sent once, at twice the display width at most (sharp on high-density screens).
_PIXEL_RATIO = 2
_PNG_MAX_PIXELS = 512 * 512  # smaller images go as PNG (crisp edges), larger ones as JPEG (small)
# The HTML file's copy of each original (for Save PNG): at most this many pixels on its long side, so a 48 MP
# photo does not fill the file.
_EMBEDDED_MAX_SIDE = 4096


def display_bytes(picture: Image.Image, width: int) -> tuple[bytes, str]:
    """The picture downscaled for a display `width` CSS pixels wide, encoded, with its MIME type."""
    target = min(picture.width, width * _PIXEL_RATIO)
    if target < picture.width:
        picture = picture.resize((target, max(1, round(picture.height * target / picture.width))), Image.LANCZOS)
    data = encoded(picture, lossless=False)
    return data, "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"


def encoded(picture: Image.Image, lossless: bool = True) -> bytes:
    """PNG bytes, or for a large picture when `lossless` is off, JPEG bytes (quality 92)."""
    buffer = io.BytesIO()
    if lossless or picture.width * picture.height <= _PNG_MAX_PIXELS:
        picture.save(buffer, format="PNG")
    else:
        picture.save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


MIN_WIDTH = 64


def _checked_width(width: int) -> int:
    if isinstance(width, bool) or not isinstance(width, numbers.Integral) or width < MIN_WIDTH:
        raise ValueError(f"width is the pictures' width in CSS pixels: a whole number >= {MIN_WIDTH}, not {width!r}")
    return int(width)


def _fit_within(picture: Image.Image, side: int) -> Image.Image:
    if max(picture.size) <= side:
        return picture
    smaller = picture.copy()
    smaller.thumbnail((side, side), Image.LANCZOS)
    return smaller


def widget_images(result: AttentionResult) -> list[dict]:
    """What the front end needs to know of each image: its token grid, columns and original size."""
    return [
        {
            "rows": geometry.rows,
            "cols": geometry.cols,
            "first_column": geometry.first_column,
            "width": geometry.original_size[0],
            "height": geometry.original_size[1],
        }
        for geometry in result.images
    ]


def widget_tokens(result: AttentionResult) -> list[dict]:
    return [{"text": token.text, "special": token.special} for token in result.tokens]


class AttentionWidget(anywidget.AnyWidget):
    """Hover a token to see where it looks; pick layer and head; pin tokens; save a PNG.

    `layer`: an index (negative counts from the end) or "mean" over layers. `head`: an index, "mean" or "max"
    over heads (None means "mean"). `phrase` or `token` (an index or a list, as for `result.grid`) pins query
    tokens to start with.
    """

    _esm = STATIC / "widget.js"
    _css = STATIC / "widget.css"

    # Data from the kernel.
    tokens = traitlets.List(traitlets.Dict()).tag(sync=True)
    images = traitlets.List(traitlets.Dict()).tag(sync=True)
    pictures = traitlets.List(traitlets.Bytes()).tag(sync=True)
    available = traitlets.Dict().tag(sync=True)
    maps_payload = traitlets.Bytes().tag(sync=True)
    full_pictures = traitlets.List(traitlets.Bytes()).tag(sync=True)

    # Choices, made on either side.
    layer = traitlets.Union([traitlets.Int(), traitlets.Unicode()]).tag(sync=True)
    head = traitlets.Union([traitlets.Int(), traitlets.Unicode()]).tag(sync=True)
    selected = traitlets.List(traitlets.Int()).tag(sync=True)
    colormap = traitlets.Unicode("inferno").tag(sync=True)
    opacity = traitlets.Float(0.6).tag(sync=True)
    smooth = traitlets.Bool(True).tag(sync=True)
    shared_scale = traitlets.Bool(False).tag(sync=True)
    show_special = traitlets.Bool(False).tag(sync=True)
    width = traitlets.Int(512).tag(sync=True)
    want_full_pictures = traitlets.Bool(False).tag(sync=True)

    def __init__(
        self,
        result: AttentionResult,
        layer: LayerChoice = -1,
        head: HeadChoice | None = None,
        phrase: str | None = None,
        token: int | Sequence[int] | None = None,
        *,
        colormap: str = "inferno",
        opacity: float = 0.6,
        smooth: bool = True,
        shared_scale: bool = False,
        show_special: bool = False,
        width: int = 512,
    ) -> None:
        if not isinstance(result, AttentionResult):
            raise TypeError(f"AttentionWidget needs an AttentionResult (model.capture), not {type(result).__name__}")
        self.result = result
        self._selections = Selections(result)
        self._ready = False  # no payload while super().__init__ sets the traits one by one
        layer, head = self._selections.normalize(layer, "mean" if head is None else head)
        width = _checked_width(width)
        pictures = [display_bytes(picture, width) for picture in result.pictures]
        images = [dict(info, mime=mime) for info, (_, mime) in zip(widget_images(result), pictures, strict=True)]
        super().__init__(
            tokens=widget_tokens(result),
            images=images,
            pictures=[data for data, _ in pictures],
            available=self._all_choices(),
            layer=layer,
            head=head,
            selected=self._initial_selection(phrase, token),
            colormap=colormap,
            opacity=opacity,
            smooth=smooth,
            shared_scale=shared_scale,
            show_special=show_special,
            width=width,
        )
        self._ready = True
        self.maps_payload = self._selections.payload(self.layer, self.head)
        threading.Thread(target=self._selections.warm_up, name="qvl-widget-warm-up", daemon=True).start()

    def _all_choices(self) -> dict:
        heads = ["mean", "max", *range(self.result.num_heads)]
        layers = [*range(self.result.num_layers), "mean"]
        return {"layers": layers, "heads": {str(layer): heads for layer in layers}}

    def _initial_selection(self, phrase: str | None, token: int | Sequence[int] | None) -> list[int]:
        if phrase is not None and token is not None:
            raise ValueError("pass either phrase= or token=, not both")
        if phrase is not None:
            return self.result.token_indices(phrase)
        return [] if token is None else _checked_indices(token, self.result.num_queries, "token")

    @traitlets.validate("layer")
    def _valid_layer(self, proposal: traitlets.Bunch) -> LayerChoice:
        return self._selections.normalize(proposal.value, "mean")[0]

    @traitlets.validate("head")
    def _valid_head(self, proposal: traitlets.Bunch) -> HeadChoice:
        return self._selections.normalize("mean", proposal.value)[1]

    @traitlets.validate("width")
    def _valid_width(self, proposal: traitlets.Bunch) -> int:
        return _checked_width(proposal.value)

    @traitlets.validate("selected")
    def _valid_selected(self, proposal: traitlets.Bunch) -> list[int]:
        return [] if not proposal.value else _checked_indices(proposal.value, self.result.num_queries, "token")

    @traitlets.validate("colormap")
    def _valid_colormap(self, proposal: traitlets.Bunch) -> str:
        if proposal.value not in COLORMAPS:
            raise traitlets.TraitError(f"unknown colormap {proposal.value!r}: choose one of {', '.join(COLORMAPS)}")
        return proposal.value

    @traitlets.validate("opacity")
    def _valid_opacity(self, proposal: traitlets.Bunch) -> float:
        if not 0.0 <= proposal.value <= 1.0:
            raise traitlets.TraitError(f"opacity must be between 0 and 1, not {proposal.value}")
        return proposal.value

    @traitlets.observe("layer", "head")
    def _send_maps(self, _change: traitlets.Bunch) -> None:
        if self._ready:
            self.maps_payload = self._selections.payload(self.layer, self.head)

    def full_resolution_pictures(self, compact: bool = False) -> list[bytes]:
        """The images at their original resolution, as PNG; with `compact` (for the HTML file), JPEG for large
        ones, at most `_EMBEDDED_MAX_SIDE` pixels on the long side."""
        if not compact:
            return [encoded(picture) for picture in self.result.pictures]
        return [encoded(_fit_within(picture, _EMBEDDED_MAX_SIDE), lossless=False) for picture in self.result.pictures]

    @traitlets.observe("want_full_pictures")
    def _send_full_pictures(self, change: traitlets.Bunch) -> None:
        if change.new and not self.full_pictures:
            self.full_pictures = self.full_resolution_pictures()

    def to_html(
        self,
        path: str | os.PathLike,
        layers: Sequence[LayerChoice] | None = None,
        heads: Sequence[HeadChoice] | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> Path:
        """Write this widget as one self-contained interactive HTML file (works offline, from file://).

        It embeds the maps of the chosen layers x heads; by default every layer (and the layer mean) with the
        head mean and max, and every head of the last four layers. The current choices and pins carry over.
        """
        return write_html(self, path, layers, heads, max_bytes)
