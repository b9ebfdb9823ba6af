"""Boxes on the pictures: a region of an image (a ground-truth object, a detector's box) drawn as an outline with its
label, and the share of the shown attention inside it.

A box is `(x0, y0, x1, y1)`, `(x0, y0, x1, y1, "label")` or a `Box`, in pixels of the original image (or video
frame): `(x0, y0)` its top-left corner, `x0 < x1`, `y0 < y1`. `Box.image` indexes `result.images`; a video's box
applies to its frame in every temporal group, or with `Box.group` in that group only (a moving object: a box per
group). A box partly outside its image is clipped to it; one wholly outside, inverted, empty, NaN or of the wrong
type, or a group on a still image or past a video's last, is refused with one line.

The share inside a box (the in-box attention ratio of "MLLMs know where to look", ICLR 2025): the map's values,
each cell weighted by the fraction of its area inside the box (`_geometry.cell_fractions`), over the map's sum;
read against the box's share of the image's area (`_geometry.area_share`): their ratio is 1 for a map spread
evenly, 6.9 where the box holds 6.9 times its area's share. Python computes each box's cells and fractions and
sends them to the front end (`BoxView`), so the browser only sums.

Numpy and Pillow only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ._arguments import described, error_kind, integer_index, real_number, shown, whole_number
from ._geometry import area_share, cell_fractions
from ._text import visible

BoxLike = Any  # a `Box`, or a tuple (x0, y0, x1, y1) or (x0, y0, x1, y1, label)
BOX_ADVICE = (
    "(x0, y0, x1, y1), (x0, y0, x1, y1, 'label') or qvl_widget.Box(x0, y0, x1, y1, label=..., image=..., group=...)"
)
OUTLINE_DARK = (0, 0, 0)
OUTLINE_LIGHT = (255, 255, 255)
TAG_COLOUR = (30, 30, 30)
LABEL_SIZE = 12  # pixels of the label's font at scale 1


@dataclass(frozen=True)
class Box:
    """A box on image `image` (an index into `result.images`), in pixels of the original image: `(x0, y0)` its
    top-left corner, `(x1, y1)` its bottom-right, `x0 < x1` and `y0 < y1`. `label` is drawn beside it and names it
    in the captions. On a video, `group` (keyword) is the temporal group whose frame it marks (negative counts from
    the end); None, the default, marks every group's frame. A moving object: one box per group."""

    x0: float
    y0: float
    x1: float
    y1: float
    label: str | None = None
    image: int = 0
    group: int | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        x0, y0, x1, y1, label, image = checked_fields(
            (self.x0, self.y0, self.x1, self.y1), self.label, self.image, "Box"
        )
        group = checked_group(self.group, "Box")
        fields = ("x0", "y0", "x1", "y1", "label", "image", "group")
        for name, value in zip(fields, (x0, y0, x1, y1, label, image, group), strict=True):
            object.__setattr__(self, name, value)

    @property
    def corners(self) -> tuple[float, float, float, float]:
        return (self.x0, self.y0, self.x1, self.y1)

    def share(self, grid: np.ndarray, size: tuple[int, int]) -> BoxShare:
        """The share of `grid` (a `[rows, cols]` map of an image of `size` = (width, height) pixels, e.g.
        `result.grid(...)` and `result.images[i].original_size`) inside this box, with the box's area share."""
        values = np.asarray(grid, dtype=np.float64)
        if values.ndim != 2 or not values.size:
            raise ValueError(f"grid must be one [rows, cols] map (a video's: grid[group]), got shape {values.shape}")
        size = checked_size(size)
        rows, cols = values.shape
        return BoxShare(
            inside=weighted_share(values, cell_fractions(self.corners, rows, cols, size)),
            area=area_share(self.corners, size),
            name=self.label,
        )


@dataclass(frozen=True)
class BoxShare:
    """The share of a map inside a box (`inside`; NaN where the map has no mass), the box's share of the image's
    area (`area`) and their ratio (1: as much as a map spread evenly); `str()` says them in words."""

    inside: float
    area: float
    name: str | None = None

    @property
    def ratio(self) -> float:
        return self.inside / self.area

    def __str__(self) -> str:
        return box_words(self.name, self.inside, self.area)


