"""Quality gate of the demo model: answer accuracy and named-object pointing on held-out test seeds.

    PYTHONPATH=. python benchmarks/demo_gate.py [--model qvl_widget/demo/model] [--seeds 500] [--device cpu]

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
"""

from __future__ import annotations

import argparse
import sys
import time

from qvl_widget.demo import MODEL_DIR, TEST_SEEDS
from qvl_widget.demo._evaluate import GATE_ACCURACY, GATE_POINTING, gate_figures


def main() -> int:
    parser = argparse.ArgumentParser(description="Quality gate of the demo model on held-out test seeds.")
    parser.add_argument("--model", default=str(MODEL_DIR), help="model folder (default: the shipped one)")
    parser.add_argument("--seeds", type=int, default=len(TEST_SEEDS), help=f"first N of {TEST_SEEDS}")
    parser.add_argument("--device", default="cpu")
    arguments = parser.parse_args()
    if not 0 < arguments.seeds <= len(TEST_SEEDS):
        parser.error(f"--seeds must be in 1..{len(TEST_SEEDS)}")
    started = time.monotonic()
    figures = gate_figures(arguments.model, TEST_SEEDS[: arguments.seeds], device=arguments.device)
    print(f"model        {arguments.model}")
    first, stop = figures["seeds"]
    kinds = ", ".join(figures["kinds"])
    print(f"test seeds   {first}..{stop - 1} ({figures['examples']} scenes, kinds {kinds})")
    print(f"recipe       {figures['recipe']} (chosen on the validation seeds)")
    per_kind = ", ".join(f"{kind} {value:.3f}" for kind, value in figures["accuracy_per_kind"].items())
    untrained = figures["untrained_accuracy"]
    print(f"accuracy     {figures['accuracy']:.3f}  ({per_kind}; untrained {untrained:.3f})  gate >= {GATE_ACCURACY}")
    print(f"pointing     {figures['pointing']:.3f}  gate >= {GATE_POINTING}")
    print(f"  answer     {figures['answer_pointing']:.3f}  gate >= {GATE_POINTING}  (the answer word's producing map)")
    print(f"  chance     {figures['chance']:.3f}  (mean 1 / number of objects)")
    print(f"  untrained  {figures['untrained_pointing']:.3f}  (random init, same config and recipe)")
    hover = figures["hover_pointing"]
    per_layer = ", ".join(f"layer {layer} {rate:.3f}" for layer, rate in hover.items() if layer != "all")
    print(f"hover word   {per_layer}, all layers {hover['all']:.3f}  (the named word's map, mean of heads)")
    print(f"gate         {'PASSED' if figures['passed'] else 'FAILED'}  ({time.monotonic() - started:.0f} s)")
    return 0 if figures["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
