"""Bad input gets a clear one-line error that says what was wrong and what to do; odd images just work."""

from __future__ import annotations

import io
import re
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import LlavaConfig, Qwen2Config

import qvl_widget
from qvl_widget._images import load_rgb
from qvl_widget.testing import TINY_FAMILIES

PROMPT = "What color is the cat?"


@pytest.fixture(params=[family for family in ("qwen2_vl", "qwen3_5") if family in TINY_FAMILIES])
def tiny_vl(request, tiny_models) -> qvl_widget.LoadedModel:
    """Each bad input on Qwen2-VL and on Qwen3.5 (a hybrid decoder and a thinking chat template)."""
    return tiny_models[request.param]


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message, message
    return message


# ----- images ----------------------------------------------------------------------------------------------


def test_missing_image_file(tiny_vl, tmp_path):
    with pytest.raises(FileNotFoundError, match="image file not found: .*nope.png'; check the path") as error:
        tiny_vl.capture(tmp_path / "nope.png", PROMPT)
    one_line(error)


def test_corrupt_image_file(tiny_vl, tmp_path):
    (tmp_path / "garbage.png").write_bytes(b"this is not an image")
    with pytest.raises(ValueError, match="cannot read image .*garbage.png") as error:
        tiny_vl.capture(tmp_path / "garbage.png", PROMPT)
    one_line(error)


def test_truncated_image_file(tiny_vl, tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buffer, "PNG")
    (tmp_path / "cut.png").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(ValueError, match="cannot read image .*cut.png") as error:
        tiny_vl.capture(str(tmp_path / "cut.png"), PROMPT)
    one_line(error)


@pytest.mark.parametrize("images", [None, []])
def test_no_image(tiny_vl, images):
    with pytest.raises(ValueError, match="no image given: pass an image path, a PIL image or a list") as error:
        tiny_vl.capture(images, PROMPT)
    one_line(error)


def test_wrong_image_type(tiny_vl):
    with pytest.raises(TypeError, match="an image must be a file path, a PIL image or a numpy array, not int"):
        tiny_vl.capture([42], PROMPT)


def test_rgba_is_composited_on_white(tiny_vl, tmp_path):
    rgba = Image.new("RGBA", (80, 60), (255, 0, 0, 0))
    rgba.paste((0, 0, 255, 255), (0, 0, 40, 60))
    rgba.save(tmp_path / "alpha.png")
    result = tiny_vl.capture(tmp_path / "alpha.png", PROMPT)
    picture = result.pictures[0]
    assert picture.mode == "RGB" and picture.size == (80, 60)
    assert picture.getpixel((10, 10)) == (0, 0, 255)
    assert picture.getpixel((70, 10)) == (255, 255, 255)  # transparent: white, not the hidden red


@pytest.mark.parametrize("mode", ["L", "LA", "P", "1", "CMYK", "I;16", "I", "F"])
def test_other_modes_are_converted(tiny_vl, mode):
    gradient = np.tile(np.linspace(0, 1, 64), (48, 1))
    if mode in ("I;16", "I"):
        image = Image.fromarray((gradient * 65535).astype(np.uint16))
        image = image if mode == "I;16" else image.convert("I")
    elif mode == "F":
        image = Image.fromarray(gradient.astype(np.float32), mode="F")
    else:
        image = Image.fromarray((gradient * 255).astype(np.uint8), mode="L").convert(mode)
    assert image.mode == mode
    result = tiny_vl.capture(image, PROMPT)
    picture = np.asarray(result.pictures[0])
    assert picture.shape == (48, 64, 3)
    # The full range survives: 16-bit and float images are rescaled, not clipped to white.
    if mode not in ("1", "CMYK"):
        assert picture[0, 0, 0] < 10 and picture[0, -1, 0] > 245


