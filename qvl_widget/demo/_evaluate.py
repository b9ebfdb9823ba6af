"""Evaluating a demo model folder through the public path: `qvl_widget.load`, the processor, `generate`, `capture`."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch

from ._pointing import METADATA_FILE, PointingRecipe, chance_level, pointing_rate
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


def capture_all(loaded, examples: Sequence[dict]) -> list:
    return [loaded.capture(example["image"], example["prompt"]) for example in examples]


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


def gate_figures(model_folder: str | Path, seeds: Sequence[int], device: str = "cpu", untrained_seed: int = 0) -> dict:
    """The quality-gate figures of a demo model folder on `seeds` (use `TEST_SEEDS`).

    accuracy: greedy answers (processor + generate) equal to the example's answer. pointing: share of scenes whose
    `pointing_map` (the recipe stored beside the weights) points at the named object (`points_at_named`).
    chance: mean 1 / number of objects. untrained_pointing: the same figure, same recipe, for a randomly
    initialised model of the same config (torch seed `untrained_seed`).
    """
    import qvl_widget

    from ._pointing import read_metadata, recipe_for_model

    metadata = read_metadata(model_folder)
    kinds = tuple(metadata.get("kinds", ("color", "shape")))
    recipe = recipe_for_model(str(model_folder))
    examples = examples_for(seeds, kinds)
    loaded = qvl_widget.load(model_folder, device=device, dtype=torch.float32)
    answers = greedy_answers(loaded, examples)
    right = [answer == example["answer"] for answer, example in zip(answers, examples, strict=True)]
    per_kind = {
        kind: sum(r for r, e in zip(right, examples, strict=True) if e["kind"] == kind)
        / max(1, sum(e["kind"] == kind for e in examples))
        for kind in kinds
    }
    results = capture_all(loaded, examples)
    trained = {"pointing": pointing_rate(results, examples, recipe), "chance": chance_level(examples)}
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
    return {
        "seeds": [min(seeds), max(seeds) + 1] if len(seeds) else [],
        "examples": len(examples),
        "kinds": list(kinds),
        "recipe": recipe.describe(),
        "accuracy": sum(right) / len(right),
        "accuracy_per_kind": per_kind,
        "pointing": trained["pointing"],
        "chance": trained["chance"],
        "untrained_pointing": random_pointing,
        "untrained_accuracy": random_accuracy,
        "hover_pointing": hover,
        "passed": sum(right) / len(right) >= GATE_ACCURACY and trained["pointing"] >= GATE_POINTING,
    }
