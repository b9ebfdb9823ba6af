"""The widget's still picture: a PNG of its current view, for hosts that cannot run its front end.

GitHub, nbviewer, `jupyter nbconvert --to html` and a notebook opened without its kernel cannot run an anywidget
front end; they show the richest output they can render from the display bundle. So the bundle carries, beside
the widget's view, this picture and a short text: what the front end shows with nothing hovered (the pinned
tokens' maps, or the mean over the prompt's own tokens), each medium at the widget's `width` (a video: the shown
temporal group), side by side, with its boxes outlined, under a caption that says which choice it is, the share
of the attention inside each box and that running the notebook makes it live. Hosts that run widgets pick the
widget's view and never show it. Left out: the toolbar and token strips (the caption names the choice), the marked
sinks' outlines, a video's film strip and the head overview.

The maps come from the widget's own selection (`_payload.Selections`, i.e. `AttentionResult.maps`) and the rows
from the result's token rules, the overlay from `_overlay.py`, as the figures draw it.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ._boxes import BoxView, box_words, draw_boxes, shown_boxes, weighted_share
from ._choices import choice_label
from ._colormaps import lookup_table
from ._overlay import CONTOUR_LEGEND, overlay_map
from ._result import AttentionResult
from ._view_state import Medium, ViewState, shown_row, shows_producer

MAX_TILE_WIDTH = 1024  # pixels: a wider widget's pictures are shown at this width (the PNG stays small)
MAX_FRAME_ASPECT = 2  # a picture at most this many times as tall as wide (as js/panels.js `frameSize`)
ROW_WIDTH = 1100  # pixels: pictures wrap onto a new row beyond this (two 512 px pictures fit in one)
GAP = 12  # pixels between pictures and around the caption (the widget's CSS gap)
FONT_SIZE = 13
LINE_HEIGHT = FONT_SIZE + 5
MIN_CAPTION_WIDTH = 360  # pixels: a narrower view's caption still fits a few words a line
TEXT_COLOUR = (40, 40, 40)
NOTE_COLOUR = (110, 110, 110)
BAR_WIDTH = 120
NOTE = "A still picture of the interactive widget: run the notebook to hover tokens and change layer or head."
QUOTED_TOKENS = 6  # tokens a caption quotes, then "+ N more" (as js/labels.js `quoteTokens`)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

# What can go wrong while drawing (a picture Pillow cannot encode, a state that does not fit the result, memory):
# the display then carries the text alone, with the reason, and never fails.
STILL_ERRORS = (OSError, ValueError, IndexError, MemoryError)


def still_bundle(result: AttentionResult, state: ViewState, maps: np.ndarray) -> dict[str, str]:
    """`{"image/png": base64 PNG, "text/plain": what it shows}` for a view of `result` in `state`, whose current
    layer/head choice has the `[queries, image_tokens]` maps `maps`; the text alone, with the reason, where the
    picture cannot be made."""
    description = describe(result, state)
    try:
        png = still_png(result, state, maps, description)
    except STILL_ERRORS as error:
        return {"text/plain": without_picture(f"{description}; {type(error).__name__}: {error}")}
    return {
        "image/png": base64.b64encode(png).decode("ascii"),
        "text/plain": f"AttentionWidget: {description}; run the notebook to interact",
    }


def without_picture(reason: str) -> str:
    return f"AttentionWidget (no still picture: {reason}); run the notebook to interact"


def still_png(result: AttentionResult, state: ViewState, maps: np.ndarray, caption: str) -> bytes:
    """The view as one optimised PNG: every medium's overlay, then the caption."""
    rows = shown_rows(result, state)
    grids = [medium_grid(maps, rows, medium, shown_group(medium, state.group)) for medium in state.media]
    top = scale_top(state, maps, grids)
    table = lookup_table(state.colormap)
    tiles = [
        drawn_tile(tile_picture(result, index, medium, state), grid, table, top, state, index)
        for index, (medium, grid) in enumerate(zip(state.media, grids, strict=True))
    ]
    words = [caption, *box_lines(state, grids)]
    if state.overlay_style == "contour":
        words.append(CONTOUR_LEGEND)
    buffer = io.BytesIO()
    with_caption(tiled(tiles), " · ".join(words), table).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def drawn_tile(
    picture: Image.Image, grid: np.ndarray, table: np.ndarray, top: float, state: ViewState, index: int
) -> Image.Image:
    """Medium `index`'s picture with its overlay (the view's style) and its boxes."""
    shown = overlay_map(picture, grid, table, state.opacity, state.smooth, top, state.overlay_style)
    medium = state.media[index]
    return draw_boxes(shown, medium_boxes(state, index), (medium["width"], medium["height"]))


