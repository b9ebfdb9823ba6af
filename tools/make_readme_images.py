"""Make the README's pictures with the project's own code: docs/widget.png and docs/layers.png.

Run `python tools/make_readme_images.py` (needs Chromium for the widget screenshot). It captures on the
offline demo model, so the pictures show what `make demo` shows.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser_support import WidgetPage, launch  # noqa: E402

import qvl_widget  # noqa: E402
from qvl_widget._example import EXAMPLE_PHRASE, EXAMPLE_PROMPT  # noqa: E402
from qvl_widget.figures import layers_figure, save_figure  # noqa: E402
from qvl_widget.testing import build_tiny_model  # noqa: E402

DOCS = ROOT / "docs"
MAX_WIDTH = 1100  # px: small files, sharp enough on GitHub


def demo_result() -> qvl_widget.AttentionResult:
    with tempfile.TemporaryDirectory() as folder:
        model = qvl_widget.load(build_tiny_model(Path(folder) / "tiny"), device="cpu")
    return model.capture(qvl_widget.example_image(), EXAMPLE_PROMPT)


def shrink(path: Path) -> None:
    with Image.open(path) as picture:
        picture.load()
    if picture.width > MAX_WIDTH:
        picture = picture.resize((MAX_WIDTH, round(picture.height * MAX_WIDTH / picture.width)), Image.LANCZOS)
    picture.convert("P", palette=Image.ADAPTIVE, colors=256).save(path, optimize=True)


def widget_screenshot(result: qvl_widget.AttentionResult, path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 760, "height": 620}, device_scale_factor=1.5)
        WidgetPage(page, [result.widget(phrase=EXAMPLE_PHRASE, width=480)])
        page.locator(".qvl-widget").screenshot(path=str(path))
        browser.close()


def main() -> None:
    DOCS.mkdir(exist_ok=True)
    result = demo_result()
    widget_screenshot(result, DOCS / "widget.png")
    save_figure(layers_figure(result, layers=(-3, -2, -1), phrase=EXAMPLE_PHRASE), DOCS / "layers.png", dpi=150)
    for name in ("widget.png", "layers.png"):
        shrink(DOCS / name)
        print(f"wrote {DOCS / name} ({(DOCS / name).stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
