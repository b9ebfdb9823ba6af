"""The view state: what every interactive view of a result starts from, in one plain structure.

`ViewState.of(result, **options)` builds it from an `AttentionResult` and the view options. The notebook widget
mirrors each field as a trait of the same name; the one-file HTML export packs it as it is; the front end
(`js/state.js` has the same fields as JSDoc types) reads nothing else. So both views start from the same state
by construction, and a new kind of token or medium is a new field value here, not a new code path:

- `groups`: the token strips, in order: the prompt, the model's thinking and its answer, each where the result
  has it (one per part, `_result.PARTS`), each with its label and a note ("" or, for a thinking that generation
  cut short, that the model was still thinking).
- `tokens`: the query tokens in the result's order, each with its text, whether the chat template (or a special
  token) added it, the index of its group, its `producer` (the token whose row is the step that produced this one:
  the position before it; None where that is not a captured row) and, for the model's tokens, its probability.
- `media`: one entry per image, in the result's column order: its token grid, first column and original size,
  and its `frames`, each a picture (an index into `pictures`) showing `rows x cols` tokens that start at
  `first_column + frame * rows * cols`. An image has one frame; a video one per temporal group (its first frame),
  and `times`, each group's first and last frame's time in seconds (an image: []).
- `pictures`: the encoded display pictures (bytes; a video's frames always JPEG).
- `available`: the layer menu and, per layer, the head menu; `layer_ids`: the decoder-layer index of each
  captured layer, for labels.
- `baseline_prompt`: the baseline's text where the result has one (relative maps can be shown), else None.
- `sinks`: per captured layer, the image columns that are visual sinks (`AttentionResult.sinks`), where the
  result has sink scores, else None.
- the options: `layer`, `head`, pinned tokens (`selected`), `producing` (which row a token shows, `shows_producer`:
  True, the model's own words (thinking, answer) the step that wrote them and prompt tokens their own rows; "all",
  every token the step that produced it; False, every token its own row), `unit` ("probability" or "uniform": x
  image tokens), `relative` (divided by the
  baseline's map), `drop_sinks` (the sinks left out), `mark_sinks` (outlined on the pictures), `head_overview`
  (the layers x heads grid: "off", "mass" or "focus"), `colormap`, `opacity`, `smooth`, `style` ("heat" or
  "contour": `_overlay.py`), `shared_scale`, `show_special`, `width`, and `group`: the temporal group the videos
  show (a video with fewer shows its last; the film strip, its scrubber and play set it).
- `boxes`: the boxes drawn on the pictures (`_boxes.BoxView`: image, temporal group (None: every group of a
  video), corners, name, and the token cells each covers with the fraction of each inside it, so the front end sums
  the share inside without any geometry). A video's box with a group is drawn and said only while that group is
  shown.

The maps themselves travel separately, one binary payload per selection (`_payload.py`), and so does the head
overview's data (each head's image share and spatial entropy per token).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Sequence
from typing import Any, Literal, TypedDict

from ._arguments import checked_flag, error_kind, integer_index, real_number, shown, whole_number
from ._boxes import Box, BoxView, box_views, checked_boxes, group_counts
from ._choices import (
    CanonicalChoice,
    Choice,
    ColormapName,
    Reduce,
    Unit,
    canonical_choice,
    checked_colormap,
    checked_index,
    checked_indices,
    checked_reduce,
    checked_unit,
    choice_key,
    every_head_choice,
    every_layer_choice,
)
from ._colormaps import DEFAULT_COLORMAP
from ._overlay import DEFAULT_OPACITY, DEFAULT_STYLE, Style, checked_style
from ._pictures import display_picture
from ._result import (
    GENERATED_PARTS,
    PARTS,
    STILL_THINKING,
    AttentionResult,
    Part,
    no_baseline_error,
    no_sink_scores_error,
)

MIN_WIDTH = 64  # CSS pixels
MAX_WIDTH = 16384  # wider than any screen at 2x


class TokenGroup(TypedDict):
    name: str  # the part: "prompt", "thinking" or "answer"
    label: str  # shown above the strip
    note: str  # shown after the label, and in captions of its tokens ("" for none)


GROUP_LABELS: dict[Part, str] = {"prompt": "Prompt", "thinking": "Thinking", "answer": "Answer"}


class TokenInfo(TypedDict):
    text: str
    special: bool  # added by the chat template or a special token (hidden behind a toggle)
    group: int  # index into `groups`
    producer: int | None  # the token whose row produced this one (the position before it), if captured
    probability: float | None  # the model's tokens (thinking, answer): its probability of this token at its step


class Frame(TypedDict):
    picture: int  # index into `pictures`
    mime: str


class Medium(TypedDict):
    kind: str  # "image" or "video"
    rows: int
    cols: int
    first_column: int
    width: int  # original size in pixels
    height: int
    frames: list[Frame]
    times: list[list[float]]  # a video's: per temporal group, its first and last frame's time (s); an image: []


HeadOverview = Literal["off", "mass", "focus"]
HEAD_OVERVIEWS: tuple[HeadOverview, ...] = ("off", "mass", "focus")

# Which row a token shows in a view: True, the model's own words (its thinking, its answer) the step that wrote them
# and prompt tokens their own rows; "all", every token the step that produced it (a prompt token: the step that
# predicted it); False, every token its own row. `grid`, `maps` and the figures take True / False only: there True
# means every selected token.
Producing = bool | Literal["all"]


class ViewOptions(TypedDict, total=False):
    """The keyword-only view options of `ViewState.of` (and of the widget and `to_html`)."""

    reduce: Reduce
    unit: Unit
    relative: bool
    drop_sinks: bool
    mark_sinks: bool
    head_overview: HeadOverview
    colormap: ColormapName
    opacity: float
    smooth: bool
    style: Style
    shared_scale: bool
    show_special: bool
    width: int
    group: int
    boxes: Sequence[Any]


class Available(TypedDict):
    layers: list[CanonicalChoice]
    heads: dict[str, list[CanonicalChoice]]  # keyed by `choice_key(layer)`


@dataclasses.dataclass(frozen=True)
class ViewState:
    """See the module docstring. Build with `ViewState.of`; fields are JSON values except `pictures`."""

    groups: list[TokenGroup]
    tokens: list[TokenInfo]
    media: list[Medium]
    pictures: list[bytes]
    available: Available
    layer_ids: list[int]
    baseline_prompt: str | None
    sinks: list[list[int]] | None
    reduce: Reduce
    layer: CanonicalChoice
    head: CanonicalChoice
    selected: list[int]
    producing: Producing
    unit: Unit
    relative: bool
    drop_sinks: bool
    mark_sinks: bool
    head_overview: HeadOverview
    colormap: ColormapName
    opacity: float
    smooth: bool
    overlay_style: Style  # `style=`: not named `style`, which ipywidgets' views read as a style widget
    shared_scale: bool
    show_special: bool
    width: int
    group: int
    boxes: list[BoxView]

    @classmethod
    def of(
        cls,
        result: AttentionResult,
        *,
        layer: Choice = -1,
        head: Choice = None,
        phrase: str | None = None,
        token: int | Sequence[int] | None = None,
        producing: Producing | None = None,
        reduce: Reduce = "mean",
        unit: Unit = "probability",
        relative: bool = False,
        drop_sinks: bool = False,
        mark_sinks: bool = False,
        head_overview: HeadOverview = "off",
        colormap: ColormapName = DEFAULT_COLORMAP,
        opacity: float = DEFAULT_OPACITY,
        smooth: bool = True,
        style: Style = DEFAULT_STYLE,
        shared_scale: bool = False,
        show_special: bool = False,
        width: int = 512,
        group: int = 0,
        boxes: Sequence[Any] | None = None,
    ) -> ViewState:
        """The state of a view of `result` opened on these options (each checked, with a one-line error).

        `layer`, `head`: choices as for `result.grid` (`_choices.py`: an index, a list of them combined by
        `reduce`, "mean" or "max" of all, "all" / None for all combined by `reduce`). `phrase` or `token` (an
        index or a list, as for `result.grid`) pins query tokens. `producing`: which row a token shows
        (`shows_producer`): True, the model's own words (its thinking, its answer) show the step that wrote them
        and prompt tokens their own rows (the default where the result has words of the model); "all", prompt
        tokens too show the step that predicted them; False (the default otherwise), every token its own row. `unit`,
        `relative` and `drop_sinks` as for `result.grid` (relative needs a baseline, drop_sinks and `mark_sinks`
        sink scores: see `capture`). `head_overview`: the layers x heads grid, "off", "mass" (each head's share of
        attention on the image) or "focus" (1 - its spatial entropy). `width`: the pictures' width in CSS pixels.
        `group`: the temporal group the videos open on (an index as for `result.picture(image, group)`; -1: the
        last; a video with fewer groups shows its last). `style`: "heat" (the map in colour, its opacity growing
        with the value up to `opacity`) or "contour" (lines around 25 %, 50 % and 75 % of the attention). `boxes`:
        boxes drawn on the pictures, each with the share of the shown attention inside it (`_boxes.py`); a video's
        box with a `group` only while that group is shown."""
        if not isinstance(result, AttentionResult):
            raise TypeError(f"a view needs an AttentionResult (from model.capture), not {type(result).__name__}")
        reduce = checked_reduce(reduce)
        if phrase is not None and token is not None:
            raise ValueError("pass either phrase= or token=, not both")
        selected = result.token_indices(phrase) if phrase is not None else checked_option(result, "selected", token)
        width = checked_option(result, "width", width)
        shown_boxes: list[BoxView] = checked_option(result, "boxes", boxes)
        pictures = [
            display_picture(picture, width, video=kind == "video")
            for picture, kind in zip(result.pictures, picture_kinds(result), strict=True)
        ]
        generated = any(token.part in GENERATED_PARTS for token in result.tokens)
        return cls(
            groups=token_groups(result),
            tokens=token_infos(result),
            media=media_of(result, [mime for _, mime in pictures]),
            pictures=[data for data, _ in pictures],
            available=every_choice(result, [layer], [head], reduce),
            layer_ids=list(result.layer_ids),
            baseline_prompt=result.baseline_prompt,
            sinks=None
            if result.sink_scores is None
            else [result.sinks(layer).tolist() for layer in range(result.num_layers)],
            reduce=reduce,
            layer=checked_option(result, "layer", layer, reduce),
            head=checked_option(result, "head", head, reduce),
            selected=selected,
            producing=checked_option(result, "producing", generated if producing is None else producing),
            unit=checked_option(result, "unit", unit),
            relative=checked_option(result, "relative", relative),
            drop_sinks=checked_option(result, "drop_sinks", drop_sinks),
            mark_sinks=checked_option(result, "mark_sinks", mark_sinks),
            head_overview=checked_option(result, "head_overview", head_overview),
            colormap=checked_option(result, "colormap", colormap),
            opacity=checked_option(result, "opacity", opacity),
            smooth=checked_option(result, "smooth", smooth),
            overlay_style=checked_option(result, "overlay_style", style),
            shared_scale=checked_option(result, "shared_scale", shared_scale),
            show_special=checked_option(result, "show_special", show_special),
            width=width,
            group=checked_option(result, "group", group),
            boxes=shown_boxes,
        )

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(field.name for field in dataclasses.fields(cls))

    def fields(self) -> dict[str, Any]:
        """Every field by name: the widget's traits."""
        return {name: getattr(self, name) for name in self.field_names()}

    def json_fields(self) -> dict[str, Any]:
        """Every field but the picture bytes: what the HTML page's header carries."""
        return {name: value for name, value in self.fields().items() if name != "pictures"}

    def replace(self, **changes: Any) -> ViewState:
        return dataclasses.replace(self, **changes)


