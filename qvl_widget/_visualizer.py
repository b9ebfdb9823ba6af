"""QwenVLCrossModalVisualizer: the original notebook API, kept as a thin facade over `load()` and the figures.

Each method captures (or reuses) the `AttentionResult` of one image + prompt and draws a view of it with
`qvl_widget.figures`; selections have the meaning of `AttentionResult.grid` / `AttentionResult.maps`.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from ._answer import checked_answer
from ._boxes import Box, checked_boxes
from ._colormaps import DEFAULT_COLORMAP
from ._figures import (
    FigureTitle,
    FigureWidth,
    _checked_title,
    _checked_width,
    checked_producing,
    layers_figure,
    matrix_figure,
    overlay_on_image,
    save_figure,
)
from ._images import ImageInput, as_image_list, load_rgb
from ._inputs import checked_thinking
from ._loading import LoadedModel, load
from ._overlay import DEFAULT_OPACITY, DEFAULT_STYLE, Style, checked_style
from ._result import AttentionResult

ImageArgument = ImageInput | Sequence[ImageInput]


class QwenVLCrossModalVisualizer:
    """Text->image attention figures for a Qwen-VL model.

    `model_name`: a hub id or a local model folder; `load_kwargs` go to `qvl_widget.load` (e.g. `device="cpu"`,
    `dtype="float32"`). The model loads here, so a wrong name or a missing download fails at once, where the
    name was given, not in the middle of a later figure call.

    Captures are cached by image content, prompt and answer (the last `cache_size`): figures of the same image and
    prompt with other layers, heads or phrases reuse the one capture. `image` is a path, a PIL image or a
    numpy array (a list of them captures several images; the figures then show the first). `head=None` means the
    mean over heads; `target_phrase` selects the prompt tokens covering that text (case-insensitive, where a word
    starts, as `AttentionResult.token_indices`; an unknown phrase raises a ValueError listing the tokens);
    `save_path` writes PNG, SVG or PDF.

    `answer=` (keyword): None (the prompt only), True (the model answers, greedy, up to 64 tokens) or a text (a
    given answer, teacher-forced); `target_phrase` may then name words of the answer (or of the thinking).
    `thinking=` (keyword): True / False turns the chat template's thinking on or off, for a model whose template
    can make it think before it answers (Qwen3.5); None (the default) keeps the template's own default.
    `producing=True` shows each token's producing map (the step that chose it: for an answer word, where the
    model looked while writing it). The methods that draw a figure take `width=` ("page", the default: 7 inches;
    "column": 3.3 inches; or inches, fonts sized for it) and `title=` (None: the figure's own; a text of yours;
    False: none, for a LaTeX caption), as `qvl_widget.figures` does.
    """

    cache_size = 8

    def __init__(self, model_name: str | os.PathLike = "Qwen/Qwen2-VL-7B-Instruct", **load_kwargs: Any) -> None:
        self.model_name = model_name
        self.model: LoadedModel = load(model_name, **load_kwargs)
        self.last_figure: Figure | None = None
        self._cache: OrderedDict[tuple, AttentionResult] = OrderedDict()

    def __repr__(self) -> str:
        return f"QwenVLCrossModalVisualizer({self.model!r}, cached captures={len(self._cache)})"

    # ----- capture ---------------------------------------------------------------------------------------------

    def capture(
        self, image: ImageArgument, text_prompt: str, *, answer: bool | str | None = None, thinking: bool | None = None
    ) -> AttentionResult:
        """The `AttentionResult` of `image` + `text_prompt` (and `answer`, `thinking`): from the cache, or from the
        model."""
        answer = checked_answer(answer)
        thinking = checked_thinking(thinking, True, getattr(self.model.processor, "chat_template", None))
        pictures = [load_rgb(item) for item in as_image_list(image)]
        key = (tuple(_content_key(picture) for picture in pictures), text_prompt, answer, thinking)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        result = self.model.capture(pictures, text_prompt, answer=answer, thinking=thinking)
        self._cache[key] = result
        while len(self._cache) > max(0, self.cache_size):
            self._cache.popitem(last=False)
        return result

    def clear_cache(self) -> None:
        """Forget the cached captures (their attention arrays can be large)."""
        self._cache.clear()

    # ----- the original methods ----------------------------------------------------------------------------------

    def visualize_cross_modal_attention(
        self,
        image: ImageArgument,
        text_prompt: str,
        target_phrase: str | None = None,
        layers_to_show: int | Sequence[int] | None = None,
        head: int | None = None,
        save_path: str | os.PathLike | None = None,
        *,
        answer: bool | str | None = None,
        thinking: bool | None = None,
        producing: bool = False,
        width: FigureWidth = "page",
        title: FigureTitle = None,
        style: Style = DEFAULT_STYLE,
        boxes: Sequence[Box | tuple] | None = None,
    ) -> Figure:
        """The image, then per layer the attention map and its overlay (`figures.layers_figure`, with its `style`
        and `boxes`); by default the last four layers."""
        producing, style = checked_producing(producing), checked_style(style)  # before the model runs
        _checked_width(width)  # and these too
        _checked_title(title)
        pictures = [load_rgb(item) for item in as_image_list(image)]
        checked_boxes(boxes, [picture.size for picture in pictures])
        result = self.capture(pictures, text_prompt, answer=answer, thinking=thinking)
        figure = layers_figure(
            result,
            layers=layers_to_show,
            head=head,
            phrase=target_phrase,
            producing=producing,
            width=width,
            title=title,
            style=style,
            boxes=boxes,
        )
        return self._finish(figure, save_path)

    def create_attention_heatmap_on_image(
        self,
        image: ImageArgument,
        text_prompt: str,
        target_phrase: str | None = None,
        layer_idx: int = -1,
        head_idx: int | None = None,
        alpha: float = DEFAULT_OPACITY,
        colormap: str = DEFAULT_COLORMAP,
        *,
        answer: bool | str | None = None,
        thinking: bool | None = None,
        producing: bool = False,
        style: Style = DEFAULT_STYLE,
        boxes: Sequence[Box | tuple] | None = None,
    ) -> Image.Image:
        """The (first) image at its original resolution with the attention map of one layer laid over it (as
        `figures.overlay_on_image` draws it: `style`, and `boxes` outlined, in pixels of that image)."""
        producing = checked_producing(producing)  # before the model runs
        style = checked_style(style)
        pictures = [load_rgb(item) for item in as_image_list(image)]
        checked_boxes(boxes, [picture.size for picture in pictures[:1]])  # on the first image, before the model runs
        result = self.capture(pictures, text_prompt, answer=answer, thinking=thinking)
        grid = result.grid(phrase=target_phrase, layer=layer_idx, head=head_idx, producing=producing)
        return overlay_on_image(result.pictures[0], grid, alpha=alpha, colormap=colormap, style=style, boxes=boxes)

    def create_token_image_attention_matrix(
        self,
        image: ImageArgument,
        text_prompt: str,
        layer_idx: int = -1,
        head_idx: int | None = None,
        save_path: str | os.PathLike | None = None,
        *,
        answer: bool | str | None = None,
        thinking: bool | None = None,
        producing: bool = False,
        width: FigureWidth = "page",
        title: FigureTitle = None,
    ) -> np.ndarray:
        """The `[text tokens, image tokens]` attention of one layer; its labelled heatmap goes to `last_figure`.
        With `producing`, each row is the step that chose its token (NaN for a token with none)."""
        producing = checked_producing(producing)  # before the model runs
        _checked_width(width)  # and these too
        _checked_title(title)
        result = self.capture(image, text_prompt, answer=answer, thinking=thinking)
        figure, matrix = matrix_figure(
            result, layer=layer_idx, head=head_idx, producing=producing, width=width, title=title
        )
        self._finish(figure, save_path)
        return matrix

    def _finish(self, figure: Figure, save_path: str | os.PathLike | None) -> Figure:
        self.last_figure = figure
        if save_path is not None:
            save_figure(figure, save_path)
        return figure


def _content_key(picture: Image.Image) -> str:
    """A digest of an RGB picture's size and pixels: the same image from a path, PIL or numpy gives the same key."""
    digest = hashlib.sha256(f"{picture.width}x{picture.height}:".encode())
    digest.update(picture.tobytes())
    return digest.hexdigest()
