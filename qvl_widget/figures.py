"""Paper figures of an AttentionResult (matplotlib + pillow): `qvl_widget.figures.layers_figure(result)` etc."""

from ._figures import (
    COLORBAR_LABEL,
    SAVE_FORMATS,
    frames_figure,
    heads_figure,
    layers_figure,
    matrix_figure,
    overlay_on_image,
    save_figure,
)
from ._study_figure import study_figure

__all__ = [
    "COLORBAR_LABEL",
    "SAVE_FORMATS",
    "frames_figure",
    "heads_figure",
    "layers_figure",
    "matrix_figure",
    "overlay_on_image",
    "save_figure",
    "study_figure",
]
