"""Properties of the public API, over random input (Hypothesis): every call gives a valid result or one of
qvl_widget's own one-line refusals.

Each property draws arguments of every kind (images of any shape, dtype, mode and size; any Unicode text;
selections of every type; paths; figure arguments; damaged and crafted result files) and checks one of two
outcomes:

- a result that keeps an invariant (a grid of the image's shape, finite and >= 0; a state whose options are in
  their canonical form; a file that is where it was asked to be and reads back equal; ...), or
- a refusal: an error of an allowed type (`OURS` unless the property narrows it), whose message is one line, and
  that qvl_widget raised itself: the innermost frame of its traceback is a `raise` statement in `qvl_widget/` (a
  library's error may only come as the `__cause__` of ours).

Capture properties run the tiny offline models (`tiny_models`, built once per session) on images of at most
64 x 64 pixels, with few examples. Under CI (env CI set) the examples are derandomized (tests/conftest.py).
"""

from __future__ import annotations

import contextlib
import io
import json
import linecache
import math
import os
import re
import tempfile
import unicodedata
import warnings
import xml.dom.minidom
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from browser_support import synthetic_answer_result, synthetic_result
from conftest import NO_QWEN3_5
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from matplotlib.figure import Figure
from PIL import Image
from test_result_files import assert_same, members_of, metadata_of, npy

import qvl_widget
from qvl_widget import AttentionResult, AttentionWidget
from qvl_widget._arguments import whole_number
from qvl_widget._choices import COLORMAPS, choice_key
from qvl_widget._colormaps import colour_indices
from qvl_widget._figures import DPI_RANGE, PAGE_HEIGHT_RATIO, WIDTH_RANGE, figure_bytes, heads_figure
from qvl_widget._html import DEFAULT_MAX_BYTES
from qvl_widget._images import load_rgb
from qvl_widget._memory import CaptureTooLargeError
from qvl_widget._view_state import MAX_WIDTH, MIN_WIDTH, OPTIONS, ViewState
from qvl_widget.figures import layers_figure, matrix_figure, overlay_on_image, save_figure
from qvl_widget.testing import SPECIAL_TOKENS

PACKAGE = Path(qvl_widget.__file__).resolve().parent
OURS = (ValueError, TypeError, IndexError, FileNotFoundError, IsADirectoryError, NotADirectoryError, MemoryError)
FILE_ERRORS = (*OURS, OSError)  # writing a file: also an unwritable folder, a full disk

SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]


# ----- the two outcomes ---------------------------------------------------------------------------------------------


def check_refusal(error: BaseException, allowed: tuple[type[BaseException], ...] = OURS) -> str:
    """`error` is of an allowed type, one line, and raised by a `raise` statement inside qvl_widget."""
    assert isinstance(error, allowed), f"{type(error).__name__} is not allowed here: {error}"
    message = str(error)
    assert message.strip(), f"{type(error).__name__} without a message"
    assert "\n" not in message and "\r" not in message, f"a message of several lines: {message!r}"
    frame = error.__traceback__
    assert frame is not None
    while frame.tb_next is not None:
        frame = frame.tb_next
    filename = frame.tb_frame.f_code.co_filename
    where = f"{filename}:{frame.tb_lineno}"
    assert PACKAGE in Path(filename).resolve().parents, f"{type(error).__name__} raised outside qvl_widget, at {where}"
    line = linecache.getline(filename, frame.tb_lineno).strip()
    # A library's error raised from inside a call on this line (C code has no frame of its own) is not ours.
    assert line.startswith("raise"), f"{type(error).__name__} ({message}) escaped from a call at {where}: {line}"
    return message


def attempt(call: Callable[[], Any], allowed: tuple[type[BaseException], ...] = OURS) -> tuple[bool, Any]:
    """(True, what `call` returned), or (False, the refusal's message) after `check_refusal`. Any other error
    propagates, with its traceback."""
    try:
        value = call()
    except allowed as error:
        message = check_refusal(error, allowed)
        if currently_in_test_context():  # how often each outcome comes: --hypothesis-show-statistics
            event(f"refused: {type(error).__name__}")
        return False, message
    if currently_in_test_context():
        event("accepted")
    return True, value


@contextlib.contextmanager
def pixel_limit(pixels: int | None) -> Iterator[None]:
    """Pillow's decompression-bomb limit set to `pixels` for the block (random bytes may declare any size)."""
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = pixels
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


@contextlib.contextmanager
def fresh_folder(parent: Path) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(dir=parent) as folder:
        yield Path(folder)


def everything_under(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


# ----- strategies: values of every kind ------------------------------------------------------------------------------

NUMPY_INTEGERS = (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64)
SMALL = st.integers(-6, 6)


def numpy_integer(values: st.SearchStrategy[int]) -> st.SearchStrategy[Any]:
    return (
        st.tuples(st.sampled_from(NUMPY_INTEGERS), values)
        .filter(lambda kind_value: np.iinfo(kind_value[0]).min <= kind_value[1] <= np.iinfo(kind_value[0]).max)
        .map(lambda kind_value: kind_value[0](kind_value[1]))
    )


# Index-like values: ints, numpy integers, 0-d integer arrays.
INDEX = st.one_of(SMALL, numpy_integer(SMALL), SMALL.map(np.array))

SCALAR = st.one_of(
    INDEX,
    st.integers(),  # huge ones too
    st.floats(),  # NaN, infinities, -0.0, 1.5 ...
    SMALL.map(float),
    SMALL.map(np.float32),
    st.floats(allow_nan=True).map(np.array),  # 0-d float arrays
    st.booleans(),
    st.booleans().map(np.bool_),
    st.booleans().map(np.array),
    st.none(),
    st.sampled_from(["mean", "max", "all", "median", "", "0", "-1", "MEAN", " mean"]),
    st.text(max_size=4),
    st.complex_numbers(max_magnitude=10),
    st.binary(max_size=3),
)

ARRAYS = st.one_of(
    hnp.arrays(np.int64, hnp.array_shapes(min_dims=1, max_dims=2, min_side=0, max_side=4), elements=SMALL),
    hnp.arrays(np.uint8, hnp.array_shapes(min_dims=1, max_dims=1, min_side=0, max_side=4), elements=st.integers(0, 6)),
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=2, min_side=0, max_side=3)),
    hnp.arrays(np.bool_, hnp.array_shapes(min_dims=1, max_dims=1, min_side=0, max_side=3)),
)

ANY_VALUE = st.one_of(
    SCALAR,
    st.lists(INDEX, max_size=5),
    st.lists(INDEX, max_size=4).map(tuple),
    st.lists(st.lists(SMALL, max_size=3), max_size=3),  # nested
    st.lists(SCALAR, max_size=4),  # mixed
    ARRAYS,
    st.sets(SMALL, max_size=3),
    st.dictionaries(SMALL, SMALL, max_size=2),
    st.builds(range, SMALL, SMALL),
    st.sampled_from([object(), Ellipsis, slice(0, 2), [], (), {}]),
)


def mostly(valid: st.SearchStrategy[Any], anything: st.SearchStrategy[Any] = ANY_VALUE, odds: int = 6) -> Any:
    """`valid` `odds` times out of `odds + 1`, else `anything`: a call of several arguments is then often valid
    as a whole, so the invariants get checked, and each argument is still often refused."""
    return st.integers(0, odds).flatmap(lambda draw: anything if draw == 0 else valid)


