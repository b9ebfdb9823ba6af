"""Issue EDGES, part 4: inputs that used to end in a library's raw error now get one line of qvl_widget's own,
before the model loads or anything is written (or, where the input is good, a correct result)."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from PIL import Image
from test_cli import run_cli
from transformers import AutoProcessor, GenerationConfig

import qvl_widget
from qvl_widget import demo
from qvl_widget._files import check_destinations
from qvl_widget._loading import attach
from qvl_widget.figures import overlay_on_image

IMAGE = np.full((56, 56, 3), 128, np.uint8)


def one_line(error: BaseException) -> str:
    message = str(error)
    assert message and "\n" not in message, message
    return message


# ----- video: max_frames below one temporal group ---------------------------------------------------------------


@pytest.mark.parametrize("family", ["qwen2_vl", "qwen3_vl"])
def test_max_frames_1_takes_one_frame_on_every_family(tiny_models, family):
    frames = [np.full((56, 56, 3), 30 * index, np.uint8) for index in range(8)]
    video = qvl_widget.Video(frames, max_frames=1, source_fps=4)
    with pytest.warns(UserWarning, match="max_frames=1"):
        result = tiny_models[family].capture(video, "Hi")  # Qwen2-VL's rule divided by zero here
    assert result.attention.shape[-1] > 0
    assert np.asarray(result.pictures[0]).mean() == 0  # the first frame, as Qwen3-VL's rule picks it


# ----- generate_kwargs: decided from the generation config generate would run with -------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"use_cache": False}, "may not set 'use_cache' to False"),
        ({"prefill_chunk_size": 4}, "may not set 'prefill_chunk_size' to 4"),
        ({"guidance_scale": 2.0}, "may not set 'guidance_scale' to 2.0"),
        ({"assistant_early_exit": 1}, "may not set 'assistant_early_exit' to 1"),
        ({"generation_config": GenerationConfig(cache_implementation="static")}, "'cache_implementation' to 'static'"),
        ({"generation_config": GenerationConfig(prompt_lookup_num_tokens=3)}, "'prompt_lookup_num_tokens' to 3"),
        ({"generation_config": GenerationConfig(num_beams=2)}, "may not set 'num_beams' to 2"),
        ({"generation_config": GenerationConfig(output_attentions=True)}, "'output_attentions' to True"),
        ({"custom_generate": "someone/generate"}, "may not set 'custom_generate'"),
        ({"generation_config": {"num_beams": 2}}, "generation_config must be a transformers GenerationConfig"),
    ],
)
def test_generate_settings_capture_cannot_follow_are_refused_before_it_runs(qwen2, monkeypatch, options, message):
    monkeypatch.setattr(qwen2.model, "generate", lambda *a, **k: pytest.fail("generate ran"))
    monkeypatch.setattr(qwen2.model, "forward", lambda *a, **k: pytest.fail("the model ran"))
    with pytest.raises((ValueError, TypeError), match=message) as info:
        qwen2.capture(IMAGE, "Hi", answer=True, max_new_tokens=2, generate_kwargs=options)
    one_line(info.value)


def test_harmless_settings_in_a_generation_config_still_answer(qwen2):
    options = {"generation_config": GenerationConfig(use_cache=True, num_beams=1, guidance_scale=1.0)}
    result = qwen2.capture(IMAGE, "Hi", answer=True, max_new_tokens=2, generate_kwargs=options)
    assert 1 <= sum(token.part == "answer" for token in result.tokens) <= 2


def test_a_models_own_config_asking_for_contrastive_search_is_refused(qwen2, monkeypatch):
    monkeypatch.setattr(qwen2.model.generation_config, "penalty_alpha", 0.6)
    monkeypatch.setattr(qwen2.model.generation_config, "top_k", 4)
    with pytest.raises(ValueError, match="this model's generation config asks for contrastive search") as info:
        qwen2.capture(IMAGE, "Hi", answer=True, max_new_tokens=2)
    one_line(info.value)


# ----- loading ---------------------------------------------------------------------------------------------------


def test_a_truncated_weights_file_is_one_line(tiny_model_dirs, tmp_path):
    folder = tmp_path / "cut"
    shutil.copytree(tiny_model_dirs["qwen2_vl"], folder)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:5000])
    with pytest.raises(OSError, match="a weights file is damaged or incomplete .*download it again") as info:
        qvl_widget.load(folder, device="cpu")
    one_line(info.value)


def test_the_meta_device_is_refused_before_loading(tiny_model_dirs, monkeypatch):
    import transformers

    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", lambda *a, **k: pytest.fail("loading began"))
    with pytest.raises(ValueError, match="device 'meta' holds no weights .*use 'cpu'") as info:
        qvl_widget.load(tiny_model_dirs["qwen2_vl"], device="meta")
    one_line(info.value)


def test_another_familys_processor_is_refused_by_attach_and_load(qwen2, tiny_model_dirs, monkeypatch):
    other = AutoProcessor.from_pretrained(tiny_model_dirs["qwen3_vl"])
    with pytest.raises(ValueError, match="processor's patch_size is 16 but the model's vision tower takes 14") as info:
        attach(qwen2.model, other)
    one_line(info.value)
    import transformers

    monkeypatch.setattr(
        transformers.AutoModelForImageTextToText, "from_pretrained", lambda *a, **k: pytest.fail("the weights loaded")
    )
    with pytest.raises(ValueError, match="another model's processor"):
        qvl_widget.load(tiny_model_dirs["qwen2_vl"], device="cpu", processor=other)


# ----- the baseline's errors name the baseline ----------------------------------------------------------------------


def test_a_baseline_with_a_special_token_is_named_as_the_baseline(qwen2):
    with pytest.raises(ValueError, match=r"^the baseline prompt contains the special token '<\|image_pad\|>'") as info:
        qwen2.capture(IMAGE, "Hi", baseline="Describe <|image_pad|>")
    one_line(info.value)


# ----- files -------------------------------------------------------------------------------------------------------


def test_save_writes_a_file_whose_name_is_as_long_as_the_system_allows(qwen2, tmp_path):
    result = qwen2.capture(IMAGE, "Hi")
    name = "r" * (os.pathconf(tmp_path, "PC_NAME_MAX") - 4) + ".npz"  # its temporary name used to be longer
    path = result.save(tmp_path / name)
    assert path.name == name and sorted(tmp_path.iterdir()) == [path]
    result.save(tmp_path / name)  # replacing it keeps the old one aside under a short name too
    assert sorted(tmp_path.iterdir()) == [path]


def test_a_read_only_file_system_is_found_before_writing(tmp_path, monkeypatch):
    real = os.statvfs

    class ReadOnly:
        def __init__(self, stat: os.statvfs_result) -> None:
            self.stat = stat

        def __getattr__(self, name: str):
            return self.stat.f_flag | os.ST_RDONLY if name == "f_flag" else getattr(self.stat, name)

    monkeypatch.setattr(os, "statvfs", lambda path: ReadOnly(real(path)))
    with pytest.raises(PermissionError, match="is on a read-only file system; choose another folder") as info:
        check_destinations([tmp_path / "out" / "attention.html"])
    one_line(info.value)


def test_the_cli_refuses_a_read_only_out_before_loading(tiny_model_dirs, tmp_path, monkeypatch, capsys):
    real = os.statvfs
    monkeypatch.setattr(os, "statvfs", lambda path: os.statvfs_result((*real(path)[:8], os.ST_RDONLY, 255)))
    monkeypatch.setattr(qvl_widget, "load", lambda *args, **kwargs: pytest.fail("the model loaded"))
    image = tmp_path / "a.png"
    Image.new("RGB", (56, 56)).save(image)
    arguments = ["explore", "--model", str(tiny_model_dirs["qwen2_vl"]), "--image", str(image), "--prompt", "Hi",
                 "--out", str(tmp_path / "out")]  # fmt: skip
    code, stdout, stderr = run_cli(arguments, capsys)
    assert code == 2 and "read-only file system" in stderr and stdout == ""
    assert not (tmp_path / "out").exists()


# ----- arrays ------------------------------------------------------------------------------------------------------


def test_an_overlay_grid_past_float32_says_so():
    with pytest.raises(ValueError, match=r"grid's values reach 1e\+39, past float32's range") as info:
        overlay_on_image(Image.new("RGB", (28, 28)), np.array([[1e39, 1.0], [0.0, 0.0]]))
    one_line(info.value)


@pytest.mark.parametrize("dtype", [">u2", ">f4", ">u1"])
def test_a_big_endian_image_reads_as_its_values(dtype):
    values = np.zeros((4, 4, 3), np.float64)
    values[0, 0] = 1
    scale = {">u2": 65535, ">f4": 1, ">u1": 255}[dtype]
    native = (values * scale).astype(np.dtype(dtype).newbyteorder("="))
    picture = qvl_widget._images.load_rgb(native.astype(dtype))
    assert np.array_equal(np.asarray(picture), np.asarray(qvl_widget._images.load_rgb(native)))


# ----- the demo helpers -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        (("x",), TypeError, "seed must be a whole number"),
        ((2**70,), ValueError, "seed must be a whole number .* not 1180591620717411303424"),
        ((1.5,), ValueError, "seed must be a whole number"),
        ((None,), TypeError, "seed must be a whole number"),
        ((1, ("nope",)), ValueError, "unknown question kind 'nope' in kinds: choose from color"),
        ((1, "color"), TypeError, r"kinds must be a non-empty tuple of question kinds, e.g. \('color',\)"),
        ((1, ()), TypeError, "kinds must be a non-empty tuple"),
        ((1, ("color",), 0, 2), ValueError, "1 <= min_objects <= max_objects <= 4"),
    ],
)
@pytest.mark.parametrize("helper", ["make_example", "example_outline", "make_clip"])
def test_the_demo_helpers_refuse_bad_seeds_and_kinds_in_one_line(helper, arguments, error, message):
    call = getattr(demo, helper)
    if helper == "make_clip" and len(arguments) > 1:
        seed, kinds, *counts = arguments
        arguments = (seed, 2, kinds, *counts)  # groups comes second
    with pytest.raises(error, match=message) as info:
        call(*arguments)
    one_line(info.value)


def test_make_clip_refuses_groups_that_are_not_a_count():
    with pytest.raises(TypeError, match="groups must be a whole number 1 to 6 .* not '2'"):
        demo.make_clip(1, groups="2")


# ----- the command line speaks in its options ---------------------------------------------------------------------


def test_the_clis_thinking_error_advises_no_thinking(qwen35_dir, tmp_path, capsys):
    image = tmp_path / "scene.png"
    Image.new("RGB", (120, 90), "red").save(image)
    arguments = ["explore", "--model", str(qwen35_dir), "--image", str(image), "--prompt", "Where?",
                 "--device", "cpu", "--out", str(tmp_path / "out"), "--answer-text", "A red cat"]  # fmt: skip
    code, _, stderr = run_cli(arguments, capsys)
    assert code == 2 and "or pass --no-thinking for an answer without thinking" in stderr, stderr
    assert "thinking=False" not in stderr
    assert not (tmp_path / "out").exists()


def test_in_cli_terms_leaves_other_words_alone():
    from qvl_widget.cli import in_cli_terms

    assert in_cli_terms("pass thinking=False, or thinking=True") == "pass --no-thinking, or --thinking"
    assert in_cli_terms("enable_thinking=False") == "enable_thinking=False"
