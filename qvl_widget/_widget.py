"""AttentionWidget: the notebook explorer (an anywidget) over a cached AttentionResult.

Its synced traits are the fields of a `ViewState` (same names), plus the transport: `maps_payload`, the maps of
the current selection (layer, head, relative, sinks dropped), `heads_payload`, the head overview's data, sent when
the overview is first shown, and the full-size pictures, sent when Save PNG first asks for them. The kernel keeps
the full tensor; a layer/head change sends one binary payload with every query token's map for that choice, and
hovering, pinning and colours then happen in the browser without a round trip. Traits only, no custom messages:
every anywidget host (JupyterLab, Notebook 7, Voila, marimo) supports them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from ._choices import REDUCTIONS, CanonicalChoice, Choice, checked_reduce, choice_key
from ._colormaps import DEFAULT_COLORMAP
from ._html import DEFAULT_MAX_BYTES, Choices, write_html
from ._overlay import DEFAULT_OPACITY, DEFAULT_STYLE
from ._payload import Selections, encode_heads
from ._pictures import full_pictures
from ._result import AttentionResult
from ._static import STYLES, WIDGET_MODULE
from ._still import STILL_ERRORS, still_bundle, without_picture
from ._view_state import OPTIONS, ViewOptions, ViewState, check_view_option_names, checked_option, every_choice

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._view_state import Producing


class _Option(traitlets.Any):
    """A view option's trait: any value reaches the widget's validator (None too: it is a layer or head choice,
    and a refused value for the others), which checks and normalises it as `ViewState.of` does."""

    allow_none = False  # traitlets.Any lets None through unvalidated


class OptionIndexError(traitlets.TraitError, IndexError):
    """A widget option's index out of range, set as a trait."""


class OptionTypeError(traitlets.TraitError, TypeError):
    """A widget option of the wrong type, set as a trait."""


class OptionValueError(traitlets.TraitError, ValueError):
    """A widget option's bad value, set as a trait."""


_OPTION_ERRORS: dict[type[Exception], type[traitlets.TraitError]] = {
    IndexError: OptionIndexError,
    TypeError: OptionTypeError,
    ValueError: OptionValueError,
}


