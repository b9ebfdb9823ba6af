"""The quality gate of the shipped demo model (qvl_widget/demo/model).

Tests never train: they load the shipped weights (and fail, never skip, without them).
"""

from __future__ import annotations

import numpy as np
import pytest

import qvl_widget
from qvl_widget import demo
from qvl_widget.demo._evaluate import GATE_ACCURACY, GATE_POINTING, gate_figures
from qvl_widget.demo._pointing import PointingRecipe


@pytest.fixture(scope="module")
def figures():
    return gate_figures(demo.MODEL_DIR, demo.TEST_SEEDS, device="cpu")


def test_shipped_weights_are_small_safetensors():
    weights = demo.MODEL_DIR / "model.safetensors"
    assert weights.is_file()
    assert weights.stat().st_size <= 10 * 2**20


def test_recipe_was_chosen_on_validation_seeds_only():
    metadata = demo.read_metadata(demo.MODEL_DIR)
    start, stop = metadata["pointing"]["validation_seeds"]
    assert set(range(start, stop)).isdisjoint(demo.TEST_SEEDS)
    PointingRecipe.from_json(metadata["pointing"]["recipe"])
    assert metadata["training"]["steps"] > 0 and metadata["training"]["wall_seconds"] > 0


def test_load_returns_a_loaded_model():
    model = demo.load(device="cpu")
    assert isinstance(model, qvl_widget.LoadedModel)
    example = demo.make_example(0)
    result = model.capture(example["image"], example["prompt"])
    assert result.token_indices(example["phrase"])
    assert demo.pointing_map(result, example).shape == (8, 8)


def test_answer_accuracy(figures):
    assert figures["accuracy"] >= GATE_ACCURACY, figures


def test_named_object_pointing(figures):
    assert figures["pointing"] >= GATE_POINTING, figures
    assert figures["pointing"] > figures["chance"] and figures["pointing"] > figures["untrained_pointing"], figures


def test_the_answer_words_producing_map_points_at_the_named_object(figures):
    assert figures["answer_pointing"] >= GATE_POINTING, figures
    assert figures["passed"]


def test_pointing_check_is_not_fooled_by_a_transposed_map():
    """The check is sensitive to geometry: the transposed map (rows <-> columns) points far less often."""
    model = demo.load(device="cpu")
    examples = [demo.make_example(seed) for seed in demo.TEST_SEEDS[:100]]
    hits, transposed = [], []
    for example in examples:
        grid = demo.pointing_map(model.capture(example["image"], example["prompt"]), example)
        hits.append(demo.points_at_named(grid, example))
        transposed.append(demo.points_at_named(np.ascontiguousarray(grid.T), example))
    assert np.mean(hits) >= GATE_POINTING
    assert np.mean(transposed) < np.mean(hits) - 0.3