class BoxView(TypedDict):
    """A box as the front end gets it (`ViewState.boxes`): its image and temporal group (None: every group), its
    corners clipped to the image, its name (the label; "box N" for an unlabelled one among several; None for a lone
    unlabelled box), and the token cells it covers (indices into its medium's `rows * cols` grid of one frame) with
    the fraction of each cell inside it."""

    image: int
    group: int | None
    x0: float
    y0: float
    x1: float
    y1: float
    name: str | None
    cells: list[int]
    fractions: list[float]
    area: float


# ----- checks ---------------------------------------------------------------------------------------------------


def checked_size(size: object) -> tuple[int, int]:
    """`size`: the image's (width, height) in pixels, two whole numbers >= 1; else a one-line error."""
    sides = tuple(whole_number(side) for side in size) if isinstance(size, (tuple, list)) else ()
    if len(sides) != 2 or any(side is None or side < 1 for side in sides):
        raise TypeError(
            f"size must be the image's (width, height) in pixels, e.g. result.images[0].original_size, not "
            f"{shown(size)}"
        )
    return sides  # type: ignore[return-value]


def checked_fields(
    corners: Sequence[object], label: object, image: object, where: str
) -> tuple[float, float, float, float, str | None, int]:
    """A box's fields as numbers, a label and an index, or a one-line error naming `where` ("Box", "boxes[1]")."""
    numbers = []
    for name, value in zip(("x0", "y0", "x1", "y1"), corners, strict=True):
        number = real_number(value)
        if number is None:
            raise error_kind(value)(
                f"{where}'s {name} must be a finite number of pixels of the original image, not {shown(value)}"
            )
        numbers.append(number)
    x0, y0, x1, y1 = numbers
    if not (x0 < x1 and y0 < y1):
        raise ValueError(
            f"{where} ({x0:g}, {y0:g}, {x1:g}, {y1:g}) is inverted or empty: pass x0 < x1 and y0 < y1 ((x0, y0) "
            "the top-left corner, in pixels of the original image)"
        )
    if label is not None and not isinstance(label, str):
        raise TypeError(f"{where}'s label must be a str or None, not {described(label)}")
    index = integer_index(image)
    if index is None:
        raise TypeError(f"{where}'s image must be an index into result.images (an int), not {described(image)}")
    return x0, y0, x1, y1, label, index


def checked_group(group: object, where: str) -> int | None:
    """A box's temporal group: None (every group) or an int, else a one-line TypeError naming `where`."""
    if group is None:
        return None
    index = integer_index(group)
    if index is None:
        raise TypeError(
            f"{where}'s group must be a temporal group of its video (an int; negative counts from the end) or None "
            f"for every group, not {described(group)}"
        )
    return index


def as_box(value: BoxLike, where: str) -> Box:
    """`value` as a `Box`: a Box, or a tuple / list (x0, y0, x1, y1) or (x0, y0, x1, y1, label)."""
    if isinstance(value, Box):
        return value
    if isinstance(value, (tuple, list)) and len(value) in (4, 5):
        label = value[4] if len(value) == 5 else None
        x0, y0, x1, y1, label, image = checked_fields(value[:4], label, 0, where)
        return Box(x0, y0, x1, y1, label, image)  # on every group: a group needs a Box
    raise TypeError(f"{where} must be a box: {BOX_ADVICE}, not {described(value)}")


def checked_boxes(
    boxes: object,
    sizes: Sequence[tuple[int, int]],
    name: str = "boxes",
    groups: Sequence[int | None] | None = None,
) -> list[Box]:
    """`boxes` (None, or a list of boxes) as `Box`es on images of `sizes` (each (width, height)), each image index
    made non-negative; a one-line error for anything else, a box on an image the result lacks or one wholly
    outside its image. `groups`: each image's temporal group count (None: a still image), to check each box's
    group and make it non-negative; without it, groups are left as given."""
    if boxes is None:
        return []
    if isinstance(boxes, Box) or not isinstance(boxes, (list, tuple)) or _is_one_box(boxes):
        raise TypeError(
            f"{name} must be a list of boxes, each {BOX_ADVICE}; e.g. {name}=[(10, 20, 110, 90)], not "
            f"{described(boxes)}"
        )
    checked = []
    for position, value in enumerate(boxes):
        where = f"{name}[{position}]"
        box = as_box(value, where)
        checked.append(on_image(box, sizes, where, groups))
    return checked


