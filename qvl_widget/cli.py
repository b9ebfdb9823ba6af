"""The `qvl-widget` command: capture attention and write the interactive HTML and the paper figures.

qvl-widget explore --model Qwen/Qwen2-VL-2B-Instruct --image cat.jpg --prompt "Where is the cat?" --out out/
qvl-widget explore ... --answer    # the model answers too; its answer words are explored with their producing maps
qvl-widget demo --out out/        # the same, offline, on the built-in demo model and example image
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ._choices import Reduce, checked_reduce, last_layers
from ._html import DEFAULT_MAX_BYTES

DEMO_SEED = 200_006  # a held-out test scene with four objects
DEMO_ANSWER_TOKENS = 4  # the demo model answers in a word or two
DEFAULT_HTML_MAX_MB = DEFAULT_MAX_BYTES / 2**20
DEFAULT_MAX_NEW_TOKENS = 64  # capture's own default


@dataclass
class Outputs:
    html: Path
    layers_figure: Path
    matrix_figure: Path


def progress(message: str) -> None:
    print(f"[qvl-widget] {message}", file=sys.stderr, flush=True)


def layer_argument(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid layer {value!r}: use an index like -1 or 12") from None


def head_argument(value: str) -> int | str:
    if value in ("mean", "max"):
        return value
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid head {value!r}: use an index like 0, or 'mean' or 'max'") from None


def existing_image(value: str) -> Path:
    path = Path(value).expanduser()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{value!r} is a folder; pass an image file in it")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"image file not found: {value!r}")
    return path


def positive_integer(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"invalid number of tokens {value!r}: use a whole number >= 1, like 64")
    return number


def answer_text(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError(
            "the answer text is empty: pass some words, or --answer to let the model answer"
        )
    return value


def positive_number(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not number > 0:
        raise argparse.ArgumentTypeError(f"invalid size {value!r}: use a positive number of megabytes, like 25")
    return number


def output_folder(value: str) -> Path:
    path = Path(value).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{value!r} is a file: pass a folder for the outputs (made if missing)")
    return path


def write_outputs(
    result,
    out: Path,
    layers: Sequence,
    head,
    phrase: str | None = None,
    tokens: list[int] | None = None,
    open_layer=None,
    html_max_bytes: int | None = None,
) -> Outputs:
    """The HTML explorer, the multi-layer figure over `layers` and the token x image-token matrix, in `out`.

    `tokens` (query indices) or `phrase` select the tokens the HTML pins and the figure shows; the HTML and the
    matrix show `open_layer` (default: the last of `layers`). A ValueError, before anything is written, where
    even the smaller HTML would be too large."""
    open_layer = layers[-1] if open_layer is None else open_layer
    from ._figures import layers_figure, matrix_figure, save_figure

    # Figures take a head index, or None with a reduction over heads.
    reduce: Reduce = checked_reduce(head) if isinstance(head, str) else "mean"
    figure_head = None if isinstance(head, str) else head
    selection = {"phrase": phrase} if tokens is None else {"token": tokens}
    producing = selects_the_answer(result, phrase, tokens)
    progress("writing the interactive HTML ...")
    view = dict(layer=open_layer, head=head, max_bytes=html_max_bytes, **selection)
    html = write_html_within_limit(result, out / "attention.html", layers, view)
    progress("drawing the figures" + (" (producing maps of the answer's words)" if producing else "") + " ...")
    figure = layers_figure(
        result, layers=tuple(layers), head=figure_head, reduce=reduce, producing=producing, **selection
    )
    layers_path = save_figure(figure, out / "layers.png")
    figure, _ = matrix_figure(result, layer=open_layer, head=figure_head, reduce=reduce, producing=producing)
    matrix_path = save_figure(figure, out / "matrix.png")
    return Outputs(html, layers_path, matrix_path)


def selects_the_answer(result, phrase: str | None, tokens: list[int] | None) -> bool:
    """Whether the selection is the answer's tokens only: the figures then show where the model looked while
    writing them (producing maps), not each token's own row."""
    if phrase is None and tokens is None:
        return False
    selected = result.token_indices(phrase) if tokens is None else tokens
    return all(result.tokens[index].part == "answer" for index in selected)


