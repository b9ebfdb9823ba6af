"""The demo's scene generator, word tokenizer, tensor inputs, batched forward and pointing check.

The word tokenizer, tensor inputs and batched forward are training code (`training/`, on the path through
pytest's `pythonpath` setting); the scenes and the pointing check are in `qvl_widget.demo`.

None of these needs the shipped weights: the model checks use randomly initialised demo models.
(The gate on the shipped weights is in tests/test_demo_gate.py.pending until the weights exist.)
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from transformers import AutoProcessor, Qwen2VLForConditionalGeneration

import qvl_widget
from qvl_widget import demo
from qvl_widget.demo import _scenes
from qvl_widget.demo._pointing import (
    DEFAULT_RECIPE,
    PointingRecipe,
    candidate_recipes,
    cell_box_distance,
    points_at_named,
    query_rows,
)
from training import _model, _tensors
from training._fast import answer_loss, check_fast_forward

ALL_KINDS = ("color", "shape", "where")


def scene_batch(seed: int, size: int, min_objects: int = 1, kinds=ALL_KINDS):
    generator = torch.Generator().manual_seed(seed)
    scenes = _scenes.sample_scenes(size, generator, min_objects, 4, kinds)
    return scenes, _scenes.render(scenes, generator)


@pytest.fixture(scope="module")
def processor_dir(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("demo-processor")
    _model.build_processor().save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def processor(processor_dir):
    return AutoProcessor.from_pretrained(processor_dir)


@pytest.fixture(scope="module")
def random_demo_dir(tmp_path_factory: pytest.TempPathFactory):
    """A randomly initialised model with the shipped config, saved like the trained one."""
    folder = tmp_path_factory.mktemp("demo-random")
    torch.manual_seed(0)
    Qwen2VLForConditionalGeneration(_model.build_config()).save_pretrained(folder)
    _model.build_processor().save_pretrained(folder)
    return folder


# ----- scenes ----------------------------------------------------------------------------------------------


def test_make_example_is_deterministic():
    first, again, other = demo.make_example(11), demo.make_example(11), demo.make_example(12)
    assert np.array_equal(np.asarray(first["image"]), np.asarray(again["image"]))
    for key in ("prompt", "phrase", "bbox", "distractors", "answer", "objects"):
        assert first[key] == again[key]
    assert not np.array_equal(np.asarray(first["image"]), np.asarray(other["image"]))


@pytest.mark.parametrize("seed", range(12))
def test_example_fields(seed):
    example = demo.make_example(seed)
    assert example["image"].mode == "RGB"
    assert example["image"].size == (224, 224)
    assert 2 <= len(example["objects"]) <= 4
    assert len(example["distractors"]) == len(example["objects"]) - 1
    target = example["objects"][example["target"]]
    assert example["bbox"] == target["bbox"]
    assert example["phrase"] in example["prompt"]
    colours = [item["colour"] for item in example["objects"]]
    shapes = [item["shape"] for item in example["objects"]]
    regions = [item["region"] for item in example["objects"]]
    assert len(set(colours)) == len(colours) and len(set(shapes)) == len(shapes) and len(set(regions)) == len(regions)
    if example["kind"] == "color":
        assert example["prompt"] == f"What color is the {target['shape']}?"
        assert (example["phrase"], example["answer"]) == (target["shape"], target["colour"])
    else:
        assert example["prompt"] == f"What shape is the {target['colour']} one?"
        assert (example["phrase"], example["answer"]) == (target["colour"], target["shape"])


def test_where_questions():
    for seed in range(20):
        example = demo.make_example(seed, kinds=("where",))
        target = example["objects"][example["target"]]
        assert example["prompt"] == f"Where is the {target['colour']} {target['shape']}?"
        assert example["phrase"] == f"{target['colour']} {target['shape']}"
        assert example["answer"] == target["region"]
        x0, y0, x1, y1 = example["bbox"]
        row, col = divmod(_scenes.REGIONS.index(target["region"]), 3)
        third = 224 / 3
        assert col * third <= x0 < x1 <= (col + 1) * third
        assert row * third <= y0 < y1 <= (row + 1) * third


def test_boxes_match_the_painted_pixels():
    """Each object's pixels lie inside its box and reach its edges (to a pixel); objects never overlap; the
    image shows each object's colour on exactly its pixels."""
    scenes, images = scene_batch(3, 64)
    masks = _scenes.shape_masks(scenes)
    boxes = scenes.boxes()
    assert not bool((masks.sum(dim=1) > 1).any()), "objects overlap"
    for index in range(64):
        for slot in range(int(scenes.count[index])):
            ys, xs = torch.nonzero(masks[index, slot], as_tuple=True)
            x0, y0, x1, y1 = boxes[index, slot].tolist()
            assert xs.min() >= np.floor(x0) and xs.max() + 1 <= np.ceil(x1)
            assert ys.min() >= np.floor(y0) and ys.max() + 1 <= np.ceil(y1)
            assert xs.min() <= x0 + 1 and xs.max() + 1 >= x1 - 1  # every shape spans its box horizontally
            assert ys.max() + 1 >= y1 - 1 and ys.min() <= y0 + 2  # and vertically (triangle apex: 1 px wide)
            colour = scenes.rgb[index, slot].round().clamp(0, 255).to(torch.uint8)
            painted = images[index][:, ys, xs]
            assert bool((painted == colour[:, None]).all())
        unused = masks[index, int(scenes.count[index]) :]
        assert not bool(unused.any())