def media_of(result: AttentionResult, mimes: list[str]) -> list[Medium]:
    """One entry per image or video, its frames indexing `pictures` (a video: one per temporal group)."""
    media, picture = [], 0
    for geometry in result.images:
        frames = [Frame(picture=picture + group, mime=mimes[picture + group]) for group in range(geometry.groups)]
        picture += geometry.groups
        media.append(
            Medium(
                kind=geometry.kind,
                rows=geometry.rows,
                cols=geometry.cols,
                first_column=geometry.first_column,
                width=geometry.original_size[0],
                height=geometry.original_size[1],
                frames=frames,
                times=[[float(start), float(end)] for start, end in geometry.group_times],
            )
        )
    return media


def picture_kinds(result: AttentionResult) -> list[str]:
    """Each of `result.pictures`' medium kind: "image", or "video" for each temporal group's frame."""
    return [geometry.kind for geometry in result.images for _ in range(geometry.groups)]


def token_groups(result: AttentionResult) -> list[TokenGroup]:
    """One strip per part the result has tokens of (the prompt always), in the parts' order."""
    present = {token.part for token in result.tokens}
    return [
        TokenGroup(
            name=part,
            label=GROUP_LABELS[part],
            note=STILL_THINKING if part == "thinking" and result.still_thinking else "",
        )
        for part in PARTS
        if part == "prompt" or part in present
    ]


