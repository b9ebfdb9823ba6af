"""The `qvl-widget` command."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def _summary(result) -> str:
    lines = [repr(result)]
    for index, image in enumerate(result.images):
        lines.append(
            f"image {index}: {image.original_size[0]}x{image.original_size[1]} px -> resized "
            f"{image.resized_size[0]}x{image.resized_size[1]} -> {image.rows}x{image.cols} tokens"
        )
    mass = result.image_mass[-1].mean(axis=0)
    lines.append("last layer, head mean: share of each prompt token's attention on the image")
    for query, token in enumerate(result.tokens):
        if not token.special:
            lines.append(f"  {token.text!r:>12}  {mass[query]:.3f}")
    return "\n".join(lines)


def _demo(arguments: argparse.Namespace) -> int:
    from . import load
    from ._example import EXAMPLE_PHRASE, EXAMPLE_PROMPT, example_image
    from .testing import build_tiny_model

    with tempfile.TemporaryDirectory() as folder:
        print("building a tiny random-weight Qwen2-VL model offline ...", flush=True)
        model = load(build_tiny_model(Path(folder) / "tiny-qwen2-vl"), device="cpu")
        result = model.capture(example_image(), EXAMPLE_PROMPT)
    print(_summary(result))
    grid = result.grid(phrase=EXAMPLE_PHRASE)
    row, col = np.unravel_index(int(np.argmax(grid)), grid.shape)
    box = result.token_boxes()[row * grid.shape[1] + col]
    print(f"hottest cell for {EXAMPLE_PHRASE!r}: row {row}, col {col}, box {np.round(box).astype(int).tolist()}")
    if arguments.out:
        path = result.save(Path(arguments.out) / "result.npz")
        print(f"wrote {path}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qvl-widget", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="capture attention offline on a built-in tiny model and summarise it")
    demo.add_argument("--out", help="folder to write the captured result to")
    demo.set_defaults(run=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    return arguments.run(arguments)


if __name__ == "__main__":
    sys.exit(main())
