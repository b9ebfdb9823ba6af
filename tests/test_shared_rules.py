"""Rules the browser and Python both apply agree on the same inputs: the colour index of a value and the token
cell under a point. (The colour tables themselves are generated from Python: test_widget checks they are current.)"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from qvl_widget._colormaps import colour_indices
from qvl_widget._geometry import cell_of_point

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")


def run_js(source: str, data) -> list:
    """Run an ES module body with `data` (JSON) in scope; it prints its answer as JSON."""
    script = f"const data = {json.dumps(data)};\n{source}"
    done = subprocess.run(
        ["node", "--input-type=module", "-e", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def test_colour_index_is_the_same_in_the_browser_and_the_figures():
    generator = np.random.default_rng(0)
    vmax = 0.037
    values = np.concatenate(
        [
            generator.uniform(-0.01, 0.05, 400),  # negative, inside the scale, above its top
            (np.arange(256) + 0.5) / 255 * vmax,  # exactly half-way between two indices: rounding must agree
            [0.0, vmax, np.nan],
        ]
    )
    for top in (vmax, 0.0, -1.0):
        shown = [None if np.isnan(value) else float(value) for value in values]
        browser = run_js(
            'import { colourIndex } from "./js/colormap.js";\n'
            "console.log(JSON.stringify(data.values.map((v) => colourIndex(v === null ? NaN : v, data.top))));",
            {"values": shown, "top": top},
        )
        np.testing.assert_array_equal(colour_indices(values, top), browser)


def test_the_cell_under_a_point_is_the_same_in_the_browser_and_in_python():
    width, height, rows, cols = 300.0, 160.0, 4, 6
    generator = np.random.default_rng(1)
    points = [(x, y) for x in (-3.0, 0.0, 49.999, 50.0, 299.9, 300.0, 410.0) for y in (-1.0, 0.0, 39.99, 40.0, 160.0)]
    points += [tuple(point) for point in generator.uniform(-20, 320, size=(200, 2))]
    browser = run_js(
        'import { cellAt } from "./js/geometry.js";\n'
        "console.log(JSON.stringify(data.points.map(([x, y]) => { const c = cellAt(x, y, data.w, data.h, data.r, "
        "data.c); return [c.row, c.col]; })));",
        {"points": points, "w": width, "h": height, "r": rows, "c": cols},
    )
    python = [list(cell_of_point(x, y, rows, cols, (width, height))) for x, y in points]
    assert python == browser
