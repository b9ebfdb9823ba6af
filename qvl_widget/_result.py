"""AttentionResult: the cached text->image attention of one capture, and everything views need to draw it.

Numpy only: a result never touches the model, so it can be saved, loaded and viewed without torch.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import struct
import unicodedata
import warnings
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, TypeAlias, get_args

import numpy as np
from PIL import Image

from ._arguments import check_encodable, checked_file_path, checked_flag, described, error_kind, real_number
from ._arguments import shown as shown_value
from ._choices import (
    HeadSelection,
    LayerSelection,
    Reduce,
    TokenSelection,
    Unit,
    checked_index,
    checked_indices,
    checked_unit,
    selected,
)
from ._files import check_destinations, write_atomically
from ._geometry import token_boxes
from ._memory import available_bytes, binary_size

if TYPE_CHECKING:
    from ._html import Choices
    from ._widget import AttentionWidget

FORMAT_VERSION = 4
# Version 1: no answer, every layer; version 2: no baseline, no sink scores; version 3: no videos.
READABLE_FORMAT_VERSIONS = (1, 2, 3, 4)

# "MLLMs Know Where to Look" (Zhang et al., ICLR 2025): the generic question whose attention a baseline-relative
# map divides by.
BASELINE_PROMPT = "Write a general description of the image."
# "See What You Are Told" (Kang et al., ICLR 2025): an image token is a visual sink where the largest |value| of
# its RMS-normalized hidden state exceeds this.
SINK_TAU = 20.0
# A relative map divides by the baseline's map; where the baseline gives a cell less than this share of an even
# spread (1 / image tokens), it divides by this instead: such a cell's ratio would be a ratio of two tiny numbers
# (float16 storage rounds them to 0), and its value is at most 100 x image tokens x the cell's own probability.
RELATIVE_FLOOR = 0.01

# The parts of a result's text, in order: the prompt, the model's thinking (where its chat template makes it think
# first: from `<think>` up to and including `</think>`), and its answer (after `</think>`).
Part: TypeAlias = Literal["prompt", "thinking", "answer"]
PARTS: tuple[Part, ...] = get_args(Part)
GENERATED_PARTS: tuple[Part, ...] = ("thinking", "answer")  # the model's own tokens (each with a probability)
THINKING_MARKERS = ("<think>", "</think>")  # how Qwen's tokenizers open and close the thinking (added tokens)
STILL_THINKING = "generation stopped while the model was still thinking: no answer yet"  # what views say then

# A phrase that is not found is told with the prompt (cut to this many characters) and its first tokens.
_SHOWN_TEXT = 200
_LISTED_TOKENS = 40
_REPR_THINKING = 80  # the thinking may run to thousands of characters: its repr is cut to this many


@dataclass(frozen=True)
class QueryToken:
    """One query (text) token: of the prompt, of the model's thinking, or of its answer.

    `part` is "prompt", "thinking" or "answer". `start`/`end` are character offsets into the text of the token's
    own part (`result.prompt`, `result.thinking` or `result.answer`), `None` for tokens the chat template or the
    model's special tokens added; `special` marks those, i.e. everything that is not the user's prompt text or
    the text the model wrote (the `<think>` / `</think>` markers and the line breaks around them are special too).
    `probability` (the model's tokens only: thinking and answer) is the model's probability of this token at the
    step that chose it.
    """

    text: str
    start: int | None
    end: int | None
    special: bool
    part: Part = "prompt"
    probability: float | None = None


@dataclass(frozen=True)
class ImageGeometry:
    """Where one image's or video's tokens sit: its merged token grid and the sizes it was seen at.

    A video's frames are read in pairs (the model's temporal patch): each pair is one temporal *group* of
    `rows x cols` tokens, and its tokens run group-major, row-major within a group. `group_frames[g]` are the
    indices (in the video as given: its file's frames, or the list or array of frames) of the frames group g
    covers (its last frame repeated where the count is odd), `group_times[g]` their first and last times in
    seconds. An image is one group with neither.
    """

    rows: int
    cols: int
    resized_size: tuple[int, int]  # (width, height) in pixels, as fed to the vision tower (a video: each frame)
    original_size: tuple[int, int]  # (width, height) of the image the user gave (a video: of its frames)
    first_column: int  # index of this image's first token among the result's image columns
    groups: int = 1  # temporal groups: 1 for an image
    group_frames: tuple[tuple[int, ...], ...] = ()  # a video's: per group, the source frames it covers
    group_times: tuple[tuple[float, float], ...] = ()  # a video's: per group, its first and last frame's time (s)

    @property
    def kind(self) -> Literal["image", "video"]:
        return "video" if self.group_frames else "image"

    @property
    def tokens_per_group(self) -> int:
        return self.rows * self.cols

    @property
    def num_tokens(self) -> int:
        return self.groups * self.rows * self.cols

    @property
    def columns(self) -> slice:
        return slice(self.first_column, self.first_column + self.num_tokens)

    def group_columns(self, group: int) -> slice:
        """The columns of one temporal group (of an image: group 0, all of its columns)."""
        start = self.first_column + group * self.tokens_per_group
        return slice(start, start + self.tokens_per_group)


@dataclass(frozen=True, eq=False)
class AttentionResult:
    """Text->image attention probabilities for every layer and head, with tokens and image geometry.

    - `attention[layer, head, query, image_token]`: softmax probabilities of the model's own queries and keys,
      recomputed in fp32 (equal to eager attention up to rounding), restricted to the query rows and the
      image-token columns (all images, in prompt order).
    - `image_mass[layer, head, query]`: each query row's total probability on image tokens.
    - `query_positions` / `image_positions`: absolute sequence positions of the rows / columns.
    - `answer`: the answer's text (None without one); its tokens follow the prompt's, with `part="answer"`.
    - `thinking`: what the model wrote between `<think>` and `</think>` before answering, where its chat template
      made it think first (None where it did not); its tokens come between the prompt's and the answer's, with
      `part="thinking"`, and `answer` is then the text after `</think>` ("" where generation stopped before it:
      `still_thinking`).
    - `layer_ids`: each captured layer's index among the model's decoder layers (all of them, unless the capture
      kept some only); `layer=` selections index the captured layers, labels name them by these ids.
    - `baseline_attention[layer, head, image_token]` (with `capture(baseline=...)`, else None): the last token's
      row of the same images with `baseline_prompt` instead of the prompt; `relative=True` views divide by it.
    - `sink_scores[layer, image_token]` (kept by `capture` by default; None with `capture(sink_scores=False)` and
      in files of versions 1 and 2): the largest absolute value of each image token's RMS-normalized hidden state
      entering that layer's attention; `sinks()` flags those over `SINK_TAU`, `drop_sinks=True` views leave them
      out.
    """

    attention: np.ndarray
    image_mass: np.ndarray
    query_positions: np.ndarray
    image_positions: np.ndarray
    tokens: tuple[QueryToken, ...]
    images: tuple[ImageGeometry, ...]
    pictures: tuple[Image.Image, ...]  # RGB, original size: one per image, and per video one per group (`picture`)
    prompt: str
    model: str = ""
    family: str = ""
    answer: str | None = None
    layer_ids: tuple[int, ...] = ()
    thinking: str | None = None
    baseline_attention: np.ndarray | None = None  # [layers, heads, image tokens]: the baseline's last-token rows
    baseline_prompt: str | None = None  # the baseline's text (with baseline_attention)
    sink_scores: np.ndarray | None = None  # [layers, image tokens]: max |RMS-normalized hidden state| entering each

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
            "pictures": ((len(self.pictures),), (sum(image.groups for image in self.images),)),
            "layer_ids": ((len(self.layer_ids),), (layers,)),
        }
        if self.baseline_attention is not None:
            expected["baseline_attention"] = (self.baseline_attention.shape, (layers, heads, columns))
        if self.sink_scores is not None:
            expected["sink_scores"] = (self.sink_scores.shape, (layers, columns))
        if (self.baseline_attention is None) != (self.baseline_prompt is None):
            raise ValueError("inconsistent AttentionResult: baseline_attention and baseline_prompt go together")
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

    @property
    def still_thinking(self) -> bool:
        """Whether generation stopped while the model was still thinking (before `</think>`): then every token it
        wrote is thinking, and `answer` is ""."""
        return self.thinking is not None and not any(
            token.part == "thinking" and token.special and token.text == THINKING_MARKERS[1] for token in self.tokens
        )

    def part_text(self, part: Part) -> str | None:
        """The text of one part (`prompt`, `thinking` or `answer`), into which its tokens' offsets point."""
        return {"prompt": self.prompt, "thinking": self.thinking, "answer": self.answer}[part]

    def __repr__(self) -> str:
        grids = ", ".join(f"{image.rows}x{image.cols}" for image in self.images)
        thinking = "" if self.thinking is None else f", thinking={shown_value(self.thinking, _REPR_THINKING)}"
        if self.still_thinking:
            thinking += " (still thinking: generation stopped before '</think>')"
        answer = "" if self.answer is None else f", answer={self.answer!r}"
        return (
            f"AttentionResult(model={self.model!r}, layers={self.num_layers}, heads={self.num_heads}, "
            f"queries={self.num_queries}, image grids=[{grids}], prompt={self.prompt!r}{thinking}{answer})"
        )

    # ----- geometry ----------------------------------------------------------------------------------------

    def token_boxes(self, image: int = 0) -> np.ndarray:
        """`[tokens_of_image, 4]` boxes `(x0, y0, x1, y1)` of each image token in original-image pixels (a video's:
        in frame pixels, every group's tokens in turn, group-major as its columns: `token_groups` says which)."""
        geometry = self.images[checked_index(image, len(self.images), "image")]
        return np.tile(token_boxes(geometry.rows, geometry.cols, geometry.original_size), (geometry.groups, 1))

    def token_groups(self, image: int = 0) -> np.ndarray:
        """`[tokens_of_image]`: each token's temporal group (an image's: all 0)."""
        geometry = self.images[checked_index(image, len(self.images), "image")]
        return np.repeat(np.arange(geometry.groups), geometry.tokens_per_group)

    def picture(self, image: int = 0, group: int = 0) -> Image.Image:
        """The picture of an image, or of one temporal group of a video (its first frame), at its original size."""
        image = checked_index(image, len(self.images), "image")
        group = checked_index(group, self.images[image].groups, "group")
        return self.pictures[sum(geometry.groups for geometry in self.images[:image]) + group]

    # ----- selection ---------------------------------------------------------------------------------------

    def token_indices(self, phrase: str) -> list[int]:
        """Indices of the query tokens covering `phrase` in the prompt, the thinking or the answer
        (case-insensitive, every occurrence; each token's `part` says which).

        Occurrences that start a word count ("cat" finds "cat" and "cats", not the middle of "Scatter"); only
        where there are none, e.g. in scripts written without spaces, do occurrences inside words count."""
        if not isinstance(phrase, str):
            raise TypeError(f"phrase must be text (words of the prompt or the answer), not {described(phrase)}")
        words = phrase.split()
        if not words:
            raise ValueError("phrase is empty: pass some words of the prompt or the answer, e.g. phrase='red cat'")
        spans = {part: _phrase_spans(words, self.part_text(part) or "") for part in PARTS}
        selected = [
            index
            for index, token in enumerate(self.tokens)
            if token.start is not None
            and token.end is not None
            and any(token.start < end and token.end > start for start, end in spans[token.part])
        ]
        if not selected:
            listed = [repr(token.text) for token in self.tokens if not token.special]
            shown = ", ".join(listed[:_LISTED_TOKENS]) + (", ..." if len(listed) > _LISTED_TOKENS else "")
            texts = [
                f"the {part} {shown_value(text, _SHOWN_TEXT)}"
                for part in PARTS
                if (text := self.part_text(part)) is not None
            ]
            where = ", ".join(texts[:-1]) + (" or " if len(texts) > 1 else "") + texts[-1]
            raise ValueError(f"phrase {shown_value(phrase)} is not in {where}; its tokens are: {shown}")
        return selected

    def producing_rows(self, tokens: Sequence[int]) -> list[int]:
        """For each token index, the row of the position before it: the step whose output chose that token (for
        an answer token, the model's own step; for a prompt token, the step that predicted it)."""
        indices = checked_indices(tokens, self.num_queries, "token")
        before = self._rows_before()
        rows = []
        for index in indices:
            row = before[index]
            if row is None:
                raise ValueError(
                    f"token {index} ({self.tokens[index].text!r}) has no producing map: the position before it "
                    "is not a captured row (it is the image, or before it); use producing=False for its own row"
                )
            rows.append(row)
        return rows

    def maps(
        self,
        layer: LayerSelection = -1,
        head: HeadSelection = None,
        reduce: Reduce = "mean",
        producing: bool = False,
        *,
        unit: Unit = "probability",
        relative: bool = False,
        drop_sinks: bool = False,
    ) -> np.ndarray:
        """`[queries, image_tokens]` attention for one choice of layers and heads.

        `layer` and `head`: an index (negative counts from the end), a list of them (combined by `reduce`, "mean"
        or "max"), "mean" or "max" (of all of them), or "all" / None (all of them, combined by `reduce`). Heads
        are combined first, then layers. With `producing`, token k's row is the row of the position before it
        (`producing_rows`); tokens with none (the first after an image) get NaN.

        `unit`: "probability" (the softmax's share) or "uniform" (times the number of image tokens: 1 = spread
        evenly). `drop_sinks`: in each layer, the image tokens `sinks(layer)` flags are set to 0 in every head's
        row and the rest scaled up so each row keeps its image share (a row whose image share is all on sinks
        becomes 0); then heads and layers are combined. `relative`: each row divided by the baseline's map for
        the same layer and head choice (combined the same way, its sinks dropped too with `drop_sinks`), at
        least `RELATIVE_FLOOR` / image tokens; a ratio, the same in either unit.
        """
        producing = checked_flag(producing, "producing")
        unit = checked_unit(unit)
        relative = checked_flag(relative, "relative")
        drop_sinks = checked_flag(drop_sinks, "drop_sinks")
        layers, over_layers = selected(layer, self.num_layers, "layer", reduce)
        heads, over_heads = selected(head, self.num_heads, "head", reduce)
        sinks = self._sink_masks(layers) if drop_sinks else None
        baseline = self._baseline_rows(layers, heads) if relative else None
        chosen = self.attention[np.ix_(layers, heads)].astype(np.float32, copy=False)  # a copy: fancy indexing
        if sinks is not None:
            _drop_sinks(chosen, sinks)
        rows = _combine(_combine(chosen, over_heads, axis=1), over_layers, axis=0)
        if baseline is not None:
            if sinks is not None:
                _drop_sinks(baseline[:, :, None, :], sinks)
            combined = _combine(_combine(baseline, over_heads, axis=1), over_layers, axis=0)
            rows = rows / np.maximum(combined, np.float32(RELATIVE_FLOOR / self.attention.shape[-1]))
        elif unit == "uniform":
            rows = rows * np.float32(self.attention.shape[-1])
        if not producing:
            return rows
        shifted = np.full_like(rows, np.nan)
        for index, row in enumerate(self._rows_before()):  # once for all tokens: a long answer has thousands
            if row is not None:
                shifted[index] = rows[row]
        return shifted

    def _baseline_rows(self, layers: list[int], heads: list[int]) -> np.ndarray:
        if self.baseline_attention is None:
            raise no_baseline_error()
        return self.baseline_attention[np.ix_(layers, heads)].astype(np.float32, copy=False)

    def _sink_masks(self, layers: list[int]) -> np.ndarray:
        """`[len(layers), image_tokens]` bool: the visual sinks of each layer."""
        if self.sink_scores is None:
            raise no_sink_scores_error("drop_sinks=True")
        return self.sink_scores[layers] > SINK_TAU

    def sinks(self, layer: int = -1, tau: float = SINK_TAU) -> np.ndarray:
        """The visual sinks of one layer: the image tokens (indices among all image columns, as in `maps`; image
        k's are `images[k].columns`) whose RMS-normalized hidden state entering that layer's attention has a
        value of magnitude over `tau` (default `SINK_TAU`, 20, as in "See What You Are Told", ICLR 2025)."""
        layer = checked_index(layer, self.num_layers, "layer")
        number = real_number(tau)
        if number is None or number <= 0:
            raise error_kind(tau)(
                f"tau must be a positive number (the sink threshold; default 20), not {shown_value(tau)}"
            )
        if self.sink_scores is None:
            raise ValueError(
                "this result has no sink scores (a result saved before they were kept, or captured with "
                "sink_scores=False): capture it again, model.capture keeps them by default (sink_scores=True)"
            )
        return np.flatnonzero(self.sink_scores[layer] > number)

    def head_summary(
        self,
        token: TokenSelection = None,
        phrase: str | None = None,
        producing: bool = False,
        image: int | None = None,
    ) -> HeadSummary:
        """Which heads look at the image, and how focused: `[layers, heads]` arrays over the selected tokens.

        Tokens as in `grid` (default: the prompt's own tokens; `producing` for the steps that produced them).
        `image_mass`: each head's share of attention on the image tokens, averaged over the tokens.
        `spatial_entropy`: how spread each head's map is, averaged over the tokens: for each token, the normalized
        entropy of its map (scaled to sum to 1), `-sum(p log p) / log(image tokens)`, 0 = all on one cell, 1 =
        spread evenly. Averaging per token (rather than taking the entropy of the mean map) keeps a head focused
        that points each token at its own object. Tokens without image mass are left out; NaN where none has any,
        or the image is one token. `image`: one image's tokens only (its mass and maps); default all of them.
        The widget's head overview shows the same numbers.
        """
        producing = checked_flag(producing, "producing")
        tokens = self._token_rows(token, phrase)
        rows = self.producing_rows(tokens) if producing else tokens
        columns = slice(None) if image is None else self.images[checked_index(image, len(self.images), "image")].columns
        mass = np.empty((self.num_layers, self.num_heads), dtype=np.float64)
        entropy = np.empty_like(mass)
        for layer in range(self.num_layers):  # one layer at a time: the memory of one layer's selected rows
            chosen = self.attention[layer][:, rows, columns]  # [heads, rows, image tokens]
            if image is None:
                mass[layer] = self.image_mass[layer][:, rows].astype(np.float64).mean(axis=1)
            else:
                mass[layer] = chosen.astype(np.float64).sum(axis=2).mean(axis=1)
            per_token = token_entropies(chosen)
            with warnings.catch_warnings():  # a head whose rows have no entropy: NaN, said in the docstring
                warnings.simplefilter("ignore", RuntimeWarning)
                entropy[layer] = np.nanmean(per_token, axis=1)
        return HeadSummary(mass, entropy, self.layer_ids, tuple(tokens), producing)

    def has_producing_row(self, token: int) -> bool:
        """Whether the position before token `token` is a captured row."""
        token = checked_index(token, self.num_queries, "token")
        return self._rows_before()[token] is not None

    def _rows_before(self) -> list[int | None]:
        """Each token's producing row: the row of the position before its own, None where that position is not a
        captured row (an image column, or before the first image)."""
        row_of = {int(position): row for row, position in enumerate(self.query_positions)}
        rows = []
        for index in range(self.num_queries):
            row = row_of.get(int(self.query_positions[index]) - 1)
            rows.append(row)
        return rows

    def grid(
        self,
        token: TokenSelection = None,
        phrase: str | None = None,
        layer: LayerSelection = -1,
        head: HeadSelection = None,
        reduce: Reduce = "mean",
        image: int = 0,
        producing: bool = False,
        *,
        unit: Unit = "probability",
        relative: bool = False,
        drop_sinks: bool = False,
    ) -> np.ndarray:
        """A `[rows, cols]` map of one image (of a video: `[groups, rows, cols]`, one map per temporal group), the
        mean over the selected query tokens.

        Tokens come from `token` (index or indices into `tokens`) or `phrase` (words of the prompt or the
        answer); with neither, all the prompt's own tokens (not the template's). Layers and heads as in `maps`.
        With `producing`, each token's map is that of the step that produced it (the position before it): for an
        answer word, where the model looked when it chose that word. `unit`, `relative` and `drop_sinks` as in
        `maps` (a relative grid is the tokens' mean map divided by the baseline's).
        """
        producing = checked_flag(producing, "producing")
        geometry = self.images[checked_index(image, len(self.images), "image")]
        rows = self._token_rows(token, phrase)
        if producing:
            rows = self.producing_rows(rows)
        per_token = self.maps(layer, head, reduce, unit=unit, relative=relative, drop_sinks=drop_sinks)
        per_token = per_token[rows, geometry.columns]
        shape = (
            (geometry.rows, geometry.cols)
            if geometry.kind == "image"
            else (geometry.groups, geometry.rows, geometry.cols)
        )
        return per_token.mean(axis=0).reshape(shape)

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
        from ._view_state import check_view_option_names
        from ._widget import AttentionWidget

        check_view_option_names(options, "widget")
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
        from ._html import DEFAULT_MAX_BYTES, checked_html_destination, checked_max_bytes, write_html
        from ._view_state import ViewState, check_view_option_names

        checked_html_destination(path)  # before the work: a path that cannot be written is refused at once
        max_bytes = DEFAULT_MAX_BYTES if max_bytes is None else checked_max_bytes(max_bytes)
        check_view_option_names(view_options, "to_html")
        state = ViewState.of(self, **view_options)
        return write_html(self, state, path, layers, heads, max_bytes)

    # ----- persistence -------------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> Path:
        """Write the result to one `.npz` file (arrays, JSON metadata and PNG images; no pickle).

        The file is written next to its destination and renamed into place, so a failure leaves no partial file.
        """
        (path,) = check_destinations([checked_file_path(path, "save path", (".npz",), "'attention.npz'")])
        arrays: dict[str, Any] = {
            "attention": self.attention,
            "image_mass": self.image_mass,
            "query_positions": self.query_positions,
            "image_positions": self.image_positions,
            "metadata": np.array(json.dumps(self._metadata())),
        }
        for name in _OPTIONAL_MEMBERS:
            if getattr(self, name) is not None:
                arrays[name] = getattr(self, name)
        for index, picture in enumerate(self.pictures):
            arrays[f"picture_{index}"] = np.frombuffer(_png_bytes(picture), dtype=np.uint8)
        return write_atomically(path, lambda handle: np.savez(handle, **arrays))

    @classmethod
    def load(cls, path: str | os.PathLike) -> AttentionResult:
        """Read a result written by `save` (any format version of `READABLE_FORMAT_VERSIONS`: 1 to 4).

        The file is read defensively: the archive's declared sizes, each array's dtype and shape, the metadata's
        tokens and geometry and each picture's PNG header are checked against each other before anything large
        is inflated or decoded, and the probabilities are checked while they are read (finite, in [0, 1]). A file
        that fails any check is refused with one line, a ValueError naming what is wrong.
        """
        text = os.fspath(path) if isinstance(path, os.PathLike) else path
        if not isinstance(text, str):
            raise TypeError(
                f"the path must be a result file's path (a str or a pathlib.Path), e.g. 'attention.npz', not "
                f"{described(path)}"
            )
        path = Path(text)
        if path.is_dir():
            raise IsADirectoryError(f"{str(path)!r} is a folder; pass a result file in it (written by result.save)")
        if not path.is_file():
            raise FileNotFoundError(f"no saved result at {str(path)!r}; write one with result.save(path)")
        if not zipfile.is_zipfile(path):  # before numpy, whose error for other files talks of unpickling
            raise ValueError(f"{str(path)!r} is not a qvl_widget result file (not an .npz archive from result.save)")
        try:
            with zipfile.ZipFile(path) as archive:
                return _read_result(cls, _Archive(archive, path.stat().st_size))
        except _READ_ERRORS as error:
            # Truncated, corrupted or crafted archives, other .npz files, edited metadata: one line, no traceback.
            raise ValueError(f"{str(path)!r} is not a readable qvl_widget result file ({_one_line(error)})") from None

    def _metadata(self) -> dict:
        return {
            "format_version": FORMAT_VERSION,
            "prompt": self.prompt,
            "model": shareable_name(self.model),
            "family": self.family,
            "answer": self.answer,
            "thinking": self.thinking,
            "baseline_prompt": self.baseline_prompt,
            "layer_ids": list(self.layer_ids),
            "tokens": [token.__dict__ for token in self.tokens],
            "images": [image.__dict__ for image in self.images],
        }


def no_baseline_error() -> ValueError:
    return ValueError(
        "relative=True divides by a baseline's map, and this result has none: capture it with "
        "model.capture(..., baseline=True) (or baseline='a prompt of your own')"
    )


def no_sink_scores_error(option: str) -> ValueError:
    return ValueError(
        f"{option} needs the image tokens' sink scores, and this result has none (a result saved before they were "
        "kept, or captured with sink_scores=False): capture it again, model.capture keeps them by default "
        "(sink_scores=True)"
    )


def _combine(values: np.ndarray, how: Reduce, axis: int) -> np.ndarray:
    return values.mean(axis=axis) if how == "mean" else values.max(axis=axis)


def _drop_sinks(values: np.ndarray, sinks: np.ndarray) -> None:
    """In place, per layer of `values` `[layers, heads, rows, image tokens]`: the columns `sinks[layer]` flags
    set to 0 and each row's other columns scaled so that the row keeps its total (0 where nothing else is left)."""
    for layer, flagged in enumerate(sinks):
        if not flagged.any():
            continue
        block = values[layer]
        total = block.sum(axis=-1, keepdims=True, dtype=np.float64)
        block[..., flagged] = 0
        rest = block.sum(axis=-1, keepdims=True, dtype=np.float64)
        scale = np.divide(total, rest, out=np.zeros_like(total), where=rest > 0)
        block *= scale.astype(block.dtype)


def token_entropies(maps: np.ndarray) -> np.ndarray:
    """`[..., rows, cells]` -> `[..., rows]`: each row's entropy (the row scaled to sum to 1) over log(cells), in
    float64; NaN where a row has no mass or there is one cell."""
    values = maps.astype(np.float64)
    totals = values.sum(axis=-1, keepdims=True)
    p = np.divide(values, totals, out=np.zeros_like(values), where=totals > 0)
    terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    cells = maps.shape[-1]
    if cells < 2:
        return np.full(maps.shape[:-1], np.nan)
    return np.where(totals[..., 0] > 0, -terms.sum(axis=-1) / math.log(cells), np.nan)


@dataclass(frozen=True, eq=False)
class HeadSummary:
    """Every head at a glance (`AttentionResult.head_summary`): `[layers, heads]` arrays, layers named by
    `layer_ids`, over the query tokens `tokens` (their producing steps' rows with `producing`)."""

    image_mass: np.ndarray  # share of attention on the image, mean over the tokens
    spatial_entropy: np.ndarray  # mean over the tokens of each map's normalized entropy: 0 = one cell, 1 = even
    layer_ids: tuple[int, ...]
    tokens: tuple[int, ...]  # the rows summarized
    producing: bool = False


def _phrase_spans(words: list[str], text: str) -> list[tuple[int, int]]:
    """Where `words` (separated by any whitespace) occur in `text`: at word starts, or else anywhere. Both are
    compared in NFC, so "café" typed on one keyboard finds "café" pasted from another (e + U+0301); the spans are
    `text`'s own offsets, which the tokens' are."""
    composed, starts, ends = _nfc_with_offsets(text)
    body = r"\s+".join(re.escape(unicodedata.normalize("NFC", word)) for word in words)
    spans = [match.span() for match in re.finditer(r"(?<!\w)" + body, composed, re.IGNORECASE)]
    spans = spans or [match.span() for match in re.finditer(body, composed, re.IGNORECASE)]
    return [(starts[start], ends[end - 1]) for start, end in spans if end > start]


def _nfc_with_offsets(text: str) -> tuple[str, list[int], list[int]]:
    """`text` in NFC, and for each of its characters the start and end in `text` of the characters it came from.
    Normalised a cluster at a time (a character and the combining marks after it: what NFC composes; Hangul jamo
    typed apart stay apart, matched as they are)."""
    composed: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    bounds = [index for index, character in enumerate(text) if index == 0 or not unicodedata.combining(character)]
    for start, end in zip(bounds, [*bounds[1:], len(text)][: len(bounds)], strict=True):
        cluster = unicodedata.normalize("NFC", text[start:end])
        composed.append(cluster)
        starts += [start] * len(cluster)
        ends += [end] * len(cluster)
    return "".join(composed), starts, ends


def _png_bytes(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


# ----- naming the model in files meant to be shared --------------------------------------------------------------

_DRIVE = re.compile(r"[A-Za-z]:")


def checked_baseline(baseline: object) -> str | None:
    """`baseline=` of `capture` (and `--baseline` of the command line, which checks it before the model loads): None
    or False (none), True (the generic prompt) or a prompt of your own (not empty)."""
    if baseline is None or baseline is False:
        return None
    if baseline is True:
        return BASELINE_PROMPT
    if not isinstance(baseline, str):
        raise TypeError(
            f"baseline must be True (the generic prompt {BASELINE_PROMPT!r}), a prompt of your own or None, not "
            f"{described(baseline)}"
        )
    if not baseline.strip():
        raise ValueError(
            f"baseline is empty: pass baseline=True for the generic prompt {BASELINE_PROMPT!r}, or a prompt of your "
            "own, e.g. baseline='Describe the image.'"
        )
    check_encodable(baseline, "the baseline prompt")
    return baseline


def shareable_name(source: str) -> str:
    """How a file meant to be mailed or published names a model: a hub id as it is, a local path by its last
    part (the model folder's name), so that no path of the machine that wrote it (a home folder, a user name) is
    in it. Paths are told from hub ids ("owner/name") by their form: a leading "/", "." or "~", a backslash, a
    drive letter, or more than one "/"."""
    looks_local = (
        source.startswith(("/", ".", "~"))
        or "\\" in source
        or _DRIVE.match(source) is not None
        or source.count("/") > 1
    )
    if not looks_local:
        return source
    parts = [part for part in re.split(r"[\\/]+", source) if part not in ("", ".", "..")]
    last = parts[-1] if parts else ""
    return "local model" if not last or last.startswith("~") or _DRIVE.fullmatch(last) else last


# ----- reading a result file defensively -------------------------------------------------------------------------
#
# What `load` checks, in order, each before anything that costs more than the file's own size:
# 1. the zip directory: only the members `save` writes, each stored or deflated, none encrypted, each inside the
#    file, and all of them together inflating at most _MAX_INFLATION times the file's size (`save` stores them:
#    its files inflate 1x, and real attention deflates about 1.1x; a zip bomb of zeros inflates ~1000x): what
#    an accepted file costs to read is bounded by its size;
# 2. the metadata (its `.npy` header first, then its JSON): types and ranges of every token and image field;
# 3. every other member's `.npy` header (read from the first bytes of its stream): dtype, fortran order and a shape
#    that matches the metadata, and a member size equal to header + data; then the memory it all needs against
#    the memory free;
# 4. the arrays, read in chunks into arrays of their declared size: probabilities finite and in [0, 1] (checked
#    chunk by chunk as they are read: about a tenth of the time the read takes), positions non-negative, strictly
#    increasing, query and image positions disjoint;
# 5. every picture's PNG header (its size, the image's original size, under PIL's limit; at most 4 bytes a
#    pixel) before any is decoded.
# The pictures' decoded pixels are bounded by the file too, with the metadata (every video group has its own
# picture): at most _MAX_PICTURE_INFLATION times the file's size, or _FREE_PICTURE_BYTES whatever the ratio.

_ARRAY_MEMBERS = ("attention", "image_mass", "query_positions", "image_positions")
_OPTIONAL_MEMBERS = ("baseline_attention", "sink_scores")  # from version 3, where the capture kept them
_PICTURE_MEMBER = re.compile(r"picture_(0|[1-9][0-9]{0,5})\.npy")
_MAX_INFLATION = 20  # members inflate at most this many times the file's size (real attention deflates ~1.1x) ...
_FREE_INFLATION = 16 * 2**20  # ... or to this much, whatever the ratio (small files of tiny results)
_MAX_HEADER_BYTES = 10_000  # numpy's own limit for .npy headers; `save` writes 128 bytes
_MAX_METADATA_BYTES = 64 * 2**20  # the JSON metadata, 4 bytes a character: some 150,000 tokens (a real
# result has at most tens of thousands: its attention grows with them), parsed in well under a second
_READ_CHUNK_BYTES = 4 * 2**20
_PROBABILITY_SLACK = 1e-3  # a row's image share is a float32 sum of probabilities: it may round past 1
_IMAGE_MASS_SLACK = 1e-2  # a row's columns stored in float16 may add up to a little more than its stored share
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TOKEN_KEYS = ("text", "start", "end", "special")  # version 1 has these only
_TOKEN_KEYS_2 = ("part", "probability")
_IMAGE_KEYS = ("rows", "cols", "resized_size", "original_size", "first_column")
_VIDEO_KEYS = ("groups", "group_frames", "group_times")  # from version 4: every image has them
_MAX_GROUPS = 4096  # a video's temporal groups in a file: far above the models' 768 frames
_MAX_PICTURE_INFLATION = 100  # photos and video frames deflate 2 to 5 times; PNG's best case is some 1000 times
_FREE_PICTURE_BYTES = 256 * 2**20  # ... so flat pictures (a test card, a chart) load up to this much decoded
_PIXEL_BYTES = 4  # a picture's pixel decoded, at most (8-bit RGBA; `save` writes 8-bit RGB, 3 bytes)
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # by PNG colour type: grey, RGB, palette, grey + alpha, RGBA


class _UnreadableError(ValueError):
    """What is wrong with a result file; `load` says it in its one-line refusal."""


_READ_ERRORS = (
    ValueError,
    KeyError,
    TypeError,
    AttributeError,
    OSError,
    EOFError,
    zipfile.BadZipFile,
    zlib.error,
    RecursionError,  # deeply nested JSON
    SyntaxError,  # PIL, for some damaged PNGs
    NotImplementedError,
    MemoryError,
    Image.DecompressionBombError,
)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text or ("it ends early" if isinstance(error, EOFError) else type(error).__name__)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class _Header:
    """What a member's `.npy` header declares."""

    dtype: np.dtype
    shape: tuple[int, ...]
    fortran_order: bool

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize

    def __str__(self) -> str:
        return f"{self.dtype} {list(self.shape)}"


class _Archive:
    """The members of a result file, checked before any is read: names, compression, sizes, inflation."""

    def __init__(self, archive: zipfile.ZipFile, file_size: int) -> None:
        self.zip = archive
        self.file_size = file_size
        infos = archive.infolist()
        names = [info.filename for info in infos]
        optional = [f"{name}.npy" for name in _OPTIONAL_MEMBERS]
        for name in names:
            if name not in _required_members() and name not in optional and not _PICTURE_MEMBER.fullmatch(name):
                raise _UnreadableError(f"it holds {_shown(name)}, which result.save does not write")
        repeated = [name for name, count in Counter(names).items() if count > 1]
        if repeated:
            raise _UnreadableError(f"it holds {repeated[0]} twice")
        missing = [name for name in _required_members() if name not in names]
        if missing:
            raise _UnreadableError(f"it has no {missing[0]}")
        for info in infos:
            if info.flag_bits & 0x1:
                raise _UnreadableError(f"{info.filename} is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise _UnreadableError(
                    f"{info.filename} is compressed by method {info.compress_type}, not stored or deflated"
                )
            if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
                raise _UnreadableError(
                    f"{info.filename} is stored as {info.compress_size} bytes but declares {info.file_size}"
                )
            if info.header_offset + 30 + len(info.filename) + info.compress_size > file_size:
                raise _UnreadableError(
                    f"{info.filename} is truncated: its {info.compress_size} bytes do not fit in the file"
                )
        inflated = sum(info.file_size for info in infos)
        if inflated > max(_FREE_INFLATION, _MAX_INFLATION * file_size):
            worst = max(infos, key=lambda info: info.file_size / max(1, info.compress_size))
            ratio = worst.file_size / max(1, worst.compress_size)
            raise _UnreadableError(
                f"its members would inflate to {binary_size(inflated)} from a {binary_size(file_size)} file "
                f"({worst.filename} "
                f"{ratio:.0f} times); result files inflate at most {_MAX_INFLATION} times"
            )
        self.infos = {info.filename: info for info in infos}
        self.pictures = sum(1 for name in names if _PICTURE_MEMBER.fullmatch(name))
        self.optional = tuple(name for name in _OPTIONAL_MEMBERS if f"{name}.npy" in self.infos)

    def header(self, name: str) -> _Header:
        with self.zip.open(self.infos[name]) as stream:
            return self._header(name, stream)

    def read(self, name: str, check: Callable[[str, np.ndarray], None] | None = None) -> np.ndarray:
        """The member's array, read in chunks into an array of its declared size; `check(name, chunk)` sees each
        chunk as it arrives (flat, in file order)."""
        with self.zip.open(self.infos[name]) as stream:
            header = self._header(name, stream)
            shape = header.shape[::-1] if header.fortran_order else header.shape
            array = np.empty(shape, dtype=header.dtype)
            flat = array.reshape(-1)
            raw = flat.view(np.uint8)
            itemsize = header.dtype.itemsize
            per_chunk = max(1, _READ_CHUNK_BYTES // max(1, itemsize))
            for start in range(0, flat.size, per_chunk):
                stop = min(flat.size, start + per_chunk)
                data = stream.read((stop - start) * itemsize)
                if len(data) != (stop - start) * itemsize:
                    raise _UnreadableError(f"{name} ends early")
                raw[start * itemsize : stop * itemsize] = np.frombuffer(data, dtype=np.uint8)
                if check is not None:
                    check(name, flat[start:stop])
        return array.T if header.fortran_order else array

    def _header(self, name: str, stream: IO[bytes]) -> _Header:
        """The `.npy` header at the start of `stream`, checked against the member's size; the stream is left at
        the data. The header's length is checked before numpy reads it."""
        try:
            version = np.lib.format.read_magic(stream)
        except ValueError as error:
            raise _UnreadableError(f"{name} is not an .npy file ({_one_line(error)})") from None
        if version not in ((1, 0), (2, 0)):
            raise _UnreadableError(f"{name} is an .npy file of version {version[0]}.{version[1]}, not 1.0 or 2.0")
        length_size = 2 if version == (1, 0) else 4
        length_bytes = stream.read(length_size)
        length = int.from_bytes(length_bytes, "little")
        if len(length_bytes) != length_size or length > _MAX_HEADER_BYTES:
            raise _UnreadableError(f"{name} has an .npy header of {length} bytes (at most {_MAX_HEADER_BYTES})")
        text = stream.read(length)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        try:
            shape, fortran_order, dtype = read_header(
                io.BytesIO(length_bytes + text), max_header_size=_MAX_HEADER_BYTES
            )
        except Exception as error:  # numpy parses it as a Python literal: ValueError, SyntaxError, TokenError, ...
            raise _UnreadableError(f"{name} has a damaged .npy header ({_one_line(error)})") from None
        if any(dimension < 0 for dimension in shape):
            raise _UnreadableError(f"{name} declares the shape {list(shape)}")
        header = _Header(dtype, tuple(shape), bool(fortran_order))
        data_bytes = self.infos[name].file_size - (8 + len(length_bytes) + length)
        if data_bytes != header.nbytes:
            raise _UnreadableError(
                f"{name} holds {data_bytes} bytes of data where its header ({header}) needs {header.nbytes}"
            )
        return header


def _required_members() -> tuple[str, ...]:
    return tuple(f"{name}.npy" for name in ("metadata", *_ARRAY_MEMBERS))


@dataclass(frozen=True)
class _Contents:
    """The metadata of a result file, checked."""

    prompt: str
    model: str
    family: str
    answer: str | None
    thinking: str | None
    layer_ids: tuple[int, ...]
    tokens: tuple[QueryToken, ...]
    version: int
    baseline_prompt: str | None
    images: tuple[ImageGeometry, ...]

    @property
    def columns(self) -> int:
        return sum(image.num_tokens for image in self.images)


def _read_result(cls: type[AttentionResult], archive: _Archive) -> AttentionResult:
    contents = _checked_metadata(_read_metadata(archive))
    owners = [(index, image) for index, image in enumerate(contents.images) for _ in range(image.groups)]
    if archive.pictures != len(owners):
        raise _UnreadableError(
            f"it holds {archive.pictures} pictures where its images and video groups have {len(owners)}"
        )
    if archive.optional and contents.version < 3:
        raise _UnreadableError(
            f"it holds {archive.optional[0]}.npy, which version {contents.version} files do not have"
        )
    if ("baseline_attention" in archive.optional) != (contents.baseline_prompt is not None):
        raise _UnreadableError(
            "its baseline_prompt and baseline_attention.npy do not go together (one is there without the other)"
        )
    _check_picture_bytes(owners, archive.file_size)
    pictures = [f"picture_{index}.npy" for index in range(len(owners))]
    members = (*(f"{name}.npy" for name in (*_ARRAY_MEMBERS, *archive.optional)), *pictures)
    headers = {name: archive.header(name) for name in members}
    _check_headers(headers, contents)
    _check_memory(headers, contents)
    checks = {"attention": _check_probabilities, "image_mass": _check_probabilities}
    checks.update(baseline_attention=_check_probabilities, sink_scores=_check_scores)
    arrays = {
        name: archive.read(f"{name}.npy", checks[name]) for name in ("attention", "image_mass", *archive.optional)
    }
    arrays.update({name: archive.read(f"{name}.npy") for name in ("query_positions", "image_positions")})
    _check_positions(arrays["query_positions"], arrays["image_positions"])
    _check_image_mass(arrays["attention"], arrays["image_mass"])
    return cls(
        attention=arrays["attention"],
        image_mass=arrays["image_mass"],
        query_positions=arrays["query_positions"],
        image_positions=arrays["image_positions"],
        tokens=contents.tokens,
        images=contents.images,
        pictures=_read_pictures(archive, [image for _, image in owners]),
        prompt=contents.prompt,
        model=contents.model,
        family=contents.family,
        answer=contents.answer,
        layer_ids=contents.layer_ids,
        thinking=contents.thinking,
        baseline_attention=arrays.get("baseline_attention"),
        baseline_prompt=contents.baseline_prompt,
        sink_scores=arrays.get("sink_scores"),
    )


def _read_metadata(archive: _Archive) -> object:
    header = archive.header("metadata.npy")
    if header.dtype.kind != "U" or header.shape != () or not 0 < header.nbytes <= _MAX_METADATA_BYTES:
        raise _UnreadableError(f"its metadata is {header}, not one text of at most {binary_size(_MAX_METADATA_BYTES)}")
    text = archive.read("metadata.npy").item()
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise _UnreadableError(f"its metadata is not JSON ({error})") from None
    except RecursionError:
        raise _UnreadableError("its metadata nests lists or objects too deeply to read") from None


def _checked_metadata(metadata: object) -> _Contents:
    if not isinstance(metadata, dict):
        raise _UnreadableError(f"its metadata is {type(metadata).__name__}, not a JSON object")
    version = metadata.get("format_version")
    if type(version) is not int or version not in READABLE_FORMAT_VERSIONS:
        raise _UnreadableError(
            f"unsupported format version {_shown(version)}: this qvl_widget reads versions "
            f"{', '.join(map(str, READABLE_FORMAT_VERSIONS))}; a newer qvl_widget wrote it"
        )
    for key in ("prompt", "model", "family", "tokens", "images"):
        if key not in metadata:
            raise _UnreadableError(f"its metadata has no {key!r}")
    prompt, model, family = (_text(metadata[key], key) for key in ("prompt", "model", "family"))
    answer, thinking = (metadata.get(key) for key in ("answer", "thinking"))  # version 1 has neither
    answer = None if answer is None else _text(answer, "answer")
    thinking = None if thinking is None else _text(thinking, "thinking")
    baseline_prompt = metadata.get("baseline_prompt")
    if baseline_prompt is not None and not _text(baseline_prompt, "baseline_prompt").strip():
        raise _UnreadableError("its baseline_prompt is empty")
    layer_ids = metadata.get("layer_ids", [])
    if not isinstance(layer_ids, list) or not all(_is_int(layer) and layer >= 0 for layer in layer_ids):
        raise _UnreadableError(f"its layer_ids are {_shown(layer_ids)}, not a list of layer indices")
    if len(set(layer_ids)) != len(layer_ids):
        raise _UnreadableError(f"its layer_ids {_shown(layer_ids)} repeat a layer")
    tokens, images = metadata["tokens"], metadata["images"]
    if not isinstance(tokens, list) or not tokens:
        raise _UnreadableError(f"its tokens are {_shown(tokens)}, not a list of tokens")
    if not isinstance(images, list) or not images:
        raise _UnreadableError(f"its images are {_shown(images)}, not a list of image grids")
    texts: dict[Part, str | None] = {"prompt": prompt, "thinking": thinking, "answer": answer}
    checked_tokens = tuple(_checked_token(token, index, texts) for index, token in enumerate(tokens))
    _check_token_order(checked_tokens)
    return _Contents(
        prompt=prompt,
        model=model,
        family=family,
        answer=answer,
        thinking=thinking,
        layer_ids=tuple(layer_ids),
        tokens=checked_tokens,
        images=_checked_images(images, version),
        version=version,
        baseline_prompt=baseline_prompt,
    )


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: object) -> bool:
    return type(value) is int  # not bool, not float


def _text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise _UnreadableError(f"its {name} is {_shown(value)}, not text")
    return value


def _checked_token(token: object, index: int, texts: dict[Part, str | None]) -> QueryToken:
    if not isinstance(token, dict):
        raise _UnreadableError(f"token {index} is {_shown(token)}, not a JSON object")
    missing = [key for key in _TOKEN_KEYS if key not in token]
    unknown = [key for key in token if key not in _TOKEN_KEYS + _TOKEN_KEYS_2]
    if missing or unknown:
        raise _UnreadableError(
            f"token {index} has {'no ' + repr(missing[0]) if missing else 'an unknown ' + _shown(unknown[0])}"
        )
    text, start, end, special = (token[key] for key in _TOKEN_KEYS)
    part, probability = token.get("part", "prompt"), token.get("probability")
    where = f"token {index} ({_shown(text)})"
    if not isinstance(text, str) or not isinstance(special, bool):
        raise _UnreadableError(
            f"token {index}'s text {_shown(text)} or special flag {_shown(special)} has the wrong type"
        )
    if not isinstance(part, str) or part not in PARTS:
        raise _UnreadableError(f"{where} is of part {_shown(part)}, not 'prompt', 'thinking' or 'answer'")
    of = texts[part]
    if of is None:
        kind = "an answer" if part == "answer" else f"a {part}"
        raise _UnreadableError(f"{where} is {kind} token, but the file has no {part}")
    if not (start is None and end is None) and not (_is_int(start) and _is_int(end) and 0 <= start <= end <= len(of)):
        raise _UnreadableError(
            f"{where} has offsets {_shown(start)}..{_shown(end)}, not within its {part}'s {len(of)} characters"
        )
    if probability is not None and not (
        isinstance(probability, (int, float)) and not isinstance(probability, bool) and 0 <= probability <= 1
    ):
        raise _UnreadableError(f"{where} has the probability {_shown(probability)}, not one in [0, 1]")
    if part == "prompt" and start is not None and not special and of[start:end] != text:
        # A prompt token's label is the prompt's text at its offsets (`prepare_inputs`): an edited prompt is not.
        raise _UnreadableError(
            f"{where} has offsets {start}..{end}, where its prompt says {_shown(of[start:end])}: the prompt and its "
            "tokens do not go together"
        )
    return QueryToken(text, start, end, special, part, probability)


def _check_token_order(tokens: tuple[QueryToken, ...]) -> None:
    """The prompt's tokens, then the thinking's, then the answer's: rows follow the sequence, and a capture puts
    the answer after the prompt."""
    for index in range(1, len(tokens)):
        before, after = tokens[index - 1].part, tokens[index].part
        if PARTS.index(after) < PARTS.index(before):
            raise _UnreadableError(f"token {index} is of part {after!r} after a token of part {before!r}")


def _checked_images(images: list, version: int = FORMAT_VERSION) -> tuple[ImageGeometry, ...]:
    geometries, first_column = [], 0
    limit = Image.MAX_IMAGE_PIXELS
    keys = (*_IMAGE_KEYS, *_VIDEO_KEYS) if version >= 4 else _IMAGE_KEYS
    for index, image in enumerate(images):
        if not isinstance(image, dict) or sorted(image) != sorted(keys):
            raise _UnreadableError(f"image {index} is {_shown(image)}, not an image grid ({', '.join(keys)})")
        rows, cols, first = image["rows"], image["cols"], image["first_column"]
        if not (_is_int(rows) and _is_int(cols) and rows >= 1 and cols >= 1):
            raise _UnreadableError(f"image {index}'s grid is {_shown(rows)} x {_shown(cols)} tokens")
        sizes = [_checked_size(image[key], f"image {index}'s {key}") for key in ("resized_size", "original_size")]
        if first != first_column:  # each image's tokens follow the previous image's
            raise _UnreadableError(
                f"image {index}'s first_column is {_shown(first)} where its tokens start at {first_column}"
            )
        width, height = sizes[1]
        if limit and width * height > 2 * limit:  # PIL's own limit (refused by Image.open), before any decoding
            raise _UnreadableError(f"image {index} is {width} x {height} pixels, over {2 * limit} (PIL's limit)")
        groups, group_frames, group_times = _checked_groups(image, index) if version >= 4 else (1, (), ())
        geometries.append(ImageGeometry(rows, cols, sizes[0], sizes[1], first, groups, group_frames, group_times))
        first_column += groups * rows * cols
    return tuple(geometries)


def _checked_groups(
    image: dict, index: int
) -> tuple[int, tuple[tuple[int, ...], ...], tuple[tuple[float, float], ...]]:
    """A video's temporal groups from its metadata (an image: 1 group, no frames, no times)."""
    groups, frames, times = (image[key] for key in _VIDEO_KEYS)
    if not (_is_int(groups) and 1 <= groups <= _MAX_GROUPS):
        raise _UnreadableError(f"image {index} has {_shown(groups)} temporal groups, not 1 to {_MAX_GROUPS}")
    if frames == [] and times == [] and groups == 1:
        return 1, (), ()
    if not (isinstance(frames, list) and len(frames) == groups and isinstance(times, list) and len(times) == groups):
        raise _UnreadableError(f"video {index}'s group frames and times are not one per group ({groups} groups)")
    checked_frames = []
    for group, covered in enumerate(frames):
        if not (isinstance(covered, list) and covered and all(_is_int(frame) and frame >= 0 for frame in covered)):
            raise _UnreadableError(f"video {index}'s group {group} covers frames {_shown(covered)}")
        checked_frames.append(tuple(covered))
    checked_times = []
    for group, span in enumerate(times):
        numbers = isinstance(span, list) and len(span) == 2 and all(_is_number(time) for time in span)
        if not (numbers and 0 <= span[0] <= span[1]):
            raise _UnreadableError(f"video {index}'s group {group} spans {_shown(span)}, not [start, end] in seconds")
        checked_times.append((float(span[0]), float(span[1])))
    return groups, tuple(checked_frames), tuple(checked_times)


def _checked_size(size: object, name: str) -> tuple[int, int]:
    if not (isinstance(size, list) and len(size) == 2 and all(_is_int(side) and side >= 1 for side in size)):
        raise _UnreadableError(f"{name} is {_shown(size)}, not [width, height] in pixels")
    return size[0], size[1]


def _check_headers(headers: dict[str, _Header], contents: _Contents) -> None:
    """Each array's dtype and shape against the metadata, before any data is read."""
    queries, columns = len(contents.tokens), contents.columns
    attention = headers["attention.npy"]
    for name in ("attention", "image_mass"):
        header = headers[f"{name}.npy"]
        if header.dtype.kind != "f" or header.dtype.itemsize not in (2, 4):
            raise _UnreadableError(f"{name} holds {header.dtype}, not float16 or float32 probabilities")
    layers = len(contents.layer_ids) or (attention.shape[0] if attention.shape else 0)
    heads = attention.shape[1] if len(attention.shape) > 1 else 0
    want = (layers, heads, queries, columns)
    if len(attention.shape) != 4 or attention.shape != want or layers < 1 or heads < 1:
        raise _UnreadableError(
            f"attention is {attention} where its metadata ({queries} tokens, {columns} image tokens"
            + (f", {len(contents.layer_ids)} layers" if contents.layer_ids else "")
            + f") needs [{layers if contents.layer_ids else 'layers'}, heads, {queries}, {columns}]"
        )
    optional_shapes: dict[str, tuple[int, ...]] = {
        "baseline_attention": (layers, heads, columns),
        "sink_scores": (layers, columns),
    }
    for name, optional_shape in optional_shapes.items():
        found = headers.get(f"{name}.npy")
        if found is None:
            continue
        if found.dtype.kind != "f" or found.dtype.itemsize not in (2, 4):
            raise _UnreadableError(f"{name} holds {found.dtype}, not float16 or float32")
        if found.shape != optional_shape:
            raise _UnreadableError(f"{name} is {found} where the attention {attention} needs {list(optional_shape)}")
    for name, shape in (("image_mass", want[:3]), ("query_positions", (queries,)), ("image_positions", (columns,))):
        header = headers[f"{name}.npy"]
        if header.shape != shape:
            raise _UnreadableError(f"{name} is {header} where the attention {attention} needs {list(shape)}")
        if name.endswith("positions") and (header.dtype.kind not in "iu" or header.dtype.itemsize > 8):
            raise _UnreadableError(f"{name} holds {header.dtype}, not integer positions")
    for index in range(len(contents.images)):
        header = headers[f"picture_{index}.npy"]
        if header.dtype != np.uint8 or len(header.shape) != 1:
            raise _UnreadableError(f"picture_{index} is {header}, not the bytes of a PNG file")


def _check_picture_bytes(owners: list[tuple[int, ImageGeometry]], file_size: int) -> None:
    """The pictures' decoded size (one per image and per video group, as their metadata says) against the file's."""
    decoded = sum(_PIXEL_BYTES * image.original_size[0] * image.original_size[1] for _, image in owners)
    if decoded > max(_FREE_PICTURE_BYTES, _MAX_PICTURE_INFLATION * file_size):
        raise _UnreadableError(
            f"its {len(owners)} pictures would decode to {binary_size(decoded)} from a {binary_size(file_size)} "
            f"file; result files' pictures decode to at most {_MAX_PICTURE_INFLATION} times the file's size "
            f"(or {binary_size(_FREE_PICTURE_BYTES)})"
        )


def _check_memory(headers: dict[str, _Header], contents: _Contents) -> None:
    """What loading takes (the arrays, the PNG files, their pixels decoded and copied) against the memory free."""
    pixels = sum(image.groups * image.original_size[0] * image.original_size[1] for image in contents.images)
    needed = sum(header.nbytes for header in headers.values()) + 2 * _PIXEL_BYTES * pixels
    free = available_bytes()
    if free is not None and needed > free:
        raise _UnreadableError(
            f"loading it takes {binary_size(needed)} of memory and this machine has {binary_size(free)} free"
        )


def _check_probabilities(name: str, values: np.ndarray) -> None:
    """Finite, in [0, 1] (with slack for rounding). Checked on the bits first: non-negative IEEE floats order as
    their bits do as integers, and integer reductions are fast for float16 too (float ones are 5 times slower)."""
    integers = values.view(np.dtype(f"i{values.dtype.itemsize}").newbyteorder(values.dtype.byteorder))
    limit = np.array(1 + _PROBABILITY_SLACK, dtype=values.dtype).view(integers.dtype)
    if integers.min() >= 0 and integers.max() <= limit:
        return
    low, high = values.min(), values.max()  # NaN, if any, is both; -0.0 is fine
    if not (low >= 0 and high <= 1 + _PROBABILITY_SLACK):
        wrong = low if not low >= 0 else high
        raise _UnreadableError(f"{name.removesuffix('.npy')} holds {wrong} where probabilities (in [0, 1]) belong")


def _check_image_mass(attention: np.ndarray, image_mass: np.ndarray) -> None:
    """A row's image share holds its image columns: they cannot add up to more (rounding aside)."""
    for layer in range(attention.shape[0]):  # a layer at a time: a float32 sum of the rows, not a copy of them all
        columns = attention[layer].sum(axis=-1, dtype=np.float32)
        over = columns - image_mass[layer].astype(np.float32)
        if over.size and over.max() > _IMAGE_MASS_SLACK:
            head, query = np.unravel_index(int(over.argmax()), over.shape)
            raise _UnreadableError(
                f"image_mass of layer {layer}, head {head}, token {query} is {image_mass[layer, head, query]:.4g} "
                f"where its image columns add up to {columns[head, query]:.4g}: the two do not go together"
            )


def _check_scores(name: str, values: np.ndarray) -> None:
    """Sink scores: finite and not negative (a largest absolute value)."""
    if values.size and not (np.isfinite(values).all() and values.min() >= 0):
        wrong = values[~(np.isfinite(values) & (values >= 0))][0]
        raise _UnreadableError(f"{name.removesuffix('.npy')} holds {wrong} where sink scores (>= 0) belong")


def _check_positions(query_positions: np.ndarray, image_positions: np.ndarray) -> None:
    for name, positions in (("query_positions", query_positions), ("image_positions", image_positions)):
        if positions.size and positions.min() < 0:
            raise _UnreadableError(f"{name} holds {positions.min()}, not a sequence position")
        if np.any(positions[1:] <= positions[:-1]):
            raise _UnreadableError(f"{name} are not strictly increasing")
    shared = np.intersect1d(query_positions, image_positions)
    if shared.size:
        raise _UnreadableError(f"position {shared[0]} is both a query row and an image column")


def _read_pictures(archive: _Archive, owners: list[ImageGeometry]) -> tuple[Image.Image, ...]:
    """Every picture's PNG header checked before any picture is decoded: a bad last picture costs no decoding."""
    files = [archive.read(f"picture_{index}.npy").tobytes() for index in range(len(owners))]
    for index, (data, geometry) in enumerate(zip(files, owners, strict=True)):
        _check_png_header(data, index, geometry)
    return tuple(_picture_from_png(data, index) for index, data in enumerate(files))


def _check_png_header(data: bytes, index: int, geometry: ImageGeometry) -> None:
    """The PNG's header: its size the image's original size (within the limits checked with the metadata), and at
    most `_PIXEL_BYTES` a pixel decoded, as the bounds count (`save` writes 8-bit RGB: 3)."""
    if len(data) < 26 or not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise _UnreadableError(f"picture {index} is not a PNG file")
    size = struct.unpack(">II", data[16:24])
    if size != geometry.original_size:
        raise _UnreadableError(
            f"picture {index} is {size[0]} x {size[1]} pixels, its image's original size "
            f"{geometry.original_size[0]} x {geometry.original_size[1]}"
        )
    depth, colour = data[24], data[25]
    if colour not in _PNG_CHANNELS or depth not in (1, 2, 4, 8, 16) or _PNG_CHANNELS[colour] * depth > 8 * _PIXEL_BYTES:
        raise _UnreadableError(
            f"picture {index} has bit depth {depth} and colour type {colour}, more than the {_PIXEL_BYTES} bytes a "
            "pixel of the pictures result.save writes"
        )


def _picture_from_png(data: bytes, index: int) -> Image.Image:
    """The picture, decoded (its header checked by `_check_png_header`)."""
    # Between PIL's warning and refusal limits (89 to 179 million pixels), PIL warns, as it did when the picture
    # was captured; the warning is left as it is (silencing it would change the process's warning filters, which
    # is not thread-safe), and where warnings are errors, it is a one-line refusal like the rest.
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as opened:
            opened.load()
            return opened.copy()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise _UnreadableError(f"picture {index} is too large to decode here ({_one_line(error)})") from None
    except (OSError, SyntaxError, ValueError, zlib.error) as error:
        raise _UnreadableError(f"picture {index} is a damaged PNG file ({_one_line(error)})") from None