def token_infos(result: AttentionResult) -> list[TokenInfo]:
    """What the front end knows of each token: text, kind, strip and the row that produced it."""
    row_of = {int(position): row for row, position in enumerate(result.query_positions)}
    group_of = {group["name"]: index for index, group in enumerate(token_groups(result))}
    return [
        TokenInfo(
            text=token.text,
            special=token.special,
            group=group_of[token.part],
            producer=row_of.get(int(position) - 1),
            probability=token.probability,
        )
        for token, position in zip(result.tokens, result.query_positions, strict=True)
    ]


def every_choice(
    result: AttentionResult, layers: Sequence[Choice] = (), heads: Sequence[Choice] = (), reduce: Reduce = "mean"
) -> Available:
    """The menus: every layer (and their mean and max), each with every head choice; and `layers` / `heads`
    (e.g. a list of layers a view was opened on), which join the menus where they are not in them yet."""
    layer_menu = every_layer_choice(result.num_layers)
    head_menu = every_head_choice(result.num_heads)
    for choice in layers:
        _add_once(layer_menu, canonical_choice(choice, result.num_layers, "layer", reduce))
    for choice in heads:
        _add_once(head_menu, canonical_choice(choice, result.num_heads, "head", reduce))
    return Available(layers=layer_menu, heads={choice_key(layer): head_menu for layer in layer_menu})


