"""`import qvl_widget` is light, and a saved result can be viewed without torch or transformers installed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from browser_support import synthetic_result

ROOT = Path(__file__).resolve().parents[1]

# Installed in the child process before anything else: importing the model stack fails there, as it would on a
# machine without it.
WITHOUT_MODEL_STACK = """
import importlib.abc, sys

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "torchvision", "transformers", "triton"):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")
        return None

sys.meta_path.insert(0, NotInstalled())
"""


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_import_loads_no_model_stack_and_no_pyplot(tmp_path):
    done = run_python(
        """
        import sys
        import qvl_widget
        heavy = [name for name in ("torch", "transformers", "matplotlib.pyplot", "anywidget") if name in sys.modules]
        print(heavy)
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_saved_result_is_viewed_without_torch(tmp_path):
    synthetic_result(grids=((4, 6), (3, 3))).save(tmp_path / "cat.npz")
    done = run_python(
        WITHOUT_MODEL_STACK
        + textwrap.dedent(
            """
        import sys
        import qvl_widget
        from qvl_widget import figures

        result = qvl_widget.AttentionResult.load("cat.npz")
        grid = result.grid(phrase="red cat", layer=0, image=1)
        widget = result.widget(phrase="red cat", layer=0)
        widget.layer = 1
        result.to_html("cat.html", layers=[0], heads=["mean"])
        widget.to_html("widget.html")
        figures.save_figure(figures.layers_figure(result, phrase="red cat"), "layers.png")
        try:
            qvl_widget.load("some/model")
        except ModuleNotFoundError as error:
            print("load:", error)
        print(grid.shape, len(widget.maps_payload) > 0, "torch" in sys.modules)
        """
        ),
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[-1] == "(3, 3) True False"
    assert "load: No module named 'torch'" in lines[0]
    for name in ("cat.html", "widget.html", "layers.png"):
        assert (tmp_path / name).stat().st_size > 1000, name
