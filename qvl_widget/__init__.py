"""qvl_widget: see which image regions each text token of a Qwen vision-language model attends to."""

from . import figures
from ._example import example_image
from ._loading import LoadedModel, load
from ._result import AttentionResult, ImageGeometry, QueryToken
from ._visualizer import QwenVLCrossModalVisualizer
from ._widget import AttentionWidget

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
