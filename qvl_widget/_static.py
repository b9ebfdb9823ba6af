"""The bundled front end (`qvl_widget/static/`, built from `js/` by `npm run build`): one home for its paths."""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).parent / "static"
WIDGET_MODULE = STATIC / "widget.js"  # the anywidget entry point (of the study widget too)
PAGE_MODULE = STATIC / "page.js"  # the one-file HTML page's script
STYLES = STATIC / "widget.css"  # shared by both
