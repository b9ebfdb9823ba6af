"""A tiny Qwen2-VL-architecture model trained on synthetic scenes: the offline demo, with a pointing check.

    from qvl_widget import demo

    model = demo.load()  # a qvl_widget.LoadedModel, like qvl_widget.load(...)
    example = demo.make_example(7)  # image, prompt, phrase, bbox, distractors, answer
    result = model.capture(example["image"], example["prompt"])
    grid = demo.pointing_map(result, example)  # the map the pointing check reads
    answered = model.capture(example["image"], example["prompt"], answer=True, max_new_tokens=4)
    grid = demo.answer_pointing_map(answered, example)  # where it looked while writing its answer's first word
    demo.points_at_named(grid, example)  # True when its brightest cell is on the named object
    clip = demo.make_clip(7, groups=4)  # the same scene as 8 frames, its named object moving region to region
    video = model.capture(qvl_widget.Video(demo.frames_array(clip)), clip["prompt"])
    video.widget(boxes=demo.clip_boxes(clip))  # the moving object outlined in each group, where it is
    manifest = demo.write_scenes(500, "scenes")  # held-out scenes with their named object's box, for model.study

The model knows only its scenes' words (colours, shapes and the question words of "What color is the square?" /
"What shape is the red one?"): a prompt or given answer with other words gets a `DemoVocabularyWarning` that names
them, since its word-level tokenizer reads them all as the one token "[unk]".

The model (real `Qwen2VLForConditionalGeneration`, real Qwen2-VL processor and chat template, a word-level
tokenizer) was trained from scratch on answers only by `python -m training.train` (in the repository's `training/`,
not in the installed package); its attention was never supervised. `benchmarks/demo_gate.py` prints its answer
accuracy and pointing rate on held-out seeds.
"""

from __future__ import annotations

import functools
import os
import sys
import types
import warnings
from pathlib import Path
from typing import Any

from ._clips import MAX_CLIP_GROUPS, clip_boxes, frames_array, group_example, make_clip
from ._manifest import write_scenes
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
from ._scenes import COLOURS, KINDS, QUESTION_KINDS, SHAPES, example_outline, make_example, question_words

MODEL_DIR = Path(__file__).parent / "model"
DEMO_NAME = "qvl_widget demo"  # how results and pages name it (never the install folder)

__all__ = [
    "COLOURS",
    "KINDS",
    "MAX_CLIP_GROUPS",
    "MODEL_DIR",
    "SHAPES",
    "TEST_SEEDS",
    "VALIDATION_SEEDS",
    "DemoVocabularyWarning",
    "PointingRecipe",
    "answer_pointing_map",
    "answer_word",
    "cell_box_distance",
    "chance_level",
    "clip_boxes",
    "example_outline",
    "frames_array",
    "greedy_answer",
    "group_example",
    "load",
    "make_clip",
    "make_example",
    "pointing_map",
    "points_at_named",
    "read_metadata",
    "recommended_view",
    "unknown_words",
    "write_scenes",
]


def greedy_answer(model, example: dict) -> str:
    """The model's greedy answer to `example` (chat template, as in use)."""
    from ._evaluate import greedy_answers

    return greedy_answers(model, [example])[0]


def load(device=None, dtype=None, **from_pretrained_kwargs):
    """The shipped demo model as a `qvl_widget.LoadedModel` (same arguments as `qvl_widget.load`).

    It is a LoadedModel that also says what it knows: `capture` and `prepare` warn (`DemoVocabularyWarning`) when
    the prompt or a given answer has words outside the demo's vocabulary."""
    from .. import load as load_model

    if not (MODEL_DIR / "model.safetensors").is_file():
        raise FileNotFoundError(
            f"the demo model's weights are not in {MODEL_DIR}; train them with "
            "`python -m training.train --out qvl_widget/demo/model` from a checkout of the repository "
            "(see training/train.py)"
        )
    loaded = load_model(MODEL_DIR, device=device, dtype=dtype, **from_pretrained_kwargs)
    return _demo_model_class()(loaded.model, loaded.processor, loaded.family, loaded.source, name=DEMO_NAME)