def index_in(low: int, high: int) -> st.SearchStrategy[Any]:
    """An index in low..high, as an int, a numpy integer or a 0-d integer array."""
    values = st.integers(low, high)
    return st.one_of(values, numpy_integer(values), values.map(np.array))


# Every result below has at least 2 layers, 2 heads, 7 tokens and 1 image.
VALID_CHOICE = st.one_of(
    index_in(-2, 1),
    st.sampled_from(["mean", "max", "all", None]),
    st.lists(index_in(-2, 1), min_size=1, max_size=4),
    st.lists(index_in(-2, 1), min_size=1, max_size=3).map(np.array),
    st.lists(st.integers(-2, 1), min_size=1, max_size=3).map(tuple),
)
CHOICE = mostly(VALID_CHOICE)
VALID_TOKENS = st.one_of(index_in(-7, 6), st.lists(index_in(-7, 6), min_size=1, max_size=4))
REDUCE = mostly(st.sampled_from(["mean", "max"]))
FLAG = mostly(st.one_of(st.booleans(), st.booleans().map(np.bool_)))
PHRASE = mostly(st.sampled_from(["red", "red", "red cat", "RED", "cat", "A red", "Which"]))
UNIT = mostly(st.one_of(st.floats(0, 1), st.sampled_from([0, 1, 0.5]), st.floats(0, 1).map(np.float32)))
COLORMAP = mostly(st.sampled_from([*COLORMAPS, "magma", "Blues", "jet_r"]), st.one_of(st.just("nope"), ANY_VALUE))

# Text of all of Unicode: lone surrogates, NUL, control characters, bidi overrides, joiners, private use ...
ODD_CHARACTERS = ["\0", "\x1b", "\x7f", "\x85", "\u202e", "\u202d", "\u200f", "\u2066", "\u200d", "\ufeff", "\r",
                  "\n", "\t", "\u2028", "\U0001f600", "\u0301", "\ue000", "\uffff", "\U0010ffff"]  # fmt: skip
CHARACTER = st.one_of(
    st.characters(),
    st.characters(categories=["Cs"]),  # lone surrogates: not encodable
    st.sampled_from(ODD_CHARACTERS),
)
TEXT = st.text(CHARACTER, max_size=30)
WORDY_TEXT = st.lists(
    st.one_of(st.sampled_from(["red", "cat", "Where", "is", "the", "ß", "日本", "İ"]), TEXT), max_size=6
).map(" ".join)
PROMPT = st.one_of(
    TEXT,
    WORDY_TEXT,
    st.tuples(TEXT, st.sampled_from(SPECIAL_TOKENS), TEXT).map("".join),  # a special token inside
    st.builds(lambda text, times: text * times, st.text(CHARACTER, min_size=1, max_size=12), st.integers(50, 4000)),
)


def one_of_results(results: list[AttentionResult]) -> st.SearchStrategy[AttentionResult]:
    return st.sampled_from(results)


# ----- fixtures --------------------------------------------------------------------------------------------------

IMAGE = Image.new("RGB", (56, 56), "red")


@pytest.fixture(scope="module")
def model(tiny_models):
    """Qwen2-VL's tiny model (the `qwen2` fixture is per test; Hypothesis wants fixtures that outlive examples)."""
    return tiny_models["qwen2_vl"]


@pytest.fixture(scope="module")
def results(tiny_models) -> list[AttentionResult]:
    """Results to view: synthetic (one image; an answer and two images), and captured by the tiny models (one
    with a given answer, two images of other shapes, and Qwen3.5's, whose layers are decoder layers 1 and 3)."""
    captured = [
        tiny_models["qwen2_vl"].capture(IMAGE, "Where is the red cat?", answer="A red cat."),
        tiny_models["qwen3_vl"].capture([Image.new("RGB", (64, 30)), Image.new("L", (20, 60))], "Which is red?"),
    ]
    if "qwen3_5" in tiny_models:
        captured.append(tiny_models["qwen3_5"].capture(Image.new("RGB", (70, 40)), "Where is the red cat?"))
    return [synthetic_result(), synthetic_answer_result(grids=((4, 6), (3, 5)), layers=3, heads=2), *captured]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("properties")


@pytest.fixture(scope="module")
def saved_path(folder) -> Path:
    """A result file as `save` writes it: an answer, two images."""
    return synthetic_answer_result(grids=((4, 6), (3, 5))).save(folder / "saved.npz")


@pytest.fixture(scope="module")
def saved_bytes(saved_path) -> bytes:
    return saved_path.read_bytes()


@pytest.fixture(scope="module")
def saved_members(saved_path) -> dict[str, bytes]:
    return members_of(saved_path)


@pytest.fixture(scope="module")
def saved_result(saved_path) -> AttentionResult:
    return AttentionResult.load(saved_path)


# ----- invariants -------------------------------------------------------------------------------------------------


def check_result(result: AttentionResult, captured: bool = True) -> None:
    """A captured or loaded result: arrays of agreeing shapes, probabilities, grids of each image's shape; and for
    a captured one, image shares that are the sums of the rows, and token texts that are the text at their offsets
    (`load` checks neither: a file's probabilities may round past 1 by 1e-3, its labels are as written)."""
    layers, heads, queries, columns = result.attention.shape
    top = 1.0 if captured else 1.001
    assert columns == sum(image.num_tokens for image in result.images)
    assert result.image_mass.shape == (layers, heads, queries) and len(result.tokens) == queries
    assert np.isfinite(result.attention).all() and (result.attention >= 0).all() and (result.attention <= top).all()
    for index, geometry in enumerate(result.images):
        picture = result.picture(index)
        assert picture.mode == "RGB" and picture.size == geometry.original_size
        grid = result.grid(image=index)
        assert grid.shape == (
            (geometry.rows, geometry.cols)
            if geometry.kind == "image"
            else (geometry.groups, geometry.rows, geometry.cols)
        )
        assert np.isfinite(grid).all() and (grid >= 0).all() and (grid <= top).all()
    if not captured:
        return
    # Each stored value is rounded to its storage (float16: 2^-11 relative), the sum of hundreds of them too.
    atol = 1e-4 if result.attention.dtype == np.float32 else 1e-3
    np.testing.assert_allclose(result.attention.sum(axis=-1, dtype=np.float64), result.image_mass, atol=atol)
    for token in result.tokens:
        if token.start is not None:
            text = result.part_text(token.part)
            assert text is not None and text[token.start : token.end] == token.text


def reference_indices(choice: Any, count: int, reduce: str) -> tuple[list[int], str]:
    """What an accepted layer / head choice selects, as the README's table says (not the package's code)."""
    if choice is None or (isinstance(choice, str) and choice == "all"):
        return list(range(count)), reduce
    if isinstance(choice, str):
        return list(range(count)), choice
    flat = np.asarray(list(choice) if isinstance(choice, range) else choice).reshape(-1)
    return sorted({int(index) % count for index in flat}), reduce  # a set: duplicates count once


