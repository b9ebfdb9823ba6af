"""AttentionResult: tokens, phrase lookup, map selection and lossless save/load."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from browser_support import synthetic_result
from PIL import Image

import qvl_widget
from qvl_widget import AttentionResult

PROMPT = "Where is the red cat on the image? The reddish cat sleeps."


@pytest.fixture(scope="module")
def result(tiny_models) -> AttentionResult:
    pixels = np.random.default_rng(3).integers(0, 256, size=(60, 100, 3), dtype=np.uint8)
    return tiny_models["qwen2_vl"].capture(Image.fromarray(pixels), PROMPT)


def token_texts(result: AttentionResult, indices: list[int]) -> list[str]:
    return [result.tokens[index].text for index in indices]


def test_prompt_tokens_carry_offsets_into_the_prompt(result):
    prompt_tokens = [token for token in result.tokens if not token.special]
    assert "".join(token.text for token in prompt_tokens) == PROMPT
    for token in prompt_tokens:
        assert PROMPT[token.start : token.end] == token.text
    # BPE tokens, not bytes: the tiny tokenizer merges common words.
    assert [token.text for token in prompt_tokens][:5] == ["Where", " is", " the", " red", " cat"]


def test_template_tokens_are_flagged(result):
    special = [token for token in result.tokens if token.special]
    assert all(token.start is None and token.end is None for token in special)
    texts = [token.text for token in special]
    assert texts[0] == "<|vision_end|>"
    assert "<|im_end|>" in texts and "<|im_start|>" in texts
    assert result.tokens[-1].text == "\n"  # the assistant turn is open: its last token predicts the answer


def test_phrase_selects_the_tokens_covering_it(result):
    # "red cat" occurs once; "reddish cat" must not match it, but "red" occurs in " red" and in " reddish".
    assert token_texts(result, result.token_indices("red cat")) == [" red", " cat"]
    assert token_texts(result, result.token_indices("RED  Cat")) == [" red", " cat"]
    assert token_texts(result, result.token_indices("cat")) == [" cat", " cat"]
    reddish = token_texts(result, result.token_indices("reddish"))
    assert reddish == [" red", "d", "i", "s", "h"]


def test_phrase_matches_at_word_starts_not_inside_other_words(tiny_models):
    picture = Image.fromarray(np.zeros((56, 56, 3), dtype=np.uint8))
    result = tiny_models["qwen2_vl"].capture(picture, "Is the red cat covered? Scatter the cats.")

    def covered(phrase: str) -> str:
        return "".join(token_texts(result, result.token_indices(phrase)))

    assert covered("red") == " red"  # not the "red" of "covered"
    assert covered("cat") == " cat cat"  # and the " cat" of " cat"+"s"; "Scatter" only contains it
    assert covered("scat") == "Scat"
    assert covered("atter") == "atter"  # inside a word only: still found (scripts without spaces need this)
    assert covered("?") == "?"


def test_phrase_not_in_prompt_lists_the_tokens(result):
    with pytest.raises(ValueError, match=r"phrase 'dog' is not in the prompt .*its tokens are: 'Where', ' is'") as info:
        result.token_indices("dog")
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="phrase is empty"):
        result.grid(phrase="  ")


def test_grid_is_the_mean_over_tokens_of_the_selected_layer_and_heads(result):
    geometry = result.images[0]
    rows = result.token_indices("red cat")
    last = result.attention[-1][:, rows, :].reshape(result.num_heads, len(rows), geometry.rows, geometry.cols)
    np.testing.assert_allclose(result.grid(phrase="red cat"), last.mean(axis=0).mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(result.grid(phrase="red cat", reduce="max"), last.max(axis=0).mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(result.grid(token=rows, head=2), last[2].mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(
        result.grid(token=rows[0], layer=0, head=-1),
        result.attention[0, -1, rows[0]].reshape(geometry.rows, geometry.cols),
    )


def test_grid_over_several_layers(result):
    everything = result.grid(layer="all")
    prompt_rows = [index for index, token in enumerate(result.tokens) if not token.special]
    manual = result.attention[:, :, prompt_rows].mean(axis=(0, 1)).mean(axis=0)
    np.testing.assert_allclose(everything.ravel(), manual, rtol=1e-6)
    np.testing.assert_allclose(
        result.grid(layer=[0, -1]), (result.grid(layer=0) + result.grid(layer=-1)) / 2, rtol=1e-6
    )


def test_maps_shape_and_rows_sum_to_image_mass(result):
    maps = result.maps(layer=1, head=0)
    assert maps.shape == (result.num_queries, result.attention.shape[-1])
    np.testing.assert_allclose(maps.sum(axis=1), result.image_mass[1, 0], rtol=1e-5)
    assert np.all(result.image_mass <= 1 + 1e-6) and np.all(result.image_mass > 0)


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"layer": 3}, IndexError, r"layer 3 is out of range: there are 3 layers, use 0..2 or -3..-1"),
        ({"layer": -4}, IndexError, r"layer -4 is out of range"),
        ({"head": 4}, IndexError, r"head 4 is out of range: there are 4 heads, use 0..3 or -4..-1"),
        ({"token": 999}, IndexError, r"token 999 is out of range"),
        ({"image": 1}, IndexError, r"image 1 is out of range: there is 1 image, use 0..0 or -1..-1"),
        (
            {"layer": "last"},
            ValueError,
            r"layer must be an index, a list of indices, 'mean', 'max' or 'all', not 'last'",
        ),
        ({"reduce": "median"}, ValueError, r"reduce must be 'mean' or 'max'"),
        ({"token": 0, "phrase": "cat"}, ValueError, r"either token= or phrase="),
        ({"head": []}, ValueError, r"the head selection is empty"),
        ({"head": 1.5}, TypeError, r"head must be an integer index"),
    ],
)
def test_bad_selections_say_what_to_do(result, arguments, error, message):
    with pytest.raises(error, match=message):
        result.grid(**arguments)


def test_negative_indices_count_from_the_end(result):
    np.testing.assert_array_equal(result.grid(layer=-1, head=-1), result.grid(layer=2, head=3))


def assert_same_result(loaded: AttentionResult, original: AttentionResult) -> None:
    for name in ("attention", "image_mass", "query_positions", "image_positions"):
        saved, restored = getattr(original, name), getattr(loaded, name)
        assert restored.dtype == saved.dtype
        assert restored.tobytes() == saved.tobytes()
    assert loaded.tokens == original.tokens
    assert loaded.images == original.images
    assert (loaded.prompt, loaded.model, loaded.family) == (original.prompt, original.model, original.family)
    for restored, saved in zip(loaded.pictures, original.pictures, strict=True):
        assert restored.mode == saved.mode == "RGB"
        assert restored.tobytes() == saved.tobytes()


def test_save_load_round_trip_is_bit_exact(result, tmp_path):
    path = result.save(tmp_path / "nested" / "result.npz")
    assert_same_result(AttentionResult.load(path), result)
    assert list(tmp_path.joinpath("nested").iterdir()) == [path]  # no temporary file left behind


def test_save_load_float16_and_two_images(tiny_models, tmp_path):
    images = [Image.new("RGB", (90, 50), "red"), Image.new("RGB", (40, 70), "blue")]
    half = tiny_models["qwen3_vl"].capture(images, "Which one is red?", storage="float16")
    assert_same_result(AttentionResult.load(half.save(tmp_path / "half.npz")), half)


def test_load_rejects_other_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no saved result at"):
        AttentionResult.load(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", x=np.arange(3))
    with pytest.raises(
        ValueError, match=r"is not a readable qvl_widget result file \(it holds 'x\.npy', which result\.save does not"
    ):
        AttentionResult.load(tmp_path / "other.npz")
    with pytest.raises(ValueError, match=r"must end in \.npz"):
        qvl_widget.AttentionResult.save(None, tmp_path / "x.json")  # type: ignore[arg-type]


def test_load_of_a_damaged_file_is_one_clear_error(result, tmp_path):
    whole = result.save(tmp_path / "whole.npz").read_bytes()
    middle = len(whole) // 2
    damaged = {
        "empty.npz": b"",
        "half.npz": whole[:middle],
        "flipped.npz": whole[:middle] + bytes([whole[middle] ^ 0xFF]) + whole[middle + 1 :],
        "text.npz": b"hello, not an archive",
    }
    np.save(tmp_path / "array.npy", np.arange(3))
    metadata_list = tmp_path / "list.npz"
    with np.load(tmp_path / "whole.npz") as archive:
        arrays = {name: archive[name] for name in archive.files}
    np.savez(metadata_list, **{**arrays, "metadata": np.array("[1, 2]")})
    not_an_archive = "is not a qvl_widget result file (not an .npz archive from result.save)"
    reasons = {
        "array.npy": not_an_archive,
        "list.npz": "is not a readable qvl_widget result file (its metadata is list, not a JSON object)",
        "empty.npz": not_an_archive,
        "half.npz": not_an_archive,  # its zip directory, at the end, is cut off
        "flipped.npz": "is not a readable qvl_widget result file (Bad CRC-32 for file 'metadata.npy')",
        "text.npz": not_an_archive,
    }
    paths = [tmp_path / "array.npy", metadata_list]
    for name, data in damaged.items():
        (tmp_path / name).write_bytes(data)
        paths.append(tmp_path / name)
    assert sorted(path.name for path in paths) == sorted(reasons)
    for path in paths:
        with pytest.raises(ValueError, match=f"^{re.escape(f'{str(path)!r} {reasons[path.name]}')}$") as info:
            AttentionResult.load(path)
        error = info.value
        assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)  # one line


def test_maps_combine_the_selected_heads_then_layers():
    result = synthetic_result(layers=3, heads=4)
    attention = result.attention
    chosen = attention[np.ix_([0, 2], [1, 3])]
    np.testing.assert_allclose(result.maps(layer=[0, 2], head=[1, 3], reduce="max"), chosen.max(axis=(0, 1)))
    np.testing.assert_allclose(result.maps(layer=[0, 2], head=[1, 3]), chosen.mean(axis=(0, 1)), rtol=1e-6)
    np.testing.assert_allclose(result.maps(layer="all", reduce="max"), attention.max(axis=(0, 1)))
    np.testing.assert_allclose(result.maps(layer=1, head=None), attention[1].mean(axis=0), rtol=1e-6)
    np.testing.assert_array_equal(result.maps(layer=-1, head=2), attention[2, 2])
    # The mean and the max of the same selection look at different cells here.
    assert (result.maps(layer=1, reduce="max").argmax(axis=1) != result.maps(layer=1).argmax(axis=1)).all()
    np.testing.assert_allclose(
        result.grid(token=[3, 4], layer=[0, 1], head=[0, 2], reduce="max").ravel(),
        attention[np.ix_([0, 1], [0, 2], [3, 4])].max(axis=(0, 1)).mean(axis=0),
    )
    # Heads and layers combined differently: heads first, then layers, and the other order gives other numbers.
    heads_max_then_mean = attention[[0, 2]].max(axis=1).mean(axis=0)
    assert not np.allclose(heads_max_then_mean, attention[[0, 2]].mean(axis=0).max(axis=0))
    np.testing.assert_allclose(result.maps(layer=[0, 2], head="max"), heads_max_then_mean, rtol=1e-6)
    heads_mean_then_max = attention.mean(axis=1).max(axis=0)
    assert not np.allclose(heads_mean_then_max, attention.max(axis=0).mean(axis=0))
    np.testing.assert_allclose(result.maps(layer="max", head="mean"), heads_mean_then_max, rtol=1e-6)


def test_load_refuses_files_of_another_format_version(tmp_path):
    path = synthetic_result().save(tmp_path / "result.npz")
    with np.load(path) as archive:
        arrays = {name: archive[name] for name in archive.files}
    metadata = json.loads(str(arrays.pop("metadata")))
    # Version 1 (before answers): no answer, no layer ids, tokens without part and probability.
    version_1 = {key: value for key, value in metadata.items() if key not in ("answer", "layer_ids", "baseline_prompt")}
    version_1["tokens"] = [
        {key: token[key] for key in ("text", "start", "end", "special")} for token in metadata["tokens"]
    ]
    # Version 2 (before baselines and sink scores): no baseline_prompt.
    version_2 = {key: value for key, value in metadata.items() if key != "baseline_prompt"}
    # Version 3 (before videos): images without temporal groups.
    old_images = [
        {key: image[key] for key in image if key not in ("groups", "group_frames", "group_times")}
        for image in metadata["images"]
    ]
    version_3 = {**metadata, "images": old_images}
    for version, written in ((1, version_1), (2, version_2), (3, version_3), (4, metadata), (5, metadata)):
        version_1_to_3 = {**written, "images": old_images} if version < 4 else written
        rewritten = np.array(json.dumps({**version_1_to_3, "format_version": version}))
        np.savez(tmp_path / f"v{version}.npz", **arrays, metadata=rewritten)
    for version in (1, 2, 3, 4):
        loaded = AttentionResult.load(tmp_path / f"v{version}.npz")
        assert loaded.prompt == synthetic_result().prompt and loaded.answer is None
        assert loaded.layer_ids == tuple(range(loaded.num_layers)) and loaded.tokens[0].part == "prompt"
        assert loaded.baseline_attention is None and loaded.sink_scores is None
        assert loaded.images == synthetic_result().images
    with pytest.raises(ValueError, match=r"is not a readable qvl_widget result file \(unsupported format version 5"):
        AttentionResult.load(tmp_path / "v5.npz")
    # A version 3 file has no temporal groups: images with them are not its images.
    np.savez(tmp_path / "v3_groups.npz", **arrays, metadata=np.array(json.dumps({**metadata, "format_version": 3})))
    with pytest.raises(
        ValueError, match=r"image 0 is .*, not an image grid \(rows, cols, resized_size, original_size, first_column\)"
    ):
        AttentionResult.load(tmp_path / "v3_groups.npz")