def test_sixteen_bit_png_file(tmp_path):
    values = np.array([[0, 32768, 65535]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    assert np.asarray(load_rgb(tmp_path / "deep.png"))[0, :, 0].tolist() == [0, 128, 255]


def test_numpy_arrays_are_images(tiny_vl):
    result = tiny_vl.capture(np.zeros((40, 70, 3), dtype=np.uint8), PROMPT)
    assert result.images[0].original_size == (70, 40)
    with pytest.raises(ValueError, match=r"an image array must be \[height, width\]"):
        tiny_vl.capture(np.zeros((4, 40, 70, 3), dtype=np.uint8), PROMPT)
    with pytest.raises(ValueError, match="values in 0..1"):
        tiny_vl.capture(np.full((40, 70), 3.0), PROMPT)


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


def test_images_of_the_wrong_kind_or_shape(tiny_vl, tmp_path):
    with pytest.raises(TypeError, match="an image must be a file path, a PIL image or a numpy array .*not int"):
        tiny_vl.capture(5, PROMPT)
    with pytest.raises(TypeError, match="not bytes"):
        tiny_vl.capture(b"\x89PNG", PROMPT)
    with pytest.raises(IsADirectoryError, match="is a folder; pass an image file in it"):
        tiny_vl.capture(tmp_path, PROMPT)
    with pytest.raises(ValueError, match=r"image 1 is 1000 x 4 px, longer than 200:1.*crop it") as error:
        tiny_vl.capture(Image.new("RGB", (1000, 4)), PROMPT)
    one_line(error)
    with pytest.raises(ValueError, match=r"max_pixels \(10\) is below this model's smallest image \(\d+ pixels\)"):
        tiny_vl.capture(Image.new("RGB", (64, 64)), PROMPT, max_pixels=10)


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (80, 40), "red")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees when shown
    image.save(tmp_path / "rotated.jpg", exif=exif)
    assert load_rgb(tmp_path / "rotated.jpg").size == (40, 80)


# ----- prompts and options ----------------------------------------------------------------------------------


def test_prompt_with_a_special_token(tiny_vl):
    with pytest.raises(ValueError, match=r"the prompt contains the special token '<\|image_pad\|>'; remove it"):
        tiny_vl.capture(Image.new("RGB", (64, 64)), "look: <|image_pad|>")


def test_prompt_must_be_text(tiny_vl):
    with pytest.raises(TypeError, match="prompt must be a string, not list"):
        tiny_vl.capture(Image.new("RGB", (64, 64)), ["what"])


def test_bad_pixel_bounds_and_storage(tiny_vl):
    image = Image.new("RGB", (64, 64))
    with pytest.raises(ValueError, match=r"min_pixels \(10000\) is larger than max_pixels \(5000\)"):
        tiny_vl.capture(image, PROMPT, min_pixels=10_000, max_pixels=5_000)
    with pytest.raises(ValueError, match="storage must be one of float32, float16, not 'int8'"):
        tiny_vl.capture(image, PROMPT, storage="int8")


def test_raw_prompt_without_chat_template(tiny_vl):
    result = tiny_vl.capture(Image.new("RGB", (64, 64)), PROMPT, chat=False)
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


def unknown_model_type(model_type: str) -> ValueError:
    """transformers' own refusal of a config whose model type it does not know (5.0 to 5.24 word it so)."""
    return ValueError(
        f"The checkpoint you are trying to load has model type `{model_type}` but Transformers does not recognize "
        "this architecture. This could be because of an issue with the checkpoint, or because your version of "
        "Transformers is out of date."
    )


def test_a_family_newer_than_the_installed_transformers_names_the_release_it_needs(tmp_path, monkeypatch):
    import importlib.util

    import transformers

    (tmp_path / "config.json").write_text('{"model_type": "qwen3_5"}')
    if importlib.util.find_spec("transformers.models.qwen3_5") is not None:  # else: transformers' real refusal
        monkeypatch.setattr(
            transformers.AutoConfig,
            "from_pretrained",
            lambda *args, **kwargs: (_ for _ in ()).throw(unknown_model_type("qwen3_5")),
        )
    with pytest.raises(
        ValueError, match=r"is a Qwen3.5 model \(qwen3_5\), which needs transformers >= 5\.2\.0 "
    ) as error:
        qvl_widget.load(tmp_path)
    assert one_line(error).endswith(f"(installed: {transformers.__version__}): pip install -U 'transformers>=5.2.0'")
    monkeypatch.undo()
    (tmp_path / "config.json").write_text('{"model_type": "qwen9_vl"}')  # unknown to both
    with pytest.raises(
        ValueError, match=r"is a 'qwen9_vl' model, which neither transformers .* nor qvl_widget supports"
    ):
        qvl_widget.load(tmp_path)


# ----- HARDEN: every argument checked at the boundary, one line, the model unchanged ------------------------------

NAN, INF = float("nan"), float("inf")
IMAGE = Image.new("RGB", (56, 56), "red")


def text_attention(model: qvl_widget.LoadedModel) -> str:
    return model.model.config.get_text_config()._attn_implementation


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares `width` x `height` pixels and holds none: what a decompression bomb looks like to
    Pillow's size check, which runs before any pixel is decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def assert_refused_and_unchanged(model, call, error, fragment) -> str:
    before = text_attention(model)
    with pytest.raises(error) as raised:
        call()
    message = one_line(raised)
    assert fragment in message, message
    assert text_attention(model) == before and not model.model.training
    return message


def test_a_decompression_bomb_is_refused_before_it_is_decoded(tiny_vl, tmp_path):
    (tmp_path / "bomb.png").write_bytes(png_header_only(20_000, 20_000))  # 400 megapixels: Pillow's error
    message = assert_refused_and_unchanged(
        tiny_vl, lambda: tiny_vl.capture(tmp_path / "bomb.png", PROMPT), ValueError, "is 400 megapixels, over Pillow's"
    )
    assert "PIL.Image.MAX_IMAGE_PIXELS = None" in message
    with pytest.raises(ValueError, match="over Pillow's limit") as raised:
        load_rgb(tmp_path / "bomb.png")
    assert isinstance(raised.value.__cause__, Image.DecompressionBombError)  # the cause is chained


def test_an_image_over_pillows_warning_limit_is_refused_too(tiny_vl, tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow warns over 1000 pixels, refuses over 2000
    Image.new("RGB", (40, 40), "blue").save(tmp_path / "large.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DecompressionBombWarning on stderr: one line, an error
        with pytest.raises(ValueError, match="over Pillow's limit") as raised:
            tiny_vl.prepare(tmp_path / "large.png", PROMPT)
    message = one_line(raised)
    assert "'" + str(tmp_path / "large.png") + "' is 40 x 40 px" in message
    assert "over Pillow's limit for files" in message and "set PIL.Image.MAX_IMAGE_PIXELS = None" in message
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # the user trusts the file: as Pillow, no check
    assert tiny_vl.prepare(tmp_path / "large.png", PROMPT).pictures[0].size == (40, 40)


def test_images_that_cannot_be_read(tiny_vl, tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buffer, "PNG")
    (tmp_path / "cut.png").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    lazily_opened = Image.open(tmp_path / "cut.png")  # its pixels are read when qvl_widget needs them
    float_with_nan = Image.fromarray(np.array([[0.5, np.nan]], dtype=np.float32), mode="F")
    cases = [
        (Image.new("RGB", (0, 0)), ValueError, "the image is empty (0 x 0 px); pass an image with at least one"),
        (Image.new("L", (0, 7)), ValueError, "the image is empty (0 x 7 px)"),
        (lazily_opened, ValueError, "cannot read the PIL image's pixels (image file is truncated"),
        (float_with_nan, ValueError, "the float image holds NaN or infinite values; replace them"),
        ("", ValueError, "the image path is empty; pass an image file, e.g. 'cat.jpg'"),
        ("cat\0.png", ValueError, "the image path 'cat\\x00.png' contains a NUL character"),
        ("x" * 5000 + ".png", FileNotFoundError, "image file not found: 'xxxx"),
        (str(tmp_path / "cut.png"), ValueError, "cannot read image"),
        ([IMAGE, None], TypeError, "an image must be a file path, a PIL image or a numpy array, not None"),
        ({"image": "cat.png"}, TypeError, "(or a list of them), not dict {'image': 'cat.png'}"),
    ]
    if Path("/dev/zero").exists():
        cases.append(("/dev/zero", ValueError, "'/dev/zero' is not a regular file (a device or a pipe?)"))
    for image, error, fragment in cases:
        refuse = lambda image=image: tiny_vl.capture(image, PROMPT)  # noqa: E731
        message = assert_refused_and_unchanged(tiny_vl, refuse, error, fragment)
        assert len(message) < 400
    with pytest.raises(ValueError, match="cannot read image") as raised:
        load_rgb(tmp_path / "cut.png")
    assert raised.value.__cause__ is not None  # Pillow's own error, chained


def test_more_image_tokens_than_the_model_takes_says_what_max_pixels_to_pass(tiny_vl, monkeypatch):
    monkeypatch.setattr(tiny_vl.model.config.get_text_config(), "max_position_embeddings", 200)
    picture = Image.new("RGB", (640, 480), "green")  # 300 image tokens at this model's default size
    message = assert_refused_and_unchanged(
        tiny_vl, lambda: tiny_vl.capture(picture, PROMPT), ValueError, "image tokens (image 1: 640 x 480 px seen at"
    )
    assert "more than the 200 tokens this model takes (max_position_embeddings): pass max_pixels=" in message
    suggested = int(re.search(r"max_pixels=(\d+) or less", message).group(1))
    result = tiny_vl.capture(picture, PROMPT, max_pixels=suggested)  # the advice works
    assert len(result.query_positions) + len(result.image_positions) <= 200 < 300


def test_a_min_pixels_that_would_upscale_a_tiny_image_past_the_model_is_refused_at_once(tiny_vl):
    message = assert_refused_and_unchanged(
        tiny_vl,
        lambda: tiny_vl.capture(Image.new("RGB", (1, 1)), PROMPT, min_pixels=10**12, max_pixels=10**13),
        ValueError,
        "(image 1: 1 x 1 px seen at",  # predicted, not allocated (that would be terabytes)
    )
    assert "and min_pixels=" in message
    assert_refused_and_unchanged(
        tiny_vl,
        lambda: tiny_vl.prepare(IMAGE, PROMPT, min_pixels=10**400, max_pixels=10**401),
        ValueError,
        "is more pixels than any image can be resized to",
    )


def test_a_huge_max_pixels_is_bounded_by_the_image_itself(tiny_vl):
    prepared = tiny_vl.prepare(Image.new("RGB", (448, 224)), PROMPT, max_pixels=10**12)
    assert prepared.images[0].resized_size == (448, 224)  # not upscaled (a multiple of both 28 and 32 px)


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        ({"prompt": "red \ud800 cat"}, "the prompt has a lone surrogate '\\ud800' at index 4"),
        ({"prompt": PROMPT, "system": "\udfffhi"}, "the system prompt has a lone surrogate '\\udfff' at index 0"),
        ({"prompt": PROMPT, "answer": "a \udc80cat"}, "the answer text has a lone surrogate '\\udc80' at index 2"),
        (
            {"messages": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "x\ud800"}]}]},
            "message 1 (user) has a lone surrogate '\\ud800' at index 1",
        ),
    ],
    ids=["prompt", "system", "answer", "messages"],
)
def test_text_no_tokenizer_can_encode_is_refused_with_its_position(tiny_vl, arguments, fragment):
    message = assert_refused_and_unchanged(tiny_vl, lambda: tiny_vl.capture(IMAGE, **arguments), ValueError, fragment)
    assert "remove it, or decode the text as UTF-8" in message
    if "answer" not in arguments:
        verify = lambda: tiny_vl.verify(IMAGE, **arguments, verbose=False)  # noqa: E731
        assert_refused_and_unchanged(tiny_vl, verify, ValueError, fragment)