def _add_once(menu: list[CanonicalChoice], choice: CanonicalChoice) -> None:
    if choice_key(choice) not in {choice_key(entry) for entry in menu}:
        menu.append(choice)


def checked_option(result: AttentionResult, name: str, value: Any, reduce: Reduce = "mean") -> Any:
    """A view option checked (and normalised) for `result`: the widget checks its traits with this too. Layer
    and head choices take their canonical form (`canonical_choice`), lists combined by `reduce`."""
    if name == "layer":
        return canonical_choice(value, result.num_layers, "layer", reduce)
    if name == "head":
        return canonical_choice(value, result.num_heads, "head", reduce)
    if name == "reduce":
        return checked_reduce(value)
    if name == "selected":
        return [] if value is None or _is_empty(value) else checked_indices(value, result.num_queries, "token")
    if name == "colormap":
        return checked_colormap(value)
    if name == "opacity":
        opacity = real_number(value)
        if opacity is None or not 0.0 <= opacity <= 1.0:
            raise error_kind(value)(f"opacity must be between 0 and 1 (0: no overlay, 1: opaque), not {shown(value)}")
        return opacity
    if name == "width":
        width = whole_number(value)
        if width is None or width < MIN_WIDTH:
            raise error_kind(value)(
                f"width is the pictures' width in CSS pixels: a whole number >= {MIN_WIDTH}, not {shown(value)}"
            )
        if width > MAX_WIDTH:
            raise ValueError(f"width is the pictures' width in CSS pixels: at most {MAX_WIDTH}, not {shown(value)}")
        return width
    if name == "unit":
        return checked_unit(value)
    if name == "relative":
        relative = checked_flag(value, name)
        if relative and result.baseline_prompt is None:
            raise no_baseline_error()
        return relative
    if name in ("drop_sinks", "mark_sinks"):
        flag = checked_flag(value, name)
        if flag and result.sink_scores is None:
            raise no_sink_scores_error(f"{name}=True")
        return flag
    if name == "head_overview":
        if not isinstance(value, str) or value not in HEAD_OVERVIEWS:
            raise ValueError(
                "head_overview must be 'off', 'mass' (each head's share of attention on the image) or 'focus' "
                f"(1 - its spatial entropy), not {shown(value)}"
            )
        return value
    if name == "group":
        groups = max((geometry.groups for geometry in result.images if geometry.kind == "video"), default=0)
        if not groups and integer_index(value) not in (0, -1):
            raise error_kind(value)(f"group is a video's temporal group; this result has no video, not {shown(value)}")
        return checked_index(value, max(groups, 1), "group")
    if name == "producing":
        if isinstance(value, str):
            if value != "all":
                raise ValueError(f"{PRODUCING_ADVICE}, not {shown(value)}")
            return value
        try:
            return checked_flag(value, name)
        except TypeError:
            raise TypeError(f"{PRODUCING_ADVICE}, not {shown(value)}") from None
    if name in ("smooth", "shared_scale", "show_special"):
        return checked_flag(value, name)
    if name == "overlay_style":
        return checked_style(value)
    if name == "boxes":
        return view_boxes(result, value)
    raise KeyError(f"unknown view option {name!r}")


