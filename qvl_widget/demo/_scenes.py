"""Synthetic scenes: 1 to 4 flat shapes in distinct colours and shapes on a light, lightly textured background.

Everything is batched torch: `sample_scenes` draws the parameters of a batch of scenes from a generator (on any
device), `render` paints them as uint8 images `[B, 3, H, W]`. Training renders whole batches on the GPU;
`make_example(seed)` renders one scene on the CPU with a generator seeded by `seed`, so it is deterministic.

Layout: the image is cut into a 3 x 3 grid of regions and each object lies inside its own region (with a margin),
so objects never overlap and each has a region name for "Where is ...?" questions.
Every object has half-extent `radius` and box `(cx - r, cy - r, cx + r, cy + r)` (pixel edges, exclusive end):
the painted pixels are those whose centre `(x + 0.5, y + 0.5)` lies inside the shape.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from .._arguments import error_kind, shown, whole_number

IMAGE_SIZE = 224  # px; 224 = 8 merged tokens of 28 px: the processor does not resize it
MAX_OBJECTS = 4

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (215, 40, 40),
    "green": (40, 165, 60),
    "blue": (40, 90, 225),
    "yellow": (235, 205, 35),
    "purple": (140, 60, 200),
    "orange": (245, 130, 20),
}
SHAPES = ("circle", "square", "triangle", "cross")
REGIONS = (
    "top left",
    "top",
    "top right",
    "left",
    "center",
    "right",
    "bottom left",
    "bottom",
    "bottom right",
)
KINDS = ("color", "shape", "where", "describe")  # prompt kinds, see `question_words`
QUESTION_KINDS = KINDS[:3]  # the kinds that ask about one named object (describe names none)

RADIUS_RANGE = (16.0, 28.0)  # half-extent in px: objects are 1.1 to 2 merged tokens wide
MARGIN = 2.0  # px between an object and the edge of its region
COLOUR_JITTER = 12  # per-channel jitter of object colours
BACKGROUND_RANGE = (190, 245)  # per-channel base colour of the background
NOISE_MAX = 8.0  # amplitude of the per-pixel background noise (grey)
GRADIENT_MAX = 16.0  # amplitude of the background's linear gradient


@functools.lru_cache(maxsize=64)
def device_table(values: tuple, device: torch.device, dtype: torch.dtype = torch.long) -> torch.Tensor:
    """A constant tensor, made once per device: a copy to the GPU would wait for the GPU's queued work."""
    return torch.tensor(values, dtype=dtype, device=device)


@dataclass
class Scenes:
    """Parameters of a batch of B scenes (objects in slots 0..count-1; other slots unused)."""

    count: torch.Tensor  # [B] long, 1..4
    shape: torch.Tensor  # [B, 4] long, index into SHAPES (distinct within a scene)
    colour: torch.Tensor  # [B, 4] long, index into COLOURS (distinct within a scene)
    region: torch.Tensor  # [B, 4] long, index into REGIONS (distinct within a scene)
    centre: torch.Tensor  # [B, 4, 2] float (x, y) in px
    radius: torch.Tensor  # [B, 4] float, half-extent in px
    rgb: torch.Tensor  # [B, 4, 3] float, object colour after jitter
    background: torch.Tensor  # [B, 3] float base colour
    gradient: torch.Tensor  # [B, 2] float gradient amplitude along x and y
    noise: torch.Tensor  # [B] float noise amplitude
    target: torch.Tensor  # [B] long, the slot the question names
    kind: torch.Tensor  # [B] long, index into KINDS

    @property
    def batch_size(self) -> int:
        return int(self.count.shape[0])

    @property
    def device(self) -> torch.device:
        return self.count.device

    def to(self, device: torch.device | str) -> Scenes:
        return Scenes(**{field.name: getattr(self, field.name).to(device) for field in dataclasses.fields(self)})

    def boxes(self) -> torch.Tensor:
        """`[B, 4, 4]` boxes (x0, y0, x1, y1) in px of every slot (unused slots too)."""
        r = self.radius[..., None]
        return torch.cat([self.centre - r, self.centre + r], dim=-1)


