"""The `qvl-widget` command: capture attention and write the interactive HTML and the paper figures.

qvl-widget explore --model Qwen/Qwen2-VL-2B-Instruct --image cat.jpg --prompt "Where is the cat?" --out out/
qvl-widget explore ... --answer    # the model answers too; its answer words are explored with their producing maps
qvl-widget explore ... --answer --no-thinking   # a model that thinks first (Qwen3.5) answers at once
qvl-widget explore ... --baseline  # also the generic prompt's attention (capture(baseline=True)); or --baseline TEXT
qvl-widget explore ... --baseline --relative --drop-sinks --unit uniform --head-overview mass  # how maps open
qvl-widget explore ... --box 40,30,120,95:cat --style contour   # a box outlined, its share said; contour lines
qvl-widget demo --out out/        # the same, offline, on the built-in demo model and one of its scenes
qvl-widget demo --list-scenes     # held-out scenes worth showing; `qvl-widget demo --seed N` opens one
qvl-widget demo --write-scenes 500 --out scenes/   # held-out scenes with their boxes, as a study's manifest
qvl-widget study scenes/scenes.jsonl --model ... --out study/   # a data set's attention as a table (`model.study`)
qvl-widget study --report study/  # its head ranking and figure

Every argument that can be checked before the model loads is: the phrase against the prompt, the layers and the
head against the model's config.json (read without torch or transformers), the text is UTF-8, the paths are names
the system takes and the output files can be written there, so a typo fails at once.

The four outputs (attention.html; layers.FORMAT, matrix.FORMAT and heads.FORMAT, the figures) are written all or
none: each is made in memory, then all are written together (`_files.write_all`); any failure is one
argparse-style line (exit code 2) and leaves --out as it was. Each file written gets a line on stdout (its path and
size) and one on stderr saying how to read it. `explore` and `demo` share their defaults: the multi-layer figure
shows `DEFAULT_LAYERS` (the last four layers, or all where the model has fewer), as `figures.layers_figure` does.

Sizes are in binary units: 1 MiB = 2**20 bytes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import re
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ._boxes import Box, box_words, check_overlap, checked_fields, group_counts, on_image
from ._choices import UNITS, Unit, canonical_choice, checked_index, choice_label, last_layers
from ._cli_study import add_study_command
from ._families import MAPLESS_LAYER_TYPES
from ._files import check_destinations, checked_path, write_all
from ._html import DEFAULT_MAX_BYTES
from ._memory import binary_size
from ._overlay import DEFAULT_STYLE, STYLES, Style
from ._result import BASELINE_PROMPT, SINK_TAU, checked_baseline
from ._text import visible
from ._view_state import HEAD_OVERVIEWS, HeadOverview

MIB = 2**20
DEMO_SEED = 200_006  # a held-out test scene with four objects
DEMO_ANSWER_TOKENS = 4  # the demo model answers in a word or two
DEMO_MODEL_DIR = Path(__file__).parent / "demo" / "model"  # qvl_widget.demo.MODEL_DIR, without importing torch
DEFAULT_HTML_MAX_MIB = DEFAULT_MAX_BYTES / MIB
DEFAULT_MAX_NEW_TOKENS = 64  # capture's own default
FIGURE_FORMATS = ("png", "svg", "pdf")
FILE_SUFFIXES = (*(f".{name}" for name in FIGURE_FORMATS), ".html", ".htm", ".jpg", ".jpeg")
LISTED_SCENES_SCANNED = 100  # --list-scenes looks at this many test seeds, in order
LISTED_SCENE_TRIES = 8  # and checks at most this many of each kind and object count with the model
SHOWN_THINKING = 300  # characters of the model's thinking printed (its start and its end); the HTML has it all
MAX_PIXELS_ARGUMENT = 16_384 * 32 * 32  # --max-pixels: 16,384 image tokens of the largest Qwen-VL patches, above
# every Qwen-VL processor's own default ceiling (12,845,056 in Qwen2/2.5-VL)


DEFAULT_LAYERS = "the last four, or all where the model has fewer"  # `last_layers`: explore's, demo's, the figures'


@dataclass
class Outputs:
    html: Path
    layers_figure: Path
    matrix_figure: Path
    heads_figure: Path
    producing: bool = False  # the figures show producing maps: the selected tokens are the model's own words
    selection: str = "the prompt's tokens"  # the tokens the figures show, in words

    def files(self) -> list[Path]:
        """Every output, in the order they are reported."""
        return [self.html, self.layers_figure, self.matrix_figure, self.heads_figure]


def progress(message: str) -> None:
    print(f"[qvl-widget] {message}", file=sys.stderr, flush=True)


def layer_argument(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid layer {value!r}: use an index like -1 or 12") from None


def head_argument(value: str) -> int | str | list[int]:
    """A head choice, as everywhere in qvl_widget: an index, a comma-separated list ("0,3"), "mean", "max" or
    "all"."""
    if value in ("mean", "max", "all"):
        return value
    try:
        indices = [int(part) for part in value.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid head {value!r}: use an index like 0, a list like 0,3, or 'mean', 'max' or 'all'"
        ) from None
    return indices[0] if len(indices) == 1 else indices


@dataclass(frozen=True)
class BoxArgument:
    """One --box as given (`text`, for errors) and as a Box."""

    text: str
    box: Box


# The label is everything after the corners' first ':' (colons too) but a trailing @IMAGE and #GROUP, in that
# order: a label that itself ends in "@2" or "#2" stays whole when followed by an explicit @IMAGE.
BOX_PATTERN = re.compile(
    r"^(?P<corners>[^:@#]*)(?::(?P<label>.*?))?(?:@(?P<image>-?\d+))?(?:#(?P<group>-?\d+))?$", re.DOTALL
)


def box_argument(value: str) -> BoxArgument:
    """--box X0,Y0,X1,Y1[:LABEL][@IMAGE][#GROUP]: a box in pixels of the original image (`@IMAGE`: of the IMAGE-th
    image or video given, from 0; default the first; `#GROUP`: a video's temporal group only, from 0, negative
    from the end; default every group)."""
    utf8_text(value)
    match = BOX_PATTERN.match(value)
    corners = match["corners"].split(",") if match else []
    try:
        numbers = [float(corner) for corner in corners]
    except ValueError:
        numbers = []
    if match is None or len(numbers) != 4:
        raise argparse.ArgumentTypeError(
            f"invalid box {value!r}: use X0,Y0,X1,Y1 in pixels of the original image, with :LABEL, @IMAGE (its "
            "index among the images and videos, from 0) and #GROUP (a video's temporal group) where wanted, e.g. "
            "40,30,120,95:cat or 40,30,120,95:cat@1#2"
        )
    image = int(match["image"]) if match["image"] is not None else 0
    group = int(match["group"]) if match["group"] is not None else None
    try:
        fields = checked_fields(numbers, match["label"] or None, image, f"box {value!r}")
    except (TypeError, ValueError) as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return BoxArgument(value, Box(*fields, group=group))


def utf8_text(value: str) -> str:
    """Text that is UTF-8: on Linux a byte that is not arrives as a lone surrogate, which the tokenizer refuses."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        code = ord(value[error.start])
        what = f"byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"character {chr(code)!a}"
        raise argparse.ArgumentTypeError(
            f"the text has a {what} that is not UTF-8 (at character {error.start + 1}): pass UTF-8 text (is the "
            "terminal's or the script's encoding UTF-8?)"
        ) from None
    return value


