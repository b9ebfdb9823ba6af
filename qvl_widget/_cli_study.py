"""`qvl-widget study`: a study over a manifest's examples, and `qvl-widget study --report FOLDER` to read one.

    qvl-widget study scenes.jsonl --model Qwen/Qwen2-VL-2B-Instruct --out study/ --query all
    accelerate launch --num_processes 4 -m qvl_widget.cli study scenes.jsonl --model ... --out study/
    qvl-widget study --report study/ --metric in_box     # the head ranking, and the figure study/pointing.png

What can be checked before the model loads is: the manifest (its columns, its ids, every row's box) and every
image and video it names (each opened), each failing with one argparse line that names the row and the fix.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from ._study_metrics import QUERY_KINDS
from ._study_store import METRICS

REPORT_TOP = 10


def add_study_command(commands: Any, model_source: Any, layer_argument: Any, positive_integer: Any) -> None:
    """The `study` subcommand, its arguments parsed as `explore`'s are (the same argument types)."""
    study = commands.add_parser(
        "study",
        help="attention over a data set: per example, layer and head, as a table (or --report FOLDER)",
        description="Capture and score every example of a manifest (.jsonl, .csv or .parquet: id, image or video, "
        "prompt, and optionally box, phrase, answer) into --out; the same command again resumes it. Under "
        "`accelerate launch --num_processes N` each process takes its share. --report FOLDER prints a study's head "
        "ranking and writes its figure.",
    )
    study.add_argument("manifest", nargs="?", type=Path, metavar="MANIFEST", help="the examples (not with --report)")
    study.add_argument("--report", type=Path, metavar="FOLDER", help="read the study in FOLDER: ranking and figure")
    study.add_argument("--model", type=model_source, help="hub id or local folder of a Qwen-VL model")
    study.add_argument("--out", type=Path, metavar="FOLDER", help="the study's folder, made if missing")
    answers = study.add_mutually_exclusive_group()
    answers.add_argument("--answer", action="store_true", help="the model answers each example (greedy)")
    answers.add_argument("--prompt-only", action="store_true", help="leave the manifest's answers out")
    study.add_argument("--max-new-tokens", type=positive_integer, default=64, help="with --answer (default 64)")
    study.add_argument(
        "--query",
        choices=QUERY_KINDS,
        default="last",
        help="rows scored: last (the last prompt token, default), phrase, answer (each answer word's producing "
        "steps) or all",
    )
    every = "keep these layers only (default: every layer)"
    study.add_argument("--layers", type=layer_argument, nargs="+", metavar="LAYER", help=every)
    study.add_argument("--limit", type=positive_integer, metavar="N", help="the manifest's first N examples only")
    study.add_argument("--keep", choices=("summary", "results"), default="summary", help="also save each result")
    study.add_argument(
        "--pointing-tolerance",
        type=pixels,
        default=0.0,
        metavar="PIXELS",
        help="pixels around each box that still count as a hit in the pointing game (default 0)",
    )
    study.add_argument(
        "--batch-size",
        type=positive_integer,
        default=8,
        metavar="N",
        help="prompt-only examples of one image size per forward pass (default 8; 1: one by one)",
    )
    study.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: the best there is)")
    study.add_argument("--dtype", default=None, help="float32, bfloat16 or float16 (default: by device)")
    study.add_argument("--metric", choices=METRICS, default="pointing", help="--report: the metric ranked")
    study.add_argument("--top", type=positive_integer, default=REPORT_TOP, help="--report: heads listed")
    study.add_argument("--format", choices=("png", "svg", "pdf"), default="png", help="--report: the figure's")
    study.set_defaults(run=run_study_command, parser=study)


def pixels(value: str) -> float:
    """--pointing-tolerance: a number of pixels >= 0, checked when the arguments are read."""
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 <= number < math.inf:
        raise argparse.ArgumentTypeError(f"invalid tolerance {value!r}: use a number of pixels >= 0, like 8")
    return number