def test_a_nul_character_is_text_like_any_other(tiny_vl):
    result = tiny_vl.capture(IMAGE, "red \0 cat")
    assert "\0" in "".join(token.text for token in result.tokens) and result.token_indices("cat")


# Each engine argument: (arguments of capture, error, a fragment naming it and saying what to pass).
ENGINE_REFUSED = [
    *[
        ({name: value}, error, f"{name} must be a whole number >= 1 (the resized image's")
        for name in ("min_pixels", "max_pixels")
        for value, error in [
            (NAN, ValueError),
            (INF, ValueError),
            (0, ValueError),
            (-1, ValueError),
            (1.5, ValueError),
            ("100", TypeError),
            (True, TypeError),
            ([100], TypeError),
        ]
    ],
    *[
        ({"chunk_bytes": value}, error, "chunk_bytes must be a whole number >= 1 (working memory per chunk of rows")
        for value, error in [
            (NAN, ValueError),
            (INF, ValueError),
            (0, ValueError),
            (-1, ValueError),
            (0.5, ValueError),
            ("64 MiB", TypeError),
            (None, TypeError),
        ]
    ],
    *[
        ({"answer": True, "max_new_tokens": value}, error, "max_new_tokens must be a whole number >= 1")
        for value, error in [(NAN, ValueError), (INF, ValueError), (0, ValueError), ("8", TypeError)]
    ],
    ({"min_pixels": 10**40}, ValueError, "min_pixels (10000000000000000000000000000000000000000) is larger than"),
    ({"chat": "no"}, TypeError, "chat must be True or False, not 'no'"),
    ({"chat": 1}, TypeError, "chat must be True or False, not 1"),
    ({"storage": ["float32"]}, ValueError, "storage must be one of float32, float16, not ['float32']"),
    ({"storage": None}, ValueError, "storage must be one of float32, float16, not None"),
    ({"kernel": ["auto"]}, ValueError, "kernel must be one of auto, fused, torch, not ['auto']"),
    ({"kernel": "cuda"}, ValueError, "kernel must be one of auto, fused, torch, not 'cuda'"),
    ({"layers": "last"}, TypeError, "layers must be a list of layer indices, e.g. layers=[-1], not 'last'"),
    ({"layers": 1.5}, TypeError, "layers must be a list of layer indices, e.g. layers=[-1], not 1.5"),
    ({"layers": {0, 1}}, TypeError, "layers must be a list of layer indices"),
    ({"layers": [[0]]}, TypeError, "layer must be an integer index, not [0]"),
    ({"layers": np.array([0.5])}, TypeError, "layer must be an integer index or a flat list of them"),
    ({"layers": []}, ValueError, "the layer selection is empty: pass at least one layer index"),
    ({"layers": [np.int64(9)]}, IndexError, "layer 9 is out of range: there are "),
    ({"answer": 1}, TypeError, "answer must be True (the model answers), a text (a given answer to teacher-force)"),
    (
        {"answer": True, "generate_kwargs": {"temprature": 0.5}},
        ValueError,
        "model.generate refused generate_kwargs={'temprature': 0.5}: ",
    ),
    (
        {"answer": True, "generate_kwargs": {"do_sample": True, "temperature": NAN}},
        ValueError,
        "model.generate refused generate_kwargs={'do_sample': True, 'temperature': nan}: ",
    ),
    ({"answer": True, "generate_kwargs": {"streamer": print}}, TypeError, "streamer must be a transformers streamer"),
    ({"system": 5}, TypeError, "system must be a string (the system prompt), not int 5"),
    ({"prompt": None, "messages": "hi"}, TypeError, "messages must be a list of"),
]


