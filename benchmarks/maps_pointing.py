"""Do the "maps that mean something" options help named-object pointing on the demo model? A report, not a gate.

    PYTHONPATH=. python benchmarks/maps_pointing.py [--seeds 200] [--validation 100]

On the held-out test scenes the gate uses (`qvl_widget.demo.TEST_SEEDS`, first N), each scene is captured once
with the model's greedy answer, `baseline=True` and `sink_scores=True`, and once more (prompt only) with an
in-vocabulary baseline question. Pointing is the gate's test (`demo.points_at_named`: the brightest cell within one
token cell of the named object and nearer to it than to every other object), read from two maps:

- phrase: the named word's own map (the mean of the named phrase's prompt tokens, `query_rows(..., "phrase")`);
- answer token: the token that predicts the answer (the prompt's last token). The answer word's producing map
  (`demo.answer_pointing_map`, what the gate's "answer" figure reads) is that same row: the script checks they
  are equal on every scene and layer, so one column stands for both.

Each at every layer (mean of heads; the shipped recipe reads layer 2) and at the mean of all layers, under:

- raw: `grid(...)`;
- relative: `grid(..., relative=True)` over `capture(baseline=True)`: the paper's generic question, "Write a
  general description of the image.", which the demo model reads as [unk] words;
- relative, in-vocabulary q': the same over `capture(baseline=IN_VOCABULARY_BASELINE)`, a generic question in
  the words the demo model knows (an extra, since the default is out of its vocabulary);
- drop_sinks: `grid(..., drop_sinks=True)` with the library's tau = 20; the script prints the sinks found per
  layer and the largest score, against the largest score a hidden state of width D can have, sqrt(D);
- drop_sinks at a scaled tau (exploratory): tau = 20 * sqrt(D / 4096), the same share of the squared norm in one
  dimension as tau = 20 at the paper's width of 4096 (set by patching `SINK_TAU` for this run only);
- best head: the head-overview recipe. On the validation scenes (`demo.VALIDATION_SEEDS`, first M; never the test
  scenes) each head's score is image_mass x (1 - spatial_entropy) from `head_summary` for the same tokens,
  averaged over scenes; the column reads, in each layer, the head with the best validation score. Below the
  table, the top-k heads over all layers (their maps averaged) for k = 1, 2, 4.

The chance rate is the gate's (mean of 1 / number of objects).

With `--study FOLDER` (a study of these test scenes, e.g. `make study-demo`'s `study-demo/study`), the script also
computes each head's `pointing` (the first brightest cell's centre inside the named object's box) and `in_box`
(`Box.share` of its map) from its own captures, for the named phrase and the answer token (the study's "phrase" and
"last" queries), and prints the largest difference from the study's per-example values and both top-5 rankings.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from unittest.mock import patch

import numpy as np
import torch
from capture import machine  # beside this script

from qvl_widget import Box, Study, demo
from qvl_widget._result import BASELINE_PROMPT, SINK_TAU
from qvl_widget.demo._evaluate import ANSWER_TOKENS, examples_for
from qvl_widget.demo._pointing import query_rows

IN_VOCABULARY_BASELINE = "What is the one?"  # generic, and every word known to the demo model
PAPER_WIDTH = 4096  # the hidden width tau = 20 was set for (LLaVA-1.5-7B in "See What You Are Told")
QUERIES = {"phrase": "phrase", "answer token": "answer"}
TOP_K = (1, 2, 4)


def capture(model, example: dict, **options):
    with warnings.catch_warnings():  # the paper's baseline question is out of the demo model's vocabulary
        warnings.simplefilter("ignore", demo.DemoVocabularyWarning)
        return model.capture(example["image"], example["prompt"], **options)


def head_scores(model, examples: list[dict]) -> dict[str, np.ndarray]:
    """Per query: `[layers, heads]` image_mass x (1 - spatial_entropy), mean over the (validation) scenes."""
    totals: dict[str, list[np.ndarray]] = {name: [] for name in QUERIES}
    for example in examples:
        result = capture(model, example)
        for name, query in QUERIES.items():
            summary = result.head_summary(token=query_rows(result, example, query))
            totals[name].append(summary.image_mass * (1.0 - summary.spatial_entropy))
    return {name: np.nanmean(np.stack(scores), axis=0) for name, scores in totals.items()}


def head_set_grid(result, rows: list[int], heads: list[tuple[int, int]]) -> np.ndarray:
    return np.mean([result.grid(token=rows, layer=layer, head=head) for layer, head in heads], axis=0)


STUDY_QUERIES = {"phrase": "phrase", "answer token": "last"}  # this script's rows, as a study names them


def peak_in_box(grid: np.ndarray, box: Box, size: tuple[int, int]) -> float:
    """The pointing game, computed here on its own: the first brightest cell's centre inside the box."""
    rows, cols = grid.shape
    row, col = divmod(int(np.argmax(grid)), cols)
    x, y = (col + 0.5) * size[0] / cols, (row + 0.5) * size[1] / rows
    return float(box.x0 <= x <= box.x1 and box.y0 <= y <= box.y1)