def test_boxes_are_disjoint_and_inside_the_image():
    scenes, _ = scene_batch(5, 256, min_objects=2)
    boxes = scenes.boxes()
    assert bool((boxes >= 0).all()) and bool((boxes <= 224).all())
    for index in range(256):
        count = int(scenes.count[index])
        for a in range(count):
            for b in range(a + 1, count):
                ax0, ay0, ax1, ay1 = boxes[index, a].tolist()
                bx0, by0, bx1, by1 = boxes[index, b].tolist()
                assert ax1 <= bx0 or bx1 <= ax0 or ay1 <= by0 or by1 <= ay0


# ----- tokenizer and processor -----------------------------------------------------------------------------


def test_every_word_is_one_token(processor):
    tokenizer = processor.tokenizer
    for word in _model.WORDS:
        assert tokenizer(word, add_special_tokens=False)["input_ids"] == [_model.token_id(word)], word
    for index, token in enumerate(qvl_widget.testing.SPECIAL_TOKENS):
        assert tokenizer.convert_tokens_to_ids(token) == index
        assert tokenizer(token, add_special_tokens=False)["input_ids"] == [index]


def test_word_tokens_and_offsets(processor):
    prompt = "What color is the square?"
    encoded = processor.tokenizer(prompt, return_offsets_mapping=True, add_special_tokens=False)
    tokens = processor.tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    assert tokens == ["what", "color", "is", "the", "square", "?"]
    assert [prompt[start:end] for start, end in encoded["offset_mapping"]] == [
        "What",
        "color",
        "is",
        "the",
        "square",
        "?",
    ]
    assert processor.tokenizer("Where is the zebra?", add_special_tokens=False)["input_ids"][3] == _model.token_id(
        _model.UNKNOWN
    )
    assert processor.tokenizer.decode([_model.token_id("top"), _model.token_id("left")]) == "top left"


def test_chat_template_is_qwen_style(processor):
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What color is the cross?"}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert text == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
        "<|vision_start|><|image_pad|><|vision_end|>What color is the cross?<|im_end|>\n<|im_start|>assistant\n"
    )


def test_images_are_not_resized(processor):
    inputs = processor(text=["<|image_pad|>"], images=[demo.make_example(0)["image"]], return_tensors="pt")
    assert inputs["image_grid_thw"].tolist() == [[1, 16, 16]]
    assert int((inputs["input_ids"] == _model.token_id("<|image_pad|>")).sum()) == 64


# ----- tensors == processor ----------------------------------------------------------------------------------


def processor_inputs(processor, example):
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": example["prompt"]}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return processor(text=[text], images=[example["image"]], return_tensors="pt")


def test_tensor_inputs_equal_the_processor(processor):
    scenes, images = scene_batch(7, 24)
    batch = _tensors.build_batch(scenes, images)
    patches = _tensors.GRID * _tensors.GRID
    for index in range(24):
        example = _scenes.scene_example(scenes, images, index)
        expected = processor_inputs(processor, example)
        length = int(batch.prompt_lengths[index])
        assert torch.equal(expected["input_ids"][0], batch.input_ids[index, :length])
        assert torch.equal(expected["pixel_values"], batch.pixel_values[index * patches : (index + 1) * patches])
        assert torch.equal(expected["image_grid_thw"][0], batch.image_grid_thw[index])
        if "mm_token_type_ids" in expected:  # processors return it by default since transformers 5.3
            assert torch.equal(expected["mm_token_type_ids"][0], batch.mm_token_type_ids[index, :length])
        answer = processor.tokenizer.decode(batch.input_ids[index, length : int(batch.lengths[index])])
        assert answer == f"{example['answer']} <|im_end|>"
        targets = torch.nonzero(batch.targets[index]).flatten().tolist()
        assert targets == list(range(length, int(batch.lengths[index])))
        assert bool((batch.input_ids[index, int(batch.lengths[index]) :] == _tensors.PAD).all())


def test_batched_forward_equals_model_forward(processor):
    """The training forward (batched vision attention, fixed M-RoPE ids) equals `model(**processor(...))`."""
    scenes, images = scene_batch(8, 6)
    batch = _tensors.build_batch(scenes, images)
    torch.manual_seed(1)
    model = Qwen2VLForConditionalGeneration(_model.build_config()).eval()
    examples = [_scenes.scene_example(scenes, images, index) for index in range(6)]
    assert check_fast_forward(model, processor, examples, batch) < 1e-4


