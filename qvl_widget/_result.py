"""AttentionResult: the cached text->image attention of one capture, and everything views need to draw it.

Numpy only: a result never touches the model, so it can be saved, loaded and viewed without torch.
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from ._choices import (
    HeadSelection,
    LayerSelection,
    Reduce,
    TokenSelection,
    checked_index,
    checked_indices,
    checked_reduce,
)
from ._files import write_atomically
from ._geometry import token_boxes

if TYPE_CHECKING:
    from ._html import HeadChoices, LayerChoices
    from ._widget import AttentionWidget

FORMAT_VERSION = 1


@dataclass(frozen=True)
class QueryToken:
    """One query (text) token.

    `start`/`end` are character offsets into the prompt, `None` for tokens the chat template added.
    `special` marks chat-template and special tokens, i.e. everything that is not the user's prompt text.
    """

    text: str
    start: int | None
    end: int | None
    special: bool


@dataclass(frozen=True)
class ImageGeometry:
    """Where one image's tokens sit: its merged token grid and the sizes it was seen at."""

    rows: int
    cols: int
    resized_size: tuple[int, int]  # (width, height) in pixels, as fed to the vision tower
    original_size: tuple[int, int]  # (width, height) of the image the user gave
    first_column: int  # index of this image's first token among the result's image columns

    @property
    def num_tokens(self) -> int:
        return self.rows * self.cols

    @property
    def columns(self) -> slice:
        return slice(self.first_column, self.first_column + self.num_tokens)