def medium_boxes(state: ViewState, index: int) -> list[BoxView]:
    """Medium `index`'s boxes on show: those of its shown group (or of every group)."""
    return shown_boxes(state.boxes, index, shown_group(state.media[index], state.group))


def box_lines(state: ViewState, grids: Sequence[np.ndarray]) -> list[str]:
    """Each box on show's share of its medium's shown map, in words (as js/view.js says them)."""
    lines = []
    for box in (box for index in range(len(state.media)) for box in medium_boxes(state, index)):
        values = grids[box["image"]].ravel().astype(np.float64)
        fractions = np.zeros(values.size)
        fractions[box["cells"]] = box["fractions"]
        lines.append(box_words(box["name"], weighted_share(values, fractions), box["area"]))
    return lines


# ----- what is shown (as js/view.js) ----------------------------------------------------------------------------


def shown_rows(result: AttentionResult, state: ViewState) -> list[int]:
    """The maps' rows on show with nothing hovered (js/view.js `activeRows`): the pinned tokens' rows (`shown_row`:
    a token's own, or the step that produced it, where captured), else the prompt's own tokens' rows."""
    if not state.selected:
        return result._token_rows(None, None)
    return [row for token in state.selected if (row := shown_row(state, token)) is not None]


def shown_group(medium: Medium, group: int) -> int:
    """The temporal group a medium shows: `group`, or a shorter video's last (an image: its one)."""
    return max(0, min(group, len(medium["frames"]) - 1))


def medium_grid(maps: np.ndarray, rows: Sequence[int], medium: Medium, group: int) -> np.ndarray:
    """The `[rows, cols]` mean of `rows` over one medium's shown group (as `AttentionResult.grid`); zeros for no
    rows (a pinned token without a producing step: the front end shows an empty map)."""
    cells = medium["rows"] * medium["cols"]
    start = medium["first_column"] + group * cells
    if not rows:
        return np.zeros((medium["rows"], medium["cols"]), dtype=np.float32)
    return maps[list(rows), start : start + cells].mean(axis=0).reshape(medium["rows"], medium["cols"])


def scale_top(state: ViewState, maps: np.ndarray, grids: Sequence[np.ndarray]) -> float:
    """The top of the colour scale (js/view.js `scaleTop`): the largest value shown, or with `shared_scale` the
    largest value of any visible token's row (hidden: special tokens, unless shown, pinned, or all the prompt has,
    as js/tokens.js `sync` shows them)."""
    if not state.shared_scale:
        return max([0.0, *(float(grid.max()) for grid in grids)])
    pinned = set(state.selected)
    show_special = state.show_special or all(info["special"] for info in state.tokens)
    visible = [
        token for token, info in enumerate(state.tokens) if not info["special"] or show_special or token in pinned
    ]
    rows = [shown_row(state, token) for token in visible]
    return max([0.0, *(float(maps[row].max()) for row in rows if row is not None)])


def tile_picture(result: AttentionResult, index: int, medium: Medium, state: ViewState) -> Image.Image:
    """Medium `index`'s shown picture at the size the widget shows it (js/panels.js `frameSize`), at most
    `MAX_TILE_WIDTH` wide."""
    width = min(state.width, MAX_TILE_WIDTH)
    aspect = medium["height"] / medium["width"]
    if aspect <= MAX_FRAME_ASPECT:
        size = (width, max(1, round(width * aspect)))
    else:
        height = round(width * MAX_FRAME_ASPECT)
        size = (max(1, round(height / aspect)), height)
    picture = result.picture(index, shown_group(medium, state.group))
    return picture.convert("RGB").resize(size, Image.Resampling.LANCZOS)


# ----- words ----------------------------------------------------------------------------------------------------


def describe(result: AttentionResult, state: ViewState) -> str:
    """What the view shows, as the widget's caption says it: "layer 2 · mean of heads · “ orange”"."""
    parts = [
        choice_label(state.layer, state.layer_ids, "layer", state.reduce),
        choice_label(state.head, range(result.num_heads), "head", state.reduce),
    ]
    if state.relative and state.baseline_prompt is not None:
        parts.append(f"relative to the baseline “{state.baseline_prompt}”")
    if state.drop_sinks:
        parts.append("visual sinks left out")
    parts.append(tokens_words(result, state))
    videos = [medium for medium in state.media if medium["kind"] == "video"]
    if videos:
        groups = max(len(medium["frames"]) for medium in videos)
        parts.append(f"video group {min(state.group, groups - 1) + 1} of {groups}")
    return " · ".join(parts)


