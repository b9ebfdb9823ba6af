"""End to end in the other hosts the widget promises to work in: Jupyter Notebook 7, Voila and marimo.

As in test_jupyterlab: the capture runs in the host's kernel and the widget is shown; hovering a token repaints
the overlay in the browser alone; a layer change goes to the kernel, which answers with new maps (the overlay
repaints), and the page then shows the kernel's own `layer` trait. Then the head overview: its data comes from
the kernel when it is first shown (a bytes trait set in answer), hovering repaints it in the browser alone, and
clicking a head changes the kernel's `layer`. Videos (Notebook 7, marimo): the film strip follows a hovered token
in the browser alone, and a clicked group reaches the kernel's `group`. The widget syncs traits only (no custom
messages), which is all these hosts need to support.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from jupyter_support import (
    block_other_hosts,
    open_notebook,
    run_cell,
    running_marimo,
    running_notebook,
    running_voila,
    write_notebook,
)
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

pytestmark = pytest.mark.browser

START_TIMEOUT_MS = 120_000  # the kernel starts, imports torch and transformers, builds and runs the tiny model
KERNEL_TIMEOUT_MS = 120_000  # a layer change: to the kernel and back (a hang guard, generous for a busy machine)


def require_host(module: str) -> None:
    """Skip when a host is not installed (`pip install -e ".[test]"` installs them all); under CI, fail."""
    if importlib.util.find_spec(module) is None:
        message = f"{module} is not installed: pip install -e '.[test]'"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def capture_code(folder: Path) -> str:
    return f"""
import qvl_widget
from qvl_widget.testing import build_tiny_model
model = qvl_widget.load(build_tiny_model({str(folder)!r}), device="cpu")
result = model.capture(qvl_widget.example_image(), "Where is the red cat on the image?")
"""


SHOW = "widget = result.widget(layer=0, colormap='gray', smooth=False)"


def video_code(folder: Path) -> str:
    """A capture of a 6-frame video (3 temporal groups) on the tiny model, and its widget."""
    return f"""
import numpy as np
import qvl_widget
from qvl_widget.testing import build_tiny_model
model = qvl_widget.load(build_tiny_model({str(folder)!r}), device="cpu")
frames = np.random.default_rng(0).integers(0, 256, (6, 60, 90, 3), dtype=np.uint8)
result = model.capture(qvl_widget.Video(frames), "Where is the red cat?")
widget = result.widget(colormap="gray", smooth=False)
"""


def film_strip_round_trip(page, scope: str) -> None:
    """Hover a token: the film strip's bars follow in the browser alone; click group 3: its frame is shown and
    the choice goes to the kernel (`group`), which the caller then reads back."""
    widget = HostedWidget(page, scope)
    widget.wait_until_painted()
    bars = page.locator(f"{scope} .qvl-film-cell")
    assert bars.count() == 3, "the video's film strip should have its 3 groups"

    def masses() -> list[str]:
        return [bars.nth(group).get_attribute("data-qvl-mass") or "" for group in range(3)]

    before, start = masses(), widget.frames()
    page.locator(f"{scope} [data-qvl-token='4']").hover()
    widget.wait_for_frames_after(start, 10_000, "hovering a token did not repaint the video")
    assert masses() != before, "hovering a token left the film strip's bars as they were"
    start = widget.frames()
    bars.nth(2).click()
    widget.wait_for_frames_after(start, 10_000, "clicking a group did not repaint the overlay")


def study_code(folder: Path) -> str:
    """A study of 4 demo scenes (results kept) and its widget, in the host's kernel."""
    return f"""
from qvl_widget import demo
model = demo.load(device="cpu")
examples = []
for seed in range(200_000, 200_004):
    scene = demo.make_example(seed)
    fields = {{"image": scene["image"], "prompt": scene["prompt"], "box": scene["bbox"]}}
    examples.append({{"id": f"scene-{{seed}}", **fields}})
study = model.study(examples, {str(folder)!r}, keep="results", progress=False)
widget = study.widget("pointing", examples=examples, colormap="gray", smooth=False)
"""


def study_round_trip(page, scope: str) -> str:
    """Choose the third example in the study widget's table: the kernel swaps the data and the view is built anew
    on it (another picture, another overlay); return the chosen example's id, for the caller to read back from the
    kernel's `shown`."""
    widget = HostedWidget(page, scope)
    widget.wait_until_painted()
    before = widget.pixels()
    row = page.locator(f"{scope} .qvl-examples-row").nth(2)
    chosen = row.get_attribute("data-qvl-example") or ""
    row.click()
    try:
        shown = re.compile(rf"^Example {re.escape(chosen)}\b")  # not "Opening example ..." (said before the answer)
        page.locator(f"{scope} .qvl-study-status").get_by_text(shown).wait_for(timeout=KERNEL_TIMEOUT_MS)
    except PlaywrightTimeoutError:
        pytest.fail(f"the kernel never showed example {chosen}")
    widget.wait_until_painted()
    assert row.get_attribute("aria-selected") == "true", "the chosen row is not marked"
    assert page.locator(f"{scope} .qvl-widget").count() == 1, "the first example's view was not dropped"
    assert not np.array_equal(before, widget.pixels()), "the chosen example's overlay looks like the first one's"
    return chosen


