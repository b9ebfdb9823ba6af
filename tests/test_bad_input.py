"""Bad input gets a clear one-line error that says what was wrong and what to do; odd images just work."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import LlavaConfig, Qwen2Config

import qvl_widget
from qvl_widget._images import load_rgb

PROMPT = "What color is the cat?"


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message, message
    return message


# ----- images ----------------------------------------------------------------------------------------------


def test_missing_image_file(qwen2, tmp_path):
    with pytest.raises(FileNotFoundError, match="image file not found: .*nope.png'; check the path") as error:
        qwen2.capture(tmp_path / "nope.png", PROMPT)
    one_line(error)


def test_corrupt_image_file(qwen2, tmp_path):
    (tmp_path / "garbage.png").write_bytes(b"this is not an image")
    with pytest.raises(ValueError, match="cannot read image .*garbage.png") as error:
        qwen2.capture(tmp_path / "garbage.png", PROMPT)
    one_line(error)


def test_truncated_image_file(qwen2, tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buffer, "PNG")
    (tmp_path / "cut.png").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(ValueError, match="cannot read image .*cut.png") as error:
        qwen2.capture(str(tmp_path / "cut.png"), PROMPT)
    one_line(error)


@pytest.mark.parametrize("images", [None, []])
def test_no_image(qwen2, images):
    with pytest.raises(ValueError, match="no image given: pass an image path, a PIL image or a list") as error:
        qwen2.capture(images, PROMPT)
    one_line(error)


def test_wrong_image_type(qwen2):
    with pytest.raises(TypeError, match="an image must be a file path, a PIL image or a numpy array, not int"):
        qwen2.capture([42], PROMPT)


def test_rgba_is_composited_on_white(qwen2, tmp_path):
    rgba = Image.new("RGBA", (80, 60), (255, 0, 0, 0))
    rgba.paste((0, 0, 255, 255), (0, 0, 40, 60))
    rgba.save(tmp_path / "alpha.png")
    result = qwen2.capture(tmp_path / "alpha.png", PROMPT)
    picture = result.pictures[0]
    assert picture.mode == "RGB" and picture.size == (80, 60)
    assert picture.getpixel((10, 10)) == (0, 0, 255)
    assert picture.getpixel((70, 10)) == (255, 255, 255)  # transparent: white, not the hidden red


@pytest.mark.parametrize("mode", ["L", "LA", "P", "1", "CMYK", "I;16", "I", "F"])
def test_other_modes_are_converted(qwen2, mode):
    gradient = np.tile(np.linspace(0, 1, 64), (48, 1))
    if mode in ("I;16", "I"):
        image = Image.fromarray((gradient * 65535).astype(np.uint16))
        image = image if mode == "I;16" else image.convert("I")
    elif mode == "F":
        image = Image.fromarray(gradient.astype(np.float32), mode="F")
    else:
        image = Image.fromarray((gradient * 255).astype(np.uint8), mode="L").convert(mode)
    assert image.mode == mode
    result = qwen2.capture(image, PROMPT)
    picture = np.asarray(result.pictures[0])
    assert picture.shape == (48, 64, 3)
    # The full range survives: 16-bit and float images are rescaled, not clipped to white.
    if mode not in ("1", "CMYK"):
        assert picture[0, 0, 0] < 10 and picture[0, -1, 0] > 245


def test_sixteen_bit_png_file(tmp_path):
    values = np.array([[0, 32768, 65535]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    assert np.asarray(load_rgb(tmp_path / "deep.png"))[0, :, 0].tolist() == [0, 128, 255]


def test_numpy_arrays_are_images(qwen2):
    result = qwen2.capture(np.zeros((40, 70, 3), dtype=np.uint8), PROMPT)
    assert result.images[0].original_size == (70, 40)
    with pytest.raises(ValueError, match=r"an image array must be \[height, width\]"):
        qwen2.capture(np.zeros((4, 40, 70, 3), dtype=np.uint8), PROMPT)
    with pytest.raises(ValueError, match="values in 0..1"):
        qwen2.capture(np.full((40, 70), 3.0), PROMPT)


def test_eight_bit_values_in_a_32_bit_image_stay_as_they_are():
    eight_bit = Image.fromarray(np.array([[0, 100, 200]], dtype=np.uint8)).convert("I")
    assert np.asarray(load_rgb(eight_bit))[0, :, 0].tolist() == [0, 100, 200]  # not divided by 257
    sixteen_bit = Image.fromarray(np.array([[0, 300, 65535]], dtype=np.int32), mode="I")
    assert np.asarray(load_rgb(sixteen_bit))[0, :, 0].tolist() == [0, 1, 255]


def test_sixteen_bit_and_bad_arrays():
    deep = np.array([[0, 32768, 65535]], dtype=np.uint16)
    assert np.asarray(load_rgb(deep))[0, :, 0].tolist() == [0, 128, 255]
    with pytest.raises(ValueError, match="holds NaN or infinite values; replace them"):
        load_rgb(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match=r"the image array is empty \(shape \(0, 0, 3\)\)"):
        load_rgb(np.zeros((0, 0, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="must be uint8 .0..255., uint16 .0..65535. or float .0..1., not int64"):
        load_rgb(np.zeros((4, 4), dtype=np.int64))


def test_images_of_the_wrong_kind_or_shape(qwen2, tmp_path):
    with pytest.raises(TypeError, match="an image must be a file path, a PIL image or a numpy array .*not int"):
        qwen2.capture(5, PROMPT)
    with pytest.raises(TypeError, match="not bytes"):
        qwen2.capture(b"\x89PNG", PROMPT)
    with pytest.raises(IsADirectoryError, match="is a folder; pass an image file in it"):
        qwen2.capture(tmp_path, PROMPT)
    with pytest.raises(ValueError, match=r"image 1 is 1000 x 4 px, longer than 200:1.*crop it") as error:
        qwen2.capture(Image.new("RGB", (1000, 4)), PROMPT)
    one_line(error)
    with pytest.raises(ValueError, match=r"max_pixels \(10\) is below this model's smallest image \(\d+ pixels\)"):
        qwen2.capture(Image.new("RGB", (64, 64)), PROMPT, max_pixels=10)


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (80, 40), "red")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees when shown
    image.save(tmp_path / "rotated.jpg", exif=exif)
    assert load_rgb(tmp_path / "rotated.jpg").size == (40, 80)


# ----- prompts and options ----------------------------------------------------------------------------------


def test_prompt_with_a_special_token(qwen2):
    with pytest.raises(ValueError, match=r"the prompt contains the special token '<\|image_pad\|>'; remove it"):
        qwen2.capture(Image.new("RGB", (64, 64)), "look: <|image_pad|>")


def test_prompt_must_be_text(qwen2):
    with pytest.raises(TypeError, match="prompt must be a string, not list"):
        qwen2.capture(Image.new("RGB", (64, 64)), ["what"])


def test_bad_pixel_bounds_and_storage(qwen2):
    image = Image.new("RGB", (64, 64))
    with pytest.raises(ValueError, match=r"min_pixels \(10000\) is larger than max_pixels \(5000\)"):
        qwen2.capture(image, PROMPT, min_pixels=10_000, max_pixels=5_000)
    with pytest.raises(ValueError, match="storage must be one of float32, float16, not 'int8'"):
        qwen2.capture(image, PROMPT, storage="int8")


def test_raw_prompt_without_chat_template(qwen2):
    result = qwen2.capture(Image.new("RGB", (64, 64)), PROMPT, chat=False)
    assert next(token.text for token in result.tokens) == "<|vision_end|>"
    assert "".join(token.text for token in result.tokens[1:]) == PROMPT
    assert not any(token.special for token in result.tokens[1:])


# ----- models ----------------------------------------------------------------------------------------------


def test_path_that_does_not_exist(tmp_path):
    with pytest.raises(FileNotFoundError, match="model folder not found: .*check the path") as error:
        qvl_widget.load(tmp_path / "missing-model")
    one_line(error)
    with pytest.raises(FileNotFoundError, match="model folder not found"):
        qvl_widget.load("./missing-model")


def test_unknown_dtype(tiny_model_dirs):
    with pytest.raises(ValueError, match="unknown dtype 'bf16': use e.g. 'bfloat16'"):
        qvl_widget.load(tiny_model_dirs["qwen2_vl"], device="cpu", dtype="bf16")
    assert qvl_widget.load(tiny_model_dirs["qwen2_vl"], device="cpu", dtype="float16").dtype == torch.float16


def test_unknown_or_missing_device(tiny_model_dirs):
    with pytest.raises(ValueError, match="unknown device 'tpu': use 'cuda', 'mps' or 'cpu'") as error:
        qvl_widget.load(tiny_model_dirs["qwen2_vl"], device="tpu")
    one_line(error)
    if torch.cuda.is_available():
        missing, message = f"cuda:{torch.cuda.device_count()}", "does not exist: this machine has"
    else:
        missing, message = "cuda", "is not available here"
    with pytest.raises(ValueError, match=message) as error:
        qvl_widget.load(tiny_model_dirs["qwen2_vl"], device=missing)
    one_line(error)


def test_fused_kernel_off_the_gpu_says_what_to_use(tiny_model_dirs, monkeypatch):
    model = qvl_widget.load(tiny_model_dirs["qwen2_vl"], device="cpu")
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)  # the suite's CPU stand-in for a GPU
    with pytest.raises(ValueError, match="kernel='fused' runs on a CUDA GPU and the model is on cpu; use") as error:
        model.capture(Image.new("RGB", (56, 56)), "Hi", kernel="fused")
    one_line(error)


def test_folder_without_config(tmp_path):
    with pytest.raises(FileNotFoundError, match="has no config.json; pass a model folder saved by save_pretrained"):
        qvl_widget.load(tmp_path)


def test_unreachable_hub_id():
    with pytest.raises(OSError, match="could not load 'someone/not-a-model'.*Pass a local model folder") as error:
        qvl_widget.load("someone/not-a-model")
    one_line(error)


def test_a_model_without_safetensors_weights_says_how_to_opt_in(tiny_model_dirs, tmp_path):
    for source in tiny_model_dirs["qwen2_vl"].iterdir():
        if source.suffix != ".safetensors" and source.is_file():
            (tmp_path / source.name).write_bytes(source.read_bytes())
    with pytest.raises(OSError, match=r"loads safetensors weights only .*pass use_safetensors=False") as error:
        qvl_widget.load(tmp_path, device="cpu")
    one_line(error)


def test_text_only_model(tmp_path):
    Qwen2Config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=r"is a text-only model \(model_type 'qwen2'\).*Qwen2-VL") as error:
        qvl_widget.load(tmp_path)
    one_line(error)


def test_unsupported_family(tmp_path):
    LlavaConfig().save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=r"is a 'llava' model, which qvl_widget does not support; supported") as error:
        qvl_widget.load(tmp_path)
    assert "Qwen2-VL" in one_line(error) and "Qwen2.5-VL" in str(error.value) and "Qwen3-VL" in str(error.value)
