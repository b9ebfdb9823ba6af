"""Reading user images into 8-bit RGB, whatever mode they arrive in."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

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
            f"{type(image_or_images).__name__}"
        )
    if not images:
        raise ValueError(
            "no image given: pass an image path, a PIL image or a list of them, e.g. capture('cat.jpg', prompt)"
        )
    return images


def load_rgb(image: ImageInput) -> Image.Image:
    """An upright 8-bit RGB copy of `image` (a path, a PIL image, or a `[height, width(, channels)]` array).

    RGBA/LA/palette images are composited on white, 16-bit and float images are rescaled to 8 bits, and
    EXIF orientation is applied so the picture is the way a viewer shows it.
    """
    if isinstance(image, Image.Image):
        picture = image
    elif isinstance(image, (str, os.PathLike)):
        picture = _open(Path(image))
    elif isinstance(image, np.ndarray):
        picture = _from_array(image)
    else:
        raise TypeError(f"an image must be a file path, a PIL image or a numpy array, not {type(image).__name__}")
    picture = ImageOps.exif_transpose(picture)
    return _to_rgb(picture)


def _open(path: Path) -> Image.Image:
    if path.is_dir():
        raise IsADirectoryError(f"{str(path)!r} is a folder; pass an image file in it")
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {str(path)!r}; check the path")
    try:
        with Image.open(path) as opened:
            opened.load()
            return opened.copy()
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ValueError(f"cannot read image {str(path)!r} ({error}); is it a complete PNG/JPEG/WebP file?") from None


def _from_array(pixels: np.ndarray) -> Image.Image:
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] not in (1, 3, 4)):
        raise ValueError(f"an image array must be [height, width] or [height, width, 1|3|4], got shape {pixels.shape}")
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise ValueError(f"the image array is empty (shape {pixels.shape}); pass one with at least one pixel")
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
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
    if picture.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = picture.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*_BACKGROUND, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return picture.convert("RGB")


def _rescale_to_uint8(values: np.ndarray, mode: str) -> np.ndarray:
    """Integer pixels (16-bit, full range 0..65535) or float pixels (0..1) to 8 bits.

    Mode "I" (32-bit integers) holds 16-bit files but also 8-bit data converted by other code: values that
    all fit in 0..255 are taken as 8-bit, as Pillow's own conversion does, rather than shown near black."""
    values = values.astype(np.float64)
    brightest = float(values.max(initial=0.0))
    if mode == "F":
        full_scale = max(1.0, brightest)
    elif mode == "I" and brightest <= 255:
        full_scale = 255.0
    else:
        full_scale = 65535.0
    return np.clip(np.round(values / full_scale * 255.0), 0, 255).astype(np.uint8)
