"""AttentionResult: the cached text->image attention of one capture, and everything views need to draw it.

Numpy only: a result never touches the model, so it can be saved, loaded and viewed without torch.
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import numpy as np
from PIL import Image

from ._choices import (
    HeadSelection,
    LayerSelection,
    Reduce,
    TokenSelection,
    checked_index,
    checked_indices,
    selected,
)
from ._files import write_atomically
from ._geometry import token_boxes

if TYPE_CHECKING:
    from ._html import Choices
    from ._widget import AttentionWidget

FORMAT_VERSION = 2
READABLE_FORMAT_VERSIONS = (1, 2)  # version 1: no answer, every layer

Part: TypeAlias = Literal["prompt", "answer"]


@dataclass(frozen=True)
class QueryToken:
    """One query (text) token: of the prompt, or of the model's answer.

    `part` is "prompt" or "answer". `start`/`end` are character offsets into the prompt (for the prompt's tokens)
    or into `result.answer` (for the answer's), `None` for tokens the chat template or the model's special tokens
    added; `special` marks those, i.e. everything that is not the user's prompt text or the answer's text.
    `probability` (answer tokens only) is the model's probability of this token at the step that chose it.
    """

    text: str
    start: int | None
    end: int | None
    special: bool
    part: Part = "prompt"
    probability: float | None = None


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
    - `answer`: the answer's text (None without one); its tokens follow the prompt's, with `part="answer"`.
    - `layer_ids`: each captured layer's index among the model's decoder layers (all of them, unless the capture
      kept some only); `layer=` selections index the captured layers, labels name them by these ids.
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
    answer: str | None = None
    layer_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        layers, heads, queries, columns = self.attention.shape
        if not self.layer_ids:
            object.__setattr__(self, "layer_ids", tuple(range(layers)))
        expected = {
            "image_mass": (self.image_mass.shape, (layers, heads, queries)),
            "query_positions": (self.query_positions.shape, (queries,)),
            "image_positions": (self.image_positions.shape, (columns,)),
            "tokens": ((len(self.tokens),), (queries,)),
            "image tokens": ((sum(image.num_tokens for image in self.images),), (columns,)),
            "pictures": ((len(self.pictures),), (len(self.images),)),
            "layer_ids": ((len(self.layer_ids),), (layers,)),
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
        answer = "" if self.answer is None else f", answer={self.answer!r}"
        return (
            f"AttentionResult(model={self.model!r}, layers={self.num_layers}, heads={self.num_heads}, "
            f"queries={self.num_queries}, image grids=[{grids}], prompt={self.prompt!r}{answer})"
        )

    # ----- geometry ----------------------------------------------------------------------------------------

    def token_boxes(self, image: int = 0) -> np.ndarray:
        """`[tokens_of_image, 4]` boxes `(x0, y0, x1, y1)` of each image token in original-image pixels."""
        geometry = self.images[checked_index(image, len(self.images), "image")]
        return token_boxes(geometry.rows, geometry.cols, geometry.original_size)

    # ----- selection ---------------------------------------------------------------------------------------

    def token_indices(self, phrase: str) -> list[int]:
        """Indices of the query tokens covering `phrase` in the prompt or the answer (case-insensitive, every
        occurrence; each token's `part` says which).

        Occurrences that start a word count ("cat" finds "cat" and "cats", not the middle of "Scatter"); only
        where there are none, e.g. in scripts written without spaces, do occurrences inside words count."""
        if not isinstance(phrase, str):
            raise TypeError(f"phrase must be text (words of the prompt or the answer), not {type(phrase).__name__}")
        words = phrase.split()
        if not words:
            raise ValueError("phrase is empty: pass some words of the prompt or the answer, e.g. phrase='red cat'")
        texts: dict[Part, str] = {"prompt": self.prompt, "answer": self.answer or ""}
        spans = {part: _phrase_spans(words, text) for part, text in texts.items()}
        selected = [
            index
            for index, token in enumerate(self.tokens)
            if token.start is not None
            and token.end is not None
            and any(token.start < end and token.end > start for start, end in spans[token.part])
        ]
        if not selected:
            shown = ", ".join(repr(token.text) for token in self.tokens if not token.special)
            where = f"the prompt {self.prompt!r}" + ("" if self.answer is None else f" or the answer {self.answer!r}")
            raise ValueError(f"phrase {phrase!r} is not in {where}; its tokens are: {shown}")
        return selected

    def producing_rows(self, tokens: Sequence[int]) -> list[int]:
        """For each token index, the row of the position before it: the step whose output chose that token (for
        an answer token, the model's own step; for a prompt token, the step that predicted it)."""
        row_of = {int(position): row for row, position in enumerate(self.query_positions)}
        rows = []
        for index in tokens:
            row = row_of.get(int(self.query_positions[index]) - 1)
            if row is None:
                raise ValueError(
                    f"token {index} ({self.tokens[index].text!r}) has no producing map: the position before it "
                    "is not a captured row (it is the image, or before it); use producing=False for its own row"
                )
            rows.append(row)
        return rows

    def maps(
        self, layer: LayerSelection = -1, head: HeadSelection = None, reduce: Reduce = "mean", producing: bool = False
    ) -> np.ndarray:
        """`[queries, image_tokens]` attention for one choice of layers and heads.

        `layer` and `head`: an index (negative counts from the end), a list of them (combined by `reduce`, "mean"
        or "max"), "mean" or "max" (of all of them), or "all" / None (all of them, combined by `reduce`). Heads
        are combined first, then layers. With `producing`, token k's row is the row of the position before it
        (`producing_rows`); tokens with none (the first after an image) get NaN.
        """
        layers, over_layers = selected(layer, self.num_layers, "layer", reduce)
        heads, over_heads = selected(head, self.num_heads, "head", reduce)
        chosen = self.attention[np.ix_(layers, heads)].astype(np.float32, copy=False)
        rows = _combine(_combine(chosen, over_heads, axis=1), over_layers, axis=0)
        if not producing:
            return rows
        shifted = np.full_like(rows, np.nan)
        for index in range(self.num_queries):
            if self.has_producing_row(index):
                shifted[index] = rows[self.producing_rows([index])[0]]
        return shifted

    def has_producing_row(self, token: int) -> bool:
        """Whether the position before token `token` is a captured row."""
        return int(self.query_positions[token]) - 1 in set(self.query_positions.tolist())

    def grid(
        self,
        token: TokenSelection = None,
        phrase: str | None = None,
        layer: LayerSelection = -1,
        head: HeadSelection = None,
        reduce: Reduce = "mean",
        image: int = 0,
        producing: bool = False,
    ) -> np.ndarray:
        """A `[rows, cols]` map of one image: the mean over the selected query tokens.

        Tokens come from `token` (index or indices into `tokens`) or `phrase` (words of the prompt or the
        answer); with neither, all the prompt's own tokens (not the template's). Layers and heads as in `maps`.
        With `producing`, each token's map is that of the step that produced it (the position before it): for an
        answer word, where the model looked when it chose that word.
        """
        geometry = self.images[checked_index(image, len(self.images), "image")]
        rows = self._token_rows(token, phrase)
        if producing:
            rows = self.producing_rows(rows)
        per_token = self.maps(layer, head, reduce)[rows, geometry.columns]
        return per_token.mean(axis=0).reshape(geometry.rows, geometry.cols)

    def _token_rows(self, token: TokenSelection, phrase: str | None) -> list[int]:
        if token is not None and phrase is not None:
            raise ValueError("pass either token= or phrase=, not both")
        if phrase is not None:
            return self.token_indices(phrase)
        if token is not None:
            return checked_indices(token, self.num_queries, "token")
        prompt_rows = [index for index, query in enumerate(self.tokens) if query.part == "prompt" and not query.special]
        return prompt_rows or list(range(self.num_queries))

    # ----- views -------------------------------------------------------------------------------------------

    def widget(self, **options: Any) -> AttentionWidget:
        """An `AttentionWidget` over this result (options as for `AttentionWidget`: layer=, head=, phrase=, ...)."""
        from ._widget import AttentionWidget

        return AttentionWidget(self, **options)

    def to_html(
        self,
        path: str | os.PathLike,
        layers: Choices = None,
        heads: Choices = None,
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
                if metadata.get("format_version") not in READABLE_FORMAT_VERSIONS:
                    raise ValueError(
                        f"unsupported format version {metadata.get('format_version')!r}: this qvl_widget reads "
                        f"versions {', '.join(map(str, READABLE_FORMAT_VERSIONS))}; a newer qvl_widget wrote it"
                    )
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
                    answer=metadata.get("answer"),
                    layer_ids=tuple(metadata.get("layer_ids", ())),
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
            "answer": self.answer,
            "layer_ids": list(self.layer_ids),
            "tokens": [token.__dict__ for token in self.tokens],
            "images": [image.__dict__ for image in self.images],
        }


def _combine(values: np.ndarray, how: Reduce, axis: int) -> np.ndarray:
    return values.mean(axis=axis) if how == "mean" else values.max(axis=axis)


def _phrase_spans(words: list[str], text: str) -> list[tuple[int, int]]:
    """Where `words` (separated by any whitespace) occur in `text`: at word starts, or else anywhere."""
    body = r"\s+".join(re.escape(word) for word in words)
    spans = [match.span() for match in re.finditer(r"(?<!\w)" + body, text, re.IGNORECASE)]
    return spans or [match.span() for match in re.finditer(body, text, re.IGNORECASE)]


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
