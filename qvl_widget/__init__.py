"""qvl_widget: see which image regions each text token of a Qwen vision-language model attends to."""

from . import figures
from ._example import example_image
from ._loading import LoadedModel, load
from ._result import AttentionResult, ImageGeometry, QueryToken
from ._visualizer import QwenVLCrossModalVisualizer

__all__ = [
    "AttentionResult",
    "AttentionWidget",
    "ImageGeometry",
    "LoadedModel",
    "QueryToken",
    "QwenVLCrossModalVisualizer",
    "example_image",
    "figures",
    "load",
]
__version__ = "0.1.0"


def __getattr__(name: str):
    # The widget (anywidget, ipywidgets) loads on first use: capture, results and figures work without them,
    # e.g. on a headless GPU server.
    if name == "AttentionWidget":
        from ._widget import AttentionWidget

        return AttentionWidget
    raise AttributeError(f"module 'qvl_widget' has no attribute {name!r}")