def _uniform(shape: tuple[int, ...], low, high, generator: torch.Generator, device) -> torch.Tensor:
    return low + (high - low) * torch.rand(shape, generator=generator, device=device)


def sample_scenes(
    batch: int,
    generator: torch.Generator,
    min_objects: int = 2,
    max_objects: int = MAX_OBJECTS,
    kinds: tuple[str, ...] = ("color", "shape"),
    image_size: int = IMAGE_SIZE,
    weights: tuple[float, ...] | None = None,
) -> Scenes:
    """Draw `batch` scenes with `min_objects..max_objects` objects each and a question of one of `kinds`
    (equally often, or in proportion to `weights`, one per kind).

    The draws happen in a fixed order from `generator` only, so a seeded generator gives the same scenes
    (on the same device type).
    """
    if weights is not None and (len(weights) != len(kinds) or min(weights) < 0 or sum(weights) <= 0):
        raise ValueError("weights: one non-negative weight per kind, not all zero")
    if not 1 <= min_objects <= max_objects <= MAX_OBJECTS:
        raise ValueError(f"need 1 <= min_objects <= max_objects <= {MAX_OBJECTS}")
    device = generator.device
    g = generator
    count = torch.randint(min_objects, max_objects + 1, (batch,), generator=g, device=device)
    region = torch.rand(batch, len(REGIONS), generator=g, device=device).argsort(dim=1)[:, :MAX_OBJECTS]
    colour = torch.rand(batch, len(COLOURS), generator=g, device=device).argsort(dim=1)[:, :MAX_OBJECTS]
    shape = torch.rand(batch, len(SHAPES), generator=g, device=device).argsort(dim=1)[:, :MAX_OBJECTS]
    radius = _uniform((batch, MAX_OBJECTS), *RADIUS_RANGE, g, device)
    cell = image_size / 3
    corner = torch.stack([region % 3, region // 3], dim=-1).float() * cell  # region's top-left (x, y)
    slack = (cell - 2 * (radius + MARGIN))[..., None]  # room for the centre inside the region
    centre = corner + MARGIN + radius[..., None] + slack * torch.rand(batch, MAX_OBJECTS, 2, generator=g, device=device)
    jitter = torch.randint(-COLOUR_JITTER, COLOUR_JITTER + 1, (batch, MAX_OBJECTS, 3), generator=g, device=device)
    rgb = device_table(tuple(COLOURS.values()), device, torch.float32)[colour] + jitter.float()
    background = torch.randint(*BACKGROUND_RANGE, (batch, 3), generator=g, device=device).float()
    gradient = _uniform((batch, 2), -GRADIENT_MAX, GRADIENT_MAX, g, device)
    noise = _uniform((batch,), 0.0, NOISE_MAX, g, device)
    noise = noise * (torch.rand(batch, generator=g, device=device) < 0.5)  # half the backgrounds are plain
    target = (torch.rand(batch, generator=g, device=device) * count).long().clamp(max=MAX_OBJECTS - 1)
    if weights is None:
        kind_choice = torch.randint(0, len(kinds), (batch,), generator=g, device=device)
    else:
        bounds = torch.tensor(weights, dtype=torch.float64).cumsum(0) / sum(weights)
        draw = torch.rand(batch, generator=g, device=device, dtype=torch.float64)
        kind_choice = torch.bucketize(draw, bounds[:-1].to(device), right=True)
    kind_index = device_table(tuple(KINDS.index(kind) for kind in kinds), device)[kind_choice]
    return Scenes(count, shape, colour, region, centre, radius, rgb, background, gradient, noise, target, kind_index)


def shape_masks(scenes: Scenes, image_size: int = IMAGE_SIZE) -> torch.Tensor:
    """`[B, 4, H, W]` bool: the pixels of each slot's object (False for unused slots)."""
    device = scenes.device
    pixel = torch.arange(image_size, device=device, dtype=torch.float32) + 0.5
    dx = pixel[None, None, None, :] - scenes.centre[..., 0, None, None]  # [B, 4, 1, W]
    dy = pixel[None, None, :, None] - scenes.centre[..., 1, None, None]  # [B, 4, H, 1]
    r = scenes.radius[..., None, None]
    ax, ay = dx.abs(), dy.abs()
    shape = scenes.shape[..., None, None]
    circle = dx * dx + dy * dy <= r * r
    square = (ax <= r) & (ay <= r)
    # Upward triangle: apex at the top centre, base along the bottom edge of the box.
    triangle = (dy >= -r) & (dy <= r) & (2 * ax <= dy + r)
    bar = r / 3
    cross = ((ax <= r) & (ay <= bar)) | ((ay <= r) & (ax <= bar))
    mask = torch.where(shape == 0, circle, torch.where(shape == 1, square, torch.where(shape == 2, triangle, cross)))
    used = torch.arange(MAX_OBJECTS, device=device)[None, :] < scenes.count[:, None]
    return mask & used[..., None, None]


def render(scenes: Scenes, generator: torch.Generator, image_size: int = IMAGE_SIZE) -> torch.Tensor:
    """uint8 images `[B, 3, H, W]` of `scenes`; `generator` draws the background noise."""
    device = scenes.device
    batch = scenes.batch_size
    ramp = (torch.arange(image_size, device=device, dtype=torch.float32) + 0.5) / image_size - 0.5
    gradient = (
        scenes.gradient[:, 0, None, None] * ramp[None, None, :]
        + scenes.gradient[:, 1, None, None] * ramp[None, :, None]
    )
    noise = torch.rand(batch, image_size, image_size, generator=generator, device=device) * 2 - 1
    grey = gradient + scenes.noise[:, None, None] * noise  # [B, H, W]
    image = scenes.background[:, :, None, None] + grey[:, None]  # [B, 3, H, W]
    masks = shape_masks(scenes, image_size)
    for slot in range(MAX_OBJECTS):
        image = torch.where(masks[:, slot, None], scenes.rgb[:, slot, :, None, None], image)
    return image.round_().clamp_(0, 255).to(torch.uint8)


# ----- questions -------------------------------------------------------------------------------------------


def question_words(kind: str, colour: str, shape: str) -> tuple[list[str], list[str]]:
    """The prompt words of a question of `kind` about the object `colour` `shape`, and the named object's words.

    color: "What color is the square?"    names the shape, answers the colour
    shape: "What shape is the red one?"   names the colour, answers the shape
    where: "Where is the red square?"     names both, answers the region ("top left", ..., "center", ...)
    describe: "Describe the shapes."      names none, answered by `description_words` (every object)
    """
    if kind == "color":
        return ["What", "color", "is", "the", shape, "?"], [shape]
    if kind == "shape":
        return ["What", "shape", "is", "the", colour, "one", "?"], [colour]
    if kind == "where":
        return ["Where", "is", "the", colour, shape, "?"], [colour, shape]
    if kind == "describe":
        return ["Describe", "the", "shapes", "."], []
    raise ValueError(f"unknown question kind {kind!r}: choose one of {', '.join(KINDS)}")


def answer_words(kind: str, colour: str, shape: str, region: str) -> list[str]:
    return {"color": [colour], "shape": [shape], "where": region.split()}[kind]


def description_words(objects: list[dict]) -> list[str]:
    """The answer to "Describe the shapes.": each object as `<shape> <colour> <region words>`, in the reading
    order of their regions (top left first, bottom right last), e.g. "square blue top left circle orange center"."""
    words = []
    for item in sorted(objects, key=lambda item: REGIONS.index(item["region"])):
        words += [item["shape"], item["colour"], *item["region"].split()]
    return words


def join_words(words: list[str]) -> str:
    """Words -> text, with no space before '?' or '.'."""
    return " ".join(words).replace(" ?", "?").replace(" .", ".")


# ----- one example -----------------------------------------------------------------------------------------

_COLOUR_NAMES = tuple(COLOURS)


def scene_example(scenes: Scenes, images: torch.Tensor, index: int) -> dict:
    """Item `index` of a rendered batch as an example dict (see `make_example`)."""
    count = int(scenes.count[index])
    target = int(scenes.target[index])
    kind = KINDS[int(scenes.kind[index])]
    colour = _COLOUR_NAMES[int(scenes.colour[index, target])]
    shape = SHAPES[int(scenes.shape[index, target])]
    region = REGIONS[int(scenes.region[index, target])]
    words, named = question_words(kind, colour, shape)
    boxes = scenes.boxes()[index].cpu().numpy().astype(np.float64)
    objects = [
        {
            "colour": _COLOUR_NAMES[int(scenes.colour[index, slot])],
            "shape": SHAPES[int(scenes.shape[index, slot])],
            "region": REGIONS[int(scenes.region[index, slot])],
            "bbox": tuple(float(v) for v in boxes[slot]),
        }
        for slot in range(count)
    ]
    pixels = images[index].permute(1, 2, 0).cpu().numpy()
    return {
        "image": Image.fromarray(pixels, mode="RGB"),
        "prompt": join_words(words),
        "phrase": " ".join(named),
        "bbox": objects[target]["bbox"],
        "distractors": [objects[slot]["bbox"] for slot in range(count) if slot != target],
        "answer": " ".join(
            description_words(objects) if kind == "describe" else answer_words(kind, colour, shape, region)
        ),
        "kind": kind,
        "objects": objects,
        "target": target,
    }


SEED_RANGE = (-(2**63), 2**64 - 2)  # what torch.Generator.manual_seed takes, for seed and (clips) seed + 1


def checked_scene_options(
    seed: object, kinds: object, min_objects: object, max_objects: object
) -> tuple[int, tuple[str, ...], int, int]:
    """The scene helpers' arguments, checked: a whole-number seed in torch's range, a non-empty tuple of known
    kinds and object counts in 1..MAX_OBJECTS; else a one-line TypeError or ValueError (not torch's own)."""
    number = whole_number(seed)
    if number is None or not SEED_RANGE[0] <= number <= SEED_RANGE[1]:
        raise error_kind(seed)(f"seed must be a whole number (e.g. 7), from -2**63 to 2**64 - 2, not {shown(seed)}")
    if isinstance(kinds, str) or not isinstance(kinds, (tuple, list)) or not kinds:
        raise TypeError(f"kinds must be a non-empty tuple of question kinds, e.g. ('color',), not {shown(kinds)}")
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown:
        raise ValueError(f"unknown question kind {shown(unknown[0])} in kinds: choose from {', '.join(KINDS)}")
    low, high = whole_number(min_objects), whole_number(max_objects)
    if low is None or high is None or not 1 <= low <= high <= MAX_OBJECTS:
        raise ValueError(
            f"min_objects and max_objects must be whole numbers with 1 <= min_objects <= max_objects <= "
            f"{MAX_OBJECTS}, not {shown(min_objects)} and {shown(max_objects)}"
        )
    return number, tuple(kinds), low, high


def make_example(
    seed: int,
    kinds: tuple[str, ...] = ("color", "shape"),
    min_objects: int = 2,
    max_objects: int = MAX_OBJECTS,
) -> dict:
    """One scene and question, fully determined by `seed` (CPU generator).

    Returns a dict: `image` (PIL RGB, 224 x 224), `prompt` (e.g. "What color is the square?"), `phrase` (the
    named object's word(s) as they appear in the prompt), `bbox` (x0, y0, x1, y1 of the named object in image
    pixels), `distractors` (the other objects' boxes), `answer` (e.g. "red"), plus `kind`, `objects` (colour,
    shape, region and box of every object) and `target` (the named object's index in `objects`).
    """
    seed, kinds, min_objects, max_objects = checked_scene_options(seed, kinds, min_objects, max_objects)
    generator = torch.Generator().manual_seed(seed)
    scenes = sample_scenes(1, generator, min_objects, max_objects, kinds)
    images = render(scenes, generator)
    return scene_example(scenes, images, 0)


def example_outline(
    seed: int,
    kinds: tuple[str, ...] = ("color", "shape"),
    min_objects: int = 2,
    max_objects: int = MAX_OBJECTS,
) -> tuple[str, int]:
    """The question kind and the number of objects of `make_example(seed, ...)`, without painting it (fast)."""
    seed, kinds, min_objects, max_objects = checked_scene_options(seed, kinds, min_objects, max_objects)
    scenes = sample_scenes(1, torch.Generator().manual_seed(seed), min_objects, max_objects, kinds)
    return KINDS[int(scenes.kind[0])], int(scenes.count[0])