class HostedWidget:
    """The one widget view on a host's page, found under `scope` (a CSS selector). Playwright's CSS locators
    pierce open shadow roots (marimo renders widgets in one), so reads go through locators, not
    `document.querySelector`."""

    def __init__(self, page, scope: str) -> None:
        self.page = page
        self.scope = scope
        self.root = page.locator(f"{scope} .qvl-widget")
        self.overlay = page.locator(f"{scope} .qvl-widget canvas.qvl-overlay")

    def wait_until_painted(self) -> None:
        self.overlay.wait_for(timeout=START_TIMEOUT_MS)
        self.wait_for_frames_after(0, START_TIMEOUT_MS, "the overlay was never painted")

    def frames(self) -> int:
        return int(self.root.get_attribute("data-qvl-frames") or 0)

    def wait_for_frames_after(self, before: int, timeout_ms: int, failure: str) -> None:
        try:
            self.page.wait_for_function(
                "([node, before]) => Number(node.dataset.qvlFrames || 0) > before",
                arg=[self.root.element_handle(), before],
                timeout=timeout_ms,
            )
        except PlaywrightTimeoutError:
            pytest.fail(f"{failure} (frames still {self.frames()} after {timeout_ms / 1000:.0f} s)")

    def pixels(self) -> np.ndarray:
        """The overlay's RGBA bytes (sent as base64: a plain array of them takes seconds to pass over)."""
        data = self.overlay.evaluate(
            """canvas => {
                const bytes = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
                let text = '';
                for (let start = 0; start < bytes.length; start += 0x8000) {
                    text += String.fromCharCode(...bytes.subarray(start, start + 0x8000));
                }
                return btoa(text);
            }"""
        )
        pixels = np.frombuffer(base64.b64decode(data), dtype=np.uint8)
        assert pixels.size, "the overlay canvas is empty"
        return pixels

    def hover_then_choose_layer_2(self) -> None:
        """Hover token 4 (a repaint in the browser alone), then choose layer 2 in the menu (a repaint once the
        kernel has answered with that layer's maps)."""
        self.wait_until_painted()
        before_hover, start = self.pixels(), self.frames()
        self.page.locator(f"{self.scope} [data-qvl-token='4']").hover()
        self.wait_for_frames_after(start, 10_000, "hovering a token did not repaint the overlay")
        hovered = self.pixels()
        assert not np.array_equal(before_hover, hovered), "hovering a token left the overlay as it was"

        start = self.frames()
        self.page.locator(f"{self.scope} select.qvl-layer").select_option("2")
        self.wait_for_frames_after(
            start, KERNEL_TIMEOUT_MS, "no repaint after choosing layer 2: no maps from the kernel"
        )
        assert not np.array_equal(hovered, self.pixels()), "layer 2's overlay looks the same as layer 0's"

    def grid_pixels(self) -> np.ndarray:
        data = self.page.locator(f"{self.scope} canvas.qvl-heads-grid").evaluate(
            "canvas => Array.from(canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data)"
        )
        return np.array(data, dtype=np.uint8)

    def show_heads_then_click_layer_1(self) -> None:
        """Show the head overview (its data comes from the kernel once), hover a token (the overview repaints in the
        browser alone), then click the grid's layer 1, head 0 (the kernel answers with that head's maps)."""
        self.page.locator(f"{self.scope} select.qvl-head-overview").select_option("mass")
        grid = self.page.locator(f"{self.scope} canvas.qvl-heads-grid")
        try:
            grid.wait_for(state="visible", timeout=KERNEL_TIMEOUT_MS)
        except PlaywrightTimeoutError:
            pytest.fail("the head overview never showed: no data from the kernel")
        before = self.grid_pixels()
        start = self.frames()
        self.page.locator(f"{self.scope} [data-qvl-token='2']").hover()
        self.wait_for_frames_after(start, 10_000, "hovering a token did not repaint")
        assert not np.array_equal(before, self.grid_pixels()), "hovering a token left the head overview as it was"
        layers, heads = (int(grid.get_attribute(f"data-qvl-{name}") or 0) for name in ("layers", "heads"))
        box = grid.bounding_box()
        assert box is not None and layers > 1 and heads > 0
        start = self.frames()
        grid.click(position={"x": 0.5 * box["width"] / heads, "y": 1.5 * box["height"] / layers})
        self.wait_for_frames_after(
            start, KERNEL_TIMEOUT_MS, "no repaint after clicking a head: no maps from the kernel"
        )