def run_study_command(arguments: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if arguments.report is not None:
        if arguments.manifest is not None or arguments.model is not None:
            parser.error("--report FOLDER reads a study: pass it alone (without MANIFEST and --model)")
        return report_study(arguments.report, arguments.metric, arguments.top, arguments.format, parser)
    if arguments.manifest is None or arguments.model is None or arguments.out is None:
        parser.error("a study needs MANIFEST, --model and --out (or --report FOLDER to read one)")
    examples = checked_examples(arguments.manifest, arguments.limit, parser)
    from ._study import launched_processes

    processes = launched_processes()
    device = arguments.device or (None if processes.process_index is None else str(processes.device))
    started = time.perf_counter()
    try:
        model = _loaded(arguments.model, device, arguments.dtype)
    except (FileNotFoundError, ValueError, OSError, TypeError) as error:
        parser.error(str(error))
    print(f"[qvl-widget] loaded {model!r} in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    answer = True if arguments.answer else False if arguments.prompt_only else None
    try:
        study = model.study(
            examples,
            arguments.out,
            answer=answer,
            max_new_tokens=arguments.max_new_tokens,
            layers=arguments.layers,
            query=arguments.query,
            keep=arguments.keep,
            pointing_tolerance=arguments.pointing_tolerance,
            batch_size=arguments.batch_size,
        )
    except (ValueError, TypeError, OSError, IndexError) as error:
        parser.error(str(error))
    failed = len(study.errors())
    done = study.table()["example"].nunique()
    print(f"{done} examples scored, {failed} failed (study.errors()); the study is in {str(arguments.out)!r}")
    print(f"read it: qvl-widget study --report {arguments.out}  (or qvl_widget.Study.open({str(arguments.out)!r}))")
    return 0


def _loaded(source: str, device: str | None, dtype: str | None) -> Any:
    """The model: the built-in demo model by its own loader (its name, its vocabulary warnings) when `source` is its
    folder, else `qvl_widget.load`."""
    from . import demo, load

    if Path(source).expanduser().resolve() == demo.MODEL_DIR.resolve():
        return demo.load(device=device, dtype=dtype)
    return load(source, device=device, dtype=dtype)


def checked_examples(manifest: Path, limit: int | None, parser: argparse.ArgumentParser) -> Any:
    """The manifest's examples, every row checked and every image and video it names opened, before the model
    loads: an argparse error naming the row and the fix."""
    from ._study_manifest import manifest_examples

    try:
        examples = manifest_examples(manifest, limit)
    except (ValueError, TypeError, OSError) as error:
        parser.error(str(error))
    for position, name in enumerate(examples.ids):
        where = f"{str(manifest)!r} row {position + 1} (example {name!r})"
        try:
            example = examples.example(position)
        except (ValueError, TypeError) as error:
            parser.error(f"{where}: {error}")
        problem = _unreadable(example)
        if problem is not None:
            parser.error(f"{where}: {problem}; fix the path (relative to the manifest) or remove the row")
    return examples


def _unreadable(example: Any) -> str | None:
    """Why an example's image or video file cannot be read, or None (arrays and images in memory are read)."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(example.image, (str, os.PathLike)):
        try:
            with Image.open(example.image):
                pass
        except (OSError, UnidentifiedImageError) as error:
            return f"its image {str(example.image)!r} cannot be read ({type(error).__name__}: {error})"
    if isinstance(example.video, (str, os.PathLike)) and not Path(example.video).is_file():
        return f"its video {str(example.video)!r} is not a file"
    return None


def report_study(folder: Path, metric: str, top: int, figure_format: str, parser: argparse.ArgumentParser) -> int:
    """Print the head ranking of `metric` and write its figure into the study's folder."""
    from . import figures
    from ._study import Study

    try:
        study = Study.open(folder)
        ranking = study.head_ranking(metric, top=top)
    except (ValueError, OSError, KeyError) as error:
        parser.error(str(error))
    if ranking["n"].max() == 0:
        parser.error(f"no example of the study has a {metric} value (a box): rank by image_share or spatial_entropy")
    done, failed = study.table()["example"].nunique(), len(study.errors())
    print(f"{study.model}: {done} of {len(study.ids)} examples scored, {failed} failed; query {study.options['query']}")
    order = "lowest" if metric == "spatial_entropy" else "highest"
    print(f"heads by {metric} ({order} first), mean and 95% interval over the examples:")
    print(ranking.to_string(index=False, float_format=lambda value: f"{value:.4f}"))
    path = folder / f"{metric}.{figure_format}"
    figure = figures.study_figure(study, metric, top=min(top, 5))
    figures.save_figure(figure, path)
    print(f"wrote {path}")
    return 0