def _is_one_box(value: Sequence[Any]) -> bool:
    """A bare (x0, y0, x1, y1) where a list of boxes belongs."""
    return 4 <= len(value) <= 5 and all(real_number(item) is not None for item in value[:4])


def on_image(box: Box, sizes: Sequence[tuple[int, int]], where: str, groups: Sequence[int | None] | None = None) -> Box:
    """`box` with a non-negative image index, checked to lie (at least partly) on its image; with `groups` (each
    image's temporal group count, None for a still image), its group checked and made non-negative too."""
    count = len(sizes)
    if not -count <= box.image < count:
        there = "is 1 image" if count == 1 else f"are {count} images (videos count as images)"
        raise IndexError(f"{where}'s image {box.image} is out of range: there {there}; use 0..{count - 1}")
    image = box.image % count
    check_overlap(box, sizes[image], image, where)
    group = box.group if groups is None else on_group(box, groups[image], image, where)
    return Box(box.x0, box.y0, box.x1, box.y1, box.label, image, group=group)


def on_group(box: Box, count: int | None, image: int, where: str) -> int | None:
    """`box`'s group made non-negative, on image `image` of `count` temporal groups (None: a still image); a
    one-line error for a group on a still image or past the video's last."""
    if box.group is None:
        return None
    if count is None:
        raise ValueError(
            f"{where} has group={box.group}, but image {image} is a still image (groups are a video's): leave "
            "group=None, or put the box on a video with image="
        )
    if not -count <= box.group < count:
        there = "1 temporal group" if count == 1 else f"{count} temporal groups"
        raise IndexError(
            f"{where}'s group {box.group} is out of range: video {image} has {there}; use 0..{count - 1} (negative "
            "counts from the end), or group=None for every group"
        )
    return box.group % count


def group_counts(images: Sequence[Any]) -> list[int | None]:
    """Each of `result.images`' temporal group count, None for a still image (what a box's `group` is checked
    against)."""
    return [geometry.groups if geometry.kind == "video" else None for geometry in images]


def shown_boxes(views: Sequence[BoxView], image: int, group: int) -> list[BoxView]:
    """The boxes a picture of image `image`, temporal group `group` (0 for a still image), shows: its image's boxes
    of every group or of that one (as js/boxes.js `boxesOn`)."""
    return [view for view in views if view["image"] == image and view["group"] in (None, group)]


def check_overlap(box: Box, size: tuple[int, int], image: int, where: str) -> None:
    """A one-line ValueError where `box` lies wholly outside image `image` of `size` (width, height)."""
    width, height = size
    if box.x1 <= 0 or box.y1 <= 0 or box.x0 >= width or box.y0 >= height:
        raise ValueError(
            f"{where} ({box.x0:g}, {box.y0:g}, {box.x1:g}, {box.y1:g}) lies outside image {image}, which is "
            f"{width} x {height} pixels: give boxes in pixels of the original image"
        )


# ----- shares and words -----------------------------------------------------------------------------------------


def weighted_share(values: np.ndarray, fractions: np.ndarray) -> float:
    """Σ values × fractions / Σ values (NaN where the values add up to nothing)."""
    total = float(values.sum())
    return float((values * fractions).sum()) / total if total > 0 else math.nan


def box_views(
    boxes: Sequence[Box], grids: Sequence[tuple[int, int]], sizes: Sequence[tuple[int, int]]
) -> list[BoxView]:
    """The front end's boxes: each box's clipped corners, name, covered cells and area share, for images whose
    token grids are `grids` (rows, cols) and sizes `sizes`."""
    views = []
    for position, box in enumerate(boxes):
        rows, cols = grids[box.image]
        width, height = sizes[box.image]
        fractions = cell_fractions(box.corners, rows, cols, (width, height)).ravel()
        cells = np.flatnonzero(fractions > 0)
        views.append(
            BoxView(
                image=box.image,
                group=box.group,
                x0=max(0.0, box.x0),
                y0=max(0.0, box.y0),
                x1=min(float(width), box.x1),
                y1=min(float(height), box.y1),
                name=box_name(box, position, len(boxes)),
                cells=[int(cell) for cell in cells],
                fractions=[float(fraction) for fraction in fractions[cells]],
                area=area_share(box.corners, (width, height)),
            )
        )
    return views


