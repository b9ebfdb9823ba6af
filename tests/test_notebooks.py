"""The notebooks are stored with their outputs, as `tools/make_notebooks.py` (`make notebooks`) writes them: current
with the script, free of errors, readable without a kernel (each widget a still picture), and re-executing them on
the offline demo model gives the outputs they store. nbconvert's offline HTML of the quickstart shows the widgets'
pictures."""

from __future__ import annotations

import base64
import copy
import importlib.util
import io
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_WIDTH = 512  # the widget's default width: its still picture's width
MAX_IMAGE_BYTES = 120_000  # each stored picture (base64); the notebooks hold a few of them
# Pictures re-made on another machine of the same kind may differ where floating point does (a colour index here and
# there); at most this share of their pixels may differ by more than a few levels.
PIXEL_TOLERANCE = 8
MAX_CHANGED_SHARE = 0.02


def load_script():
    spec = importlib.util.spec_from_file_location("make_notebooks", ROOT / "tools" / "make_notebooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_notebooks = load_script()


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def outputs_of(notebook: nbformat.NotebookNode) -> list[tuple[str, dict]]:
    return [(cell.id, output) for cell in notebook.cells for output in cell.get("outputs", [])]


def widget_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in notebook.cells if cell.cell_type == "code" and ".widget(" in cell.source]


def decoded(data: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"), dtype=np.int16)


def test_the_documented_notebooks_exist():
    assert {path.stem for path in NOTEBOOKS} == set(make_notebooks.NOTEBOOKS) == {"quickstart", "original_api", "video"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_is_current_with_its_script(path):
    built, stored = make_notebooks.NOTEBOOKS[path.stem](), read(path)
    assert [(cell.id, cell.cell_type, cell.source) for cell in stored.cells] == [
        (cell.id, cell.cell_type, cell.source) for cell in built.cells
    ], f"{path.name} differs from tools/make_notebooks.py: run make notebooks"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_is_stored_with_its_outputs_and_no_errors(path):
    notebook = read(path)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1)), "run all cells, in order"
    outputs = outputs_of(notebook)
    assert [cell for cell, output in outputs if output.output_type == "error"] == []
    assert any("image/png" in output.get("data", {}) for _, output in outputs), "no picture stored"
    # What changes from run to run, or needs the kernel that made it, is not stored.
    assert "widgets" not in notebook.metadata and set(notebook.metadata) == {"kernelspec", "language_info"}
    assert all("execution" not in cell.metadata for cell in notebook.cells)
    for cell, output in outputs:
        data = output.get("data", {})
        assert WIDGET_VIEW not in data, f"{cell}: a widget's view reference, drawn by no host without its kernel"
        assert all(len(data[mime]) < MAX_IMAGE_BYTES for mime in data if mime.startswith("image/")), cell
        text = output.get("text", "") + data.get("text/plain", "")
        assert str(ROOT) not in text and "object at 0x" not in text, f"{cell}: a machine's path or address"
    intro = notebook.cells[0].source
    assert "stored with its outputs" in intro and "Run All (JupyterLab: Run → Run All Cells)" in intro
    assert 'pip install "qvl-widget' not in "".join(cell.source for cell in notebook.cells)


@pytest.mark.parametrize("path", [path for path in NOTEBOOKS if widget_cells(read(path))], ids=lambda path: path.stem)
def test_each_widget_is_stored_as_its_still_picture(path):
    for cell in widget_cells(read(path)):
        (output,) = cell.outputs
        assert set(output.data) == {"image/png", "text/plain"}
        assert output.data["text/plain"].startswith("AttentionWidget: layer ")
        assert output.data["text/plain"].endswith("run the notebook to interact")
        assert decoded(output.data["image/png"]).shape[1] == WIDGET_WIDTH


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_re_executing_gives_the_stored_outputs(path):
    stored = read(path)
    cleared = copy.deepcopy(stored)
    for cell in cleared.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    again = make_notebooks.stored(make_notebooks.executed(cleared))
    for before, after in zip(stored.cells, again.cells, strict=True):
        assert len(before.get("outputs", [])) == len(after.get("outputs", [])), before.id
        for old, new in zip(before.get("outputs", []), after.get("outputs", []), strict=True):
            assert (old.output_type, old.get("text")) == (new.output_type, new.get("text")), before.id
            assert set(old.get("data", {})) == set(new.get("data", {})), before.id
            for mime, value in old.get("data", {}).items():
                if not mime.startswith("image/"):
                    assert new.data[mime] == value, (before.id, mime)
                    continue
                old_pixels, new_pixels = decoded(value), decoded(new.data[mime])
                assert old_pixels.shape == new_pixels.shape, (before.id, mime)
                changed = (np.abs(old_pixels - new_pixels).max(axis=2) > PIXEL_TOLERANCE).mean()
                assert changed <= MAX_CHANGED_SHARE, (before.id, mime, changed)


@pytest.mark.browser
def test_nbconvert_html_of_the_quickstart_shows_the_widgets_pictures_offline(offline_page, tmp_path):
    quickstart = ROOT / "notebooks" / "quickstart.ipynb"
    converted = subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--output-dir", str(tmp_path), str(quickstart)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert converted.returncode == 0, converted.stderr
    page, refused = offline_page
    page.goto((tmp_path / "quickstart.html").as_uri(), wait_until="load")
    # nbconvert renders a widget's view only with the widget state (then it loads its widget manager from a CDN):
    # the page must show the pictures instead.
    assert page.locator(f'script[type="{WIDGET_VIEW}"]').count() == 0
    cells = page.locator(".jp-CodeCell").filter(has_text=".widget(")
    assert cells.count() == len(widget_cells(read(quickstart))) == 2
    for index in range(cells.count()):
        sizes = (
            cells.nth(index)
            .locator(".jp-OutputArea-output img")
            .evaluate_all("images => images.map(image => [image.complete, image.naturalWidth, image.naturalHeight])")
        )
        assert len(sizes) == 1 and sizes[0][0], sizes
        width, height = sizes[0][1:]
        assert width == WIDGET_WIDTH and height > 0
    assert all(not url.startswith("file:") for url in refused)  # only network requests were refused
