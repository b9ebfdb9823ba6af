"""The `qvl-widget` command: writes the HTML and both figures; bad arguments get argparse-style errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PIL import Image

import qvl_widget
from qvl_widget._html import DEFAULT_MAX_BYTES
from qvl_widget.cli import DEFAULT_HTML_MAX_MB, main


def run_cli(arguments: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = main(arguments)
    except SystemExit as exit:
        code = exit.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_outputs(folder, stdout: str) -> None:
    for name in ("attention.html", "layers.png", "matrix.png"):
        path = folder / name
        assert path.is_file() and path.stat().st_size > 1000, name
        assert f"wrote {path}" in stdout
    assert (folder / "layers.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_explore_writes_html_and_figures(tiny_model_dirs, tmp_path, capsys):
    image = tmp_path / "scene.png"
    Image.new("RGB", (120, 90), "red").save(image)
    out = tmp_path / "out"
    arguments = ["explore", "--model", str(tiny_model_dirs["qwen2_vl"]), "--image", str(image), "--image", str(image)]
    arguments += ["--prompt", "Where is the red cat?", "--phrase", "red cat", "--layers", "0", "-1", "--out", str(out)]
    code, stdout, stderr = run_cli([*arguments, "--device", "cpu"], capsys)
    assert code == 0, stderr
    assert_outputs(out, stdout)
    assert "loading" in stderr and "captured 3 layers x 4 heads" in stderr  # progress on stderr


def test_demo_runs_offline(tmp_path, capsys):
    code, stdout, stderr = run_cli(["demo", "--out", str(tmp_path)], capsys)
    assert code == 0, stderr
    assert_outputs(tmp_path, stdout)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["explore", "--prompt", "p", "--out", "o"], "the following arguments are required: --model, --image"),
        (["explore", "--model", "m", "--image", "missing.png", "--prompt", "p", "--out", "o"], "image file not found"),
        (["demo", "--layers", "last"], "invalid layer 'last'"),
        (["demo", "--head", "median"], "invalid head 'median'"),
        (["demo", "--head", "9"], "head 9 is out of range: there are 4 heads"),
        (["demo", "--layers", "7"], "layer 7 is out of range: there are 6 layers"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["demo", "--out", "a-file.txt"], "'a-file.txt' is a file: pass a folder for the outputs"),
        (["demo", "--html-max-mb", "0"], "invalid size '0': use a positive number of megabytes"),
        (["demo", "--max-pixels", "5"], "unrecognized arguments: --max-pixels"),  # the demo's scenes are fixed
    ],
)
def test_bad_arguments(arguments, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file.txt").write_text("not a folder")
    code, _, stderr = run_cli(arguments, capsys)
    assert code == 2
    assert "usage: qvl-widget" in stderr and message in stderr


def test_bad_model_and_phrase(tiny_model_dirs, tmp_path, capsys):
    image = tmp_path / "scene.png"
    Image.new("RGB", (64, 64)).save(image)
    base = ["explore", "--image", str(image), "--prompt", "Where is the cat?", "--out", str(tmp_path / "o")]
    code, _, stderr = run_cli([*base, "--model", str(tmp_path / "nowhere")], capsys)
    assert code == 2 and "model folder not found" in stderr
    code, _, stderr = run_cli([*base, "--model", str(tiny_model_dirs["qwen2_vl"]), "--phrase", "dog"], capsys)
    assert code == 2 and "phrase 'dog' is not in the prompt" in stderr
    assert not (tmp_path / "o").exists()  # nothing half-written


def test_installed_entry_point():
    completed = subprocess.run([sys.executable, "-m", "qvl_widget.cli", "--help"], capture_output=True, text=True)
    assert completed.returncode == 0
    assert "explore" in completed.stdout and "demo" in completed.stdout


def test_an_html_over_the_limit_embeds_only_the_chosen_layers_or_says_what_to_do(tiny_model_dirs, tmp_path, capsys):
    image, prompt = tmp_path / "red.png", "Where is the red cat?"
    Image.new("RGB", (448, 448), "red").save(image)  # a flat picture: the maps, not the image, set the size
    result = qvl_widget.load(tiny_model_dirs["qwen2_vl"], device="cpu").capture(image, prompt)
    full = result.to_html(tmp_path / "full.html", layer=-1).stat().st_size
    small = result.to_html(tmp_path / "small.html", layers=[0, -1], heads=["mean", "max"], layer=-1).stat().st_size
    assert small < full
    base = ["explore", "--model", str(tiny_model_dirs["qwen2_vl"]), "--image", str(image), "--prompt", prompt]
    base += ["--layers", "0", "-1", "--device", "cpu"]

    between = str((full + small) / 2 / 2**20)
    code, stdout, stderr = run_cli([*base, "--html-max-mb", between, "--out", str(tmp_path / "o")], capsys)
    assert code == 0, stderr
    assert "it embeds layers 0 -1, mean and max of heads" in stderr
    assert_outputs(tmp_path / "o", stdout)
    assert (tmp_path / "o" / "attention.html").stat().st_size == small

    too_small = str(small / 2 / 2**20)
    code, _, stderr = run_cli([*base, "--html-max-mb", too_small, "--out", str(tmp_path / "p")], capsys)
    assert code == 2 and "usage: qvl-widget" in stderr
    assert "even with layers 0 -1 only (it would be" in stderr and "or a larger --html-max-mb" in stderr
    assert not (tmp_path / "p").exists()  # nothing half-written


def test_the_command_line_html_limit_is_the_exports_own():
    assert DEFAULT_HTML_MAX_MB * 2**20 == DEFAULT_MAX_BYTES
