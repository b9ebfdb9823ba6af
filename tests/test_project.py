"""Project-level promises: the transformers floor in pyproject.toml is the version `make test` also runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_transformers_floor_is_the_tested_oldest_version():
    floor = re.search(r'"transformers>=([\d.]+),', (ROOT / "pyproject.toml").read_text()).group(1)
    oldest = re.search(r"^OLDEST_TRANSFORMERS := ([\d.]+)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert floor == oldest


def test_wheel_ships_the_front_end_and_the_demo_model(tmp_path):
    """`pip install` needs no Node and no download: the bundle and the demo weights are inside the package."""
    import subprocess
    import sys
    import zipfile

    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path)]
    subprocess.run([*command, str(ROOT)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("qvl_widget-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("static/widget.js", "static/page.js", "static/widget.css", "demo/model/model.safetensors"):
        assert f"qvl_widget/{name}" in names, name
    assert not any(name.startswith(("tests/", "js/", "node_modules/")) for name in names)