@pytest.mark.parametrize(
    ("arguments", "error", "fragment"), ENGINE_REFUSED, ids=[f"{case[0]}"[:60] for case in ENGINE_REFUSED]
)
def test_engine_arguments_are_checked_before_anything_runs(tiny_vl, arguments, error, fragment):
    arguments = {"prompt": PROMPT, **arguments}
    assert_refused_and_unchanged(tiny_vl, lambda: tiny_vl.capture(IMAGE, **arguments), error, fragment)
    prepare_only = {"prompt", "messages", "system", "chat", "min_pixels", "max_pixels"}
    if set(arguments) <= prepare_only:
        assert_refused_and_unchanged(tiny_vl, lambda: tiny_vl.prepare(IMAGE, **arguments), error, fragment)


@pytest.mark.parametrize(
    ("arguments", "error", "fragment"),
    [
        ({"verbose": "no"}, TypeError, "verbose must be True or False, not 'no'"),
        ({"chunk_bytes": NAN}, ValueError, "chunk_bytes must be a whole number >= 1"),
        ({"min_pixels": NAN}, ValueError, "min_pixels must be a whole number >= 1"),
        ({"max_pixels": 0}, ValueError, "max_pixels must be a whole number >= 1"),
        ({"kernel": "eager"}, ValueError, "kernel must be one of auto, fused, torch, not 'eager'"),
        ({"layers": [5]}, IndexError, "layer 5 is out of range"),
        ({"chat": None}, TypeError, "chat must be True or False, not None"),
    ],
)
def test_verify_arguments_are_checked_and_the_model_is_left_as_it_was(tiny_vl, arguments, error, fragment):
    assert_refused_and_unchanged(
        tiny_vl, lambda: tiny_vl.verify(IMAGE, PROMPT, **{"verbose": False, **arguments}), error, fragment
    )


