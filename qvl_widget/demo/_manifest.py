"""Held-out demo scenes written as a study manifest: a data set to try `model.study` on, with the truth known."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

from .._arguments import checked_count, described
from .._files import write_all
from ._pointing import TEST_SEEDS
from ._scenes import make_example

MANIFEST_NAME = "scenes.jsonl"


def write_scenes(count: int, folder: str | os.PathLike, first_seed: int = TEST_SEEDS.start) -> Path:
    """Write `count` demo scenes into `folder` as a study manifest, and return its path (`FOLDER/scenes.jsonl`).

    Each line is one example: `id` ("scene-SEED"), `image` (its PNG, a path relative to the manifest), `prompt`
    (e.g. "What color is the square?"), `box` (the named object's x0, y0, x1, y1 in image pixels), `phrase` (the
    object's words in the prompt), `answer` (the right answer, e.g. "red") and `kind` ("color" or "shape"). Seeds
    run from `first_seed`: by default the demo's test seeds, never used to train or choose anything. Every file is
    written, or none; the same call again replaces them with the same files.

        manifest = demo.write_scenes(500, "scenes")
        study = demo.load().study(manifest, out="study", query="all")
    """
    count = checked_count(count, "count", "the number of scenes")
    first_seed = checked_count(first_seed, "first_seed", "the first scene's seed", minimum=0)
    if not isinstance(folder, (str, os.PathLike)) or not os.fspath(folder):
        raise TypeError(f"folder must be a folder path (a str or a pathlib.Path), not {described(folder)}")
    folder = Path(folder)
    files: dict[str | os.PathLike, bytes] = {}
    lines = []
    for seed in range(first_seed, first_seed + count):
        example = make_example(seed)
        image = f"images/scene-{seed}.png"
        files[folder / image] = _png(example["image"])
        lines.append(
            {
                "id": f"scene-{seed}",
                "image": image,
                "prompt": example["prompt"],
                "box": [float(value) for value in example["bbox"]],
                "phrase": example["phrase"],
                "answer": example["answer"],
                "kind": example["kind"],
            }
        )
    manifest = folder / MANIFEST_NAME
    files[manifest] = "".join(json.dumps(line) + "\n" for line in lines).encode("utf-8")
    write_all(files)
    return manifest


def _png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
