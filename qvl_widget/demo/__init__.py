"""A tiny Qwen2-VL-architecture model trained on synthetic scenes: the offline demo, with a pointing check.

    from qvl_widget import demo

    model = demo.load()  # a qvl_widget.LoadedModel, like qvl_widget.load(...)
    example = demo.make_example(7)  # image, prompt, phrase, bbox, distractors, answer
    result = model.capture(example["image"], example["prompt"])
    grid = demo.pointing_map(result, example)  # the map the pointing check reads
    answered = model.capture(example["image"], example["prompt"], answer=True, max_new_tokens=4)
    grid = demo.answer_pointing_map(answered, example)  # where it looked while writing its answer's first word
    demo.points_at_named(grid, example)  # True when its brightest cell is on the named object

The model (real `Qwen2VLForConditionalGeneration`, real Qwen2-VL processor and chat template, a word-level
tokenizer) was trained from scratch on answers only by `python -m training.train` (in the repository's `training/`,
not in the installed package); its attention was never supervised. `benchmarks/demo_gate.py` prints its answer
accuracy and pointing rate on held-out seeds.
"""

from __future__ import annotations

from pathlib import Path

from ._pointing import (
    TEST_SEEDS,
    VALIDATION_SEEDS,
    PointingRecipe,
    answer_pointing_map,
    answer_word,
    cell_box_distance,
    chance_level,
    pointing_map,
    points_at_named,
    read_metadata,
    recommended_view,
)
from ._scenes import COLOURS, KINDS, SHAPES, make_example

MODEL_DIR = Path(__file__).parent / "model"

__all__ = [
    "COLOURS",
    "KINDS",
    "MODEL_DIR",
    "SHAPES",
    "TEST_SEEDS",
    "VALIDATION_SEEDS",
    "PointingRecipe",
    "answer_pointing_map",
    "answer_word",
    "cell_box_distance",
    "chance_level",
    "greedy_answer",
    "load",
    "make_example",
    "pointing_map",
    "points_at_named",
    "read_metadata",
    "recommended_view",
]


def greedy_answer(model, example: dict) -> str:
    """The model's greedy answer to `example` (chat template, as in use)."""
    from ._evaluate import greedy_answers

    return greedy_answers(model, [example])[0]


def load(device=None, dtype=None, **from_pretrained_kwargs):
    """The shipped demo model as a `qvl_widget.LoadedModel` (same arguments as `qvl_widget.load`)."""
    from .. import load as load_model

    if not (MODEL_DIR / "model.safetensors").is_file():
        raise FileNotFoundError(
            f"the demo model's weights are not in {MODEL_DIR}; train them with "
            "`python -m training.train --out qvl_widget/demo/model` from a checkout of the repository "
            "(see training/train.py)"
        )
    return load_model(MODEL_DIR, device=device, dtype=dtype, **from_pretrained_kwargs)
