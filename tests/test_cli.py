"""The `qvl-widget` command: writes the HTML and both figures; bad arguments get argparse-style errors."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest
from PIL import Image
from test_html import embedded_header

import qvl_widget
from qvl_widget._html import DEFAULT_MAX_BYTES
from qvl_widget.cli import DEFAULT_HTML_MAX_MB, DEFAULT_MAX_NEW_TOKENS, main


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
    # The demo model answers; the page opens on its answer word, with the map of the step that wrote it.
    assert "answer: orange" in stdout and "lands on the named object" in stderr
    header = embedded_header(tmp_path / "attention.html")
    (opened,) = header["state"]["selected"]
    assert header["answer"] == "orange" and header["state"]["producing"] is True
    assert header["state"]["tokens"][opened]["text"] == "orange"
    assert header["state"]["groups"][header["state"]["tokens"][opened]["group"]]["name"] == "answer"


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


# ----- the model's answer ------------------------------------------------------------------------------------


@pytest.fixture
def drawn(monkeypatch) -> dict[str, list]:
    """Records what the command hands to the HTML and the figures: the result, and each figure's options."""
    from qvl_widget import _figures

    calls: dict[str, list] = {"html": [], "layers_figure": [], "matrix_figure": []}
    original_html = qvl_widget.AttentionResult.to_html

    def to_html(result, path, **options):
        calls["html"].append((result, options))
        return original_html(result, path, **options)

    monkeypatch.setattr(qvl_widget.AttentionResult, "to_html", to_html)
    for name in ("layers_figure", "matrix_figure"):
        original = getattr(_figures, name)

        def spy(result, *args, _original=original, _name=name, **options):
            drawn_figure = _original(result, *args, **options)
            calls[_name].append((result, options, drawn_figure))
            return drawn_figure

        monkeypatch.setattr(_figures, name, spy)
    return calls


def test_explore_with_the_models_own_answer(tiny_model_dirs, tmp_path, capsys, drawn):
    image, prompt = tmp_path / "scene.png", "Where is the red cat?"
    Image.new("RGB", (120, 90), "red").save(image)
    out = tmp_path / "out"
    arguments = ["explore", "--model", str(tiny_model_dirs["qwen2_vl"]), "--image", str(image), "--prompt", prompt]
    arguments += ["--answer", "--max-new-tokens", "3", "--layers", "-1", "--device", "cpu", "--out", str(out)]
    code, stdout, stderr = run_cli(arguments, capsys)
    assert code == 0, stderr
    assert_outputs(out, stdout)
    expected = qvl_widget.load(tiny_model_dirs["qwen2_vl"], device="cpu").capture(
        image, prompt, answer=True, max_new_tokens=3
    )
    assert f"answer: {expected.answer}\n" in stdout
    assert "answering (the model generates up to 3 tokens) ..." in stderr
    answered = sum(token.part == "answer" for token in expected.tokens)
    assert f"(the answer: {answered} of them)" in stderr
    # The HTML and both figures get the result with the answer; no selection: each token's own row.
    (result, _), *_ = drawn["html"]
    assert result.answer == expected.answer and result.tokens == expected.tokens
    for name in ("layers_figure", "matrix_figure"):
        ((figure_result, options, _),) = drawn[name]
        assert figure_result is result and options["producing"] is False


