"""End to end in a real JupyterLab: capture in the kernel, show the widget, hover, change the layer."""

from __future__ import annotations

import numpy as np
import pytest
from jupyter_support import open_notebook, run_cell, running_jupyterlab, write_notebook
from test_hosts import study_code, study_round_trip

pytestmark = pytest.mark.browser

CELLS = [
    """
import tempfile, qvl_widget
from qvl_widget.testing import build_tiny_model
from qvl_widget._example import example_image
model = qvl_widget.load(build_tiny_model(tempfile.mkdtemp() + "/tiny"), device="cpu")
result = model.capture(example_image(), "Where is the red cat on the image?")
""",
    "widget = result.widget(layer=0, colormap='gray', smooth=False)\nwidget",
    "print('kernel layer:', widget.layer)",
]


def overlay_pixels(page) -> np.ndarray:
    data = page.evaluate(
        """() => {
            const canvas = document.querySelector('.jp-OutputArea canvas.qvl-overlay');
            return Array.from(canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data);
        }"""
    )
    return np.array(data, dtype=np.uint8)


def frames(page) -> int:
    return int(page.eval_on_selector(".jp-OutputArea .qvl-widget", "node => node.dataset.qvlFrames || 0"))


def test_widget_round_trip_through_a_real_kernel(browser, tmp_path):
    write_notebook(tmp_path / "explore.ipynb", CELLS)
    with running_jupyterlab(tmp_path) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        open_notebook(page, url, "explore.ipynb")
        run_cell(page, 0)
        run_cell(page, 1)
        page.wait_for_selector(".jp-OutputArea .qvl-widget canvas.qvl-overlay", timeout=180_000)
        page.wait_for_function("document.querySelector('.jp-OutputArea .qvl-widget').dataset.qvlFrames > 0")

        # Hover: repainted in the browser alone.
        before_hover = overlay_pixels(page)
        start = frames(page)
        page.locator(".jp-OutputArea [data-qvl-token='4']").hover()
        page.wait_for_function(f"document.querySelector('.jp-OutputArea .qvl-widget').dataset.qvlFrames > {start}")
        hovered = overlay_pixels(page)
        assert not np.array_equal(before_hover, hovered)

        # Layer: the kernel must compute and send the new maps.
        start = frames(page)
        page.select_option(".jp-OutputArea .qvl-layer", "2")
        page.wait_for_function(
            f"document.querySelector('.jp-OutputArea .qvl-widget').dataset.qvlFrames > {start}", timeout=120_000
        )
        assert not np.array_equal(hovered, overlay_pixels(page))
        run_cell(page, 2)
        outputs = page.locator(".jp-Notebook .jp-Cell").nth(2).locator(".jp-OutputArea-output")
        assert "kernel layer: 2" in outputs.first.text_content()
        page.close()


def test_study_widget_through_a_real_kernel(browser, tmp_path):
    cells = [study_code(tmp_path / "study") + "widget", "print('kernel shown:', widget.shown)"]
    write_notebook(tmp_path / "study.ipynb", cells)
    with running_jupyterlab(tmp_path) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        open_notebook(page, url, "study.ipynb")
        run_cell(page, 0)
        chosen = study_round_trip(page, ".jp-Notebook .jp-Cell:nth-child(1) .jp-OutputArea")
        run_cell(page, 1)
        outputs = page.locator(".jp-Notebook .jp-Cell").nth(1).locator(".jp-OutputArea-output")
        assert f"kernel shown: {chosen}" in outputs.first.text_content()
        page.close()
