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
    for name in (
        "static/widget.js",
        "static/page.js",
        "static/widget.css",
        "demo/model/model.safetensors",
        "py.typed",
    ):
        assert f"qvl_widget/{name}" in names, name
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    assert not any(name.startswith(("tests/", "js/", "node_modules/", "training/")) for name in names)
    # The demo model's training code stays in the repository (training/): the package only runs the model.
    training_files = ("train.py", "_fast.py", "_tensors.py", "_model.py")
    assert not [name for name in names if name.endswith(".py") and name.rsplit("/", 1)[-1] in training_files]


def test_runtime_modules_do_not_import_the_testing_helpers():
    """`qvl_widget.testing` builds tiny offline models for tests and training; nothing the package runs needs it."""
    import ast

    package = ROOT / "qvl_widget"
    importers = []
    for path in sorted(package.rglob("*.py")):
        if path == package / "testing.py":
            continue
        parts = path.relative_to(ROOT).with_suffix("").parts  # its package is parts[:-1], __init__ or not
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                # Relative imports too: `from ..testing import x`, `from .. import testing`, `from . import testing`.
                base = list(parts[: len(parts) - node.level]) if node.level else []
                prefix = ".".join([*base, *([node.module] if node.module else [])])
                names = [prefix, *(f"{prefix}.{alias.name}" for alias in node.names)]
            else:
                continue
            if any(name == "qvl_widget.testing" or name.startswith("qvl_widget.testing.") for name in names):
                importers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not importers, importers


def test_license_and_citation_agree_with_the_package():
    """MIT, as pyproject says, in a LICENSE file the wheel ships; CITATION.cff cites the package's version."""
    import yaml

    import qvl_widget

    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert re.search(r'^license = "MIT"$', (ROOT / "pyproject.toml").read_text(), re.M)
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0" and citation["license"] == "MIT"
    assert citation["version"] == qvl_widget.__version__
    assert re.search(rf'^version = "{re.escape(qvl_widget.__version__)}"$', (ROOT / "pyproject.toml").read_text(), re.M)
