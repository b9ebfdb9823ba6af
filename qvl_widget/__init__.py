"""qvl_widget: see which image regions each text token of a Qwen vision-language model attends to.

`import qvl_widget` is light: results load, and their widget and HTML views work, without torch, transformers or
pyplot. The model stack loads on first use of `load` (or `LoadedModel`, the visualizer, `demo`), pyplot with the
first figure.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._boxes import Box, BoxShare
from ._example import example_image
from ._result import AttentionResult, HeadSummary, ImageGeometry, QueryToken

if TYPE_CHECKING:
    from . import demo, figures
    from ._loading import LoadedModel, attach, load
    from ._study import Study
    from ._study_widget import StudyWidget
    from ._video import Video
    from ._visualizer import QwenVLCrossModalVisualizer
    from ._widget import AttentionWidget

__all__ = [
    "AttentionResult",
    "AttentionWidget",
    "Box",
    "BoxShare",
    "HeadSummary",
    "ImageGeometry",
    "LoadedModel",
    "QueryToken",
    "QwenVLCrossModalVisualizer",
    "Study",
    "StudyWidget",
    "Video",
    "attach",
    "demo",
    "example_image",
    "figures",
    "load",
]
__version__ = "0.1.0"

# Public names whose modules load on first use: name -> (module, attribute or None for the module itself).
_LAZY: dict[str, tuple[str, str | None]] = {
    "load": ("._loading", "load"),
    "attach": ("._loading", "attach"),
    "LoadedModel": ("._loading", "LoadedModel"),
    "QwenVLCrossModalVisualizer": ("._visualizer", "QwenVLCrossModalVisualizer"),
    "AttentionWidget": ("._widget", "AttentionWidget"),
    "Video": ("._video", "Video"),
    "Study": ("._study", "Study"),  # pandas and pyarrow load on first use
    "StudyWidget": ("._study_widget", "StudyWidget"),
    "figures": (".figures", None),
    "demo": (".demo", None),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'qvl_widget' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name, __name__)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