@dataclass(frozen=True, eq=False)
class AttentionResult:
    """Text->image attention probabilities for every layer and head, with tokens and image geometry.

    - `attention[layer, head, query, image_token]`: softmax probabilities of the model's own queries and keys,
      recomputed in fp32 (equal to eager attention up to rounding), restricted to the query rows and the
      image-token columns (all images, in prompt order).
    - `image_mass[layer, head, query]`: each query row's total probability on image tokens.
    - `query_positions` / `image_positions`: absolute sequence positions of the rows / columns.
    """

    attention: np.ndarray
    image_mass: np.ndarray
    query_positions: np.ndarray
    image_positions: np.ndarray
    tokens: tuple[QueryToken, ...]
    images: tuple[ImageGeometry, ...]
    pictures: tuple[Image.Image, ...]  # the RGB images at their original size
    prompt: str
    model: str = ""
    family: str = ""

    def __post_init__(self) -> None:
        layers, heads, queries, columns = self.attention.shape
        expected = {
            "image_mass": (self.image_mass.shape, (layers, heads, queries)),
            "query_positions": (self.query_positions.shape, (queries,)),
            "image_positions": (self.image_positions.shape, (columns,)),
            "tokens": ((len(self.tokens),), (queries,)),
            "image tokens": ((sum(image.num_tokens for image in self.images),), (columns,)),
            "pictures": ((len(self.pictures),), (len(self.images),)),
        }
        for name, (got, want) in expected.items():
            if got != want:
                raise ValueError(f"inconsistent AttentionResult: {name} has shape {got}, expected {want}")

    # ----- sizes -------------------------------------------------------------------------------------------

    @property
    def num_layers(self) -> int:
        return self.attention.shape[0]

    @property
    def num_heads(self) -> int:
        return self.attention.shape[1]

    @property
    def num_queries(self) -> int:
        return self.attention.shape[2]

    def __repr__(self) -> str:
        grids = ", ".join(f"{image.rows}x{image.cols}" for image in self.images)
        return (
            f"AttentionResult(model={self.model!r}, layers={self.num_layers}, heads={self.num_heads}, "
            f"queries={self.num_queries}, image grids=[{grids}], prompt={self.prompt!r})"
        )

    # ----- geometry ----------------------------------------------------------------------------------------

    def token_boxes(self, image: int = 0) -> np.ndarray:
        """`[tokens_of_image, 4]` boxes `(x0, y0, x1, y1)` of each image token in original-image pixels."""
        geometry = self.images[checked_index(image, len(self.images), "image")]
        return token_boxes(geometry.rows, geometry.cols, geometry.original_size)

    # ----- selection ---------------------------------------------------------------------------------------

    def token_indices(self, phrase: str) -> list[int]:
        """Indices of the query tokens covering `phrase` in the prompt (case-insensitive, every occurrence).

        Occurrences that start a word count ("cat" finds "cat" and "cats", not the middle of "Scatter"); only
        where there are none, e.g. in scripts written without spaces, do occurrences inside words count."""
        words = phrase.split()
        if not words:
            raise ValueError("phrase is empty: pass some words of the prompt, e.g. phrase='red cat'")
        body = r"\s+".join(re.escape(word) for word in words)
        at_word_start = re.compile(r"(?<!\w)" + body, re.IGNORECASE)
        spans = [match.span() for match in at_word_start.finditer(self.prompt)]
        if not spans:
            spans = [match.span() for match in re.finditer(body, self.prompt, re.IGNORECASE)]
        selected = [
            index
            for index, token in enumerate(self.tokens)
            if token.start is not None
            and token.end is not None
            and any(token.start < end and token.end > start for start, end in spans)
        ]
        if not selected:
            shown = ", ".join(repr(token.text) for token in self.tokens if not token.special)
            raise ValueError(f"phrase {phrase!r} is not in the prompt {self.prompt!r}; its tokens are: {shown}")
        return selected

    def maps(self, layer: LayerSelection = -1, head: HeadSelection = None, reduce: Reduce = "mean") -> np.ndarray:
        """`[queries, image_tokens]` attention for one selection: layer(s) and head(s) reduced by `reduce`.

        `layer` is an index (negative counts from the end), a list of them, or "all"; `head` an index, a list,
        or None for all heads. Several heads, then several layers, are combined by `reduce` ("mean" or "max").
        """
        reduce = checked_reduce(reduce)
        layers = self._layer_indices(layer)
        heads = list(range(self.num_heads)) if head is None else checked_indices(head, self.num_heads, "head")
        combine = np.mean if reduce == "mean" else np.max
        selected = self.attention[np.ix_(layers, heads)].astype(np.float32, copy=False)
        return combine(combine(selected, axis=1), axis=0)

    def grid(
        self,
        token: TokenSelection = None,
        phrase: str | None = None,
        layer: LayerSelection = -1,
        head: HeadSelection = None,
        reduce: Reduce = "mean",
        image: int = 0,
    ) -> np.ndarray:
        """A `[rows, cols]` map of one image: the mean over the selected query tokens.

        Tokens come from `token` (index or indices into `tokens`) or `phrase` (text of the prompt); with
        neither, all prompt tokens (the non-special ones). Layers and heads as in `maps`.
        """
        geometry = self.images[checked_index(image, len(self.images), "image")]
        rows = self._token_rows(token, phrase)
        per_token = self.maps(layer, head, reduce)[rows, geometry.columns]
        return per_token.mean(axis=0).reshape(geometry.rows, geometry.cols)

    def _layer_indices(self, layer: LayerSelection) -> list[int]:
        if isinstance(layer, str):
            if layer != "all":
                raise ValueError(f"layer must be an index, a list of indices or 'all', not {layer!r}")
            return list(range(self.num_layers))
        return checked_indices(layer, self.num_layers, "layer")

    def _token_rows(self, token: TokenSelection, phrase: str | None) -> list[int]:
        if token is not None and phrase is not None:
            raise ValueError("pass either token= or phrase=, not both")
        if phrase is not None:
            return self.token_indices(phrase)
        if token is not None:
            return checked_indices(token, self.num_queries, "token")
        prompt_rows = [index for index, query in enumerate(self.tokens) if not query.special]
        return prompt_rows or list(range(self.num_queries))

    # ----- views -------------------------------------------------------------------------------------------

    def widget(self, **options: Any) -> AttentionWidget:
        """An `AttentionWidget` over this result (options as for `AttentionWidget`: layer=, head=, phrase=, ...)."""
        from ._widget import AttentionWidget

        return AttentionWidget(self, **options)

    def to_html(
        self,
        path: str | os.PathLike,
        layers: LayerChoices = None,
        heads: HeadChoices = None,
        max_bytes: int | None = None,
        **view_options: Any,
    ) -> Path:
        """Write one self-contained interactive HTML file (the widget's front end, offline); return its path.

        `layers` / `heads` choose the maps it embeds (default: every layer and the layer mean with the head mean
        and max, and every head of the last four layers), `max_bytes` caps its size (default 25 MiB); the view
        options (phrase=, token=, layer=, head=, colormap=, ...: the view it opens on) are the widget's.
        """
        from ._html import DEFAULT_MAX_BYTES, write_html
        from ._view_state import ViewState

        state = ViewState.of(self, **view_options)
        return write_html(self, state, path, layers, heads, DEFAULT_MAX_BYTES if max_bytes is None else max_bytes)

    # ----- persistence -------------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> Path:
        """Write the result to one `.npz` file (arrays, JSON metadata and PNG images; no pickle).

        The file is written next to its destination and renamed into place, so a failure leaves no partial file.
        """
        path = Path(path)
        if path.suffix != ".npz":
            raise ValueError(f"save path must end in .npz, got {str(path)!r}")
        arrays: dict[str, Any] = {
            "attention": self.attention,
            "image_mass": self.image_mass,
            "query_positions": self.query_positions,
            "image_positions": self.image_positions,
            "metadata": np.array(json.dumps(self._metadata())),
        }
        for index, picture in enumerate(self.pictures):
            arrays[f"picture_{index}"] = np.frombuffer(_png_bytes(picture), dtype=np.uint8)
        return write_atomically(path, lambda handle: np.savez(handle, **arrays))

    @classmethod
    def load(cls, path: str | os.PathLike) -> AttentionResult:
        """Read a result written by `save`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no saved result at {str(path)!r}; write one with result.save(path)")
        if not zipfile.is_zipfile(path):  # before numpy, whose error for other files talks of unpickling
            raise ValueError(f"{str(path)!r} is not a qvl_widget result file (not an .npz archive from result.save)")
        try:
            with np.load(path, allow_pickle=False) as archive:
                metadata = json.loads(str(archive["metadata"]))
                if metadata.get("format_version") != FORMAT_VERSION:
                    raise ValueError(f"unsupported format version {metadata.get('format_version')!r}")
                pictures = tuple(
                    _picture_from_png(archive[f"picture_{index}"]) for index in range(len(metadata["images"]))
                )
                return cls(
                    attention=archive["attention"],
                    image_mass=archive["image_mass"],
                    query_positions=archive["query_positions"],
                    image_positions=archive["image_positions"],
                    tokens=tuple(QueryToken(**token) for token in metadata["tokens"]),
                    images=tuple(_geometry_from_json(image) for image in metadata["images"]),
                    pictures=pictures,
                    prompt=metadata["prompt"],
                    model=metadata["model"],
                    family=metadata["family"],
                )
        except (KeyError, ValueError, TypeError, AttributeError, OSError, EOFError, zipfile.BadZipFile) as error:
            # Truncated or corrupted archives, other .npz files, edited metadata: one message, no traceback.
            raise ValueError(f"{str(path)!r} is not a readable qvl_widget result file ({error})") from None

    def _metadata(self) -> dict:
        return {
            "format_version": FORMAT_VERSION,
            "prompt": self.prompt,
            "model": self.model,
            "family": self.family,
            "tokens": [token.__dict__ for token in self.tokens],
            "images": [image.__dict__ for image in self.images],
        }


def _png_bytes(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def _picture_from_png(data: np.ndarray) -> Image.Image:
    with Image.open(io.BytesIO(data.tobytes())) as opened:
        opened.load()
        return opened.copy()


def _geometry_from_json(image: dict) -> ImageGeometry:
    return ImageGeometry(
        rows=image["rows"],
        cols=image["cols"],
        resized_size=tuple(image["resized_size"]),
        original_size=tuple(image["original_size"]),
        first_column=image["first_column"],
    )