def test_unambiguous_numbers_and_indices_are_accepted(tiny_vl):
    base = tiny_vl.prepare(IMAGE, PROMPT, min_pixels=3136, max_pixels=200_704)
    for min_pixels, max_pixels in [(np.int64(3136), np.int64(200_704)), (3136.0, 2.00704e5), (np.array(3136), None)]:
        prepared = tiny_vl.prepare(IMAGE, PROMPT, min_pixels=min_pixels, max_pixels=max_pixels)
        assert prepared.images == base.images
    assert tiny_vl.prepare(IMAGE, PROMPT, chat=np.bool_(True)).text == base.text
    first, last = tiny_vl.kept_layers(None)[0], tiny_vl.kept_layers(None)[-1]  # (0, 2) or Qwen3.5's (1, 3)
    assert tiny_vl.kept_layers(-1) == tiny_vl.kept_layers(np.int64(-1)) == tiny_vl.kept_layers(np.array(-1)) == (last,)
    assert tiny_vl.kept_layers(np.array([0, -1])) == tiny_vl.kept_layers([0, -1]) == (first, last)
    result = tiny_vl.capture(IMAGE, PROMPT, layers=np.int64(-1), chunk_bytes=2.0**20, answer=True, max_new_tokens=2.0)
    plain = tiny_vl.capture(IMAGE, PROMPT, layers=[-1], answer=True, max_new_tokens=2)
    assert result.layer_ids == plain.layer_ids == (last,)
    assert (result.answer, result.tokens) == (plain.answer, plain.tokens)
    np.testing.assert_array_equal(result.attention, plain.attention)


