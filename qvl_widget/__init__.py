"""qvl_widget: see which image regions each text token of a Qwen vision-language model attends to."""

from ._example import example_image
from ._loading import LoadedModel, load
from ._result import AttentionResult, ImageGeometry, QueryToken
from ._widget import AttentionWidget

__all__ = [
    "AttentionResult",
    "AttentionWidget",
    "ImageGeometry",
    "LoadedModel",
    "QueryToken",
    "example_image",
    "load",
]
__version__ = "0.1.0"
