"""Does the demo model follow a moving named object across a video's temporal groups? A report, not a gate.

For held-out test scenes (`demo.TEST_SEEDS`), `demo.make_clip(seed, groups)` moves the named object from region to
region, one region per temporal group (2 equal frames each). The video is captured once; each group's map (the
shipped recipe's: the token that predicts the answer, layer 2, mean of heads; and the named word's own map) is
checked with the pointing test (`demo.points_at_named`) against the object's box in that group. Side by side:
- "video, 8 x 8": frames seen at the demo's own image size (224 px, 8 x 8 tokens a group: `Video(min_pixels=
  max_pixels=224 * 224)`), the size the model was trained at;
- "video, default size": the video processor's own pixel bounds (Qwen2-VL: frames upscaled to 12 x 12 tokens);
- "each frame as an image": every group's frame captured alone as an image: what the model does without video.
Chance: 1 / the number of objects. "All groups": scenes whose every group's map lands on the object.

    PYTHONPATH=. python benchmarks/video_pointing.py [--scenes 100] [--groups 4]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from qvl_widget import Video, demo
from qvl_widget.demo._pointing import query_rows

IMAGE_PIXELS = 224 * 224
RECIPE_LAYER = [2]


def group_maps(result, clip: dict, query: str) -> np.ndarray:
    """`[groups, rows, cols]`: the query's map of every group of the result's video."""
    rows = query_rows(result, clip, query)
    return result.grid(token=rows, layer=RECIPE_LAYER, head=None)


def video_hits(model, clip: dict, video: Video) -> dict[str, list[bool]]:
    result = model.capture(video, clip["prompt"])
    return {
        query: [
            demo.points_at_named(grid, demo.group_example(clip, group))
            for group, grid in enumerate(group_maps(result, clip, query))
        ]
        for query in ("answer", "phrase")
    }


def image_hits(model, clip: dict, groups: int) -> dict[str, list[bool]]:
    hits: dict[str, list[bool]] = {"answer": [], "phrase": []}
    for group in range(groups):
        example = demo.group_example(clip, group)
        result = model.capture(example["image"], clip["prompt"])
        for query in hits:
            grid = result.grid(token=query_rows(result, clip, query), layer=RECIPE_LAYER, head=None)
            hits[query].append(demo.points_at_named(grid, example))
    return hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=100)
    parser.add_argument("--groups", type=int, default=4)
    arguments = parser.parse_args()
    started = time.perf_counter()
    model = demo.load(device="cpu")
    seeds = list(demo.TEST_SEEDS)[: arguments.scenes]
    conditions = {
        "video, 8 x 8": lambda clip: video_hits(
            model, clip, Video(demo.frames_array(clip), min_pixels=IMAGE_PIXELS, max_pixels=IMAGE_PIXELS)
        ),
        "video, default size": lambda clip: video_hits(model, clip, Video(demo.frames_array(clip))),
        "each frame as an image": lambda clip: image_hits(model, clip, arguments.groups),
    }
    hits: dict[str, dict[str, list[list[bool]]]] = {name: {"answer": [], "phrase": []} for name in conditions}
    chance = []
    for seed in seeds:
        clip = demo.make_clip(seed, groups=arguments.groups)
        chance.append(1 / (1 + len(clip["distractors"])))
        for name, run in conditions.items():
            for query, scene_hits in run(clip).items():
                hits[name][query].append(scene_hits)
    print(f"# video pointing: {time.strftime('%Y-%m-%d')}, {len(seeds)} test scenes, {arguments.groups} groups each")
    print(f"chance {np.mean(chance):.3f}")
    print()
    print("| map | condition | groups hit | per group (1st .. last) | scenes with every group hit |")
    print("|---|---|---:|---|---:|")
    for query, label in (("answer", "answer-predicting token"), ("phrase", "named word")):
        for name in conditions:
            table = np.array(hits[name][query], dtype=float)  # [scenes, groups]
            per_group = ", ".join(f"{value:.2f}" for value in table.mean(axis=0))
            print(f"| {label} | {name} | {table.mean():.3f} | {per_group} | {table.all(axis=1).mean():.3f} |")
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