def per_head(result, example: dict, rows: list[int]) -> dict[str, np.ndarray]:
    """`[layers, heads]` pointing and in_box of one scene's map for `rows`."""
    box, size = Box(*example["bbox"]), result.images[0].original_size
    values = {name: np.empty((result.num_layers, result.num_heads)) for name in ("pointing", "in_box")}
    for layer in range(result.num_layers):
        for head in range(result.num_heads):
            grid = result.grid(token=rows, layer=layer, head=head)
            values["pointing"][layer, head] = peak_in_box(grid, box, size)
            values["in_box"][layer, head] = box.share(grid, size).inside
    return values


def report_study_check(folder: str, own: dict[tuple[str, str], list[np.ndarray]], seeds: list[int]) -> None:
    """The study's per-example values against this script's, and both rankings."""
    study = Study.open(folder)
    ids = [f"scene-{seed}" for seed in seeds]
    print(f"\nstudy check ({folder}: {study.model}, {len(ids)} scenes)\n")
    for name, query in STUDY_QUERIES.items():
        for metric in ("pointing", "in_box"):
            mine = np.stack(own[(name, metric)])
            theirs = np.stack([study.heads(metric, example=id_, query=query) for id_ in ids])
            mean_mine, mean_theirs = mine.mean(axis=0), theirs.mean(axis=0)
            top = [np.unravel_index(index, mean_mine.shape) for index in np.argsort(-mean_mine, axis=None)[:5]]
            ranked = ", ".join(f"L{int(layer)}h{int(head)} {mean_mine[layer, head]:.3f}" for layer, head in top)
            print(f"- {name} / {metric}: largest difference {np.abs(mine - theirs).max():.2e} over scenes x heads; "
                  f"means {np.abs(mean_mine - mean_theirs).max():.2e}; top 5 here: {ranked}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=200, help=f"first N test scenes of {demo.TEST_SEEDS}")
    parser.add_argument("--study", default=None, help="a study folder of the same test scenes to check (see above)")
    parser.add_argument("--validation", type=int, default=100, help=f"first M of {demo.VALIDATION_SEEDS}")
    arguments = parser.parse_args()
    if not 0 < arguments.seeds <= len(demo.TEST_SEEDS):
        parser.error(f"--seeds must be in 1..{len(demo.TEST_SEEDS)}")
    if not 0 < arguments.validation <= len(demo.VALIDATION_SEEDS):
        parser.error(f"--validation must be in 1..{len(demo.VALIDATION_SEEDS)}")
    started = time.monotonic()
    torch.set_grad_enabled(False)
    model = demo.load(device="cpu", dtype=torch.float32)
    kinds = tuple(demo.read_metadata(demo.MODEL_DIR).get("kinds", ("color", "shape")))
    width = model.model.config.text_config.hidden_size
    scaled_tau = SINK_TAU * math.sqrt(width / PAPER_WIDTH)

    validation = examples_for(demo.VALIDATION_SEEDS[: arguments.validation], kinds)
    scores = head_scores(model, validation)
    tests = examples_for(demo.TEST_SEEDS[: arguments.seeds], kinds)

    num_layers = num_heads = 0
    layers: list[int | str] = []
    columns = ("raw", "relative", "relative, in-vocab q'", "drop_sinks", f"drop_sinks, tau={scaled_tau:.2f}")
    hits: dict[tuple, list[bool]] = {}
    sinks = sinks_scaled = None
    largest = None
    answer_map_differs = 0
    own: dict[tuple[str, str], list[np.ndarray]] = {}
    for example in tests:
        result = capture(model, example, answer=True, max_new_tokens=ANSWER_TOKENS, baseline=True, sink_scores=True)
        in_vocab = capture(model, example, baseline=IN_VOCABULARY_BASELINE)
        if not layers:
            num_layers, num_heads = result.num_layers, result.num_heads
            layers = [*range(num_layers), "mean"]
            sinks, sinks_scaled = np.zeros(num_layers, int), np.zeros(num_layers, int)
            largest = np.zeros(num_layers)
        for layer in range(num_layers):
            sinks[layer] += len(result.sinks(layer))
            sinks_scaled[layer] += len(result.sinks(layer, tau=scaled_tau))
        largest = np.maximum(largest, result.sink_scores.max(axis=1))
        answer_word = demo.answer_word(result)

        def point(name: str, column: str, grid: np.ndarray, example: dict = example) -> None:
            hits.setdefault((name, column), []).append(demo.points_at_named(grid, example))

        for name, query in QUERIES.items():
            rows = query_rows(result, example, query)
            if arguments.study:
                for metric, values in per_head(result, example, rows).items():
                    own.setdefault((name, metric), []).append(values)
            for layer in layers:
                key = str(layer)
                point((name, key), "raw", raw := result.grid(token=rows, layer=layer))
                point((name, key), "relative", result.grid(token=rows, layer=layer, relative=True))
                point((name, key), columns[2], in_vocab.grid(token=rows, layer=layer, relative=True))
                point((name, key), "drop_sinks", result.grid(token=rows, layer=layer, drop_sinks=True))
                with patch("qvl_widget._result.SINK_TAU", scaled_tau):
                    point((name, key), columns[4], result.grid(token=rows, layer=layer, drop_sinks=True))
                if layer != "mean":
                    best = int(np.nanargmax(scores[name][layer]))
                    point((name, key), "best head", result.grid(token=rows, layer=layer, head=best))
                if query == "answer":
                    producing = result.grid(token=answer_word, producing=True, layer=layer)
                    answer_map_differs += not np.array_equal(producing, raw)
            order = np.argsort(-np.nan_to_num(scores[name], nan=-np.inf), axis=None)
            for k in TOP_K:
                chosen = [
                    tuple(int(i) for i in np.unravel_index(index, (num_layers, num_heads))) for index in order[:k]
                ]
                point((name, f"top {k}"), "heads", head_set_grid(result, rows, chosen))

    rate = {key: float(np.mean(values)) for key, values in hits.items()}
    chance = demo.chance_level(tests)
    recipe = demo.read_metadata(demo.MODEL_DIR)["pointing"]["recipe"]
    print(f"# maps pointing: {time.strftime('%Y-%m-%d')}, {machine()}")
    first_test, first_validation = demo.TEST_SEEDS[0], demo.VALIDATION_SEEDS[0]
    print(f"test scenes {first_test}..{first_test + len(tests) - 1}; head scores on validation scenes ", end="")
    print(f"{first_validation}..{first_validation + len(validation) - 1}; kinds {', '.join(kinds)}")
    print(f"chance {chance:.3f}; shipped recipe: {recipe}; baseline q' = {BASELINE_PROMPT!r}, ", end="")
    print(f"in-vocab q' = {IN_VOCABULARY_BASELINE!r}")
    for name in QUERIES:
        print(f"\n{name} (named-object pointing rate; chance {chance:.3f})\n")
        print("| layer | " + " | ".join((*columns, "best head (validation)")) + " |")
        print("|---" + "|---:" * (len(columns) + 1) + "|")
        for layer in layers:
            key = (name, str(layer))
            cells = [f"{rate[(key, column)]:.3f}" for column in columns]
            if layer == "mean":
                cells.append("")
            else:
                best = int(np.nanargmax(scores[name][layer]))
                cells.append(f"{rate[(key, 'best head')]:.3f} (h{best})")
            label = "mean of all" if layer == "mean" else f"{layer}{' (recipe)' if [layer] == recipe['layers'] else ''}"
            print(f"| {label} | " + " | ".join(cells) + " |")
        order = np.argsort(-np.nan_to_num(scores[name], nan=-np.inf), axis=None)
        for k in TOP_K:
            chosen = [np.unravel_index(index, (num_layers, num_heads)) for index in order[:k]]
            named = ", ".join(f"L{int(layer)}h{int(head)}" for layer, head in chosen)
            print(f"top {k} heads by validation score ({named}): {rate[((name, f'top {k}'), 'heads')]:.3f}")
    print(
        f"\nanswer word's producing map differs from the answer token's map in {answer_map_differs} of "
        f"{len(tests) * len(layers)} (scene, layer) pairs"
    )
    print(
        f"sinks at tau={SINK_TAU:g} per layer (all scenes): {sinks.tolist()}; at tau={scaled_tau:.2f}: "
        f"{sinks_scaled.tolist()} of {len(tests)} x {result.attention.shape[-1]} image tokens"
    )
    if arguments.study:
        report_study_check(arguments.study, own, list(demo.TEST_SEEDS[: arguments.seeds]))
    print(
        f"largest sink score per layer: {[round(float(value), 2) for value in largest]}; "
        f"a width-{width} state cannot exceed sqrt({width}) = {math.sqrt(width):.2f}"
    )
    print(f"({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