def tokens_words(result: AttentionResult, state: ViewState) -> str:
    if not state.selected:
        own = any(token.part == "prompt" and not token.special for token in result.tokens)
        return "mean of all prompt tokens" if own else "mean of all tokens"
    texts = [state.tokens[token]["text"] for token in state.selected]
    quoted = " + ".join(f"“{visible_whitespace(text)}”" for text in texts[:QUOTED_TOKENS])
    if len(texts) > QUOTED_TOKENS:
        quoted += f" + {len(texts) - QUOTED_TOKENS} more"
    return quoted_rows(state, quoted)


def quoted_rows(state: ViewState, quoted: str) -> str:
    """The pinned tokens (`quoted`) and which row they show (as js/view.js `describeTokens`): the steps that
    produced them, their own rows, or some of each."""
    showing = [
        shows_producer(state.producing, state.groups[state.tokens[token]["group"]]["name"]) for token in state.selected
    ]
    several = len(showing) > 1
    if all(showing):
        return f"the step{'s' if several else ''} that produced {quoted}"
    if any(showing):
        return f"{quoted} (the model's words: the steps that wrote them; the others: their own rows)"
    generated = any(group["name"] != "prompt" for group in state.groups)  # else every view shows own rows
    return f"{quoted} ({'their own rows' if several else 'its own row'})" if generated else quoted


def visible_whitespace(text: str) -> str:
    """A token's text as a chip shows it (js/labels.js `chipText`)."""
    return "∅" if text == "" else text.replace("\n", "⏎").replace("\t", "⇥")


# ----- layout ---------------------------------------------------------------------------------------------------


def tiled(tiles: Sequence[Image.Image]) -> Image.Image:
    """The pictures left to right on a white page, a new row where `ROW_WIDTH` is reached."""
    rows: list[list[Image.Image]] = [[]]
    for tile in tiles:
        row_width = sum(placed.width + GAP for placed in rows[-1])
        if rows[-1] and row_width + tile.width > ROW_WIDTH:
            rows.append([])
        rows[-1].append(tile)
    width = max(sum(tile.width for tile in row) + GAP * (len(row) - 1) for row in rows)
    height = sum(max(tile.height for tile in row) for row in rows) + GAP * (len(rows) - 1)
    page = Image.new("RGB", (width, height), "white")
    y = 0
    for row in rows:
        x = 0
        for tile in row:
            page.paste(tile, (x, y))
            x += tile.width + GAP
        y += max(tile.height for tile in row) + GAP
    return page


def with_caption(pictures: Image.Image, caption: str, table: np.ndarray) -> Image.Image:
    """`pictures` above the caption (wrapped to their width), a colour bar and the note that the view is live
    when run."""
    font = caption_font()
    width = max(pictures.width, MIN_CAPTION_WIDTH)
    caption_lines, note_lines = wrapped(caption, font, width), wrapped(NOTE, font, width)
    height = pictures.height + GAP + LINE_HEIGHT * (len(caption_lines) + 1 + len(note_lines))
    page = Image.new("RGB", (width, height), "white")
    page.paste(pictures, (0, 0))
    draw = ImageDraw.Draw(page)
    y = pictures.height + GAP // 2
    for line in caption_lines:
        draw.text((0, y), line, fill=TEXT_COLOUR, font=font)
        y += LINE_HEIGHT
    colour_bar(draw, page, table, font, y)
    for line in note_lines:
        y += LINE_HEIGHT
        draw.text((0, y), line, fill=NOTE_COLOUR, font=font)
    return page


def colour_bar(draw: ImageDraw.ImageDraw, page: Image.Image, table: np.ndarray, font: Font, y: int) -> None:
    """The colour scale, "less ▮▮▮ more attention" in the view's colours, at height `y`."""
    draw.text((0, y), "less", fill=NOTE_COLOUR, font=font)
    x = round(draw.textlength("less ", font=font))
    ramp = table[np.linspace(0, 255, BAR_WIDTH).round().astype(np.intp)]
    page.paste(Image.fromarray(np.repeat(ramp[None], FONT_SIZE - 3, axis=0)), (x, y + 3))
    draw.text((x + BAR_WIDTH + 4, y), "more attention", fill=NOTE_COLOUR, font=font)


def wrapped(text: str, font: Font, width: int) -> list[str]:
    """`text` broken between words into lines at most `width` pixels wide (a longer word keeps its own line)."""
    lines: list[str] = []
    for word in text.split(" "):
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and font.getlength(candidate) <= width:
            lines[-1] = candidate
        else:
            lines.append(word)
    return lines


@lru_cache(maxsize=1)
def caption_font() -> Font:
    """DejaVu Sans, the figures' font (shipped with matplotlib: the same glyphs on every machine), else Pillow's."""
    import matplotlib  # the data path only, not pyplot

    try:
        return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"), FONT_SIZE)
    except OSError:  # a matplotlib without its fonts, or Pillow without FreeType
        return ImageFont.load_default()