def reference_maps(result: AttentionResult, layer: Any, head: Any, reduce: str) -> np.ndarray:
    layers, over_layers = reference_indices(layer, result.num_layers, reduce)
    heads, over_heads = reference_indices(head, result.num_heads, reduce)
    values = result.attention.astype(np.float64)[layers][:, heads]
    values = values.mean(axis=1) if over_heads == "mean" else values.max(axis=1)
    return values.mean(axis=0) if over_layers == "mean" else values.max(axis=0)


def producing_row(result: AttentionResult, token: int) -> int | None:
    positions = [int(position) for position in result.query_positions]
    before = positions[token] - 1
    return positions.index(before) if before in positions else None


# ===== images =======================================================================================================

IMAGE_DTYPES = [np.uint8, np.uint16, np.int8, np.int16, np.int32, np.int64, np.float16, np.float32, np.float64,
                np.bool_, np.complex64, "datetime64[s]", "U1"]  # fmt: skip
IMAGE_ARRAYS = hnp.arrays(
    dtype=st.sampled_from(IMAGE_DTYPES),
    shape=st.one_of(
        hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5),
        st.tuples(st.integers(0, 64), st.integers(0, 64), st.sampled_from([1, 2, 3, 4, 5])),
        st.tuples(st.integers(0, 64), st.integers(0, 64)),
    ),
)


def oriented(array: np.ndarray, how: int) -> np.ndarray:
    """The same values in another memory layout: as it is, reversed rows (negative strides), Fortran order."""
    if how == 1 and array.ndim >= 1:
        return array[::-1]
    if how == 2:
        return np.asfortranarray(array)
    return array


VALID_IMAGE_ARRAYS = st.one_of(
    hnp.arrays(
        st.sampled_from([np.uint8, np.uint16]),
        st.one_of(
            st.tuples(st.integers(1, 64), st.integers(1, 64)),
            st.tuples(st.integers(1, 64), st.integers(1, 64), st.sampled_from([1, 3, 4])),
        ),
    ),
    hnp.arrays(
        st.sampled_from([np.float16, np.float32, np.float64]),
        st.tuples(st.integers(1, 32), st.integers(1, 32), st.sampled_from([1, 3, 4])),
        elements=st.floats(0, 1, width=16),
    ),
)


@settings(max_examples=150, suppress_health_check=SLOW)
@given(array=mostly(VALID_IMAGE_ARRAYS, IMAGE_ARRAYS, odds=2), how=st.integers(0, 2))
def test_any_array_is_an_rgb_picture_of_its_size_or_refused(array, how):
    array = oriented(array, how)
    ok, picture = attempt(lambda: load_rgb(array))
    if not ok:
        return
    assert picture.mode == "RGB" and picture.size == (array.shape[1], array.shape[0])
    pixels = np.asarray(picture)
    values = array[:, :, 0] if array.ndim == 3 and array.shape[2] == 1 else array
    if array.dtype == np.uint8 and values.ndim == 2:
        assert (pixels == values[:, :, None]).all()  # grey: the same value in each channel
    elif array.dtype == np.uint8 and values.shape[2] == 3:
        assert (pixels == values).all()
    elif array.dtype == np.uint8 and values.shape[2] == 4:  # composited on white: opaque as it is, clear is white
        opaque, clear = values[:, :, 3] == 255, values[:, :, 3] == 0
        assert (pixels[opaque] == values[opaque][:, :3]).all() and (pixels[clear] == 255).all()
    elif array.dtype == np.uint16 and values.ndim == 2:
        assert (pixels[:, :, 0] == np.round(values / 65535.0 * 255.0)).all()


PIL_MODES = sorted(Image.MODES)


@st.composite
def pil_images(draw: st.DrawFn, max_side: int = 40) -> Image.Image:
    """A PIL image of any mode and size (0 and 1 pixel included) with random pixel bytes (NaN and infinities
    in float images)."""
    mode = draw(st.sampled_from(PIL_MODES))
    size = (draw(st.integers(0, max_side)), draw(st.integers(0, max_side)))
    length = len(Image.new(mode, size).tobytes())
    data = draw(st.binary(min_size=length, max_size=length)) if length <= 4096 else bytes(length)
    image = Image.frombytes(mode, size, data)
    if mode in ("P", "PA") and draw(st.booleans()):
        image.putpalette(draw(st.binary(min_size=3, max_size=768)))
    return image


@settings(max_examples=120, suppress_health_check=SLOW)
@given(image=pil_images())
def test_any_pil_image_is_an_rgb_picture_of_its_size_or_refused(image):
    ok, picture = attempt(lambda: load_rgb(image))
    if ok:
        assert picture.mode == "RGB" and picture.size == image.size and picture is not image
        return
    assert image.width == 0 or image.height == 0 or image.mode == "F", picture  # empty, or NaN / infinity


def encoded_image(image: Image.Image, file_format: str) -> bytes:
    buffer = io.BytesIO()
    converted = image.convert("RGB") if file_format in ("JPEG", "PPM", "BMP") else image
    converted.save(buffer, format=file_format)
    return buffer.getvalue()


