"""The `qvl-widget` command: capture attention and write the interactive HTML and the paper figures.

qvl-widget explore --model Qwen/Qwen2-VL-2B-Instruct --image cat.jpg --prompt "Where is the cat?" --out out/
qvl-widget demo --out out/        # the same, offline, on the built-in demo model and example image
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_LAYERS = (-4, -3, -2, -1)


@dataclass
class Outputs:
    html: Path
    layers_figure: Path
    matrix_figure: Path


def progress(message: str) -> None:
    print(f"[qvl-widget] {message}", file=sys.stderr, flush=True)


def layer_argument(value: str) -> int | str:
    if value == "mean":
        return value
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid layer {value!r}: use an index like -1 or 12, or 'mean'") from None


def head_argument(value: str) -> int | str:
    if value in ("mean", "max"):
        return value
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid head {value!r}: use an index like 0, or 'mean' or 'max'") from None


def existing_image(value: str) -> Path:
    path = Path(value).expanduser()
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"image file not found: {value!r}")
    return path


def write_outputs(result, out: Path, phrase: str | None, layers: Sequence, head) -> Outputs:
    """The HTML explorer, the multi-layer figure and the token x image-token matrix, in `out`."""
    from ._figures import layers_figure, matrix_figure, save_figure

    out.mkdir(parents=True, exist_ok=True)
    figure_head = None if head == "mean" else head
    progress("writing the interactive HTML ...")
    html = result.to_html(out / "attention.html", phrase=phrase, layer=layers[-1], head=head)
    progress("drawing the figures ...")
    layers_path = save_figure(
        layers_figure(result, layers=tuple(layers), head=figure_head, phrase=phrase), out / "layers.png"
    )
    figure, _ = matrix_figure(result, layer=layers[-1], head=figure_head)
    matrix_path = save_figure(figure, out / "matrix.png")
    return Outputs(html, layers_path, matrix_path)


def report(outputs: Outputs) -> None:
    for label, path in (
        ("interactive HTML", outputs.html),
        ("multi-layer figure", outputs.layers_figure),
        ("token x image-token matrix", outputs.matrix_figure),
    ):
        size = path.stat().st_size / 2**20
        print(f"wrote {path}  ({label}, {size:.1f} MB)")


def explore(arguments: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from . import load

    started = time.perf_counter()
    progress(f"loading {arguments.model} ...")
    try:
        model = load(arguments.model, device=arguments.device, dtype=arguments.dtype)
    except (FileNotFoundError, ValueError, OSError) as error:
        parser.error(str(error))
    progress(f"loaded {model!r} in {time.perf_counter() - started:.1f} s; capturing ...")
    return capture_and_write(model, arguments.image, arguments, parser)


def capture_and_write(model, images, arguments: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    started = time.perf_counter()
    try:
        result = model.capture(images, arguments.prompt, max_pixels=arguments.max_pixels)
        if arguments.phrase is not None:
            result.token_indices(arguments.phrase)  # fail now, with the prompt's tokens listed
        if arguments.layers is None:
            arguments.layers = list(DEFAULT_LAYERS[-min(len(DEFAULT_LAYERS), result.num_layers) :])
        for layer in arguments.layers:
            if layer != "mean":
                result.maps(layer=layer, head=0)
    except (FileNotFoundError, ValueError, IndexError) as error:
        parser.error(str(error))
    columns = result.attention.shape[-1]
    progress(
        f"captured {result.num_layers} layers x {result.num_heads} heads, {result.num_queries} query tokens x "
        f"{columns} image tokens in {time.perf_counter() - started:.1f} s"
    )
    report(write_outputs(result, Path(arguments.out), arguments.phrase, arguments.layers, arguments.head))
    return 0


def demo(arguments: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import tempfile

    from . import load
    from ._example import EXAMPLE_PHRASE, EXAMPLE_PROMPT, example_image
    from .testing import build_tiny_model

    progress("building the built-in tiny Qwen2-VL model (random weights, offline) ...")
    with tempfile.TemporaryDirectory() as folder:
        model = load(build_tiny_model(Path(folder) / "tiny-qwen2-vl"), device="cpu")
    arguments.prompt, arguments.phrase = EXAMPLE_PROMPT, EXAMPLE_PHRASE
    progress(f"prompt: {EXAMPLE_PROMPT!r}; phrase: {EXAMPLE_PHRASE!r}")
    return capture_and_write(model, [example_image()], arguments, parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qvl-widget",
        description="See where a Qwen vision-language model looks: text->image attention, per token, layer and head.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sub: argparse.ArgumentParser, default_out: str | None) -> None:
        sub.add_argument(
            "--layers",
            type=layer_argument,
            nargs="+",
            default=None,
            metavar="LAYER",
            help="layers for the multi-layer figure; the last one also opens the HTML and the matrix "
            "(default: the last four, -4 -3 -2 -1)",
        )
        sub.add_argument("--head", type=head_argument, default="mean", help="a head index, 'mean' or 'max'")
        sub.add_argument("--max-pixels", type=int, default=None, help="cap the resized image's pixels")
        sub.add_argument("--out", required=default_out is None, default=default_out, help="output folder")

    explore_parser = commands.add_parser("explore", help="capture on a model and write HTML + figures")
    explore_parser.add_argument("--model", required=True, help="hub id or local folder of a Qwen-VL model")
    explore_parser.add_argument(
        "--image", required=True, action="append", type=existing_image, help="image file (repeat for several)"
    )
    explore_parser.add_argument("--prompt", required=True, help="the text that follows the image(s)")
    explore_parser.add_argument("--phrase", help="words of the prompt to select in the HTML and the figures")
    explore_parser.add_argument("--device", help="cuda, mps or cpu (default: the best available)")
    explore_parser.add_argument("--dtype", help="e.g. bfloat16 or float32 (default: by device)")
    common(explore_parser, default_out=None)
    explore_parser.set_defaults(run=explore, parser=explore_parser)

    demo_parser = commands.add_parser("demo", help="the same, offline, on the built-in demo model")
    common(demo_parser, default_out="qvl-demo-output")
    demo_parser.set_defaults(run=demo, parser=demo_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    return arguments.run(arguments, arguments.parser)


if __name__ == "__main__":
    sys.exit(main())
