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
    else:
        images = list(image_or_images)
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
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if pixels.dtype == np.uint8:
        return Image.fromarray(pixels)
    if np.issubdtype(pixels.dtype, np.floating):
        if pixels.min() < 0 or pixels.max() > 1:
            raise ValueError("a float image array must hold values in 0..1; scale it, or pass uint8 values 0..255")
        return Image.fromarray(np.round(pixels * 255).astype(np.uint8))
    raise ValueError(f"an image array must be uint8 (0..255) or float (0..1), not {pixels.dtype}")


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
    """16-bit integer pixels (full range 0..65535) or float pixels (0..1) to 8 bits."""
    values = values.astype(np.float64)
    full_scale = 65535.0 if mode != "F" else max(1.0, float(values.max(initial=0.0)))
    return np.clip(np.round(values / full_scale * 255.0), 0, 255).astype(np.uint8)