# Uncaught errors of the hosts' own code, unrelated to the widget: (message part, stack part).
# Notebook 7.6's keyboard-shortcuts plugin throws once at start-up, in any notebook, with or without widgets.
NOTEBOOK7_OWN_ERRORS = (("reading 'schema'", "/static/notebook/notebook_core."),)


@contextlib.contextmanager
def host_page(browser, url: str, host_errors: tuple[tuple[str, str], ...] = ()) -> Iterator:
    """A fresh page for the host at `url`; requests to other hosts are blocked; fails on uncaught page errors
    (but for the host's own known ones)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []

    def record(error) -> None:
        stack = error.stack or ""
        if not any(message in str(error) and where in stack for message, where in host_errors):
            errors.append(f"{error}\n{stack}")

    page.on("pageerror", record)
    block_other_hosts(page, url)
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"uncaught errors on the page: {errors}"


def test_notebook7_round_trip_through_a_real_kernel(browser, tmp_path):
    require_host("notebook")
    cells = [capture_code(tmp_path / "tiny"), f"{SHOW}\nwidget", "print('kernel layer:', widget.layer)"]
    write_notebook(tmp_path / "explore.ipynb", cells)
    with running_notebook(tmp_path) as url, host_page(browser, url, NOTEBOOK7_OWN_ERRORS) as page:
        open_notebook(page, url, "explore.ipynb", app="notebook")
        run_cell(page, 0)
        run_cell(page, 1)
        widget = HostedWidget(page, ".jp-OutputArea")
        widget.hover_then_choose_layer_2()
        run_cell(page, 2)
        output = page.locator(".jp-Notebook .jp-Cell").nth(2).locator(".jp-OutputArea-output")
        assert "kernel layer: 2" in output.first.text_content()
        widget.show_heads_then_click_layer_1()
        run_cell(page, 2)
        page.locator(".jp-Notebook .jp-Cell").nth(2).get_by_text("kernel layer: 1").wait_for(timeout=KERNEL_TIMEOUT_MS)


def test_notebook7_video_film_strip_through_a_real_kernel(browser, tmp_path):
    require_host("notebook")
    cells = [video_code(tmp_path / "tiny") + "widget", "print('kernel group:', widget.group)"]
    write_notebook(tmp_path / "video.ipynb", cells)
    with running_notebook(tmp_path) as url, host_page(browser, url, NOTEBOOK7_OWN_ERRORS) as page:
        open_notebook(page, url, "video.ipynb", app="notebook")
        run_cell(page, 0)
        film_strip_round_trip(page, ".jp-Notebook .jp-Cell:nth-child(1) .jp-OutputArea")
        run_cell(page, 1)
        page.locator(".jp-Notebook .jp-Cell").nth(1).get_by_text("kernel group: 2").wait_for(timeout=KERNEL_TIMEOUT_MS)


def test_notebook7_study_widget_through_a_real_kernel(browser, tmp_path):
    require_host("notebook")
    cells = [study_code(tmp_path / "study") + "widget", "print('kernel shown:', widget.shown)"]
    write_notebook(tmp_path / "study.ipynb", cells)
    with running_notebook(tmp_path) as url, host_page(browser, url, NOTEBOOK7_OWN_ERRORS) as page:
        open_notebook(page, url, "study.ipynb", app="notebook")
        run_cell(page, 0)
        chosen = study_round_trip(page, ".jp-Notebook .jp-Cell:nth-child(1) .jp-OutputArea")
        run_cell(page, 1)
        page.locator(".jp-Notebook .jp-Cell").nth(1).get_by_text(f"kernel shown: {chosen}").wait_for(
            timeout=KERNEL_TIMEOUT_MS
        )


def test_voila_round_trip_through_a_real_kernel(browser, tmp_path):
    require_host("voila")
    # Voila shows outputs only, and runs no cells afterwards: a label in the kernel follows the widget's trait.
    echo = """
import traitlets, ipywidgets
echo = ipywidgets.Label()
traitlets.dlink((widget, "layer"), (echo, "value"), lambda layer: f"kernel layer: {layer}")
display(widget, echo)
"""
    write_notebook(tmp_path / "app.ipynb", [capture_code(tmp_path / "tiny"), SHOW + echo])
    with running_voila(tmp_path, "app.ipynb") as url, host_page(browser, url) as page:
        page.goto(url, timeout=START_TIMEOUT_MS)  # Voila runs the notebook before the page loads
        widget = HostedWidget(page, ".jp-OutputArea")
        page.get_by_text("kernel layer: 0").wait_for(timeout=START_TIMEOUT_MS)
        widget.hover_then_choose_layer_2()
        page.get_by_text("kernel layer: 2").wait_for(timeout=KERNEL_TIMEOUT_MS)
        widget.show_heads_then_click_layer_1()
        page.get_by_text("kernel layer: 1").wait_for(timeout=KERNEL_TIMEOUT_MS)


def test_voila_study_widget_through_a_real_kernel(browser, tmp_path):
    require_host("voila")
    echo = """
