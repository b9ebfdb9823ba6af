"""Every Python block of the README runs, in order, as a reader would paste them into one notebook.

Hub ids resolve to a tiny offline Qwen2-VL (no download here; Qwen3.5's to a tiny Qwen3.5, whose template thinks
first), `cat.jpg` is the example picture, and, since a tiny random model cannot answer, `answer=True` gives it the
answer a real model would write (a thinking model's with its thinking, where it thinks); everything else runs as
written. Blocks inside list items are dedented, as a reader pasting them would."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import NO_QWEN3_5
from test_video_input import write_video
from transformers import AutoModelForImageTextToText, AutoProcessor

import qvl_widget
import qvl_widget._loading

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)


def test_the_readme_has_python_blocks():
    assert len(python_blocks()) >= 8


GIVEN_ANSWER = 'answer="A red cat sits on the left."'
GIVEN_THOUGHT = 'answer="The cat is on the left.</think>\\n\\nA red cat sits on the left."'


def given_answers(block: str) -> str:
    """`block` with each `answer=True` replaced by the answer a real model would write."""
    if "demo.load(" in block:  # the demo model answers for itself (it knows its scenes)
        return block
    if "Qwen3.5" in block:  # it thinks first, unless thinking=False
        block = block.replace("answer=True, thinking=False", f"{GIVEN_ANSWER}, thinking=False")
        return block.replace("answer=True", GIVEN_THOUGHT)
    return block.replace("answer=True", GIVEN_ANSWER)


def test_every_readme_block_runs(tiny_model_dirs, tmp_path, monkeypatch):
    folder = tiny_model_dirs["qwen2_vl"]
    checked_source = qvl_widget._loading.checked_source

    def offline(model_id_or_path):
        source = str(model_id_or_path)
        if source.startswith("Qwen/Qwen3.5"):
            if "qwen3_5" not in tiny_model_dirs:
                pytest.skip(NO_QWEN3_5)  # the oldest transformers: its README block runs in the main run
            return str(tiny_model_dirs["qwen3_5"])
        return str(folder) if source.startswith("Qwen/") else checked_source(model_id_or_path)

    monkeypatch.setattr(qvl_widget._loading, "checked_source", offline)
    monkeypatch.chdir(tmp_path)
    qvl_widget.example_image().save("cat.jpg")
    write_video(tmp_path / "clip.mp4")  # a small clip for the video block
    # What the "model already loaded" block assumes the reader has.
    namespace = {
        "my_model": AutoModelForImageTextToText.from_pretrained(folder).eval(),
        "my_processor": AutoProcessor.from_pretrained(folder),
        "my_image": qvl_widget.example_image(),
        "frames": np.stack([np.asarray(qvl_widget.example_image().resize((64, 48)))] * 4),  # a video's frames
    }
    for number, block in enumerate(python_blocks(), start=1):
        try:
            code = given_answers(textwrap.dedent(block))
            exec(compile(code, f"README block {number}", "exec"), namespace)
        except Exception as error:
            pytest.fail(f"README block {number} fails: {type(error).__name__}: {error}\n{block}")


def test_the_refusals_table_states_the_codes_limits():
    """The README's "What qvl_widget refuses" gives each limit as the code has it."""
    from PIL import Image

    from qvl_widget import _figures, _html, _inputs, _result

    section = README.read_text().split("## What qvl_widget refuses", 1)[1].split("\n## ", 1)[0]
    stated = {
        f"({round(Image.MAX_IMAGE_PIXELS / 1e6)} megapixels)",
        f"at most {_inputs.MAX_ASPECT_RATIO}:1",
        f"{_html.DEFAULT_MAX_BYTES // 2**20} MiB by default",
        f"at most {_figures.MATRIX_MAX_ROWS} token rows",
        f"at most {_figures.MAX_LAYER_PANELS} layer panels",
        f"at most {_figures.MAX_FRAME_PANELS} group panels",
        f"at most {round(_figures.MAX_PIXELS / 1e6)} million pixels",
        f"{_figures._MAX_SIDE_PIXELS:,} px a side",
        f"at most {_result._MAX_INFLATION} times the file's size (or {_result._FREE_INFLATION // 2**20} MiB)",
        f"metadata at most {_result._MAX_METADATA_BYTES // 2**20} MiB",
    }
    missing = [limit for limit in stated if limit not in section]
    assert not missing, f"the README's refusals table does not say: {missing}"