def test_answer_loss_counts_answer_tokens_only():
    scenes, images = scene_batch(9, 4)
    batch = _tensors.build_batch(scenes, images)
    vocabulary = len(_model.VOCABULARY)
    logits = torch.full((*batch.input_ids.shape, vocabulary), -10.0)
    # Perfect predictions on the answer tokens only: loss ~0 and every example counts as right.
    next_ids = batch.input_ids[:, 1:]
    for index in range(4):
        for position in torch.nonzero(batch.targets[index]).flatten().tolist():
            logits[index, position - 1, next_ids[index, position - 1]] = 10.0
    loss, correct = answer_loss(logits, batch)
    assert float(loss) < 1e-6 and bool(correct.all())
    position = int(torch.nonzero(batch.targets[0]).flatten()[0])
    logits[0, position - 1] = 0.0
    loss, correct = answer_loss(logits, batch)
    assert float(loss) > 0.1 and correct.tolist() == [False, True, True, True]


# ----- model folder, capture, pointing ---------------------------------------------------------------------


def test_capture_on_a_demo_model_folder(random_demo_dir):
    loaded = qvl_widget.load(random_demo_dir, device="cpu")
    for seed in range(4):
        example = demo.make_example(seed)
        result = loaded.capture(example["image"], example["prompt"])
        assert (result.images[0].rows, result.images[0].cols) == (8, 8)
        rows = result.token_indices(example["phrase"])
        assert [result.tokens[row].text.lower() for row in rows] == example["phrase"].split()
        assert result.tokens[query_rows(result, example, "question_mark")[0]].text == "?"
        assert result.tokens[query_rows(result, example, "answer")[0]].text == "assistant"
        for recipe in (
            DEFAULT_RECIPE,
            PointingRecipe("answer", (1,), 2, "mean"),
            PointingRecipe("prompt", "all", None, "max"),
        ):
            grid = demo.pointing_map(result, example, recipe)
            assert grid.shape == (8, 8) and np.isfinite(grid).all()
        assert isinstance(points_at_named(demo.pointing_map(result, example), example), bool)


def test_candidate_recipes_cover_layers_and_heads():
    recipes = candidate_recipes(num_layers=4, num_heads=4)
    assert len(recipes) == 4 * 5 * 6
    assert len(set(recipes)) == len(recipes)
    assert PointingRecipe.from_json(json.loads(json.dumps(recipes[7].to_json()))) == recipes[7]


def test_cell_box_distance():
    size, grid = (224, 224), (8, 8)
    box = (56.0, 56.0, 84.0, 84.0)  # exactly cell (2, 2)
    assert cell_box_distance((2, 2), box, grid, size) == 0
    assert cell_box_distance((2, 3), box, grid, size) == pytest.approx(0.5)  # centre 14 px right of the box
    assert cell_box_distance((3, 3), box, grid, size) == pytest.approx(0.5)  # Chebyshev: diagonal neighbour too
    assert cell_box_distance((2, 4), box, grid, size) == pytest.approx(1.5)
    assert cell_box_distance((0, 2), box, grid, size) == pytest.approx(1.5)


def peak_map(row: int, col: int) -> np.ndarray:
    grid = np.full((8, 8), 0.01)
    grid[row, col] = 1.0
    return grid


def test_points_at_named():
    example = {
        "image": demo.make_example(0)["image"],
        "bbox": (28.0, 28.0, 84.0, 84.0),  # cells (1..2, 1..2)
        "distractors": [(140.0, 28.0, 196.0, 84.0), (112.0, 168.0, 140.0, 196.0)],  # cells (1..2, 5..6), (6, 4)
    }
    assert points_at_named(peak_map(1, 1), example)
    assert points_at_named(peak_map(3, 3), example)  # diagonal neighbour of the box, far from the others
    assert not points_at_named(peak_map(1, 5), example)  # on a distractor
    assert not points_at_named(peak_map(6, 1), example)  # more than one cell away
    assert not points_at_named(peak_map(1, 4), example)  # 0.5 cells from a distractor, 1.5 from the named box
    example["distractors"].append((84.0, 28.0, 112.0, 56.0))  # cell (1, 3): touching the named box
    assert not points_at_named(peak_map(1, 3), example)  # on the distractor, 0.5 cells from the named box
    assert not points_at_named(peak_map(2, 3), example)  # equally near (0.5) to both: not strictly nearer


# ----- training script (never run by tests: its parts are tested above; the arguments are checked here) -------


def test_training_script_arguments():
    from training import train

    arguments = train.parse_args(["--out", "x", "--device", "cpu", "--config", "deep", "--kinds", "color"])
    assert arguments.kinds == ("color",) and arguments.reserve == 120.0
    assert train.build_config(**train.CONFIGS["deep"]).text_config.num_hidden_layers == 6
    with pytest.raises(SystemExit):
        train.parse_args(["--out", "x", "--kinds", "size"])