def write_html_within_limit(result, path: Path, layers: Sequence, view: dict) -> Path:
    """The HTML with its default maps, or, where those pass the size limit, only `layers` with the head mean
    and max (plus the view it opens on)."""
    from ._html import HtmlTooLargeError

    try:
        return result.to_html(path, **view)
    except HtmlTooLargeError:
        shown = " ".join(str(layer) for layer in layers)
        progress(
            f"the HTML with every layer would pass its size limit; it embeds layers {shown}, mean and max of heads"
        )
    try:
        return result.to_html(path, layers=list(layers), heads=["mean", "max"], **view)
    except HtmlTooLargeError as error:
        raise ValueError(
            f"the HTML would pass its size limit even with layers {shown} only ({error.summary}): pass fewer "
            "--layers, fewer image tokens with --max-pixels, or a larger --html-max-mb"
        ) from None


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

    if arguments.max_new_tokens is not None and not arguments.answer:
        parser.error("--max-new-tokens is for the model's own answer: pass it with --answer")
    started = time.perf_counter()
    progress(f"loading {arguments.model} ...")
    try:
        model = load(arguments.model, device=arguments.device, dtype=arguments.dtype)
    except (FileNotFoundError, ValueError, OSError) as error:
        parser.error(str(error))
    progress(f"loaded {model!r} in {time.perf_counter() - started:.1f} s; capturing ...")
    return capture_and_write(model, arguments.image, arguments, parser)