import traitlets, ipywidgets
echo = ipywidgets.Label()
traitlets.dlink((widget, "shown"), (echo, "value"), lambda shown: f"kernel shown: {shown}")
display(widget, echo)
"""
    write_notebook(tmp_path / "study.ipynb", [study_code(tmp_path / "study") + echo])
    with running_voila(tmp_path, "study.ipynb") as url, host_page(browser, url) as page:
        page.goto(url, timeout=START_TIMEOUT_MS)
        chosen = study_round_trip(page, ".jp-OutputArea")
        page.get_by_text(f"kernel shown: {chosen}").wait_for(timeout=KERNEL_TIMEOUT_MS)


MARIMO_APP = """
import marimo

app = marimo.App()


@app.cell
def _():
    import marimo as mo
{capture}
    return mo, result


@app.cell
def _(mo, result):
    widget = result.widget(layer=0, colormap="gray", smooth=False)
    view = mo.ui.anywidget(widget)
    view
    return view, widget


@app.cell
def _(mo, view, widget):
    # Runs again whenever the view changes the widget's value.
    mo.md(f"kernel layer: {{widget.layer}}, view value: {{view.value['layer']}}")
    return
"""


def test_marimo_round_trip_through_a_real_kernel(browser, tmp_path):
    require_host("marimo")
    capture = "\n".join(f"    {line}" for line in capture_code(tmp_path / "tiny").strip().splitlines())
    (tmp_path / "app.py").write_text(MARIMO_APP.format(capture=capture))
    with running_marimo(tmp_path, "app.py") as url, host_page(browser, url) as page:
        page.goto(url)
        page.get_by_text("kernel layer: 0, view value: 0").wait_for(timeout=START_TIMEOUT_MS)
        widget = HostedWidget(page, "marimo-anywidget")
        widget.hover_then_choose_layer_2()
        page.get_by_text("kernel layer: 2, view value: 2").wait_for(timeout=KERNEL_TIMEOUT_MS)
        widget.show_heads_then_click_layer_1()
        page.get_by_text("kernel layer: 1, view value: 1").wait_for(timeout=KERNEL_TIMEOUT_MS)


MARIMO_VIDEO_APP = """
import marimo

app = marimo.App()


@app.cell
def _():
    import marimo as mo
{capture}
    view = mo.ui.anywidget(widget)
    view
    return mo, view, widget


@app.cell
def _(mo, view, widget):
    # Runs again whenever the view changes the widget's value.
    mo.md(f"kernel group: {{widget.group}}, view value: {{view.value['group']}}")
    return
"""


def test_marimo_video_film_strip_through_a_real_kernel(browser, tmp_path):
    require_host("marimo")
    capture = "\n".join(f"    {line}" for line in video_code(tmp_path / "tiny").strip().splitlines())
    (tmp_path / "app.py").write_text(MARIMO_VIDEO_APP.format(capture=capture))
    with running_marimo(tmp_path, "app.py") as url, host_page(browser, url) as page:
        page.goto(url)
        page.get_by_text("kernel group: 0, view value: 0").wait_for(timeout=START_TIMEOUT_MS)
        film_strip_round_trip(page, "marimo-anywidget")
        page.get_by_text("kernel group: 2, view value: 2").wait_for(timeout=KERNEL_TIMEOUT_MS)


MARIMO_STUDY_APP = """
import marimo

app = marimo.App()


@app.cell
def _():
    import marimo as mo
{capture}
    view = mo.ui.anywidget(widget)
    view
    return mo, view, widget


@app.cell
def _(mo, view, widget):
    # Runs again whenever the view changes the widget's value.
    mo.md(f"kernel shown: {{widget.shown}}, view value: {{view.value['chosen']}}")
    return
"""


def test_marimo_study_widget_through_a_real_kernel(browser, tmp_path):
    require_host("marimo")
    capture = "\n".join(f"    {line}" for line in study_code(tmp_path / "study").strip().splitlines())
    (tmp_path / "app.py").write_text(MARIMO_STUDY_APP.format(capture=capture))
    with running_marimo(tmp_path, "app.py") as url, host_page(browser, url) as page:
        page.goto(url)
        page.get_by_text("kernel shown: scene-").first.wait_for(timeout=START_TIMEOUT_MS)
        chosen = study_round_trip(page, "marimo-anywidget")
        page.get_by_text(f"kernel shown: {chosen}, view value: {chosen}").wait_for(timeout=KERNEL_TIMEOUT_MS)