@st.composite
def image_files(draw: st.DrawFn) -> bytes:
    """Bytes of an image file: random bytes, or a real small image file, cut short and/or with bytes changed."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=400))
    side = st.integers(1, 24)
    image = Image.new(draw(st.sampled_from(["RGB", "RGBA", "L", "P"])), (draw(side), draw(side)), "orange")
    data = bytearray(encoded_image(image, draw(st.sampled_from(["PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP", "PPM"]))))
    if draw(st.booleans()):
        del data[draw(st.integers(0, len(data))) :]
    for _ in range(draw(st.integers(0, 3))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
    return bytes(data)


@settings(max_examples=120, suppress_health_check=SLOW)
@given(data=image_files(), suffix=st.sampled_from([".png", ".jpg", ".gif", ".bmp", ".tif", ".webp", ".txt", ""]))
def test_any_file_is_an_rgb_picture_or_refused(folder, data, suffix):
    with fresh_folder(folder) as here, pixel_limit(2**16), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a damaged EXIF block is shown as stored, with a warning
        path = here / f"image{suffix}"
        path.write_bytes(data)
        for source in (path, str(path)):
            ok, picture = attempt(lambda source=source: load_rgb(source))
            if ok:
                assert picture.mode == "RGB" and 1 <= picture.width * picture.height <= 2 * 2**16
        try:  # a lazily opened image (its pixels decoded by qvl_widget)
            opened = Image.open(path)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning):
            return  # Pillow's own refusal, before qvl_widget
        with opened:
            attempt(lambda: load_rgb(opened))


PATH_TEXT = st.one_of(TEXT, st.text(CHARACTER, min_size=250, max_size=300), st.sampled_from(["", ".", "..", "/"]))


@settings(max_examples=80, suppress_health_check=SLOW)
@given(name=PATH_TEXT, value=ANY_VALUE)
def test_any_image_argument_is_read_or_refused(folder, name, value):
    """Paths that do not exist (any text: NUL, surrogates, long names) and values that are no image."""
    for image in (f"{folder}/missing/{name}", Path(folder, "missing", name.replace("\0", "")), value):
        ok, picture = attempt(lambda image=image: load_rgb(image))
        assert not ok or picture.mode == "RGB"


# ----- images through the model -------------------------------------------------------------------------------------

SMALL_PICTURES = st.one_of(
    pil_images(max_side=64).filter(lambda image: image.width * image.height > 0 and image.mode != "F"),
    hnp.arrays(np.uint8, st.tuples(st.integers(1, 64), st.integers(1, 64), st.sampled_from([1, 3, 4]))),
    hnp.arrays(np.float32, st.tuples(st.integers(1, 64), st.integers(1, 64)), elements=st.floats(0, 1, width=32)),
)


@settings(max_examples=12, suppress_health_check=SLOW)
@given(images=st.lists(SMALL_PICTURES, min_size=1, max_size=2))
def test_captures_of_any_small_images_are_valid(model, images):
    ok, result = attempt(lambda: model.capture(images, "Where is the red cat?"))
    if not ok:  # only a strip longer than the model takes
        assert "longer than 200:1" in result, result
        return
    check_result(result)
    sizes = [np.asarray(image).shape[1::-1] if isinstance(image, np.ndarray) else image.size for image in images]
    assert [geometry.original_size for geometry in result.images] == [tuple(size) for size in sizes]


# ===== prompts ======================================================================================================


@settings(max_examples=60, suppress_health_check=SLOW)
@given(prompt=PROMPT, chat=st.booleans())
def test_any_prompt_is_laid_out_or_refused(model, prompt, chat):
    ok, prepared = attempt(lambda: model.prepare(IMAGE, prompt, chat=chat))
    if not ok:
        message = prepared
        reasons = ("lone surrogate", "special token", "more than the 32768 tokens this model takes")
        assert any(reason in message for reason in reasons), message
        return
    assert prepared.prompt == prompt
    covered = np.zeros(len(prompt), dtype=bool)
    for token in prepared.tokens:
        if token.start is not None:
            assert prompt[token.start : token.end] == token.text and not token.special
            covered[token.start : token.end] = True
    assert covered.all(), f"characters of the prompt no token covers: {np.flatnonzero(~covered)[:10]}"


@settings(max_examples=10, suppress_health_check=SLOW)
@given(
    prompt=st.one_of(TEXT, WORDY_TEXT),
    system=st.one_of(st.none(), TEXT),
    answer=st.one_of(st.none(), TEXT, WORDY_TEXT),
)
def test_captures_of_any_text_are_valid_and_save_and_load_equal(model, folder, prompt, system, answer):
    ok, result = attempt(lambda: model.capture(IMAGE, prompt, system=system, answer=answer))
    if not ok:
        return
    check_result(result)
    assert result.prompt == prompt
    if answer is not None and answer.strip():
        assert result.answer == answer  # a given answer keeps its text
    for word in (prompt + " " + (answer or "")).split()[:3]:
        ok, indices = attempt(lambda word=word: result.token_indices(word))
        assert ok and indices, f"{word!r} is in the text but not found: {indices}"
        grid = result.grid(phrase=word)
        assert np.isfinite(grid).all() and (grid >= 0).all()
    with fresh_folder(folder) as here:
        assert_same(AttentionResult.load(result.save(here / "result.npz")), result)


GENERATE_OPTIONS = ["do_sample", "temperature", "top_k", "top_p", "repetition_penalty", "min_new_tokens", "use_cache",
                    "output_attentions", "return_dict_in_generate", "num_beams", "num_return_sequences",
                    "cache_implementation", "max_new_tokens", "streamer", "eos_token_id", "no_such_option"]  # fmt: skip


@settings(max_examples=12, suppress_health_check=SLOW)
@given(
    options=st.one_of(
        st.dictionaries(st.sampled_from(GENERATE_OPTIONS), st.one_of(SCALAR, st.floats(0.1, 2.0)), max_size=3),
        ANY_VALUE,
    ),
    max_new_tokens=st.one_of(st.integers(1, 3), SCALAR.filter(lambda value: (whole_number(value) or 0) <= 3)),
)
def test_any_generate_options_answer_or_are_refused(model, options, max_new_tokens):
    call = lambda: model.capture(  # noqa: E731
        IMAGE, "Hi", answer=True, max_new_tokens=max_new_tokens, generate_kwargs=options
    )
    ok, result = attempt(call)
    if ok:
        check_result(result)
        answer_tokens = [token for token in result.tokens if token.part == "answer"]
        assert 1 <= len(answer_tokens) <= int(max_new_tokens)
        assert all(0 <= token.probability <= 1 for token in answer_tokens)


# Generation settings, alone or inside a GenerationConfig: capture decides from the config generate would build.
GENERATION_SETTINGS = {
    "use_cache": st.sampled_from([None, True, False]),
    "num_beams": st.sampled_from([None, 1, 2]),
    "num_return_sequences": st.sampled_from([None, 1, 2]),
    "cache_implementation": st.sampled_from([None, "dynamic", "static"]),
    "prompt_lookup_num_tokens": st.sampled_from([None, 2]),
    "assistant_early_exit": st.sampled_from([None, 1]),
    "guidance_scale": st.sampled_from([None, 1.0, 2.0]),
    "prefill_chunk_size": st.sampled_from([None, 4]),
    "output_attentions": st.booleans(),
    "output_scores": st.booleans(),
    "do_sample": st.booleans(),
    "temperature": st.floats(0.1, 2.0),
    "penalty_alpha": st.sampled_from([None, 0.6]),
    "top_k": st.sampled_from([None, 1, 4]),
}


@settings(max_examples=20, suppress_health_check=SLOW)
@given(chosen=st.fixed_dictionaries({}, optional=GENERATION_SETTINGS), inside=st.booleans())
def test_any_generation_config_answers_or_is_refused(model, chosen, inside):
    from transformers import GenerationConfig

    options: dict[str, Any] = dict(chosen)
    if inside:
        try:
            options = {"generation_config": GenerationConfig(**chosen)}
        except ValueError:  # transformers' own check of a config built here: not qvl_widget's to answer
            assume(False)
    call = lambda: model.capture(IMAGE, "Hi", answer=True, max_new_tokens=2, generate_kwargs=options)  # noqa: E731
    ok, result = attempt(call)
    if ok:
        check_result(result)
        assert 1 <= sum(token.part == "answer" for token in result.tokens) <= 2


ANSWER_PIECES = st.sampled_from(["<think>", "</think>", "\n", "\n\n", " ", "red", " cat", "é", "猫", "<|im_end|>"])


ANSWER_TEXT = st.lists(st.one_of(ANSWER_PIECES, st.text(max_size=3)), max_size=5).map("".join)


@settings(max_examples=25, suppress_health_check=SLOW)
@given(
    text=st.one_of(
        ANSWER_TEXT.filter(str.strip),  # markers anywhere, or none
        st.tuples(st.sampled_from(["", "<think>"]), ANSWER_TEXT, ANSWER_TEXT).map(
            lambda t: f"{t[0]}{t[1]}</think>{t[2]}"
        ),
    ),
    thinking=st.sampled_from([None, True, False]),
)
def test_any_given_answer_of_a_thinking_model_is_split_or_refused(tiny_models, text, thinking):
    if "qwen3_5" not in tiny_models:
        pytest.skip(NO_QWEN3_5)
    """Qwen3.5's template thinks by default: a given answer holds one thinking block at its start (closed by
    '</think>') or none (thinking=False), else it is refused; an accepted one is split into the thinking and the
    answer, in that order, each token's offsets into its own part's text."""
    ok, result = attempt(lambda: tiny_models["qwen3_5"].capture(IMAGE, "Hi", answer=text, thinking=thinking))
    if not ok:
        return
    check_result(result)
    parts = [token.part for token in result.tokens]
    assert parts == sorted(parts, key=["prompt", "thinking", "answer"].index)
    assert (result.thinking is not None) == ("thinking" in parts) == ("</think>" in text)
    assert result.answer is not None and result.answer in text.split("</think>")[-1]
    if result.thinking is not None:
        assert not result.still_thinking and result.thinking in text.split("</think>")[0]


PIXELS = mostly(
    st.one_of(st.none(), st.integers(3136, 100_000)),
    st.one_of(st.integers(1, 3000), st.integers(10**8, 10**40), SCALAR),
)


@settings(max_examples=15, suppress_health_check=SLOW)
@given(
    min_pixels=PIXELS,
    max_pixels=PIXELS,
    layers=mostly(st.one_of(st.none(), index_in(-3, 2), st.lists(index_in(-3, 2), min_size=1, max_size=3))),
    storage=mostly(st.sampled_from(["float32", "float16"])),
    kernel=mostly(st.sampled_from(["auto", "torch"])),
    chunk_bytes=mostly(st.integers(1, 2**20), SCALAR),
    free=st.one_of(st.none(), st.integers(0, 2**20)),
)
def test_any_capture_options_capture_or_are_refused(
    model, min_pixels, max_pixels, layers, storage, kernel, chunk_bytes, free
):
    options = dict(min_pixels=min_pixels, max_pixels=max_pixels, layers=layers, storage=storage, kernel=kernel)
    with mock.patch("qvl_widget._memory.available_bytes", return_value=free):
        ok, result = attempt(lambda: model.capture(IMAGE, "Where is the cat?", chunk_bytes=chunk_bytes, **options))
    if ok:
        check_result(result)
        assert result.attention.dtype == np.dtype(storage)
        size = result.attention.nbytes + result.image_mass.nbytes
        assert free is None or size <= free


def test_a_capture_over_the_memory_free_is_refused_with_its_size(model):
    with mock.patch("qvl_widget._memory.available_bytes", return_value=1000):
        ok, message = attempt(lambda: model.capture(IMAGE, "Hi"), (CaptureTooLargeError,))
    assert not ok and "and this machine has 1000 bytes free" in message


# ===== selections ===================================================================================================


@settings(max_examples=250, suppress_health_check=SLOW)
@given(
    data=st.data(),
    options=st.fixed_dictionaries(
        {},
        optional={
            "layer": CHOICE,
            "head": CHOICE,
            "token": mostly(VALID_TOKENS),
            "phrase": mostly(PHRASE, st.one_of(TEXT, ANY_VALUE)),
            "reduce": REDUCE,
            "producing": FLAG,
            "image": mostly(index_in(-1, 0)),
        },
    ),
)
def test_any_grid_selection_is_a_map_of_the_image_or_refused(results, data, options):
    result = data.draw(one_of_results(results))
    ok, grid = attempt(lambda: result.grid(**options))
    if not ok:
        return
    image = int(np.asarray(options.get("image", 0)))
    geometry = result.images[image]
    assert grid.shape == (geometry.rows, geometry.cols) and grid.dtype == np.float32
    assert np.isfinite(grid).all() and (grid >= 0).all() and (grid <= 1 + 1e-6).all()
    # The same numbers as the README's table says, computed here without the package's selection code.
    reduce = options.get("reduce", "mean")
    maps = reference_maps(result, options.get("layer", -1), options.get("head"), reduce)
    if "phrase" in options and options["phrase"] is not None:
        rows = result.token_indices(options["phrase"])
    elif options.get("token") is not None:
        rows = [int(index) % result.num_queries for index in np.asarray(options["token"]).reshape(-1)]
    else:
        rows = [i for i, token in enumerate(result.tokens) if token.part == "prompt" and not token.special]
    if options.get("producing", False):
        rows = [producing_row(result, row) for row in rows]
        assert None not in rows
    expected = maps[rows, geometry.columns].mean(axis=0).reshape(geometry.rows, geometry.cols)
    np.testing.assert_allclose(grid, expected, atol=1e-6)


@settings(max_examples=120, suppress_health_check=SLOW)
@given(data=st.data(), layer=CHOICE, head=CHOICE, reduce=REDUCE, producing=FLAG)
def test_any_maps_selection_is_probabilities_or_refused(results, data, layer, head, reduce, producing):
    result = data.draw(one_of_results(results))
    ok, maps = attempt(lambda: result.maps(layer=layer, head=head, reduce=reduce, producing=producing))
    if not ok:
        return
    assert maps.shape == (result.num_queries, result.attention.shape[-1])
    expected = reference_maps(result, layer, head, reduce)
    if producing:
        for token in range(result.num_queries):
            row = producing_row(result, token)
            if row is None:
                assert np.isnan(maps[token]).all()
            else:
                np.testing.assert_allclose(maps[token], expected[row], atol=1e-6)
    else:
        np.testing.assert_allclose(maps, expected, atol=1e-6)
        assert np.isfinite(maps).all() and (maps >= 0).all() and (maps <= 1 + 1e-6).all()


# ===== view options =================================================================================================

VIEW_OPTIONS = st.fixed_dictionaries(
    {},
    optional={
        "layer": CHOICE,
        "head": CHOICE,
        "token": mostly(st.one_of(st.none(), st.lists(index_in(-7, 6), max_size=3), index_in(-7, 6))),
        "phrase": mostly(PHRASE, st.one_of(TEXT, ANY_VALUE)),
        "producing": st.one_of(st.none(), FLAG),
        "reduce": REDUCE,
        "colormap": mostly(st.sampled_from(COLORMAPS), st.one_of(st.sampled_from(["magma", "Jet"]), ANY_VALUE)),
        "opacity": UNIT,
        "smooth": FLAG,
        "shared_scale": FLAG,
        "show_special": FLAG,
        "width": mostly(
            st.one_of(st.integers(64, 1200), st.sampled_from([64.0, 512.0, 16384])),
            st.one_of(st.integers(0, 20_000), st.floats(), ANY_VALUE),
        ),
        "group": mostly(st.integers(-1, 0), st.one_of(st.integers(-3, 3), ANY_VALUE)),
    },
)


def check_state(state: ViewState, result: AttentionResult) -> None:
    """Options in their canonical form, in the menus, and every field JSON (what the widget and page send)."""
    for choice, count in ((state.layer, result.num_layers), (state.head, result.num_heads)):
        if isinstance(choice, list):
            assert 2 <= len(choice) < count and choice == sorted(set(choice)) and choice[0] >= 0 and choice[-1] < count
        else:
            assert choice in ("mean", "max") or (type(choice) is int and 0 <= choice < count), choice
    assert choice_key(state.layer) in map(choice_key, state.available["layers"])
    assert choice_key(state.head) in map(choice_key, state.available["heads"][choice_key(state.layer)])
    assert all(type(index) is int and 0 <= index < result.num_queries for index in state.selected)
    assert state.colormap in COLORMAPS and state.reduce in ("mean", "max")
    assert type(state.opacity) is float and 0 <= state.opacity <= 1
    assert type(state.width) is int and MIN_WIDTH <= state.width <= MAX_WIDTH
    assert type(state.group) is int and 0 <= state.group < max(1, *(geometry.groups for geometry in result.images))
    assert all(type(getattr(state, flag)) is bool for flag in ("producing", "smooth", "shared_scale", "show_special"))
    json.dumps(state.json_fields(), allow_nan=False)


@settings(max_examples=150, suppress_health_check=SLOW)
@given(data=st.data(), options=VIEW_OPTIONS)
def test_any_view_options_make_a_canonical_state_or_are_refused(results, data, options):
    result = data.draw(one_of_results(results))
    ok, state = attempt(lambda: ViewState.of(result, **options))
    if ok:
        check_state(state, result)


@settings(max_examples=20, suppress_health_check=SLOW)
@given(
    data=st.data(),
    options=VIEW_OPTIONS,
    changes=st.lists(
        st.tuples(
            st.sampled_from(OPTIONS),
            st.one_of(CHOICE, st.floats(0, 1), st.integers(60, 600)),
        ),
        max_size=4,
    ),
)
def test_any_widget_options_and_trait_changes_keep_a_canonical_state(results, data, options, changes):
    result = data.draw(one_of_results(results))
    ok, widget = attempt(lambda: AttentionWidget(result, **options))
    if not ok:
        return
    check_state(widget.view_state(), result)
    for name, value in changes:
        before = widget.view_state().fields()
        ok, _ = attempt(lambda name=name, value=value: setattr(widget, name, value))
        if not ok:
            assert widget.view_state().fields() == before  # a refused change changes nothing
        check_state(widget.view_state(), result)
    assert isinstance(widget.maps_payload, bytes) and widget.maps_payload


# ===== files: to_html and save paths ================================================================================

COMPONENT = st.one_of(
    st.text(CHARACTER, min_size=1, max_size=12).filter(lambda name: "/" not in name and name not in (".", "..")),
    st.text(st.sampled_from("ab"), min_size=250, max_size=300),  # too long for a file name
    st.sampled_from(["sub", "sub dir", "x.html", "a\0b", "\ud800"]),
)
RELATIVE_PATH = st.tuples(
    st.lists(COMPONENT, min_size=1, max_size=3).map("/".join),
    st.sampled_from([".html", ".htm", ".HTML", ".npz", ".NPZ", ".png", "", ".html.txt"]),
).map("".join)


def destination(here: Path, relative: str, kind: int) -> Any:
    """Inside `here` (so nothing is written elsewhere), as a str, a Path, or bytes."""
    text = f"{here}/{relative}"
    if kind == 1:
        return Path(here, relative)
    if kind == 2:
        return os.fsencode(text) if "\ud800" not in text else text.encode("utf-8", "surrogatepass")
    return text


@settings(max_examples=40, suppress_health_check=SLOW)
@given(
    data=st.data(),
    relative=RELATIVE_PATH,
    kind=st.integers(0, 2),
    other=st.one_of(st.none(), ANY_VALUE),
    layers=st.one_of(st.none(), CHOICE, st.lists(CHOICE, max_size=3)),
    heads=st.one_of(st.none(), CHOICE, st.lists(CHOICE, max_size=3)),
    max_bytes=st.one_of(st.none(), st.integers(1, 4 * 2**20), SCALAR),
    options=VIEW_OPTIONS,
)
def test_to_html_writes_one_page_where_asked_or_nothing(
    results, folder, data, relative, kind, other, layers, heads, max_bytes, options
):
    result = data.draw(one_of_results(results))
    with fresh_folder(folder) as here:
        path = destination(here, relative, kind) if other is None else other
        write = lambda: result.to_html(path, layers=layers, heads=heads, max_bytes=max_bytes, **options)  # noqa: E731
        ok, written = attempt(write, FILE_ERRORS)
        if not ok:
            assert everything_under(here) == [], "a refused page left files behind"
            return
        assert written.is_file() and here in written.resolve().parents
        assert [part for part in everything_under(here) if (here / part).is_file()] == [str(written.relative_to(here))]
        page = written.read_bytes()
        assert page.startswith(b"<!doctype html>") and len(page) <= (
            DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
        )


@settings(max_examples=40, suppress_health_check=SLOW)
@given(data=st.data(), relative=RELATIVE_PATH, kind=st.integers(0, 2), other=st.one_of(st.none(), ANY_VALUE))
def test_save_writes_one_file_that_loads_equal_or_nothing(results, folder, data, relative, kind, other):
    result = data.draw(one_of_results(results))
    with fresh_folder(folder) as here:
        path = destination(here, relative, kind) if other is None else other
        ok, written = attempt(lambda: result.save(path), FILE_ERRORS)
        if not ok:
            assert everything_under(here) == [], "a refused save left files behind"
            return
        assert written.is_file() and here in written.resolve().parents
        assert [part for part in everything_under(here) if (here / part).is_file()] == [str(written.relative_to(here))]
        assert_same(AttentionResult.load(written), result)
        assert_same(AttentionResult.load(str(written)), result)


# ===== figures ======================================================================================================

GRIDS = st.one_of(
    hnp.arrays(
        st.sampled_from([np.float64, np.float16, np.int64, np.uint8, np.bool_, np.complex64, "U2"]),
        hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6),
    ),
    st.lists(st.lists(st.floats(), max_size=3), max_size=3),  # ragged too
    ANY_VALUE,
)
WIDTH = mostly(
    st.one_of(st.floats(3, 12), st.sampled_from([3, 7, 40, "column", "page"])), st.one_of(st.floats(), ANY_VALUE)
)


@settings(max_examples=80, suppress_health_check=SLOW)
@given(
    picture=mostly(SMALL_PICTURES, st.one_of(pil_images(max_side=24), ANY_VALUE)),
    grid=mostly(
        hnp.arrays(np.float32, st.tuples(st.integers(1, 8), st.integers(1, 8)), elements=st.floats(0, 1, width=32)),
        GRIDS,
    ),
    alpha=UNIT,
    colormap=COLORMAP,
    smooth=FLAG,
    vmax=mostly(st.one_of(st.none(), st.floats(1e-6, 10), st.floats(1e-300, 1e300)), st.one_of(st.floats(), ANY_VALUE)),
)
def test_any_overlay_is_a_picture_of_the_pictures_size_or_refused(picture, grid, alpha, colormap, smooth, vmax):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy overflow in a huge vmax's scale: clipped
        ok, overlay = attempt(lambda: overlay_on_image(picture, grid, alpha, colormap, smooth, vmax=vmax))
    if ok:
        assert overlay.mode == "RGB" and overlay.size == load_rgb(picture).size


@settings(max_examples=25, suppress_health_check=SLOW)
@given(
    data=st.data(),
    layers=st.one_of(st.none(), CHOICE),
    head=CHOICE,
    phrase=st.one_of(st.none(), st.none(), PHRASE),
    token=st.one_of(st.none(), st.none(), mostly(VALID_TOKENS)),
    image=mostly(index_in(-1, 0)),
    reduce=REDUCE,
    producing=FLAG,
    colormap=COLORMAP,
    alpha=UNIT,
    smooth=FLAG,
    width=WIDTH,
)
def test_any_layers_figure_is_page_sized_or_refused(
    results, data, layers, head, phrase, token, image, reduce, producing, colormap, alpha, smooth, width
):
    result = data.draw(one_of_results(results))
    options = dict(layers=layers, head=head, phrase=phrase, token=token, image=image, reduce=reduce)
    options.update(producing=producing, colormap=colormap, alpha=alpha, smooth=smooth, width=width)
    ok, figure = attempt(lambda: layers_figure(result, **options))
    if ok:
        inches_wide, inches_tall = figure.get_size_inches()
        assert isinstance(figure, Figure) and WIDTH_RANGE[0] <= inches_wide <= WIDTH_RANGE[1]
        assert inches_tall <= max(PAGE_HEIGHT_RATIO * inches_wide, 3.0) + 1e-6


@settings(max_examples=25, suppress_health_check=SLOW)
@given(
    data=st.data(),
    layer=CHOICE,
    head=CHOICE,
    reduce=REDUCE,
    producing=FLAG,
    colormap=COLORMAP,
    width=WIDTH,
    tokens=st.one_of(
        st.none(), mostly(st.one_of(VALID_TOKENS, st.builds(range, st.integers(0, 3), st.integers(3, 7))))
    ),
)
def test_any_matrix_figure_returns_every_tokens_row_or_is_refused(
    results, data, layer, head, reduce, producing, colormap, width, tokens
):
    result = data.draw(one_of_results(results))
    options = dict(layer=layer, head=head, reduce=reduce, producing=producing, colormap=colormap, width=width)
    ok, drawn = attempt(lambda: matrix_figure(result, **options, tokens=tokens))
    if ok:
        figure, matrix = drawn
        assert isinstance(figure, Figure) and WIDTH_RANGE[0] <= figure.get_size_inches()[0] <= WIDTH_RANGE[1]
        np.testing.assert_array_equal(matrix, result.maps(layer, head, reduce, producing=producing))


@pytest.fixture(scope="module")
def small_figure() -> Figure:
    figure = Figure(figsize=(0.5, 0.4))
    figure.add_subplot().imshow(np.arange(12.0).reshape(3, 4))
    return figure


@settings(max_examples=30, suppress_health_check=SLOW)
@given(
    relative=st.tuples(
        st.lists(COMPONENT, min_size=1, max_size=2).map("/".join),
        st.sampled_from([".png", ".PNG", ".svg", ".pdf", ".jpg", "", ".html"]),
    ).map("".join),
    kind=st.integers(0, 2),
    dpi=st.one_of(st.floats(DPI_RANGE[0], 400), st.floats(), st.integers(-10, 10**6), ANY_VALUE),
    other=st.one_of(st.none(), ANY_VALUE),
    not_a_figure=st.one_of(st.none(), ANY_VALUE, st.just((Figure(), np.zeros(2)))),
)
def test_save_figure_writes_one_file_or_nothing(small_figure, folder, relative, kind, dpi, other, not_a_figure):
    with fresh_folder(folder) as here:
        path = destination(here, relative, kind) if other is None else other
        figure = small_figure if not_a_figure is None else not_a_figure
        ok, written = attempt(lambda: save_figure(figure, path, dpi=dpi), FILE_ERRORS)
        if not ok:
            assert everything_under(here) == [], "a refused figure left files behind"
            return
        assert written.is_file() and here in written.resolve().parents and written.stat().st_size > 0
        assert DPI_RANGE[0] <= float(dpi) <= DPI_RANGE[1]


ENCODABLE = st.text(st.one_of(st.characters(exclude_categories=["Cs"]), st.sampled_from(ODD_CHARACTERS)), max_size=12)
NORMAL_FORMS = st.sampled_from(["NFC", "NFD", "NFKC", "NFKD"])


@settings(max_examples=15, suppress_health_check=SLOW)
@given(
    prompt=st.lists(ENCODABLE.filter(str.strip), min_size=1, max_size=4),
    answer=st.lists(ENCODABLE.filter(str.strip), min_size=1, max_size=3),
    form=NORMAL_FORMS,
    title=st.one_of(st.none(), ENCODABLE.filter(str.strip)),
    file_format=st.sampled_from(["svg", "pdf", "png"]),
    which=st.integers(0, 2),
)
def test_any_text_is_written_into_every_figure_format_validly(prompt, answer, form, title, file_format, which):
    """Control characters, bidi marks, NFD or NFC text in the prompt, the answer or a title: every figure in every
    format is drawn without a missing glyph's warning for a control character (tab and line breaks are
    whitespace), and an SVG is XML."""
    texts = [unicodedata.normalize(form, text) for text in prompt]
    result = synthetic_answer_result(texts=(*texts, "<|im_end|>"), answer_texts=tuple(answer))
    draw = [
        lambda: layers_figure(result, token=0, title=title),
        lambda: heads_figure(result, title=title),
        lambda: matrix_figure(result, title=title)[0],
    ][which]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = figure_bytes(draw(), file_format)
    controls = re.compile(r"Glyph ([0-8]|1[124-9]|2\d|3[01]|12[7-9]|1[3-5]\d) .*missing from font")
    assert not [warning for warning in caught if controls.search(str(warning.message))]
    if file_format == "svg":
        xml.dom.minidom.parseString(data)


ACCENTED = st.text(st.sampled_from("aeiouAEIOUéÉèüñçåøÅ\u0301\u0308\u0327"), min_size=1, max_size=6).filter(
    lambda word: not unicodedata.combining(word[0])
)


@settings(max_examples=30, suppress_health_check=SLOW)
@given(words=st.lists(ACCENTED, min_size=1, max_size=3), form=NORMAL_FORMS, typed=NORMAL_FORMS)
def test_a_phrase_is_found_whatever_the_normal_form_of_the_text_and_of_the_phrase(words, form, typed):
    """Accented words in the text in one normal form, the phrase in another: the same tokens are selected."""
    texts = tuple(unicodedata.normalize(form, f" {word}") for word in words)
    result = synthetic_result(texts=("Look", *texts, "<|im_end|>"))
    assume(all(unicodedata.normalize("NFC", text) == unicodedata.normalize("NFKC", text) for text in texts))
    assert result.token_indices(unicodedata.normalize(typed, words[-1])) != []
    assert result.token_indices(unicodedata.normalize(typed, " ".join(words))) == list(range(1, len(words) + 1))


# ===== result files =================================================================================================


def load_outcome(folder: Path, data: bytes) -> tuple[bool, Any]:
    with fresh_folder(folder) as here:
        path = here / "result.npz"
        path.write_bytes(data)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            ok, loaded = attempt(lambda: AttentionResult.load(path), (ValueError,))
    if ok:
        check_result(loaded, captured=False)
        ViewState.of(loaded)  # a result that loads can be viewed
    else:
        assert "is not a readable qvl_widget result file" in loaded or "is not a qvl_widget result file" in loaded
    return ok, loaded


@settings(max_examples=60, suppress_health_check=SLOW)
@given(data=st.one_of(st.binary(max_size=2000), st.binary(max_size=100).map(lambda tail: b"PK\x03\x04" + tail)))
def test_random_bytes_are_refused_with_one_line(folder, data):
    ok, _ = load_outcome(folder, data)
    assert not ok


@settings(max_examples=120, suppress_health_check=SLOW)
@given(
    cut=st.one_of(st.none(), st.integers(0, 10**6)),
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), max_size=4),
)
def test_a_damaged_save_loads_equal_or_is_refused(folder, saved_bytes, saved_result, cut, flips):
    data = bytearray(saved_bytes if cut is None else saved_bytes[: cut % (len(saved_bytes) + 1)])
    for offset, bits in flips:
        if data:
            data[offset % len(data)] ^= bits
    assume(bytes(data) != saved_bytes)
    ok, loaded = load_outcome(folder, bytes(data))
    if ok:  # a byte zipfile does not read (a time stamp, a version field, an extra field)
        assert_same(loaded, saved_result)


MEMBER_NAMES = ["metadata.npy", "attention.npy", "image_mass.npy", "query_positions.npy", "image_positions.npy",
                "picture_0.npy", "picture_1.npy", "picture_2.npy", "picture_01.npy", "other.npy", "../metadata.npy",
                "attention.npy/", "metadata"]  # fmt: skip


@st.composite
def random_members(draw: st.DrawFn, saved: dict[str, bytes]) -> list[tuple[str, bytes, int]]:
    """Members of an archive: the real ones, some dropped, repeated or replaced by random bytes or arrays."""
    members = []
    for name, data in saved.items():
        if draw(st.integers(0, 4)) == 0:
            continue  # dropped
        choice = draw(st.integers(0, 5))
        if choice == 1:
            data = draw(st.binary(max_size=200))
        elif choice == 2:
            array = draw(
                hnp.arrays(
                    st.sampled_from([np.float32, np.float16, np.float64, np.int64, np.uint8, "U3", np.bool_]),
                    hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5),
                )
            )
            data = npy(array)
        elif choice == 3:
            data = data[: draw(st.integers(0, len(data)))]
        members.append((name, data, draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))))
    for _ in range(draw(st.integers(0, 2))):
        members.append(
            (draw(st.sampled_from(MEMBER_NAMES)), draw(st.binary(max_size=64)), draw(st.sampled_from([0, 8, 12, 14])))
        )
    return draw(st.permutations(members))


@settings(max_examples=80, suppress_health_check=SLOW)
@given(data=st.data())
def test_zips_of_random_members_load_or_are_refused(folder, saved_members, data):
    members = data.draw(random_members(saved_members))
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as archive:
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name": what a crafted file may hold
        for name, content, method in members:
            archive.writestr(zipfile.ZipInfo(name), content, compress_type=method)
    load_outcome(folder, buffer.getvalue())


JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=8)),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
METADATA_FIELDS = ["format_version", "prompt", "model", "family", "answer", "thinking", "layer_ids", "tokens", "images",
                   "tokens.text", "tokens.start", "tokens.end", "tokens.special", "tokens.part", "tokens.probability",
                   "images.rows", "images.cols", "images.resized_size", "images.original_size", "images.first_column",
                   "images.groups", "images.group_frames", "images.group_times", "extra"]  # fmt: skip


@settings(max_examples=120, suppress_health_check=SLOW)
@given(
    edits=st.lists(
        st.tuples(st.sampled_from(METADATA_FIELDS), st.integers(0, 20), st.one_of(JSON, st.just(KeyError))),
        min_size=1,
        max_size=3,
    )
)
def test_edited_metadata_loads_a_valid_result_or_is_refused(folder, saved_members, edits):
    """Each edit sets a metadata field (of one token or image, for dotted names) to any JSON value, or removes it."""
    saved = saved_members
    metadata = metadata_of(saved)
    for field, index, value in edits:
        owner: Any = metadata
        key = field
        if "." in field:
            group, key = field.split(".")
            owner = (
                metadata[group][index % len(metadata[group])]
                if isinstance(metadata.get(group), list) and metadata[group]
                else None
            )
            if not isinstance(owner, dict):
                continue
        if value is KeyError:
            owner.pop(key, None)
        else:
            owner[key] = value
    text = json.dumps(metadata)
    members = {**saved, "metadata.npy": npy(np.array(text))}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    ok, loaded = load_outcome(folder, buffer.getvalue())
    if ok:
        assert loaded.prompt == metadata["prompt"] and len(loaded.tokens) == len(metadata["tokens"])


@settings(max_examples=30, suppress_health_check=SLOW)
@given(path=st.one_of(ANY_VALUE, PATH_TEXT))
def test_any_load_argument_is_read_or_refused(folder, path):
    if isinstance(path, str):
        path = f"{folder}/missing/{path}"
    ok, _ = attempt(lambda: AttentionResult.load(path))
    assert not ok
    ok, message = attempt(lambda: AttentionResult.load(folder))
    assert not ok and "is a folder" in message


# ----- the invariants' own checks --------------------------------------------------------------------------------


def test_a_library_error_is_not_taken_for_a_refusal():
    with pytest.raises(AssertionError, match="raised outside qvl_widget"):
        attempt(lambda: Path(5))  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match="escaped from a call"):
        attempt(lambda: colour_indices("abc", 1.0))  # numpy's ValueError, from a line of qvl_widget
    with pytest.raises(AssertionError, match="several lines"):
        check_refusal(ValueError("one\ntwo"))


def test_reference_maps_follow_the_readme(results):
    result = results[1]
    assert math.isclose(
        float(reference_maps(result, [0, 2], "max", "mean")[3, 5]),
        float(result.attention[[0, 2], :, 3, 5].max(axis=1).mean()),
        rel_tol=1e-6,
    )


# ----- odd frame shapes (issue EDGES): a solid clip reaches the model in its own colour -------------------------


@settings(max_examples=12)
@given(
    width=st.integers(1, 40),
    height=st.integers(1, 40),
    colour=st.tuples(*[st.integers(0, 255)] * 3),
    family=st.sampled_from(["qwen2_vl", "qwen3_vl"]),
)
def test_frames_of_any_shape_reach_the_model_in_their_colour(tiny_models, width, height, colour, family):
    """Frames 1, 3 or 4 pixels tall or wide (which a processor could read channels-first) included."""
    from qvl_widget._inputs import prepare_inputs
    from qvl_widget._video import Video

    model = tiny_models[family]
    clip = Video([Image.new("RGB", (width, height), colour)] * 2)
    try:
        inputs = prepare_inputs(model.processor, model.model.config, clip, "What")
    except ValueError as error:
        refusal: str | None = str(error)
    else:
        refusal = None
    if refusal is not None:  # transformers 5.0's Qwen3-VL video processor takes no side under 32 pixels
        assert family == "qwen3_vl" and min(width, height) < 32, refusal
        assert "smaller than this version of transformers' video processor takes" in refusal
        return
    pixels = inputs.model_inputs["pixel_values_videos"]
    means = pixels.reshape(pixels.shape[0], 3, -1).mean(dim=(0, 2)).numpy()
    video_processor = model.processor.video_processor
    expected = (np.array(colour) / 255 - video_processor.image_mean) / video_processor.image_std
    np.testing.assert_allclose(means, expected, atol=2e-2)