def box_name(box: Box, position: int, count: int) -> str | None:
    """What a box is called: its label, else "box N" (its `position` among `count` boxes, from 1) where there are
    several. Control characters in a label are shown as escapes (`visible`), as in all figure text."""
    if box.label is not None:
        return visible(box.label)
    return f"box {position + 1}" if count > 1 else None


def box_words(name: str | None, inside: float, area: float) -> str:
    """ "“circle”: 62 % inside, 9 % of the area: 6.9× uniform" (as js/boxes.js `boxWords`)."""
    prefix = f"“{name}”: " if name else ""
    if math.isnan(inside):
        return f"{prefix}no attention on this picture ({percent_words(area)} of the area)"
    ratio = ratio_words(inside / area)
    return f"{prefix}{percent_words(inside)} inside, {percent_words(area)} of the area: {ratio} uniform"


def percent_words(share: float) -> str:
    """A share as "62 %", "4.5 %", "< 0.1 %", "0 %": whole percents from 1 %, tenths below."""
    percent = 100.0 * share
    tenths = math.floor(percent * 10 + 0.5)
    if tenths >= 10:
        return f"{math.floor(percent + 0.5)} %"
    if tenths >= 1:
        return f"{tenths // 10}.{tenths % 10} %"
    return "< 0.1 %" if percent > 0 else "0 %"


def ratio_words(ratio: float) -> str:
    """A ratio as "6.9×", "0.3×", "12×": tenths below 10, whole numbers from 10."""
    tenths = math.floor(ratio * 10 + 0.5)
    if tenths >= 100:
        return f"{math.floor(ratio + 0.5)}×"
    return f"{tenths // 10}.{tenths % 10}×"


# ----- drawing --------------------------------------------------------------------------------------------------


def draw_boxes(
    picture: Image.Image, boxes: Sequence[BoxView], size: tuple[int, int], scale: float = 1.0
) -> Image.Image:
    """`picture` (showing an image of `size` = (width, height) original pixels) with each box outlined just outside
    its edges (a white line in a black band: the box's inside stays as it is), and its name on a dark tag above its
    top-left corner (inside it where there is no room above). `scale`: pixels per line unit (1: a 512-pixel-wide
    view)."""
    drawn = picture.convert("RGB")
    draw = ImageDraw.Draw(drawn)
    across, down = drawn.width / size[0], drawn.height / size[1]
    line = max(1, round(scale))
    font = label_font(max(8, round(LABEL_SIZE * scale)))
    for box in boxes:
        left, top = round(box["x0"] * across), round(box["y0"] * down)
        right, bottom = round(box["x1"] * across) - 1, round(box["y1"] * down) - 1
        band = (left - 3 * line, top - 3 * line, right + 3 * line, bottom + 3 * line)
        draw.rectangle(band, outline=OUTLINE_DARK, width=3 * line)
        draw.rectangle(
            (left - 2 * line, top - 2 * line, right + 2 * line, bottom + 2 * line), outline=OUTLINE_LIGHT, width=line
        )
        if box["name"]:
            tag(draw, box["name"], (band[0], band[1]), font, line)
    return drawn


def tag(draw: ImageDraw.ImageDraw, text: str, corner: tuple[int, int], font: Any, pad: int) -> None:
    """`text` in white on a dark tag whose bottom-left is `corner` (below it where it would leave the picture)."""
    x, y = corner
    left, top, right, bottom = (round(edge) for edge in draw.textbbox((0, 0), text, font=font))
    width, height = right - left + 4 * pad, bottom - top + 2 * pad
    if y - height < 0:
        y += height + 2 * pad  # no room above: inside the box, under its top edge
    draw.rectangle((x, y - height, x + width, y), fill=TAG_COLOUR)
    draw.text((x + 2 * pad - left, y - height + pad - top), text, fill=OUTLINE_LIGHT, font=font)


@lru_cache(maxsize=8)
def label_font(size: int) -> Any:
    """DejaVu Sans (shipped with matplotlib) at `size` pixels, else Pillow's own font."""
    import matplotlib  # the data path only, not pyplot

    try:
        return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"), size)
    except OSError:  # a matplotlib without its fonts, or Pillow without FreeType
        return ImageFont.load_default()