LOAD_REFUSED = [
    ((None,), {}, TypeError, "model_id_or_path must be a hub id like 'Qwen/Qwen2-VL-2B-Instruct' or a model folder"),
    ((5,), {}, TypeError, "(a str or a pathlib.Path), not int 5"),
    ((b"Qwen/Qwen2-VL-2B-Instruct",), {}, TypeError, "model_id_or_path must be a hub id"),
    (("",), {}, ValueError, "model_id_or_path is empty"),
    (("Qwen/Qwen2\0-VL",), {}, ValueError, "contains a NUL character"),
    (("Qwen/\ud800",), {}, ValueError, "model_id_or_path has a lone surrogate '\\ud800' at index 5"),
]


@pytest.mark.parametrize(("arguments", "options", "error", "fragment"), LOAD_REFUSED)
def test_load_arguments(arguments, options, error, fragment):
    with pytest.raises(error) as raised:
        qvl_widget.load(*arguments, **options)
    assert fragment in one_line(raised)


@pytest.mark.parametrize(
    ("options", "error", "fragment"),
    [
        ({"dtype": "int8"}, ValueError, "dtype 'int8' is not a floating-point type: use 'bfloat16', 'float16'"),
        ({"dtype": torch.bool}, ValueError, "dtype torch.bool is not a floating-point type"),
        ({"dtype": "__class__"}, ValueError, "unknown dtype '__class__'"),
        ({"trust_remote_code": "yes"}, TypeError, "trust_remote_code must be True or False, not 'yes'"),
        ({"colour": "red"}, TypeError, "load got the option 'colour', which this model's from_pretrained does not"),
    ],
)
def test_load_options(tiny_model_dirs, options, error, fragment):
    with pytest.raises(error) as raised:
        qvl_widget.load(tiny_model_dirs["qwen2_vl"], device="cpu", **options)
    assert fragment in one_line(raised)
    if "colour" in options:
        assert isinstance(raised.value.__cause__, TypeError)  # transformers' own error, chained


def test_attach_source_is_text(tiny_vl):
    for source, error, fragment in [
        (5, TypeError, "source must be a string (the model's name in results"),
        ("my \ud800 model", ValueError, "source has a lone surrogate '\\ud800' at index 3"),
    ]:
        assert_refused_and_unchanged(
            tiny_vl, lambda source=source: qvl_widget.attach(tiny_vl.model, tiny_vl.processor, source), error, fragment
        )
