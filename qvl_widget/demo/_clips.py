"""Synthetic clips: a demo scene whose named object moves from region to region while the others stay.

`make_clip(seed, groups)` renders the scene of `make_example`'s sampling (the same draws, so the same objects and
question for a seed) as `2 * groups` frames: each pair of frames is one temporal group of the model's video input
(its temporal patch is 2 frames), and within a pair the frames are equal, so each group sees the object at rest.
The named object starts in its own region and then visits free regions (regions no object holds), one per group,
so it never overlaps another object; the background (its gradient and its noise) is the same in every frame.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from .._arguments import error_kind, shown, whole_number
from .._boxes import Box
from ._scenes import (
    IMAGE_SIZE,
    MAX_OBJECTS,
    REGIONS,
    Scenes,
    checked_scene_options,
    render,
    sample_scenes,
    scene_example,
)

FRAMES_PER_GROUP = 2  # the Qwen-VL video processors' temporal patch
MAX_CLIP_GROUPS = 6  # the named object's own region, then at most 5 free regions (9 regions, at most 4 objects)


def make_clip(
    seed: int,
    groups: int = 4,
    kinds: tuple[str, ...] = ("color", "shape"),
    min_objects: int = 2,
    max_objects: int = MAX_OBJECTS,
) -> dict:
    """A clip of `groups` temporal groups (`2 * groups` frames, 224 x 224) in which the named object moves.

    Returns a dict: `frames` (PIL RGB images), `prompt`, `phrase`, `answer` and `kind` (as `make_example`),
    `boxes` (the named object's box (x0, y0, x1, y1) in each frame), `distractors` (the other objects' boxes, the
    same in every frame) and `regions` (the region the named object is in, per group).
    """
    seed, kinds, min_objects, max_objects = checked_scene_options(seed, kinds, min_objects, max_objects)
    count = whole_number(groups)
    if count is None or not 1 <= count <= MAX_CLIP_GROUPS:
        raise error_kind(groups)(
            f"groups must be a whole number 1 to {MAX_CLIP_GROUPS} (the free regions the object can move to), "
            f"not {shown(groups)}"
        )
    groups = count
    generator = torch.Generator().manual_seed(seed)
    scenes = sample_scenes(1, generator, min_objects, max_objects, kinds)
    noise_state = generator.get_state()  # each frame draws the same background noise
    target = int(scenes.target[0])
    count = int(scenes.count[0])
    taken = {int(scenes.region[0, slot]) for slot in range(count)}
    free = [region for region in range(len(REGIONS)) if region not in taken]
    order = torch.randperm(len(free), generator=torch.Generator().manual_seed(int(seed) + 1)).tolist()
    path = [int(scenes.region[0, target]), *[free[index] for index in order][: groups - 1]]
    frames, boxes, example = [], [], None
    for region in path:
        moved = _moved(scenes, target, region)
        image = render(moved, torch.Generator().set_state(noise_state))
        example = scene_example(moved, image, 0)
        for _ in range(FRAMES_PER_GROUP):
            frames.append(example["image"])
            boxes.append(example["bbox"])
    assert example is not None
    return {
        "frames": frames,
        "prompt": example["prompt"],
        "phrase": example["phrase"],
        "answer": example["answer"],
        "kind": example["kind"],
        "boxes": boxes,
        "distractors": example["distractors"],
        "regions": [REGIONS[region] for region in path],
    }


def _moved(scenes: Scenes, slot: int, region: int) -> Scenes:
    """`scenes` with object `slot` moved to the same place within `region` as it had within its own region."""
    cell = IMAGE_SIZE / 3
    old = int(scenes.region[0, slot])
    shift = torch.tensor([(region % 3 - old % 3) * cell, (region // 3 - old // 3) * cell])
    centre = scenes.centre.clone()
    centre[0, slot] += shift
    regions = scenes.region.clone()
    regions[0, slot] = region
    return dataclasses.replace(scenes, centre=centre, region=regions)


def group_example(clip: dict, group: int) -> dict:
    """The pointing check's example for one temporal group of a clip (`points_at_named(grid[group], ...)`)."""
    frame = FRAMES_PER_GROUP * group
    return {"image": clip["frames"][frame], "bbox": clip["boxes"][frame], "distractors": clip["distractors"]}


def clip_boxes(clip: dict, image: int = 0) -> list[Box]:
    """The named object's box in each temporal group of a clip (`qvl_widget.Box`es labelled with its words, one per
    group, `group=g`): every view of the captured video outlines the object where it is in the group shown.
    `image`: the video's index among the capture's images and videos (0: it came first)."""
    boxes = []
    for group in range(len(clip["frames"]) // FRAMES_PER_GROUP):
        x0, y0, x1, y1 = group_example(clip, group)["bbox"]
        boxes.append(Box(x0, y0, x1, y1, label=clip["phrase"], image=image, group=group))
    return boxes


def frames_array(clip: dict) -> np.ndarray:
    """The clip's frames as one `[frames, 224, 224, 3]` uint8 array (for `qvl_widget.Video`)."""
    return np.stack([np.asarray(frame) for frame in clip["frames"]])
