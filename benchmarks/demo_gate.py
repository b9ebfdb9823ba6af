"""Quality gate of the demo model: answer accuracy and named-object pointing on held-out test seeds.

    PYTHONPATH=. python benchmarks/demo_gate.py [--model qvl_widget/demo/model] [--seeds 500] [--device cpu]
        [--kinds color shape where] [--gate v1|demo2]

Prints, on `qvl_widget.demo.TEST_SEEDS` (never used for training or for choosing the pointing recipe):
- greedy answer accuracy (processor + generate, exact match), overall and per question kind; gate >= 0.90;
- named-object pointing: the share of scenes where the brightest cell of `qvl_widget.demo.pointing_map` lies
  within one token cell (Chebyshev distance from the cell centre to the box <= 1 cell) of the named object's box
  and strictly nearer to it than to every distractor box; gate >= 0.85;
- the same from the answer word's producing map (`qvl_widget.demo.answer_pointing_map`: where the model looked
  while writing its answer, what hovering the answer shows); gate >= 0.85;
- the chance level (mean of 1 / number of objects) and the same pointing figure for an untrained model
  (random initialisation, same config, same recipe);
- how often hovering the named word (the colour or shape word) in the widget lights up the named object: the
  same pointing test on that word's map, mean over heads, for each layer (the widget opens on the last one).
Exits 1 when the gate fails.

`--kinds` sets the question kinds of the test scenes (default: the model's, from its `qvl_demo.json`). `--gate`
sets the criteria (default: "demo2" for a model trained with `--tasks demo2`, else "v1", today's above). The demo2
gate (issue DEMO2) asks accuracy >= 0.95 on every question kind, the named phrase's own map (mean of its tokens,
at the recipe's layers and heads) pointing >= 0.85, and the answer word's producing map >= 0.85; it prints those
lines too and a last line `DEMO2 PASS` or `DEMO2 FAIL` with the numbers.
"""

from __future__ import annotations

import argparse
import sys
import time

from qvl_widget.demo import MODEL_DIR, TEST_SEEDS
from qvl_widget.demo._evaluate import (
    GATE_ACCURACY,
    GATE_KIND_ACCURACY,
    GATE_POINTING,
    GATES,
    gate_checks,
    gate_figures,
)
from qvl_widget.demo._scenes import QUESTION_KINDS


def main() -> int:
    parser = argparse.ArgumentParser(description="Quality gate of the demo model on held-out test seeds.")
    parser.add_argument("--model", default=str(MODEL_DIR), help="model folder (default: the shipped one)")
    parser.add_argument("--seeds", type=int, default=len(TEST_SEEDS), help=f"first N of {TEST_SEEDS}")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--kinds", nargs="+", choices=QUESTION_KINDS, default=None, help="default: the model's")
    parser.add_argument("--gate", choices=GATES, default=None, help="default: from the model's training tasks")
    arguments = parser.parse_args()
    if not 0 < arguments.seeds <= len(TEST_SEEDS):
        parser.error(f"--seeds must be in 1..{len(TEST_SEEDS)}")
    started = time.monotonic()
    figures = gate_figures(
        arguments.model,
        TEST_SEEDS[: arguments.seeds],
        device=arguments.device,
        kinds=arguments.kinds,
        gate=arguments.gate,
    )
    print(f"model        {arguments.model}")
    first, stop = figures["seeds"]
    kinds = ", ".join(figures["kinds"])
    print(f"test seeds   {first}..{stop - 1} ({figures['examples']} scenes, kinds {kinds})")
    print(f"recipe       {figures['recipe']} (chosen on the validation seeds)")
    per_kind = ", ".join(f"{kind} {value:.3f}" for kind, value in figures["accuracy_per_kind"].items())
    untrained = figures["untrained_accuracy"]
    needed = f"{GATE_ACCURACY}" if figures["gate"] == "v1" else f"{GATE_KIND_ACCURACY} on every kind"
    print(f"accuracy     {figures['accuracy']:.3f}  ({per_kind}; untrained {untrained:.3f})  gate >= {needed}")
    print(f"pointing     {figures['pointing']:.3f}  gate >= {GATE_POINTING}")
    print(f"  answer     {figures['answer_pointing']:.3f}  gate >= {GATE_POINTING}  (the answer word's producing map)")
    print(f"  chance     {figures['chance']:.3f}  (mean 1 / number of objects)")
    print(f"  untrained  {figures['untrained_pointing']:.3f}  (random init, same config and recipe)")
    hover = figures["hover_pointing"]
    per_layer = ", ".join(f"layer {layer} {rate:.3f}" for layer, rate in hover.items() if layer != "all")
    print(f"hover word   {per_layer}, all layers {hover['all']:.3f}  (the named word's map, mean of heads)")
    if figures["gate"] == "demo2":
        print(f"phrase map   {figures['phrase_pointing']:.3f}  gate >= {GATE_POINTING}  (the named phrase's own map)")
    print(f"gate         {'PASSED' if figures['passed'] else 'FAILED'}  ({time.monotonic() - started:.0f} s)")
    if figures["gate"] == "demo2":
        checks = gate_checks(figures, "demo2")
        numbers = ", ".join(
            f"{what} {value:.3f}{'' if value >= need else f' < {need}'}" for what, value, need in checks
        )
        print(f"DEMO2 {'PASS' if figures['passed'] else 'FAIL'}: {numbers}")
    return 0 if figures["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