def os_path(value: str, what: str) -> Path:
    """`value` as a Path, when the system can take it as a file name; else an argparse error saying why."""
    try:
        checked_path(value, what)
    except (TypeError, ValueError) as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return Path(value).expanduser()


def model_source(value: str) -> str:
    """--model: a hub id or a local folder (checked against the folder before loading, in `explore`)."""
    os_path(value, "model path")
    return value


def existing_image(value: str) -> Path:
    return existing_file(value, "image")


def existing_video(value: str) -> Path:
    return existing_file(value, "video")


def existing_file(value: str, kind: str) -> Path:
    path = os_path(value, f"{kind} path")
    try:
        if path.is_dir():
            raise argparse.ArgumentTypeError(
                f"{value!r} is a folder; pass {'an' if kind == 'image' else 'a'} {kind} file in it"
            )
        found = path.is_file()
    except OSError as error:
        raise argparse.ArgumentTypeError(f"cannot read the {kind} {value!r}: {error.strerror or error}") from None
    if not found:
        raise argparse.ArgumentTypeError(f"{kind} file not found: {value!r}")
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
    utf8_text(value)
    if not value.strip():
        raise argparse.ArgumentTypeError(
            "the answer text is empty: pass some words, or --answer to let the model answer"
        )
    return value


def baseline_prompt(value: str) -> str:
    """--baseline PROMPT: a baseline prompt of your own, refused as `capture(baseline=...)` refuses it."""
    utf8_text(value)
    try:
        checked_baseline(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return value


def positive_number(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not 0 < number < math.inf:
        raise argparse.ArgumentTypeError(f"invalid size {value!r}: use a positive number of MiB (2**20 bytes), like 25")
    return number


def html_mib(value: str) -> float:
    """`--html-max-mib`: a positive number of MiB, at least a page's own script and styles. Refused here, before
    the model loads; a smaller limit would round to 0 bytes and read as "no limit given"."""
    from ._html import smallest_page_bytes

    number = positive_number(value)
    smallest = smallest_page_bytes()
    if number * MIB < smallest:
        raise argparse.ArgumentTypeError(
            f"size {value!r} is smaller than any page (its script alone is {smallest / MIB:.2f} MiB): "
            f"pass at least {math.ceil(smallest / MIB * 10) / 10:g}, or leave the default {DEFAULT_HTML_MAX_MIB:g}"
        )
    return number


def pixel_count(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_PIXELS_ARGUMENT:
        raise argparse.ArgumentTypeError(
            f"invalid number of pixels {value!r}: use a whole number from 1 to {MAX_PIXELS_ARGUMENT} (16384 image "
            "tokens, above every model's own ceiling), like 401408"
        )
    return number


def scene_seed(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if not 0 <= number < 2**63:
        raise argparse.ArgumentTypeError(f"invalid seed {value!r}: use a whole number >= 0, like {DEMO_SEED}")
    return number


def output_folder(value: str) -> Path:
    path = os_path(value, "output folder")
    try:
        exists, is_folder = path.exists(), path.is_dir()
    except OSError as error:
        reason = error.strerror or error
        raise argparse.ArgumentTypeError(f"cannot use {value!r} as the output folder: {reason}") from None
    if exists and not is_folder:
        raise argparse.ArgumentTypeError(f"{value!r} is a file: pass a folder for the outputs (made if missing)")
    suffix = path.suffix.lower()
    if suffix in FILE_SUFFIXES and not is_folder:
        folder = str(path.with_suffix(""))
        instead = f"--out {folder} --format {suffix[1:]}" if suffix[1:] in FIGURE_FORMATS else f"--out {folder}"
        raise argparse.ArgumentTypeError(
            f"{value!r} looks like a file name, but --out is a folder: attention.html and the figures are written "
            f"in it (their format by --format); pass e.g. {instead}"
        )
    return path


def output_paths(out: Path, figure_format: str) -> Outputs:
    """The files the command writes in `out`."""
    return Outputs(
        out / "attention.html",
        out / f"layers.{figure_format}",
        out / f"matrix.{figure_format}",
        out / f"heads.{figure_format}",
    )


def check_outputs(arguments: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """The output files can be written (none is a folder, their folder is, or can be made, writable), checked
    before the model loads, without writing anything; else an argparse error."""
    paths = output_paths(arguments.out, arguments.format)
    try:
        check_destinations(paths.files())
    except (OSError, ValueError) as error:
        parser.error(str(error))


def write_outputs(
    result,
    out: Path,
    layers: Sequence,
    head,
    phrase: str | None = None,
    tokens: list[int] | None = None,
    open_layer=None,
    html_max_bytes: int | None = None,
    figure_format: str = "png",
    unit: Unit = "probability",
    relative: bool = False,
    drop_sinks: bool = False,
    head_overview: HeadOverview = "off",
    boxes: Sequence[Box] = (),
    style: Style = DEFAULT_STYLE,
) -> Outputs:
    """The HTML explorer, the multi-layer figure over `layers`, the token x image-token matrix and the layers x
    heads grids of `result.head_summary` (figures as `figure_format`: png, svg or pdf), in `out`: all four or none.

    `tokens` (query indices) or `phrase` select the tokens the HTML pins and the figures show; the HTML and the
    matrix show `open_layer` (default: the last of `layers`). `unit`, `relative` and `drop_sinks` (as in
    `AttentionResult.grid`) set the HTML's opening view and the layers and matrix figures; `head_overview` ("off",
    "mass" or "focus") the HTML's head overview; `boxes` are outlined in the HTML and (those on the first image)
    the layers figure, each one's share of the opening map printed; `style` ("heat" or "contour") draws the
    overlays of both. Each file is made in memory, then all are written together
    (`_files.write_all`): on any failure `out` is left as it was. A ValueError where even the smaller HTML would be
    too large (or a view needs what the result lacks); an OSError, with one line, where a file cannot be
    written."""
    open_layer = layers[-1] if open_layer is None else open_layer
    from ._figures import figure_bytes, heads_figure, layers_figure, matrix_figure

    paths = output_paths(out, figure_format)
    check_destinations(paths.files())  # before the work
    # Figures take a head index, or None with a reduction over heads.
    selection = {"phrase": phrase} if tokens is None else {"token": tokens}
    producing = selects_generated(result, phrase, tokens)
    if drop_sinks:
        report_sinks(result, layers)
    progress("making the interactive HTML ...")
    maps = dict(unit=unit, relative=relative, drop_sinks=drop_sinks)
    view = dict(layer=open_layer, head=head, max_bytes=html_max_bytes, head_overview=head_overview, **maps, **selection)
    html = html_within_limit(result, layers, {**view, "boxes": list(boxes), "style": style})
    report_box_shares(result, boxes, open_layer, head, producing, selection, maps)
    progress("drawing the figures" + (" (producing maps of the model's words)" if producing else "") + " ...")
    figure = layers_figure(
        result,
        layers=tuple(layers),
        head=head,
        producing=producing,
        unit=unit,
        relative=relative,
        drop_sinks=drop_sinks,
        style=style,
        boxes=[box for box in boxes if box.image == 0 and box.group in (None, 0)] or None,  # it shows image 0, group 0
        **selection,
    )
    layers_bytes = figure_bytes(figure, figure_format)
    rows = matrix_rows(result, phrase, tokens)
    figure, _ = matrix_figure(
        result,
        layer=open_layer,
        head=head,
        producing=producing,
        tokens=rows,
        unit=unit,
        relative=relative,
        drop_sinks=drop_sinks,
    )
    matrix_bytes = figure_bytes(figure, figure_format)
    figure = heads_figure(result, producing=producing, **selection)
    heads_bytes = figure_bytes(figure, figure_format)
    del figure
    write_all(
        {
            paths.html: html,
            paths.layers_figure: layers_bytes,
            paths.matrix_figure: matrix_bytes,
            paths.heads_figure: heads_bytes,
        }
    )
    return replace(paths, producing=producing, selection=selection_words(result, phrase, tokens))


def selection_words(result, phrase: str | None, tokens: list[int] | None) -> str:
    """The tokens the figures show, in words: “orange”, “red cat”, or the prompt's tokens."""
    if phrase is None and tokens is None:
        return "the prompt's tokens"
    rows = sorted(result.token_indices(phrase) if tokens is None else tokens)
    return f"“{' '.join(''.join(result.tokens[row].text for row in rows).split())}”"


def report_sinks(result, layers: Sequence[int]) -> None:
    """How many image tokens are visual sinks in each of `layers` (left out with --drop-sinks), on stderr."""
    counts = ", ".join(f"{result.layer_ids[layer]}: {len(result.sinks(layer))}" for layer in layers)
    progress(
        f"visual sinks left out (sink score > {SINK_TAU:g}), of {result.attention.shape[-1]} image tokens, by layer: "
        + counts
    )


def matrix_rows(result, phrase: str | None, tokens: list[int] | None) -> list[int] | None:
    """The token rows of the matrix figure: its default (every token, or the last `MATRIX_MAX_ROWS` of a longer
    result), or, for a longer result with a selection, the `MATRIX_MAX_ROWS` tokens around it."""
    from ._figures import MATRIX_MAX_ROWS

    count = result.num_queries
    if count <= MATRIX_MAX_ROWS:
        return None
    if phrase is None and tokens is None:
        progress(f"the matrix figure shows the last {MATRIX_MAX_ROWS} of {count} tokens (at most that many fit)")
        return None
    selected = sorted(result.token_indices(phrase) if tokens is None else tokens)
    middle = (selected[0] + selected[-1]) // 2
    start = min(max(0, middle - MATRIX_MAX_ROWS // 2), count - MATRIX_MAX_ROWS)
    rows = range(start, start + MATRIX_MAX_ROWS)
    progress(f"the matrix figure shows tokens {rows[0]}-{rows[-1]} of {count}, around the selected ones")
    return list(rows)


def selects_generated(result, phrase: str | None, tokens: list[int] | None) -> bool:
    """Whether the selection is tokens the model wrote only (of its thinking or its answer): the figures then show
    where the model looked while writing them (producing maps), not each token's own row."""
    from ._result import GENERATED_PARTS

    if phrase is None and tokens is None:
        return False
    selected = result.token_indices(phrase) if tokens is None else tokens
    return all(result.tokens[index].part in GENERATED_PARTS for index in selected)


def html_within_limit(result, layers: Sequence, view: dict) -> bytes:
    """The HTML page's bytes with its default maps, or, where those pass the size limit, only `layers` with the
    head mean and max (plus the view it opens on)."""
    from ._html import DEFAULT_MAX_BYTES, HtmlTooLargeError, page_bytes
    from ._view_state import ViewState

    options = dict(view)
    max_bytes = options.pop("max_bytes", None) or DEFAULT_MAX_BYTES
    state = ViewState.of(result, **options)
    try:
        return page_bytes(result, state, max_bytes=max_bytes)
    except HtmlTooLargeError:
        shown = " ".join(str(layer) for layer in layers)
        progress(
            f"the HTML with every layer would pass its size limit; it embeds layers {shown}, mean and max of heads"
        )
    try:
        return page_bytes(result, state, list(layers), ["mean", "max"], max_bytes)
    except HtmlTooLargeError as error:
        raise ValueError(
            f"the HTML would pass its size limit even with layers {shown} only ({error.summary}): pass fewer "
            "--layers, fewer image tokens with --max-pixels, or a larger --html-max-mib"
        ) from None


def report(outputs: Outputs) -> None:
    """Each file written: its path and size on stdout, then on stderr how to read it."""
    for (label, path), guide in zip(
        (
            ("interactive HTML", outputs.html),
            ("multi-layer figure", outputs.layers_figure),
            ("token x image-token matrix", outputs.matrix_figure),
            ("layers x heads: image share and focus", outputs.heads_figure),
        ),
        reading_guides(outputs),
        strict=True,
    ):
        print(f"wrote {shown_path(path)}  ({label}, {binary_size(path.stat().st_size)})", flush=True)
        progress(f"{shown_path(Path(path.name))}: {guide}")


def reading_guides(outputs: Outputs) -> list[str]:
    """How to read each output, in the order of `Outputs.files`, in a line each (said after it is written)."""
    shown = (
        f"where the model looked while writing {outputs.selection}"
        if outputs.producing
        else f"the attention of {outputs.selection}"
    )
    matrix = (
        "each row is the step that wrote (or, in the prompt, predicted) its token; blank: none captured"
        if outputs.producing
        else "each row is its token's own attention"
    )
    return [
        "open it in a browser (it works offline): hover a word to see where the model looked, click to pin it; every "
        "switch explains itself when you point at it",
        f"the picture, then per layer {shown}: the map (top; colour: each cell's share of the attention) and "
        "that map over the picture (bottom), all on one colour scale",
        "one row per text token, one column per image token (the picture's cells, row by row); colour: the share "
        f"of that row's attention on the cell; {matrix}",
        "one cell per layer (rows) and head (columns); left: the share of attention that goes to the picture, "
        "right: focus (1: all on one cell, 0: spread evenly); a head bright in both looks at something in particular",
    ]


# The API's keyword advice in a message, as the command line's options (the message is shared with `capture`).
_CLI_TERMS = {r"\bthinking=False\b": "--no-thinking", r"\bthinking=True\b": "--thinking"}


def in_cli_terms(message: str) -> str:
    """`message` with the keyword arguments it advises replaced by this command's options."""
    for keyword, option in _CLI_TERMS.items():
        message = re.sub(keyword, option, message)
    return message


def shown_path(path: Path) -> str:
    """`path` as text any terminal takes: a file name's bytes that are not UTF-8 as \\xNN escapes."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return text


def explore(arguments: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    counts = check_before_loading(arguments, parser)
    check_outputs(arguments, parser)
    from . import load

    started = time.perf_counter()
    processor, media = inputs_checked_before_loading(arguments, parser)  # errors first: nothing said loading yet
    progress(f"loading {arguments.model} ...")
    try:
        model = load(arguments.model, device=arguments.device, dtype=arguments.dtype, processor=processor)
    except (FileNotFoundError, ValueError, OSError) as error:
        parser.error(str(error))
    progress(f"loaded {model!r} in {time.perf_counter() - started:.1f} s; capturing ...")
    return capture_and_write(model, media, arguments, parser, checked=counts is not None)


def inputs_checked_before_loading(arguments: argparse.Namespace, parser: argparse.ArgumentParser) -> tuple[Any, list]:
    """The model's processor and the images and videos as read, with what `capture` checks against the tokenizer
    and the chat template checked before the weights load (special tokens in the prompt, the baseline or a given
    answer, the given answer's thinking block, the lengths against the model's context): argparse errors."""
    from ._inputs import prepare_inputs
    from ._loading import load_processor, planned_answer

    with capture_refusals_as_usage(parser):
        config, _, processor = load_processor(arguments.model, arguments.processor)
        options = {"max_pixels": arguments.max_pixels, "thinking": arguments.thinking}
        prepared = prepare_inputs(processor, config, media_of(arguments), arguments.prompt, **options)
        baseline = None
        if arguments.baseline is not None:
            text = BASELINE_PROMPT if arguments.baseline is True else arguments.baseline
            media = list(prepared.media)  # the very images and frames the capture sees
            baseline = prepare_inputs(processor, config, media, text, prompt_label="the baseline prompt", **options)
        answer = answer_option(arguments, quiet=True)
        planned_answer(processor, config, prepared, answer.get("answer"), answer.get("max_new_tokens", 64), baseline)
    return processor, list(prepared.media)


@contextlib.contextmanager
def capture_refusals_as_usage(parser: argparse.ArgumentParser) -> Iterator[None]:
    """What `capture` refuses, as an argparse error in the command line's words (nothing is written by then)."""
    from ._memory import CaptureTooLargeError

    try:
        yield
    except (OSError, ValueError, IndexError, ImportError) as error:  # a video's decoder missing: which extra to install
        parser.error(in_cli_terms(str(error)))
    except CaptureTooLargeError as error:  # before the model ran
        parser.error(f"{error} (on the command line: --max-pixels, or a smaller --max-new-tokens)")


def media_of(arguments: argparse.Namespace) -> list:
    """The images, then the videos (each a `Video`, sampled at --fps, at most --max-frames)."""
    from ._video import Video

    videos = [Video(path, fps=arguments.fps, max_frames=arguments.max_frames) for path in arguments.video or ()]
    return [*(arguments.image or ()), *videos]


def check_before_loading(arguments: argparse.Namespace, parser: argparse.ArgumentParser) -> tuple[int, int] | None:
    """What `explore` can check before the model loads, checked, each failing with an argparse error: the answer
    options, `--phrase` against the prompt (and a given answer), and `--layers` / `--head` against the model's
    config. Returns the model's (layers, heads) where its config says them, else None (checked after the run)."""
    if arguments.max_new_tokens is not None and not arguments.answer:
        parser.error("--max-new-tokens is for the model's own answer: pass it with --answer")
    if not arguments.image and not arguments.video:
        parser.error("pass an image (--image cat.jpg) or a video (--video clip.mp4), or both")
    if not arguments.video and (arguments.fps is not None or arguments.max_frames is not None):
        parser.error("--fps and --max-frames sample a video: pass them with --video")
    check_map_options(arguments, parser)
    check_phrase(arguments, parser)
    check_boxes_before_loading(arguments, parser)
    problem = local_source_problem(arguments.model) or processor_problem(arguments.model, arguments.processor)
    if problem is not None:
        parser.error(problem)
    folder = Path(arguments.model).expanduser()
    processor_folder = folder if arguments.processor is None else Path(arguments.processor).expanduser()
    if processor_folder.is_dir():
        check_thinking_switch(processor_folder, arguments.thinking, parser)
    if folder.is_dir():
        counts = folder_counts(folder)
    elif arguments.layers is None and isinstance(arguments.head, str):
        return None  # nothing to check against a hub model's config
    else:
        counts = hub_counts(arguments.model, parser)
    if counts is not None:
        check_choices(*counts, arguments.layers, arguments.head, parser)
    return counts


def check_boxes_before_loading(arguments: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Each --box on an image or video that was given, and (an image's) at least partly on it and without a
    #GROUP: else an argparse error, before the model loads. A video's boxes are checked against its frames and
    groups once it is read."""
    from ._images import load_rgb

    images, videos = list(arguments.image or ()), list(arguments.video or ())
    count = len(images) + len(videos)
    sizes: dict[int, tuple[int, int]] = {}
    for argument in arguments.box or ():
        where = f"--box {argument.text}"
        if not -count <= argument.box.image < count:
            media = f"{len(images)} image(s) and {len(videos)} video(s)"
            parser.error(f"{where}: its image {argument.box.image} was not given ({media}); use @0..@{count - 1}")
        index = argument.box.image % count
        if index >= len(images):
            continue
        if argument.box.group is not None:
            parser.error(f"{where}: image {index} is a still image, without temporal groups; leave out #GROUP")
        if index not in sizes:
            try:
                sizes[index] = load_rgb(images[index]).size
            except (OSError, ValueError) as error:
                parser.error(str(error))
        try:
            check_overlap(argument.box, sizes[index], index, where)
        except ValueError as error:
            parser.error(str(error))


def result_boxes(result, arguments: argparse.Namespace, parser: argparse.ArgumentParser) -> list[Box]:
    """The --box boxes, checked against the captured images and video frames (an argparse error otherwise)."""
    sizes = [geometry.original_size for geometry in result.images]
    try:
        groups = group_counts(result.images)
        return [on_image(argument.box, sizes, f"--box {argument.text}", groups) for argument in arguments.box or ()]
    except (IndexError, ValueError) as error:
        parser.error(str(error))


def report_box_shares(result, boxes: Sequence[Box], layer, head, producing: bool, selection: dict, maps: dict) -> None:
    """Each box's share of the map the layers figure shows last (the HTML's opening layer and head), on stdout:
    "box “cat” (image 0 · layer 27 · mean of heads): 62 % inside, 9 % of the area: 6.9× uniform"."""
    where = [choice_label(layer, result.layer_ids, "layer"), choice_label(head, range(result.num_heads), "head")]
    for box in boxes:
        grid = result.grid(layer=layer, head=head, producing=producing, image=box.image, **maps, **selection)
        geometry = result.images[box.image]
        group = box.group or 0  # a video's box of every group: its first group, as the figure shows it
        shown = grid if geometry.kind == "image" else grid[group]
        share = box.share(shown, geometry.original_size)
        name = f" “{visible(box.label)}”" if box.label else ""
        # A video's group in the pages' words ("group 2 of 4": #1), or the first group a box of every group is read on.
        named = f"group {group + 1} of {geometry.groups}" if box.group is not None else "its first group"
        video = [] if geometry.kind == "image" else [named]
        context = " · ".join([f"image {box.image}", *where, *video])
        print(f"box{name} ({context}): {box_words(None, share.inside, share.area)}", flush=True)


def check_map_options(arguments: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """--relative needs a baseline (--baseline), --drop-sinks the sink scores (not --no-sink-scores): else an
    argparse error, before the model loads."""
    if arguments.relative and arguments.baseline is None:
        parser.error(
            "--relative divides each map by the baseline prompt's map, and none is captured: add --baseline (the "
            f"generic {BASELINE_PROMPT!r}) or --baseline 'a prompt of your own'"
        )
    if arguments.drop_sinks and not arguments.sink_scores:
        parser.error(
            "--drop-sinks leaves out the visual sinks, found by their sink scores, and --no-sink-scores leaves "
            "those out: pass one of them, not both"
        )


def check_phrase(arguments: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """`--phrase` occurs in the prompt or the given answer, as `AttentionResult.token_indices` finds it
    (case-insensitive, at word starts, else anywhere). The model's own answer (--answer) is not known before the
    run: a phrase not in the prompt is then looked for in it afterwards, and this says so."""
    from ._result import _phrase_spans

    phrase = arguments.phrase
    if phrase is None:
        return
    words = phrase.split()
    if not words:
        parser.error("--phrase is empty: pass some words of the prompt or the answer, e.g. --phrase 'red cat'")
    if _phrase_spans(words, arguments.prompt):
        return
    given = arguments.answer_text
    if given is not None and _phrase_spans(words, given):
        return
    if arguments.answer:
        progress(
            f"--phrase {phrase!r} is not in the prompt: it is looked for in the model's answer, which is only "
            "known after the run"
        )
        return
    where = f"the prompt {arguments.prompt!r}" + ("" if given is None else f" or the answer {given!r}")
    parser.error(f"phrase {phrase!r} is not in {where}: pass some of its words (any case)")


def check_thinking_switch(folder: Path, thinking: bool | None, parser: argparse.ArgumentParser) -> None:
    """--thinking / --no-thinking against a local model's chat template, where its files hold one (an argparse
    error, as `capture` would give, where the template has no thinking switch)."""
    if thinking is None:
        return
    from ._inputs import THINKING_SWITCH, has_thinking_switch

    template = folder_chat_template(folder)
    if template is not None and not has_thinking_switch(template):
        option = "--thinking" if thinking else "--no-thinking"
        parser.error(
            f"{option}: this model's chat template has no thinking switch (no {THINKING_SWITCH!r} in it), so there "
            f"is nothing to turn on or off: leave {option} out"
        )


def folder_chat_template(folder: Path) -> object | None:
    """A local model's chat template as its processor reads it (its own file, else the processor's or the
    tokenizer's config), without transformers; None where no file says it plainly (then capture checks)."""
    try:
        return (folder / "chat_template.jinja").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        pass
    for name in ("chat_template.json", "processor_config.json", "tokenizer_config.json"):
        try:
            config = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(config, dict) and config.get("chat_template"):
            return config["chat_template"]
    return None


def folder_counts(folder: Path) -> tuple[int, int] | None:
    """A local model's decoder layers and attention heads, read from its config.json as JSON (no torch or
    transformers: a typo fails at once); None where it does not say them plainly (then they are checked after
    the capture, and loading says what is wrong with a broken file)."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return config_counts(config) if isinstance(config, dict) else None


def hub_counts(source: str, parser: argparse.ArgumentParser) -> tuple[int, int] | None:
    """A hub model's decoder layers and attention heads, from its config (`AutoConfig`: cached or downloaded,
    without the weights); an argparse error where it cannot be had (as loading would say)."""
    from transformers import AutoConfig

    from ._loading import _load_or_explain

    try:
        text = _load_or_explain(AutoConfig.from_pretrained, source).get_text_config()
    except (OSError, ValueError) as error:
        parser.error(str(error))
    return config_counts(text.to_dict())


def config_counts(config: dict) -> tuple[int, int] | None:
    """(layers with attention maps, heads) of the text decoder of a config.json: its `text_config`'s, else its
    own. A hybrid decoder's linear-attention layers (in `layer_types`) have no maps and are not counted."""
    text = config.get("text_config")
    text = text if isinstance(text, dict) else {}
    layers = text.get("num_hidden_layers", config.get("num_hidden_layers"))
    heads = text.get("num_attention_heads", config.get("num_attention_heads"))
    if not (type(layers) is int and type(heads) is int and min(layers, heads) > 0):  # not bool, not float
        return None
    layer_types = text.get("layer_types", config.get("layer_types"))
    if isinstance(layer_types, list) and len(layer_types) >= layers:
        layers = sum(kind not in MAPLESS_LAYER_TYPES for kind in layer_types[:layers])
    return (layers, heads) if layers > 0 else None


def local_source_problem(source: str) -> str | None:
    """What `qvl_widget.load` would say about a model path that is not a model folder, or None."""
    from ._source import checked_source

    try:
        checked_source(source)
    except (ValueError, FileNotFoundError) as error:
        return str(error)
    return None


def processor_problem(model: str, processor: str | None) -> str | None:
    """What `qvl_widget.load` would say about the processor's files (the model folder's, or --processor's), or None."""
    from ._source import check_processor_files, checked_processor_source

    try:
        if processor is None:
            check_processor_files(model, model_folder=True)
        else:
            checked_processor_source(processor)
    except FileNotFoundError as error:
        return str(error).replace("processor=", "--processor ").replace("pass as --processor a", "pass --processor a")
    return None


def capture_and_write(
    model, images, arguments: argparse.Namespace, parser: argparse.ArgumentParser, checked: bool = False
) -> int:
    started = time.perf_counter()
    answer = answer_option(arguments)
    if arguments.baseline is not None:
        text = BASELINE_PROMPT if arguments.baseline is True else arguments.baseline
        progress(f"and the baseline prompt {text!r} (one more forward pass) ...")
    with capture_refusals_as_usage(parser):
        result = model.capture(
            images,
            arguments.prompt,
            max_pixels=arguments.max_pixels,
            baseline=arguments.baseline,
            sink_scores=arguments.sink_scores,
            **answer,
        )
        if arguments.phrase is not None:
            result.token_indices(arguments.phrase)  # fail now, with the prompt's tokens listed
        if arguments.layers is None:
            arguments.layers = last_layers(result.num_layers)
    if not checked:
        check_choices(result.num_layers, result.num_heads, arguments.layers, arguments.head, parser)
    columns = result.attention.shape[-1]
    written = {part: sum(token.part == part for token in result.tokens) for part in ("thinking", "answer")}
    counted = [f"the {part}: {count}" for part, count in written.items() if result.part_text(part) is not None]
    progress(
        f"captured {result.num_layers} layers x {result.num_heads} heads, {result.num_queries} query tokens x "
        f"{columns} image tokens in {time.perf_counter() - started:.1f} s"
        + (f" ({', '.join(counted)} of them)" if counted else "")
    )
    print_answer(result)
    boxes = result_boxes(result, arguments, parser)
    try:
        outputs = write_outputs(
            result,
            arguments.out,
            arguments.layers,
            arguments.head,
            phrase=arguments.phrase,
            html_max_bytes=html_max_bytes(arguments),
            figure_format=arguments.format,
            boxes=boxes,
            **view_options(arguments),
        )
    except (ValueError, OSError) as error:  # nothing was written
        parser.error(str(error))
    report(outputs)
    return 0


def print_answer(result) -> None:
    """The model's thinking (its start and its end, on one line) and its answer, each on its own line; or that
    generation stopped while it was still thinking."""
    from ._result import STILL_THINKING

    if result.thinking is not None:
        print(f"thinking: {visible(shortened(result.thinking, SHOWN_THINKING))}", flush=True)
    if result.still_thinking:
        print(f"answer: none ({STILL_THINKING}; pass a larger --max-new-tokens, or --no-thinking)", flush=True)
    elif result.answer is not None:
        print(f"answer: {visible(result.answer)}", flush=True)  # an ESC in it would drive the terminal


def shortened(text: str, most: int) -> str:
    """`text` on one line (whitespace runs as one space), its middle left out past `most` characters: its start
    and its end stay (a thinking's conclusion is at its end)."""
    flat = " ".join(text.split())
    if len(flat) <= most:
        return flat
    half = (most - 3) // 2
    return f"{flat[:half]} … {flat[-half:]} ({len(flat)} characters; all of it in the HTML)"


def answer_option(arguments: argparse.Namespace, quiet: bool = False) -> dict:
    """`capture`'s answer options from --answer / --answer-text / --thinking, saying on stderr what is about to
    run (unless `quiet`)."""
    thinking = {} if arguments.thinking is None else {"thinking": arguments.thinking}
    how = {None: "", True: ", thinking first", False: ", without thinking"}[arguments.thinking]
    if arguments.answer_text is not None:
        if not quiet:
            progress(f"answering with the given text (teacher-forced{how}) ...")
        return {"answer": arguments.answer_text, **thinking}
    if arguments.answer:
        tokens = DEFAULT_MAX_NEW_TOKENS if arguments.max_new_tokens is None else arguments.max_new_tokens
        if not quiet:
            progress(f"answering (the model generates up to {tokens} tokens{how}) ...")
        return {"answer": True, "max_new_tokens": tokens, **thinking}
    return thinking


def check_choices(
    num_layers: int, num_heads: int, layers: Sequence[int] | None, head, parser: argparse.ArgumentParser
) -> None:
    """Layers and head that exist in a model of `num_layers` x `num_heads`, or an argparse error."""
    try:
        for layer in layers or ():
            checked_index(layer, num_layers, "layer")
        canonical_choice(head, num_heads, "head")
    except (IndexError, TypeError, ValueError) as error:
        parser.error(str(error))


def demo(arguments: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """`explore` on the built-in demo model and one of its scenes (default: a held-out one), opened on its
    pointing view; or, with --list-scenes, a list of held-out scenes worth showing."""
    if arguments.list_scenes:
        return list_scenes()
    if arguments.write_scenes is not None:
        return write_scenes(arguments.write_scenes, arguments.out, parser)
    counts = folder_counts(DEMO_MODEL_DIR)
    if counts is not None:
        check_choices(*counts, arguments.layers, arguments.head, parser)
    check_outputs(arguments, parser)
    from . import demo as demo_model

    progress("loading the built-in demo model (offline) ...")
    model = demo_model.load(device="cpu")
    seed = arguments.seed
    example = demo_model.make_example(seed)
    progress(
        f"scene {seed}, {seed_note(seed)}: {example['prompt']!r} (right answer: {example['answer']!r}); answering ..."
    )
    if arguments.relative:
        progress(
            f"and the baseline prompt {BASELINE_PROMPT!r} for --relative (one more forward pass; the demo model "
            "reads most of its words as [unk]: the image without a question) ..."
        )
    started = time.perf_counter()
    with warnings.catch_warnings():  # said just above: its warning would repeat it at length
        warnings.filterwarnings(
            "ignore", f".* in the prompt {re.escape(repr(BASELINE_PROMPT))}", demo_model.DemoVocabularyWarning
        )
        result = model.capture(
            example["image"],
            example["prompt"],
            answer=True,
            max_new_tokens=DEMO_ANSWER_TOKENS,
            **({"baseline": True} if arguments.relative else {}),
        )
    answer = (result.answer or "").strip()
    print(f"answer: {visible(answer)}")
    progress(
        f"the model answers {answer!r} ({'right' if answer == example['answer'] else 'wrong'}); captured "
        f"{result.num_layers} layers x {result.num_heads} heads in {time.perf_counter() - started:.1f} s"
    )
    view = demo_model.recommended_view(result, example)  # opens on the answer word, with its producing map
    hit = demo_model.points_at_named(demo_model.answer_pointing_map(result, example), example)
    named = f"the named object ({example['phrase']})"
    progress(f"where it looked while writing it ({_describe(result, view)}) {'lands on' if hit else 'misses'} {named}")
    layers = arguments.layers or last_layers(result.num_layers)  # the same default as explore's
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
            figure_format=arguments.format,
            boxes=view["boxes"],  # the named object's
            **view_options(arguments),
        )
    except (ValueError, OSError) as error:  # nothing was written
        parser.error(str(error))
    report(outputs)
    return 0


def seed_note(seed: int) -> str:
    """What the demo model has seen of scene `seed`: whether its numbers were chosen on it or measured on it."""
    from .demo import TEST_SEEDS, VALIDATION_SEEDS

    tests = f"{TEST_SEEDS.start}-{TEST_SEEDS.stop - 1}"
    if seed in TEST_SEEDS:
        return "a held-out test scene"
    if seed in VALIDATION_SEEDS:
        return (
            f"a validation scene (seeds {VALIDATION_SEEDS.start}-{VALIDATION_SEEDS.stop - 1}: the pointing view the "
            f"page opens on was chosen on these; held-out test scenes are seeds {tests})"
        )
    return f"not a test scene (the demo's published rates are measured on seeds {tests})"


def write_scenes(count: int, out: Path, parser: argparse.ArgumentParser) -> int:
    """--write-scenes N: N held-out demo scenes and their manifest in --out, for `qvl-widget study`."""
    from . import demo as demo_model

    try:
        manifest = demo_model.write_scenes(count, out)
    except (ValueError, OSError) as error:
        parser.error(str(error))
    print(f"wrote {count} scenes and their manifest: {manifest}")
    print(f"study them: qvl-widget study {manifest} --model MODEL --out study/")
    return 0


def list_scenes() -> int:
    """Print held-out test scenes worth showing: for each question kind and object count, the first test seed
    on which the demo model answers right and, while writing its answer, looks at the named object."""
    from . import demo as demo_model

    candidates: dict[tuple[str, int], list[int]] = {}
    for seed in demo_model.TEST_SEEDS[:LISTED_SCENES_SCANNED]:
        seeds = candidates.setdefault(demo_model.example_outline(seed), [])
        if len(seeds) < LISTED_SCENE_TRIES:
            seeds.append(seed)
    progress("loading the built-in demo model (offline) to check the candidate scenes ...")
    model = demo_model.load(device="cpu")
    kinds = {kind: index for index, kind in enumerate(demo_model.KINDS)}
    rows = []
    for kind, count in sorted(candidates, key=lambda slot: (kinds[slot[0]], slot[1])):
        for seed in candidates[(kind, count)]:
            example = demo_model.make_example(seed)
            result = model.capture(example["image"], example["prompt"], answer=True, max_new_tokens=DEMO_ANSWER_TOKENS)
            right = (result.answer or "").strip() == example["answer"]
            if right and demo_model.points_at_named(demo_model.answer_pointing_map(result, example), example):
                rows.append((seed, count, example["prompt"], example["answer"]))
                break
    tests = demo_model.TEST_SEEDS
    validation = demo_model.VALIDATION_SEEDS
    print(
        "Held-out test scenes of the demo model, one per question kind and number of objects; on each, the model "
        "answers right and, while writing its answer, looks at the named object:"
    )
    width = max((len(prompt) for _, _, prompt, _ in rows), default=6)
    print(f"  {'seed':<8} {'objects':<8} {'prompt':<{width}}  answer")
    for seed, count, prompt, answer in rows:
        print(f"  {seed:<8} {count:<8} {prompt:<{width}}  {answer}")
    print(
        f"Open one with `qvl-widget demo --seed SEED` (default {DEMO_SEED}). Test seeds ({tests.start}-"
        f"{tests.stop - 1}) were never used to train or choose anything; validation seeds ({validation.start}-"
        f"{validation.stop - 1}) chose the pointing view the page opens on; the training scenes came from the "
        "training script's own random stream, not from these seeds."
    )
    return 0


def view_options(arguments: argparse.Namespace) -> dict:
    """--unit, --relative, --drop-sinks, --head-overview and --style, as `write_outputs` takes them."""
    return {
        "unit": arguments.unit,
        "relative": arguments.relative,
        "drop_sinks": arguments.drop_sinks,
        "head_overview": arguments.head_overview,
        "style": arguments.style,
    }


def html_max_bytes(arguments: argparse.Namespace) -> int:
    return round(arguments.html_max_mib * MIB)


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

    def common(
        sub: argparse.ArgumentParser, default_out: str | None, layers_help: str, head_help: str, relative_help: str
    ) -> None:
        sub.add_argument("--layers", type=layer_argument, nargs="+", default=None, metavar="LAYER", help=layers_help)
        sub.add_argument("--head", type=head_argument, default="mean", help=head_help)
        sub.add_argument(
            "--html-max-mib",
            type=html_mib,
            default=DEFAULT_HTML_MAX_MIB,
            metavar="MIB",
            help=f"size limit of the HTML file in MiB (1 MiB = 2**20 bytes; default {DEFAULT_HTML_MAX_MIB:g}); "
            "above it, only --layers are embedded",
        )
        # The option's first name, kept working: it always meant MiB.
        sub.add_argument(
            "--html-max-mb",
            dest="html_max_mib",
            type=html_mib,
            default=argparse.SUPPRESS,
            help=argparse.SUPPRESS,
        )
        sub.add_argument(
            "--format",
            choices=FIGURE_FORMATS,
            default="png",
            help="file format of the three figures: png (300 dpi), svg or pdf (default: png)",
        )
        maps = sub.add_argument_group(
            "maps",
            "--unit, --relative and --drop-sinks set the maps of the HTML's opening view (its switches change them "
            "there) and of the layers and matrix figures; --head-overview is the HTML's only. heads.FORMAT shows "
            "every head's image share and spatial entropy whatever these say",
        )
        maps.add_argument(
            "--unit",
            choices=UNITS,
            default="probability",
            help="probability (the attention's own share) or uniform (x the number of image tokens: 1 = spread "
            "evenly, the same scale at any image size); default: probability",
        )
        maps.add_argument("--relative", action="store_true", help=relative_help)
        maps.add_argument(
            "--drop-sinks",
            action="store_true",
            help=f"leave out the visual sinks (image tokens whose sink score is over {SINK_TAU:g}; each row keeps its "
            "image share, spread over the others)",
        )
        maps.add_argument(
            "--head-overview",
            choices=HEAD_OVERVIEWS,
            default="off",
            help="open the HTML with its layers x heads overview: mass (each head's share of attention on the "
            "image) or focus (1 - its spatial entropy); default: off",
        )
        maps.add_argument(
            "--style",
            choices=STYLES,
            default=DEFAULT_STYLE,
            help="how the HTML and the layers figure draw the maps over the pictures: heat (colour, transparent where "
            "attention is low) or contour (lines around 25%%, 50%% and 75%% of the attention; prints in greyscale); "
            "default: heat",
        )
        where = "output folder, made if missing: attention.html, layers.FORMAT, matrix.FORMAT, heads.FORMAT" + (
            f" (default: {default_out})" if default_out else ""
        )
        sub.add_argument(
            "--out", type=output_folder, required=default_out is None, default=default_out, metavar="FOLDER", help=where
        )

    explore_parser = commands.add_parser("explore", help="capture on a model and write HTML + figures")
    explore_parser.add_argument(
        "--model", required=True, type=model_source, help="hub id or local folder of a Qwen-VL model"
    )
    explore_parser.add_argument(
        "--processor",
        type=model_source,
        metavar="MODEL",
        help="hub id or folder to take the processor from (a fine-tuned checkpoint saved without it: its base model)",
    )
    explore_parser.add_argument("--image", action="append", type=existing_image, help="image file (repeat for several)")
    explore_parser.add_argument(
        "--video",
        action="append",
        type=existing_video,
        help="video file (repeat for several; after the images; decoded with PyAV: pip install av)",
    )
    explore_parser.add_argument(
        "--fps",
        type=positive_number,
        default=None,
        help="with --video: frames sampled per second (default: the model's, 2)",
    )
    explore_parser.add_argument(
        "--max-frames",
        type=positive_integer,
        default=None,
        metavar="N",
        help="with --video: at most N frames, sampled evenly over the video (default: the model's, 768)",
    )
    explore_parser.add_argument(
        "--prompt", required=True, type=utf8_text, help="the text that follows the image(s) and video(s)"
    )
    explore_parser.add_argument(
        "--phrase", type=utf8_text, help="words of the prompt or the answer to select in the HTML and the figures"
    )
    explore_parser.add_argument(
        "--box",
        action="append",
        type=box_argument,
        metavar="X0,Y0,X1,Y1[:LABEL][@IMAGE][#GROUP]",
        help="a box to outline in the HTML and the layers figure, in pixels of the original image (repeat for "
        "several; @IMAGE: the image or video it is on, from 0, default 0; #GROUP: a video's temporal group it is "
        "on, from 0 (negative from the end), default every group: a moving object takes a box per group, e.g. "
        "--box '40,30,120,95:cat#0' --box '90,30,170,95:cat#1'); the share of the attention inside it is printed "
        "and shown",
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
        "--thinking",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="for a model whose chat template can make it think before it answers (<think>...</think>, e.g. "
        "Qwen3.5): think first, or not (--no-thinking); default: the template's own (Qwen3.5 thinks). The thinking "
        "is its own strip in the HTML and is printed apart from the answer",
    )
    explore_parser.add_argument(
        "--max-new-tokens",
        type=positive_integer,
        default=None,
        metavar="N",
        help=f"with --answer: the answer's most tokens (default {DEFAULT_MAX_NEW_TOKENS})",
    )
    explore_parser.add_argument(
        "--baseline",
        nargs="?",
        const=True,
        default=None,
        type=baseline_prompt,
        metavar="PROMPT",
        help=f"also capture the attention of a baseline prompt over the same images (one more forward pass; "
        f"capture(baseline=...)): without PROMPT the generic {BASELINE_PROMPT!r}, else PROMPT; --relative shows the "
        "maps divided by it",
    )
    explore_parser.add_argument(
        "--sink-scores",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="keep each image token's visual-sink score per layer (capture(sink_scores=...); default: on, about 1%% "
        "of a capture); --no-sink-scores leaves them out (and --drop-sinks with them)",
    )
    explore_parser.add_argument("--device", help="cuda, mps or cpu (default: the best available)")
    explore_parser.add_argument("--dtype", help="e.g. bfloat16 or float32 (default: by device)")
    explore_parser.add_argument(
        "--max-pixels", type=pixel_count, default=None, help="cap the resized image's pixels (fewer image tokens)"
    )
    common(
        explore_parser,
        default_out=None,
        layers_help="layers for the multi-layer figure; the last one also opens the HTML and the matrix "
        f"(default: {DEFAULT_LAYERS})",
        head_help="a head index, a list like 0,3 (their mean), 'mean', 'max' or 'all' (default: mean)",
        relative_help="each map divided by the baseline prompt's map (what this prompt changes); needs --baseline",
    )
    explore_parser.set_defaults(run=explore, parser=explore_parser)

    demo_parser = commands.add_parser("demo", help="the same, offline, on the built-in demo model")
    scenes = demo_parser.add_mutually_exclusive_group()
    scenes.add_argument(
        "--seed",
        type=scene_seed,
        default=DEMO_SEED,
        help=f"the scene: any seed of qvl_widget.demo.make_example (default {DEMO_SEED}, a held-out test scene); "
        "see --list-scenes",
    )
    scenes.add_argument(
        "--write-scenes",
        type=positive_integer,
        metavar="N",
        help="write N held-out scenes (PNG) with their named object's box as a manifest in --out, for "
        "`qvl-widget study`, and exit (qvl_widget.demo.write_scenes)",
    )
    scenes.add_argument(
        "--list-scenes",
        action="store_true",
        help="print held-out test scenes worth showing (seed, prompt, answer) and exit; runs the model to pick them",
    )
    common(
        demo_parser,
        default_out="qvl-demo-output",
        layers_help=f"layers for the multi-layer figure (default: {DEFAULT_LAYERS}, as explore); the HTML and the "
        "matrix open on the demo's recommended view (the answer word, with the step that wrote it)",
        head_help="a head index, a list like 0,3, 'mean', 'max' or 'all' (default: the recommended view's)",
        relative_help=f"each map divided by the baseline prompt's map (what the question changes); the demo then "
        f"also captures the generic {BASELINE_PROMPT!r} (one more forward pass)",
    )
    demo_parser.set_defaults(run=demo, parser=demo_parser)
    add_study_command(commands, model_source, layer_argument, positive_integer)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    return arguments.run(arguments, arguments.parser)


if __name__ == "__main__":
    sys.exit(main())
