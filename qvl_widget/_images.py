"""Reading user images into 8-bit RGB, whatever mode they arrive in."""

from __future__ import annotations

import os
import re
import struct
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ._arguments import described, shown_path

ImageInput = str | os.PathLike | Image.Image | np.ndarray

_BACKGROUND = (255, 255, 255)  # transparent pixels are shown on white, as image viewers do


def as_image_list(image_or_images: ImageInput | Sequence[ImageInput] | None) -> list[ImageInput]:
    """One image or a sequence of them, as a non-empty list."""
    if image_or_images is None:
        images: list[ImageInput] = []
    elif isinstance(image_or_images, (str, os.PathLike, Image.Image, np.ndarray)):
        images = [image_or_images]
    elif isinstance(image_or_images, Sequence) and not isinstance(image_or_images, (bytes, bytearray)):
        images = list(image_or_images)
    else:
        raise TypeError(
            f"an image must be a file path, a PIL image or a numpy array (or a list of them), not "
            f"{described(image_or_images)}"
        )
    if not images:
        raise ValueError(
            "no image given: pass an image path, a PIL image or a list of them, e.g. capture('cat.jpg', prompt)"
        )
    return images


def load_rgb(image: ImageInput) -> Image.Image:
    """An upright 8-bit RGB copy of `image` (a path, a PIL image, or a `[height, width(, channels)]` array).

    RGBA/LA/palette images are composited on white, 16-bit and float images are rescaled to 8 bits, and
    EXIF orientation is applied so the picture is the way a viewer shows it. Files over Pillow's decompression
    bomb limit (`PIL.Image.MAX_IMAGE_PIXELS`), empty, truncated or unreadable images are refused with one line.
    """
    if isinstance(image, Image.Image):
        picture = _loaded(image)
    elif isinstance(image, (str, os.PathLike)):
        picture = _open(image)
    elif isinstance(image, np.ndarray):
        picture = _from_array(image)
    else:
        raise TypeError(f"an image must be a file path, a PIL image or a numpy array, not {described(image)}")
    if picture.width == 0 or picture.height == 0:
        raise ValueError(
            f"the image is empty ({picture.width} x {picture.height} px); pass an image with at least one pixel"
        )
    try:
        picture = ImageOps.exif_transpose(picture)
    except (OSError, ValueError, SyntaxError, struct.error) as error:  # a damaged EXIF block: show it as stored
        warnings.warn(f"ignoring the image's damaged EXIF orientation ({_reason(error)})", stacklevel=3)
    return _to_rgb(picture)


def _loaded(picture: Image.Image) -> Image.Image:
    """A PIL image with its pixels read: one opened lazily (`Image.open`) is decoded here, with one line where
    its file is truncated, closed or damaged."""
    try:
        picture.load()
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise ValueError(
            f"cannot read the PIL image's pixels ({_reason(error)}); is its file complete and still open?"
        ) from error
    return picture


def _open(image: str | os.PathLike) -> Image.Image:
    text = checked_media_path(image, "image", "'cat.jpg'")
    path = Path(text)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", Image.DecompressionBombWarning)
            opened = Image.open(path)  # reads the header only
    except Image.DecompressionBombError as error:  # over twice the limit: Pillow refuses it itself
        raise _too_many_pixels(text, None, str(error)) from error
    except _UNREADABLE as error:
        raise _unreadable(text, error) from error
    bomb = False
    for warning in caught:
        if issubclass(warning.category, Image.DecompressionBombWarning):
            bomb = True
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    with opened:
        if bomb:  # over the limit: refused before its pixels are decoded
            raise _too_many_pixels(text, opened.size)
        try:
            opened.load()
            return opened.copy()
        except _UNREADABLE as error:
            raise _unreadable(text, error) from error


def checked_media_path(source: str | os.PathLike, kind: str, example: str) -> str:
    """An image's or a video's path as text, once it names a regular file; else a one-line error saying what the
    path is (empty, a folder, missing, a device) and what to pass instead (e.g. `example` = "'cat.jpg'")."""
    text = os.fspath(source)
    article = "an" if kind[0] in "aeiou" else "a"
    if not isinstance(text, str):
        raise TypeError(f"{article} {kind} path must be text (a str or a pathlib.Path), not {described(text)}")
    if not text:
        raise ValueError(f"the {kind} path is empty; pass {article} {kind} file, e.g. {example}")
    if "\0" in text:
        raise ValueError(f"the {kind} path {shown_path(text)} contains a NUL character, which no file name may hold")
    path = Path(text)
    try:
        is_dir, is_file, exists = path.is_dir(), path.is_file(), path.exists()
    except (OSError, ValueError) as error:  # a name too long, characters the system cannot encode
        raise FileNotFoundError(
            f"{kind} file not found: {shown_path(text)} ({_reason(error)}); check the path"
        ) from error
    if is_dir:
        raise IsADirectoryError(f"{shown_path(text)} is a folder; pass {article} {kind} file in it")
    if exists and not is_file:
        raise ValueError(f"{shown_path(text)} is not a regular file (a device or a pipe?); pass {article} {kind} file")
    if not is_file:
        raise FileNotFoundError(f"{kind} file not found: {shown_path(text)}; check the path")
    return text