# ----- what the demo model knows ---------------------------------------------------------------------------


class DemoVocabularyWarning(UserWarning):
    """A prompt or answer for the demo model has words it does not know (its tokenizer reads them as [unk])."""


def unknown_words(tokenizer: Any, text: str) -> list[str]:
    """The words of `text` that `tokenizer` reads as its unknown token, in order, each once (case-insensitive).

    Adjacent unknown pieces are one word ("cat's" is one, not "cat", "'" and "s")."""
    unknown_id = tokenizer.unk_token_id
    if unknown_id is None:
        return []
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    spans: list[list[int]] = []
    for token_id, (start, end) in zip(encoded["input_ids"], encoded["offset_mapping"], strict=True):
        if token_id != unknown_id:
            continue
        if spans and spans[-1][1] == start:
            spans[-1][1] = end
        else:
            spans.append([start, end])
    first: dict[str, str] = {}
    for start, end in spans:
        first.setdefault(text[start:end].lower(), text[start:end])
    return list(first.values())


def _known_words(tokenizer: Any) -> str:
    """What the demo model knows, in words: its colours, shapes and question words (those its tokenizer has)."""
    vocabulary = tokenizer.get_vocab()
    words = dict.fromkeys(word.lower() for kind in QUESTION_KINDS for word in question_words(kind, "", "")[0] if word)
    question = sorted(words, key=lambda word: not word.isalpha())  # in order, "?" last

    def known(words) -> str:
        return ", ".join(word for word in words if word in vocabulary)

    forms = ["'What color is the square?'", "'What shape is the red one?'"]
    if "describe" in vocabulary:  # a model trained on descriptions too (training --tasks demo2)
        forms += ["'Where is the red circle?'", "'Describe the shapes.'"]
    return (
        f"the colours {known(COLOURS)}; the shapes {known(SHAPES)}; the question words {known(question)} "
        f"(as in {', '.join(forms[:-1])} and {forms[-1]})"
    )


def _check_vocabulary(tokenizer: Any, text: str, what: str) -> None:
    """A `DemoVocabularyWarning` (one line) naming the words of `text` the demo model does not know, if any."""
    unknown = unknown_words(tokenizer, text)
    if not unknown:
        return
    names = ", ".join(repr(word) for word in unknown)
    warnings.warn(
        f"the demo model does not know {names} in {what} {text!r} (its word-level tokenizer reads "
        f"{'it' if len(unknown) == 1 else 'them'} as [unk]); it knows only {_known_words(tokenizer)}. "
        "Its scenes are demo.make_example(seed)",
        DemoVocabularyWarning,
        stacklevel=_caller_stacklevel(),
    )


_PACKAGE_DIR = str(Path(__file__).resolve().parents[1]) + os.sep


def _caller_stacklevel() -> int:
    """The `stacklevel` of the first caller outside qvl_widget, so the warning points at the user's line."""
    frame: types.FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level


@functools.cache
def _demo_model_class() -> type:
    """`LoadedModel` with the vocabulary check, made on first use (its module loads torch and transformers)."""
    from .._loading import LoadedModel

    class DemoModel(LoadedModel):
        """The demo model: a `LoadedModel` that warns when a prompt or given answer has words it does not know."""

        def prepare(self, *args: Any, **kwargs: Any) -> Any:
            prepared = super().prepare(*args, **kwargs)
            _check_vocabulary(self.processor.tokenizer, prepared.prompt, "the prompt")
            if isinstance(kwargs.get("system"), str):
                _check_vocabulary(self.processor.tokenizer, kwargs["system"], "the system prompt")
            return prepared

        def capture_prepared(self, prepared: Any, *, answer: Any = None, **kwargs: Any) -> Any:
            if isinstance(answer, str):
                _check_vocabulary(self.processor.tokenizer, answer, "the answer")
            return super().capture_prepared(prepared, answer=answer, **kwargs)

    DemoModel.__module__, DemoModel.__qualname__ = __name__, "DemoModel"
    return DemoModel
