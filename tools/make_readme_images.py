"""Make the README's pictures with the project's own code: docs/images/widget.png and docs/images/layers.png.

Run `python tools/make_readme_images.py` (needs Chromium for the widget screenshot). It captures on the
shipped demo model, on the scene `make demo` shows.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser_support import WidgetPage, launch  # noqa: E402

import qvl_widget  # noqa: E402
from qvl_widget import demo  # noqa: E402
from qvl_widget.cli import DEMO_ANSWER_TOKENS, DEMO_SEED  # noqa: E402
from qvl_widget.figures import layers_figure, save_figure  # noqa: E402

DOCS = ROOT / "docs" / "images"
MAX_WIDTH = 1100  # px: small files, sharp enough on GitHub


def demo_result() -> tuple[qvl_widget.AttentionResult, dict]:
    """The demo scene of `qvl-widget demo`, captured with the shipped demo model's answer, and its pointing view
    (the answer word, with the map of the step that wrote it)."""
    example = demo.make_example(DEMO_SEED)
    model = demo.load(device="cpu")
    result = model.capture(example["image"], example["prompt"], answer=True, max_new_tokens=DEMO_ANSWER_TOKENS)
    return result, demo.recommended_view(result, example)


def shrink(path: Path) -> None:
    with Image.open(path) as picture:
        picture.load()
    if picture.width > MAX_WIDTH:
        picture = picture.resize((MAX_WIDTH, round(picture.height * MAX_WIDTH / picture.width)), Image.LANCZOS)
    picture.convert("P", palette=Image.ADAPTIVE, colors=256).save(path, optimize=True)


def widget_screenshot(result: qvl_widget.AttentionResult, view: dict, path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 760, "height": 900}, device_scale_factor=1.5)
        widget = result.widget(**view, width=420, head_overview="mass")  # the heads grid under the picture
        WidgetPage(page, [widget])
        page.locator(f"[data-qvl-token='{view['token'][0]}']").hover()  # the answer word, as a reader would
        page.locator(".qvl-widget").screenshot(path=str(path))
        browser.close()


def main() -> None:
    DOCS.mkdir(exist_ok=True)
    result, view = demo_result()
    widget_screenshot(result, view, DOCS / "widget.png")
    # The default layers (the last four), the named object outlined.
    figure = layers_figure(result, token=view["token"], producing=True, boxes=view["boxes"])
    save_figure(figure, DOCS / "layers.png", dpi=150)
    for name in ("widget.png", "layers.png"):
        shrink(DOCS / name)
        print(f"wrote {DOCS / name} ({(DOCS / name).stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