# What Pillow raises for a file it cannot read: not an image, truncated, damaged.
_UNREADABLE = (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, struct.error)


def _unreadable(path: str, error: BaseException) -> ValueError:
    return ValueError(f"cannot read image {shown_path(path)} ({_reason(error)}); is it a complete PNG/JPEG/WebP file?")


def _too_many_pixels(path: str, size: tuple[int, int] | None, message: str = "") -> ValueError:
    """Pillow's decompression bomb guard, as one line: the image's size, the limit, and the two ways on."""
    if size is not None:
        pixels = size[0] * size[1]
        what = f"{size[0]} x {size[1]} px ({pixels / 1e6:.0f} megapixels)"
    else:
        found = re.search(r"\((\d+) pixels\)", message)
        what = f"{int(found.group(1)) / 1e6:.0f} megapixels" if found else "too large"
    limit = Image.MAX_IMAGE_PIXELS or 0
    return ValueError(
        f"image {shown_path(path)} is {what}, over Pillow's limit for files ({limit / 1e6:.0f} megapixels, "
        "PIL.Image.MAX_IMAGE_PIXELS, a guard against decompression bombs); shrink it first (the model sees it "
        "resized to max_pixels anyway), or if you trust the file, set PIL.Image.MAX_IMAGE_PIXELS = None"
    )


def _reason(error: BaseException) -> str:
    """An exception's message on one line (its class where it has none); for a system error, its reason alone
    (its message repeats the path, which may be long)."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return " ".join(str(error).split()) or type(error).__name__


def _from_array(pixels: np.ndarray) -> Image.Image:
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] not in (1, 3, 4)):
        raise ValueError(f"an image array must be [height, width] or [height, width, 1|3|4], got shape {pixels.shape}")
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise ValueError(f"the image array is empty (shape {pixels.shape}); pass one with at least one pixel")
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if not pixels.dtype.isnative:  # big-endian data (from a FITS or raw file): the same numbers in this machine's order
        pixels = pixels.astype(pixels.dtype.newbyteorder("="))
    if pixels.dtype == np.uint8:
        return Image.fromarray(pixels)
    if pixels.dtype == np.uint16:  # 16-bit (PNG/TIFF through imageio or tifffile): full range 0..65535
        return Image.fromarray(np.round(pixels / 65535.0 * 255.0).astype(np.uint8))
    if np.issubdtype(pixels.dtype, np.floating):
        if not np.isfinite(pixels).all():
            raise ValueError("the float image array holds NaN or infinite values; replace them (e.g. np.nan_to_num)")
        if pixels.min() < 0 or pixels.max() > 1:
            raise ValueError("a float image array must hold values in 0..1; scale it, or pass uint8 values 0..255")
        return Image.fromarray(np.round(pixels * 255).astype(np.uint8))
    raise ValueError(f"an image array must be uint8 (0..255), uint16 (0..65535) or float (0..1), not {pixels.dtype}")


def _to_rgb(picture: Image.Image) -> Image.Image:
    if picture.mode == "RGB":
        return picture.copy()
    if picture.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return Image.fromarray(_rescale_to_uint8(np.asarray(picture), picture.mode)).convert("RGB")
    if picture.mode == "P":
        picture = picture.convert("RGBA")
    if picture.mode == "La":  # premultiplied: Pillow converts it to LA only
        picture = picture.convert("LA")
    if picture.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = picture.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*_BACKGROUND, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return picture.convert("RGB")


def _rescale_to_uint8(values: np.ndarray, mode: str) -> np.ndarray:
    """Integer pixels (16-bit, full range 0..65535) or float pixels (0..1) to 8 bits.

    Mode "I" (32-bit integers) holds 16-bit files but also 8-bit data converted by other code: values that
    all fit in 0..255 are taken as 8-bit, as Pillow's own conversion does, rather than shown near black."""
    with np.errstate(invalid="ignore"):  # a signalling NaN warns as it is cast; it is refused just below
        values = values.astype(np.float64)
    if not np.isfinite(values).all():
        raise ValueError("the float image holds NaN or infinite values; replace them (e.g. np.nan_to_num)")
    brightest = float(values.max(initial=0.0))
    if mode == "F":
        full_scale = max(1.0, brightest)
    elif mode == "I" and brightest <= 255:
        full_scale = 255.0
    else:
        full_scale = 65535.0
    return np.clip(np.round(values / full_scale * 255.0), 0, 255).astype(np.uint8)