def capture_and_write(model, images, arguments: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from ._memory import CaptureTooLargeError

    started = time.perf_counter()
    answer = answer_option(arguments)
    try:
        result = model.capture(images, arguments.prompt, max_pixels=arguments.max_pixels, **answer)
        if arguments.phrase is not None:
            result.token_indices(arguments.phrase)  # fail now, with the prompt's tokens listed
        if arguments.layers is None:
            arguments.layers = last_layers(result.num_layers)
    except (FileNotFoundError, ValueError, IndexError) as error:
        parser.error(str(error))
    except CaptureTooLargeError as error:  # before the model ran
        parser.error(f"{error} (on the command line: --max-pixels, or a smaller --max-new-tokens)")
    check_choices(result, arguments.layers, arguments.head, parser)
    columns = result.attention.shape[-1]
    answered = sum(token.part == "answer" for token in result.tokens)
    progress(
        f"captured {result.num_layers} layers x {result.num_heads} heads, {result.num_queries} query tokens x "
        f"{columns} image tokens in {time.perf_counter() - started:.1f} s"
        + (f" (the answer: {answered} of them)" if result.answer is not None else "")
    )
    if result.answer is not None:
        print(f"answer: {result.answer}", flush=True)
    try:
        outputs = write_outputs(
            result,
            arguments.out,
            arguments.layers,
            arguments.head,
            phrase=arguments.phrase,
            html_max_bytes=html_max_bytes(arguments),
        )
    except ValueError as error:
        parser.error(str(error))
    report(outputs)
    return 0


def answer_option(arguments: argparse.Namespace) -> dict:
    """`capture`'s answer options from --answer / --answer-text, saying on stderr what is about to run."""
    if arguments.answer_text is not None:
        progress("answering with the given text (teacher-forced) ...")
        return {"answer": arguments.answer_text}
    if arguments.answer:
        tokens = DEFAULT_MAX_NEW_TOKENS if arguments.max_new_tokens is None else arguments.max_new_tokens
        progress(f"answering (the model generates up to {tokens} tokens) ...")
        return {"answer": True, "max_new_tokens": tokens}
    return {}


def check_choices(result, layers: Sequence[int], head, parser: argparse.ArgumentParser) -> None:
    """Layers and head that exist in `result`, or an argparse error before anything is written."""
    try:
        for layer in layers:
            result.maps(layer=layer, head=0)
        if head not in ("mean", "max"):
            result.maps(layer=-1, head=head)
    except (IndexError, TypeError) as error:
        parser.error(str(error))


def demo(arguments: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """`explore` on the built-in demo model and a scene it was not trained on, opened on its pointing view."""
    from . import demo as demo_model

    progress("loading the built-in demo model (offline) ...")
    model = demo_model.load(device="cpu")
    example = demo_model.make_example(DEMO_SEED)
    progress(f"scene {DEMO_SEED}: {example['prompt']!r} (right answer: {example['answer']!r}); answering ...")
    started = time.perf_counter()
    result = model.capture(example["image"], example["prompt"], answer=True, max_new_tokens=DEMO_ANSWER_TOKENS)
    answer = (result.answer or "").strip()
    print(f"answer: {answer}")
    progress(
        f"the model answers {answer!r} ({'right' if answer == example['answer'] else 'wrong'}); captured "
        f"{result.num_layers} layers x {result.num_heads} heads in {time.perf_counter() - started:.1f} s"
    )
    view = demo_model.recommended_view(result, example)  # opens on the answer word, with its producing map
    hit = demo_model.points_at_named(demo_model.answer_pointing_map(result, example), example)
    named = f"the named object ({example['phrase']})"
    progress(f"where it looked while writing it ({_describe(result, view)}) {'lands on' if hit else 'misses'} {named}")
    layers = arguments.layers or list(range(result.num_layers))
    check_choices(result, layers, arguments.head, parser)
    head = arguments.head if arguments.head != "mean" else view["head"]
    try:
        outputs = write_outputs(
            result,
            arguments.out,
            layers,
            head,
            tokens=view["token"],
            open_layer=view["layer"],
            html_max_bytes=html_max_bytes(arguments),
        )
    except ValueError as error:
        parser.error(str(error))
    report(outputs)
    return 0


def html_max_bytes(arguments: argparse.Namespace) -> int:
    return round(arguments.html_max_mb * 2**20)


def _describe(result, view: dict) -> str:
    tokens = " + ".join(repr(result.tokens[row].text) for row in view["token"])
    step = "the step that wrote " if view.get("producing") else "token "
    layer = view["layer"] if isinstance(view["layer"], str) else result.layer_ids[view["layer"]]
    return f"{step}{tokens}, layer {layer}, {view['head']} of heads"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qvl-widget",
        description="See where a Qwen vision-language model looks: text->image attention, per token, layer and head.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sub: argparse.ArgumentParser, default_out: str | None, layers_help: str, head_help: str) -> None:
        sub.add_argument("--layers", type=layer_argument, nargs="+", default=None, metavar="LAYER", help=layers_help)
        sub.add_argument("--head", type=head_argument, default="mean", help=head_help)
        sub.add_argument(
            "--html-max-mb",
            type=positive_number,
            default=DEFAULT_HTML_MAX_MB,
            help=f"size limit of the HTML file (default {DEFAULT_HTML_MAX_MB:g}); above it, only --layers are embedded",
        )
        where = "output folder" + (f" (default: {default_out})" if default_out else "")
        sub.add_argument("--out", type=output_folder, required=default_out is None, default=default_out, help=where)

    explore_parser = commands.add_parser("explore", help="capture on a model and write HTML + figures")
    explore_parser.add_argument("--model", required=True, help="hub id or local folder of a Qwen-VL model")
    explore_parser.add_argument(
        "--image", required=True, action="append", type=existing_image, help="image file (repeat for several)"
    )
    explore_parser.add_argument("--prompt", required=True, help="the text that follows the image(s)")
    explore_parser.add_argument(
        "--phrase", help="words of the prompt or the answer to select in the HTML and the figures"
    )
    answering = explore_parser.add_mutually_exclusive_group()
    answering.add_argument(
        "--answer",
        action="store_true",
        help="let the model answer (greedy); --phrase with its words shows where it looked while writing them",
    )
    answering.add_argument(
        "--answer-text",
        type=answer_text,
        metavar="TEXT",
        help="a given answer to teacher-force instead (e.g. a reference to compare with the model's own)",
    )
    explore_parser.add_argument(
        "--max-new-tokens",
        type=positive_integer,
        default=None,
        metavar="N",
        help=f"with --answer: the answer's most tokens (default {DEFAULT_MAX_NEW_TOKENS})",
    )
    explore_parser.add_argument("--device", help="cuda, mps or cpu (default: the best available)")
    explore_parser.add_argument("--dtype", help="e.g. bfloat16 or float32 (default: by device)")
    explore_parser.add_argument(
        "--max-pixels", type=int, default=None, help="cap the resized image's pixels (fewer image tokens)"
    )
    common(
        explore_parser,
        default_out=None,
        layers_help="layers for the multi-layer figure; the last one also opens the HTML and the matrix "
        "(default: the last four, -4 -3 -2 -1)",
        head_help="a head index, 'mean' or 'max' (default: mean)",
    )
    explore_parser.set_defaults(run=explore, parser=explore_parser)

    demo_parser = commands.add_parser("demo", help="the same, offline, on the built-in demo model")
    common(
        demo_parser,
        default_out="qvl-demo-output",
        layers_help="layers for the multi-layer figure (default: all); the HTML and the matrix open on the demo's "
        "recommended view (the token that predicts the answer)",
        head_help="a head index, 'mean' or 'max' (default: the recommended view's)",
    )
    demo_parser.set_defaults(run=demo, parser=demo_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    return arguments.run(arguments, arguments.parser)


if __name__ == "__main__":
    sys.exit(main())
