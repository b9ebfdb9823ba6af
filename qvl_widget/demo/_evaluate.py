"""Evaluating a demo model folder through the public path: `qvl_widget.load`, the processor, `generate`, `capture`."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch

from ._pointing import (
    METADATA_FILE,
    PointingRecipe,
    answer_pointing_map,
    chance_level,
    pointing_rate,
    points_at_named,
)
from ._scenes import make_example


def examples_for(seeds: Iterable[int], kinds: tuple[str, ...]) -> list[dict]:
    return [make_example(seed, kinds=kinds) for seed in seeds]


@torch.inference_mode()
def greedy_answers(loaded, examples: Sequence[dict], max_new_tokens: int = 4) -> list[str]:
    """The model's greedy answer to each example's prompt (chat template, as in use)."""
    tokenizer = loaded.processor.tokenizer
    answers = []
    for example in examples:
        inputs = loaded.prepare(example["image"], example["prompt"]).model_inputs
        inputs = {name: value.to(loaded.device) for name, value in inputs.items()}
        output = loaded.model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        answers.append(tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True).strip())
    return answers


def answer_accuracy(loaded, examples: Sequence[dict]) -> float:
    answers = greedy_answers(loaded, examples)
    return sum(answer == example["answer"] for answer, example in zip(answers, examples, strict=True)) / len(examples)


ANSWER_TOKENS = 4  # the demo's answers are one or two words, then <|im_end|>


def capture_all(loaded, examples: Sequence[dict], answer: bool = False) -> list:
    """Each example captured; with `answer`, the model answers too (greedy, as `greedy_answers`)."""
    options = {"answer": True, "max_new_tokens": ANSWER_TOKENS} if answer else {}
    return [loaded.capture(example["image"], example["prompt"], **options) for example in examples]


def answer_pointing_rate(results: Sequence, examples: Sequence[dict], recipe: PointingRecipe) -> float:
    """Share of scenes whose answer word's producing map (`answer_pointing_map`) points at the named object (a miss
    where the model wrote no answer word)."""
    hits = [
        any(token.part == "answer" and not token.special for token in result.tokens)
        and points_at_named(answer_pointing_map(result, example, recipe), example)
        for result, example in zip(results, examples, strict=True)
    ]
    return sum(hits) / len(hits)


def untrained_folder(model_folder: str | Path, seed: int = 0) -> Path:
    """A temporary folder with a randomly initialised model of `model_folder`'s config and its processor files
    (delete it with `shutil.rmtree`)."""
    from transformers import AutoConfig, AutoModelForImageTextToText

    model_folder = Path(model_folder)
    folder = Path(tempfile.mkdtemp(prefix="qvl-demo-untrained-"))
    torch.manual_seed(seed)
    model = AutoModelForImageTextToText.from_config(AutoConfig.from_pretrained(model_folder))
    model.save_pretrained(folder)
    for path in model_folder.iterdir():
        if path.is_file() and path.name not in {"model.safetensors", "config.json", METADATA_FILE}:
            shutil.copy2(path, folder / path.name)
    return folder


def pointing_summary(loaded, examples: Sequence[dict], recipe: PointingRecipe) -> dict:
    results = capture_all(loaded, examples)
    return {"pointing": pointing_rate(results, examples, recipe), "chance": chance_level(examples)}


GATE_ACCURACY = 0.90
GATE_POINTING = 0.85
# The gate of a model trained with `--tasks demo2` (issue DEMO2): every question kind answered right, and the
# named phrase's own map (mean of its tokens) at the recommended layer and heads points at the named object.
GATE_KIND_ACCURACY = 0.95
GATES = ("v1", "demo2")


def gate_for(metadata: dict) -> str:
    """The gate a model folder is held to: "demo2" for a model trained with `--tasks demo2`, else "v1"."""
    return "demo2" if metadata.get("tasks") == "demo2" else "v1"


def gate_checks(figures: dict, gate: str) -> list[tuple[str, float, float]]:
    """(what, value, threshold) of every criterion of `gate`; it passes when each value >= its threshold.

    v1 (the shipped model): overall accuracy >= 0.90, the recipe's map and the answer word's producing map point at
    the named object in >= 0.85 of the scenes. demo2: accuracy >= 0.95 on every question kind, the named phrase's
    own map (mean of its tokens, the recipe's layers and heads) >= 0.85, the answer's producing map >= 0.85.
    """
    if gate == "v1":
        return [
            ("accuracy", figures["accuracy"], GATE_ACCURACY),
            ("pointing", figures["pointing"], GATE_POINTING),
            ("answer pointing", figures["answer_pointing"], GATE_POINTING),
        ]
    if gate == "demo2":
        return [
            *((f"accuracy {kind}", value, GATE_KIND_ACCURACY) for kind, value in figures["accuracy_per_kind"].items()),
            ("phrase pointing", figures["phrase_pointing"], GATE_POINTING),
            ("answer pointing", figures["answer_pointing"], GATE_POINTING),
        ]
    raise ValueError(f"unknown gate {gate!r}: choose one of {', '.join(GATES)}")


def gate_figures(
    model_folder: str | Path,
    seeds: Sequence[int],
    device: str = "cpu",
    untrained_seed: int = 0,
    kinds: Sequence[str] | None = None,
    gate: str | None = None,
) -> dict:
    """The quality-gate figures of a demo model folder on `seeds` (use `TEST_SEEDS`).

    Each scene is captured once with the model's greedy answer (`capture(answer=True)`). accuracy: answers equal
    to the example's answer. pointing: share of scenes whose `pointing_map` (the recipe stored beside the weights)
    points at the named object (`points_at_named`). answer_pointing: the same for the answer word's producing map
    (where the model looked while writing it: what hovering the answer shows). chance: mean 1 / number of
    objects. untrained_pointing: the recipe's figure for a randomly initialised model of the same config (torch
    seed `untrained_seed`). phrase_pointing: the named phrase's own map (mean of its tokens) at the recipe's layers
    and heads. `kinds`: the question kinds of the scenes (default: the model's, from its metadata); `gate`: the
    criteria of `gate_checks` (default: `gate_for` the model's metadata); passed: every criterion met.
    """
    import qvl_widget

    from ._pointing import read_metadata, recipe_for_model

    metadata = read_metadata(model_folder)
    kinds = tuple(kinds or metadata.get("kinds", ("color", "shape")))
    gate = gate or gate_for(metadata)
    recipe = recipe_for_model(str(model_folder))
    examples = examples_for(seeds, kinds)
    loaded = qvl_widget.load(model_folder, device=device, dtype=torch.float32)
    results = capture_all(loaded, examples, answer=True)
    right = [
        (result.answer or "").strip() == example["answer"] for result, example in zip(results, examples, strict=True)
    ]
    per_kind = {
        kind: sum(r for r, e in zip(right, examples, strict=True) if e["kind"] == kind)
        / max(1, sum(e["kind"] == kind for e in examples))
        for kind in kinds
    }
    trained = {"pointing": pointing_rate(results, examples, recipe), "chance": chance_level(examples)}
    phrase_recipe = PointingRecipe("phrase", recipe.layers, recipe.head, recipe.reduce)
    phrase_pointing = pointing_rate(results, examples, phrase_recipe)
    answer_pointing = answer_pointing_rate(results, examples, recipe)
    # What a user sees hovering the named word in the widget: its map per layer, mean over heads.
    layers = [(layer,) for layer in range(results[0].num_layers)] + ["all"]
    hover = {
        "all" if layer == "all" else str(layer[0]): pointing_rate(results, examples, PointingRecipe("phrase", layer))
        for layer in layers
    }
    random_folder = untrained_folder(model_folder, untrained_seed)
    try:
        untrained = qvl_widget.load(random_folder, device=device, dtype=torch.float32)
        random_pointing = pointing_summary(untrained, examples, recipe)["pointing"]
        random_accuracy = answer_accuracy(untrained, examples)
    finally:
        shutil.rmtree(random_folder, ignore_errors=True)
    figures = {
        "seeds": [min(seeds), max(seeds) + 1] if len(seeds) else [],
        "examples": len(examples),
        "kinds": list(kinds),
        "recipe": recipe.describe(),
        "accuracy": sum(right) / len(right),
        "accuracy_per_kind": per_kind,
        "pointing": trained["pointing"],
        "phrase_pointing": phrase_pointing,
        "answer_pointing": answer_pointing,
        "chance": trained["chance"],
        "untrained_pointing": random_pointing,
        "untrained_accuracy": random_accuracy,
        "hover_pointing": hover,
        "gate": gate,
    }
    figures["passed"] = all(value >= threshold for _, value, threshold in gate_checks(figures, gate))
    return figures