class AttentionWidget(anywidget.AnyWidget):
    """Hover a token to see where it looks; pick layer and head; pin tokens; save a PNG.

    `layer`, `head`: choices as for `result.grid` (an index, negative from the end; a list, combined by
    `reduce`; "mean" or "max" of all; "all" / None: all, combined by `reduce`). `phrase` or `token` (an index
    or a list, as for `result.grid`) pins query tokens to start with. `producing`: which row a token shows: True
    (the default where the result has the model's answer or thinking), a word the model wrote shows the step that
    wrote it (where it looked to choose it) and a prompt token its own row; "all", prompt tokens too show the step
    that predicted them; False, every token its own row; the caption says which row is shown. Keyword options:
    `reduce` ("mean" or "max": how a list of layers or heads is combined), `colormap` ("inferno", "viridis", "jet",
    "gray"), `opacity` (0..1: the overlay's opacity at the top of the scale; it fades to transparent where attention
    is low), `smooth` (smooth or blocky cells), `style` ("heat", or "contour": lines around 25 %, 50 % and 75 % of
    the attention, for print), `boxes` (a list of boxes drawn on the pictures, each `(x0, y0, x1, y1)`,
    `(x0, y0, x1, y1, "label")` or a `qvl_widget.Box`, in pixels of the original image; the caption says the share
    of the attention inside each), `shared_scale` (one colour scale for all tokens), `show_special` (show the
    chat-template tokens), `width` (the pictures' width in CSS pixels), `unit` ("probability" or "uniform": x image
    tokens), `relative` (divided by the baseline's map; needs `capture(baseline=True)`), `drop_sinks` / `mark_sinks`
    (the visual sinks left out / outlined; need sink scores), `head_overview` ("off", "mass" or "focus": the layers x
    heads grid; click a cell to show that head), `group` (the temporal group a video opens on; its film strip, scrubber
    and play button then set it).
    """

    _esm = WIDGET_MODULE
    _css = STYLES

    # The view state (`ViewState`): data from the kernel ...
    groups = traitlets.List(traitlets.Dict()).tag(sync=True)
    tokens = traitlets.List(traitlets.Dict()).tag(sync=True)
    media = traitlets.List(traitlets.Dict()).tag(sync=True)
    pictures = traitlets.List(traitlets.Bytes()).tag(sync=True)
    available = traitlets.Dict().tag(sync=True)
    layer_ids = traitlets.List(traitlets.Int()).tag(sync=True)
    baseline_prompt = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    sinks = traitlets.List(traitlets.List(traitlets.Int()), default_value=None, allow_none=True).tag(sync=True)
    # ... and choices, made on either side.
    # Their values are checked (and normalised: a numpy integer becomes an int, a list of layers its canonical
    # form) by `checked_option` alone, so a bad value set from Python gets the same one-line error as in
    # `ViewState.of`, not a trait type's message.
    reduce = _Option("mean").tag(sync=True)
    layer = _Option(-1).tag(sync=True)  # an index, "mean" / "max", or a sorted list of indices
    head = _Option("mean").tag(sync=True)
    selected = _Option([]).tag(sync=True)  # a list of token indices
    producing = _Option(False).tag(sync=True)
    unit = _Option("probability").tag(sync=True)
    relative = _Option(False).tag(sync=True)
    drop_sinks = _Option(False).tag(sync=True)
    mark_sinks = _Option(False).tag(sync=True)
    head_overview = _Option("off").tag(sync=True)  # "off", "mass" or "focus"
    colormap = _Option(DEFAULT_COLORMAP).tag(sync=True)
    opacity = _Option(DEFAULT_OPACITY).tag(sync=True)
    smooth = _Option(True).tag(sync=True)
    overlay_style = _Option(DEFAULT_STYLE).tag(sync=True)  # "heat" or "contour": `style=` (see `style`)
    shared_scale = _Option(False).tag(sync=True)
    show_special = _Option(False).tag(sync=True)
    width = _Option(512).tag(sync=True)
    group = _Option(0).tag(sync=True)  # the temporal group the videos show
    boxes = _Option([]).tag(sync=True)  # `_boxes.BoxView`s: set boxes as for `boxes=`

    # Transport: the current choice's maps, and the full-size pictures on request.
    maps_payload = traitlets.Bytes().tag(sync=True)
    heads_payload = traitlets.Bytes().tag(sync=True)
    full_pictures = traitlets.List(traitlets.Bytes()).tag(sync=True)
    want_full_pictures = traitlets.Bool(False).tag(sync=True)

    def __init__(
        self,
        result: AttentionResult,
        layer: Choice = -1,
        head: Choice = None,
        phrase: str | None = None,
        token: int | Sequence[int] | None = None,
        producing: Producing | None = None,
        **options: Unpack[ViewOptions],
    ) -> None:
        if not isinstance(result, AttentionResult):
            raise TypeError(f"AttentionWidget needs an AttentionResult (model.capture), not {type(result).__name__}")
        check_view_option_names(options, "AttentionWidget")
        self.result = result
        self._ready = False  # no payload while super().__init__ sets the traits one by one
        self._by_reduce = {"layer": False, "head": False}  # see `_follows_reduce`
        state = ViewState.of(result, layer=layer, head=head, phrase=phrase, token=token, producing=producing, **options)
        self._selections = Selections(result, state.reduce)
        super().__init__(**state.fields())
        self._by_reduce = {"layer": _follows_reduce(layer, self.layer), "head": _follows_reduce(head, self.head)}
        self._ready = True
        self.maps_payload = self._selections.payload(self.layer, self.head, self.relative, self.drop_sinks)
        self._send_heads()
        threading.Thread(target=self._selections.warm_up, name="qvl-widget-warm-up", daemon=True).start()

    @property
    def style(self) -> str:
        """The overlay's style, "heat" or "contour" (`style=`): the `overlay_style` trait, since ipywidgets' front
        ends read a trait named `style` as a style widget of their own."""
        return self.overlay_style

    @style.setter
    def style(self, value: str) -> None:
        self.overlay_style = value

    def view_state(self) -> ViewState:
        """The widget's current state: its data, choices and pins, as the HTML export packs them."""
        return ViewState(**{name: getattr(self, name) for name in ViewState.field_names()})

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict, dict] | None:
        """The widget's view, and for hosts that cannot run it (GitHub, nbviewer, nbconvert, a notebook opened
        without its kernel) a still picture of the current view and a line saying what it is (`_still.py`),
        made now, at display time. Hosts that run widgets pick the view."""
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        return {**data, **self._still()}, metadata

    def _still(self) -> dict[str, str]:
        """The still picture's part of the display bundle; text alone, with the reason, where it cannot be made
        (a display never fails for it)."""
        try:
            maps = self._selections.maps(self.layer, self.head, self.relative, self.drop_sinks)
            return still_bundle(self.result, self.view_state(), maps)
        except STILL_ERRORS as error:
            return {"text/plain": without_picture(f"{type(error).__name__}: {error}")}

    @traitlets.validate(*OPTIONS)
    def _valid_option(self, proposal: traitlets.Bunch) -> Any:
        try:
            checked = checked_option(self.result, proposal.trait.name, proposal.value, checked_reduce(self.reduce))
        except (IndexError, TypeError, ValueError) as error:
            # A TraitError (what traitlets and its hosts expect) that is also the error `ViewState.of` raises.
            kind = next(kind for base, kind in _OPTION_ERRORS.items() if isinstance(error, base))
            raise kind(str(error)) from None
        if proposal.trait.name in self._by_reduce:
            self._by_reduce[proposal.trait.name] = _follows_reduce(proposal.value, checked)
        return checked

    @traitlets.observe("layer", "head", "reduce", "relative", "drop_sinks")
    def _send_maps(self, change: traitlets.Bunch) -> None:
        if not self._ready:
            return
        if change.name == "reduce":
            self._selections = Selections(self.result, checked_reduce(self.reduce))
            for name, count in (("layer", self.result.num_layers), ("head", self.result.num_heads)):
                if self._by_reduce[name] and getattr(self, name) != self.reduce:
                    setattr(self, name, list(range(count)))  # every index, now combined by the new `reduce`
        if change.name == "reduce" or not self._in_menus(self.layer, self.head):
            # A list set from Python (e.g. widget.layer = [2, 3]) joins the menus, so the menus show what is drawn.
            shown_heads = [head for heads in self.available["heads"].values() for head in heads]
            layers, heads = [*self.available["layers"], self.layer], [*shown_heads, self.head]
            menus = every_choice(self.result, layers, heads, checked_reduce(self.reduce))
            if menus != self.available:
                self.available = dict(menus)
        self.maps_payload = self._selections.payload(self.layer, self.head, self.relative, self.drop_sinks)

    def _in_menus(self, layer: CanonicalChoice, head: CanonicalChoice) -> bool:
        """Whether the menus already offer this layer, and this head under it (checked on every change: rebuilding
        the menus costs milliseconds)."""
        key = choice_key(layer)
        offered = {choice_key(choice) for choice in self.available["layers"]}
        return key in offered and choice_key(head) in {choice_key(choice) for choice in self.available["heads"][key]}

    @traitlets.observe("head_overview")
    def _send_heads(self, change: traitlets.Bunch | None = None) -> None:
        """The head overview's data, once, when the overview is first shown (a pass over the whole tensor)."""
        if self._ready and self.head_overview != "off" and not self.heads_payload:
            self.heads_payload = encode_heads(self.result)

    @traitlets.observe("want_full_pictures")
    def _send_full_pictures(self, change: traitlets.Bunch) -> None:
        if change.new and not self.full_pictures:
            self.full_pictures = full_pictures(self.result.pictures, lossy=_video_frames(self.result))

    def to_html(
        self,
        path: str | os.PathLike,
        layers: Choices = None,
        heads: Choices = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> Path:
        """Write this widget as one self-contained interactive HTML file (works offline, from file://).

        It embeds the maps of the chosen layers x heads; by default every layer (and the layer mean) with the
        head mean and max, and every head of the last four layers. The current choices and pins carry over.
        """
        return write_html(self.result, self.view_state(), path, layers, heads, max_bytes)


def _video_frames(result: AttentionResult) -> frozenset[int]:
    """The indices of the result's pictures that are video frames (one per temporal group of each video)."""
    indices: set[int] = set()
    start = 0
    for geometry in result.images:
        if geometry.kind == "video":
            indices.update(range(start, start + geometry.groups))
        start += geometry.groups
    return frozenset(indices)


def _follows_reduce(value: Any, canonical: CanonicalChoice) -> bool:
    """Whether a layer or head choice is every index by list, None or "all": combined by `reduce`, now and when it
    changes, as `grid` and the figures combine it ("mean" and "max" name their own combination)."""
    return isinstance(canonical, str) and not (isinstance(value, str) and value in REDUCTIONS)
