"""The result's pictures encoded for the browser: small copies to display, full-size ones for Save PNG.

A video's frames (one per temporal group) are always JPEG on display: photographs, many of them, and a one-file
HTML page carries them all."""

from __future__ import annotations

import io

from PIL import Image

# Pictures are sent at twice the display width at most (sharp on high-density screens).
PIXEL_RATIO = 2
_PNG_MAX_PIXELS = 512 * 512  # smaller pictures go as PNG (crisp edges), larger ones as JPEG (small)
# The HTML file's copy of each original (for Save PNG): at most this many pixels on its long side, so a 48 MP
# photo does not fill the file.
EMBEDDED_MAX_SIDE = 4096
VIDEO_FRAME_QUALITY = 85  # JPEG quality of a video's display frames


def display_picture(picture: Image.Image, width: int, video: bool = False) -> tuple[bytes, str]:
    """The picture downscaled for a display `width` CSS pixels wide, encoded, with its MIME type (a `video`'s
    frame: JPEG whatever its size)."""
    target = min(picture.width, width * PIXEL_RATIO)
    if target < picture.width:
        height = max(1, round(picture.height * target / picture.width))
        picture = picture.resize((target, height), Image.Resampling.LANCZOS)
    if video:
        buffer = io.BytesIO()
        picture.convert("RGB").save(buffer, format="JPEG", quality=VIDEO_FRAME_QUALITY)
        return buffer.getvalue(), "image/jpeg"
    data = encoded(picture, lossless=False)
    return data, mime_type(data)


def full_pictures(
    pictures: tuple[Image.Image, ...], compact: bool = False, lossy: frozenset[int] = frozenset()
) -> list[bytes]:
    """The pictures at their original resolution, as PNG (those whose index is in `lossy`, video frames, JPEG when
    large: a long video's frames as PNG would be tens of MB in one message); with `compact` (for the HTML file),
    JPEG for large ones, at most `EMBEDDED_MAX_SIDE` pixels on the long side."""
    if not compact:
        return [encoded(picture, lossless=index not in lossy) for index, picture in enumerate(pictures)]
    return [encoded(_fit_within(picture, EMBEDDED_MAX_SIDE), lossless=False) for picture in pictures]


def encoded(picture: Image.Image, lossless: bool = True) -> bytes:
    """PNG bytes, or for a large picture when `lossless` is off, JPEG bytes (quality 92)."""
    buffer = io.BytesIO()
    if lossless or picture.width * picture.height <= _PNG_MAX_PIXELS:
        picture.save(buffer, format="PNG")
    else:
        picture.save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def mime_type(data: bytes) -> str:
    return "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"


def _fit_within(picture: Image.Image, side: int) -> Image.Image:
    if max(picture.size) <= side:
        return picture
    smaller = picture.copy()
    smaller.thumbnail((side, side), Image.Resampling.LANCZOS)
    return smaller