PRODUCING_ADVICE = (
    "producing must be True (the model's words show the step that wrote them, prompt tokens their own rows), 'all' "
    "(prompt tokens too show the step that predicted them) or False (every token its own row)"
)


def shows_producer(producing: Producing, part: str) -> bool:
    """Whether a token of `part` ("prompt", "thinking", "answer") shows the step that produced it (else its own
    row) under the view option `producing` (js/state.js `showsProducer` is the same rule)."""
    return producing == "all" or (producing is True and part in GENERATED_PARTS)


def shown_row(state: ViewState, token: int) -> int | None:
    """The maps' row token `token` shows in `state`: its own, or the step that produced it (None: not captured)."""
    info = state.tokens[token]
    part = state.groups[info["group"]]["name"]
    return info["producer"] if shows_producer(state.producing, part) else token


def view_boxes(result: AttentionResult, boxes: Any) -> list[BoxView]:
    """`boxes=` checked against the result's images, as the front end gets them. A list already in that form (the
    widget's trait holds one) is checked and made again from its corners, names and images."""
    if isinstance(boxes, list) and boxes and all(_is_box_view(box) for box in boxes):
        boxes = [
            Box(box["x0"], box["y0"], box["x1"], box["y1"], box["name"], box["image"], group=box["group"])
            for box in boxes
        ]
    sizes = [geometry.original_size for geometry in result.images]
    checked = checked_boxes(boxes, sizes, groups=group_counts(result.images))
    return box_views(checked, [(geometry.rows, geometry.cols) for geometry in result.images], sizes)


def _is_box_view(value: Any) -> bool:
    return isinstance(value, dict) and value.keys() == BoxView.__annotations__.keys()


# Every keyword of `ViewState.of` after the result: what `result.widget(...)`, `result.to_html(...)` and
# `AttentionWidget(...)` take as view options.
VIEW_OPTIONS = (
    "layer",
    "head",
    "phrase",
    "token",
    "producing",
    "reduce",
    "unit",
    "relative",
    "drop_sinks",
    "mark_sinks",
    "head_overview",
    "colormap",
    "opacity",
    "smooth",
    "style",
    "shared_scale",
    "show_special",
    "width",
    "group",
    "boxes",
)


def check_view_option_names(names: Iterable[str], where: str) -> None:
    """A one-line TypeError for a keyword that is not a view option (with the closest one, where there is one)."""
    for name in names:
        if name not in VIEW_OPTIONS:
            close = difflib.get_close_matches(str(name), VIEW_OPTIONS, n=1)
            hint = f"did you mean {close[0]}=? " if close else ""
            raise TypeError(
                f"{where} got an unknown option {shown(name)}; {hint}the view options are {', '.join(VIEW_OPTIONS)}"
            )


# The fields a user chooses (the others are data): the widget checks them with `checked_option` when they change.
OPTIONS = (
    "reduce",
    "layer",
    "head",
    "selected",
    "producing",
    "unit",
    "relative",
    "drop_sinks",
    "mark_sinks",
    "head_overview",
    "colormap",
    "opacity",
    "smooth",
    "overlay_style",
    "shared_scale",
    "show_special",
    "width",
    "group",
    "boxes",
)


def _is_empty(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and len(value) == 0