def test_explore_with_a_given_answer_draws_the_producing_maps_of_its_words(tiny_model_dirs, tmp_path, capsys, drawn):
    image = tmp_path / "scene.png"
    Image.new("RGB", (120, 90), "red").save(image)
    out = tmp_path / "out"
    base = ["explore", "--model", str(tiny_model_dirs["qwen2_vl"]), "--image", str(image)]
    base += ["--prompt", "What is on the image?", "--device", "cpu", "--out", str(out)]
    code, stdout, stderr = run_cli([*base, "--answer-text", "A red cat.", "--phrase", "red cat"], capsys)
    assert code == 0, stderr
    assert_outputs(out, stdout)
    assert "answer: A red cat.\n" in stdout
    assert "answering with the given text (teacher-forced) ..." in stderr
    assert "producing maps of the answer's words" in stderr
    ((result, options, figure),) = drawn["layers_figure"]
    assert result.answer == "A red cat." and options["producing"] is True and options["phrase"] == "red cat"
    assert "while writing “red cat”" in figure.get_suptitle()
    ((_, options, (figure, _)),) = drawn["matrix_figure"]
    assert options["producing"] is True
    assert "producing step" in next(axes for axes in figure.axes if axes.images).get_title()
    # A phrase of the prompt, or of both: each token's own row (producing maps are for the answer's words).
    for answer, phrase in (("A red cat.", "image"), ("The image.", "image")):
        code, _, stderr = run_cli([*base, "--answer-text", answer, "--phrase", phrase], capsys)
        assert code == 0, stderr
    assert [options["producing"] for _, options, _ in drawn["layers_figure"]] == [True, False, False]
    assert [options["producing"] for _, options, _ in drawn["matrix_figure"]] == [True, False, False]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--max-new-tokens", "0"], "argument --max-new-tokens: invalid number of tokens '0': use a whole number >= 1"),
        (["--answer", "--max-new-tokens", "-3"], "invalid number of tokens '-3'"),
        (["--answer", "--max-new-tokens", "2.5"], "invalid number of tokens '2.5'"),
        (["--answer", "--max-new-tokens", "many"], "invalid number of tokens 'many'"),
        (["--answer", "--answer-text", "a cat"], "argument --answer-text: not allowed with argument --answer"),
        (["--answer-text", "  "], "argument --answer-text: the answer text is empty"),
        (["--max-new-tokens", "5"], "--max-new-tokens is for the model's own answer: pass it with --answer"),
        (["--answer-text", "a cat", "--max-new-tokens", "5"], "--max-new-tokens is for the model's own answer"),
    ],
)
def test_bad_answer_arguments_fail_before_the_model_loads(options, message, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(qvl_widget, "load", lambda *args, **kwargs: pytest.fail("the model loaded"))
    image = tmp_path / "scene.png"
    Image.new("RGB", (64, 64)).save(image)
    base = ["explore", "--model", "m", "--image", str(image), "--prompt", "Where is the cat?"]
    code, _, stderr = run_cli([*base, *options, "--out", str(tmp_path / "o")], capsys)
    assert code == 2
    assert "usage: qvl-widget" in stderr and message in stderr
    assert not (tmp_path / "o").exists()


def test_a_bad_given_answer_or_answer_phrase_gets_an_argparse_error(tiny_model_dirs, tmp_path, capsys):
    image = tmp_path / "scene.png"
    Image.new("RGB", (64, 64)).save(image)
    base = ["explore", "--model", str(tiny_model_dirs["qwen2_vl"]), "--image", str(image), "--prompt", "Where?"]
    base += ["--device", "cpu", "--out", str(tmp_path / "o")]
    code, _, stderr = run_cli([*base, "--answer-text", "a cat <|image_pad|>"], capsys)
    assert code == 2 and "the answer text contains the special token '<|image_pad|>'" in stderr
    code, _, stderr = run_cli([*base, "--answer-text", "A cat.", "--phrase", "dog"], capsys)
    assert code == 2 and "phrase 'dog' is not in the prompt 'Where?' or the answer 'A cat.'" in stderr
    assert not (tmp_path / "o").exists()


def test_a_capture_too_large_is_an_argparse_error(tiny_model_dirs, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("qvl_widget._memory.available_bytes", lambda: 10_000)
    image = tmp_path / "scene.png"
    Image.new("RGB", (64, 64)).save(image)
    arguments = ["explore", "--model", str(tiny_model_dirs["qwen2_vl"]), "--image", str(image), "--prompt", "Where?"]
    arguments += ["--answer", "--max-new-tokens", "500", "--device", "cpu", "--out", str(tmp_path / "o")]
    code, _, stderr = run_cli(arguments, capsys)
    assert code == 2 and "usage: qvl-widget" in stderr
    assert "this capture's result would take" in stderr and "a smaller --max-new-tokens" in stderr
    assert not (tmp_path / "o").exists()


def test_the_command_line_answer_length_is_captures_own():
    parameters = inspect.signature(qvl_widget.LoadedModel.capture).parameters
    assert parameters["max_new_tokens"].default == DEFAULT_MAX_NEW_TOKENS
