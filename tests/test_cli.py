"""The `qvl-widget` command: writes the HTML and the three figures; bad arguments get argparse-style errors."""

from __future__ import annotations

import dataclasses
import inspect
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_html import embedded_header
from test_video_input import write_video

import qvl_widget
from qvl_widget import cli
from qvl_widget._choices import last_layers
from qvl_widget._families import attention_layers
from qvl_widget._figures import RELATIVE_LABEL
from qvl_widget._html import DEFAULT_MAX_BYTES, smallest_page_bytes
from qvl_widget._result import BASELINE_PROMPT
from qvl_widget._view_state import ViewState
from qvl_widget.cli import DEFAULT_HTML_MAX_MIB, DEFAULT_MAX_NEW_TOKENS, DEMO_SEED, main

MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF-", "svg": b"<?xml"}
FIGURES = ("layers", "matrix", "heads")  # FIGURE.FORMAT beside attention.html


def run_cli(arguments: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = main(arguments)
    except SystemExit as exit:
        code = exit.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_outputs(folder, stdout: str, figure_format: str = "png") -> None:
    for name in ("attention.html", *(f"{figure}.{figure_format}" for figure in FIGURES)):
        path = folder / name
        assert path.is_file() and path.stat().st_size > 1000, name
        assert re.search(rf"wrote {re.escape(str(path))}  \(.*, \d+(\.\d)? (MiB|KiB)\)", stdout), stdout
    assert stdout.count("wrote ") == 1 + len(FIGURES)
    for name in FIGURES:
        path = folder / f"{name}.{figure_format}"
        data = path.read_bytes()
        assert data.startswith(MAGIC[figure_format]), name
        if figure_format == "svg":
            assert b"<svg" in data[:1000]
        if figure_format == "png":
            with Image.open(path) as picture:
                picture.verify()  # a whole PNG, not only its signature
    others = {"png", "svg", "pdf"} - {figure_format}
    assert not [path for path in folder.iterdir() if path.suffix[1:] in others]  # the chosen format only


class LoadedError(Exception):
    """Raised by the model loaders in tests that must not get that far, or that stop once they do."""


@pytest.fixture
def no_loading(monkeypatch):
    """Loading a model (any, the demo's too) fails the test: the checks must come first."""

    def loaded(*args, **kwargs):
        pytest.fail("the model loaded before the arguments were checked")

    monkeypatch.setattr(qvl_widget, "load", loaded)
    monkeypatch.setattr(qvl_widget.demo, "load", loaded)


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


def test_explore_takes_videos_after_the_images(tiny_model_dirs, tmp_path, capsys, drawn):
    image = tmp_path / "scene.png"
    Image.new("RGB", (120, 90), "red").save(image)
    clip = write_video(tmp_path / "clip.mp4", count=12, fps=6)  # 2 s: 4 frames at 2 fps, 2 groups
    out = tmp_path / "out"
    arguments = ["explore", "--model", str(tiny_model_dirs["qwen2_vl"]), "--image", str(image), "--video", str(clip)]
    arguments += ["--prompt", "Where is the red cat?", "--out", str(out), "--device", "cpu", "--max-frames", "4"]
    code, stdout, stderr = run_cli(arguments, capsys)
    assert code == 0, stderr
    assert_outputs(out, stdout)
    ((result, _, _),) = drawn["layers_figure"]
    assert [geometry.kind for geometry in result.images] == ["image", "video"]
    assert result.images[1].groups == 2 and result.images[1].group_frames == ((0, 3), (6, 9))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "pass an image (--image cat.jpg) or a video (--video clip.mp4), or both"),
        (["--image", "{image}", "--fps", "2"], "--fps and --max-frames sample a video: pass them with --video"),
        (["--image", "{image}", "--max-frames", "2"], "--fps and --max-frames sample a video: pass them with --video"),
        (["--video", "{folder}"], "is a folder; pass a video file in it"),
    ],
)
def test_explore_refuses_bad_video_options_before_loading(extra, message, tmp_path, capsys, no_loading):
    image = tmp_path / "scene.png"
    Image.new("RGB", (8, 8)).save(image)
    extra = [value.format(image=image, folder=tmp_path) for value in extra]
    code, _, stderr = run_cli(
        ["explore", "--model", "m", "--prompt", "p", "--out", str(tmp_path / "o"), *extra], capsys
    )
    assert code == 2
    assert message in stderr.splitlines()[-1]  # the error's one line, after the usage


@pytest.mark.parametrize("option", [["--fps", "1"], ["--max-frames", "2"]])
def test_the_demo_takes_no_video_options(option, tmp_path, capsys, no_loading):
    code, _, stderr = run_cli(["demo", *option, "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and stderr.splitlines()[-1].endswith(f"error: unrecognized arguments: {' '.join(option)}")


@pytest.mark.parametrize(
    ("options", "video"),
    [
        (["--fps", "1"], {"fps": 1.0}),  # 4 frames of the 4 s, not 8: 2 groups
        (["--max-frames", "2"], {"max_frames": 2}),  # the 8 frames of 2 fps, cut to 2, evenly: 1 group
        (["--fps", "4", "--max-frames", "10"], {"fps": 4.0, "max_frames": 10}),  # 16 frames at 4 fps, cut to 10
    ],
    ids=["fps", "max-frames", "both"],
)
def test_explore_samples_the_video_as_fps_and_max_frames_say(options, video, tiny_model_dirs, tmp_path, capsys, drawn):
    """What the command captured and wrote is the video sampled with these options, as `Video(..., **video)`
    samples it, not as the model's defaults (2 frames per second, 768 at most) would: its groups, their frames and
    times, in the result and in the page."""
    from qvl_widget._video import sample_video

    clip = write_video(tmp_path / "clip.mp4", count=24, fps=6)  # 4 s
    model = str(tiny_model_dirs["qwen2_vl"])
    arguments = ["explore", "--model", model, "--video", str(clip), "--prompt", "Where is the red cat?"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_frames under what the rate asks: sample_video says so
        code, stdout, stderr = run_cli([*arguments, *options, "--out", str(tmp_path / "o"), "--device", "cpu"], capsys)
    assert code == 0, stderr
    assert_outputs(tmp_path / "o", stdout)
    processor = qvl_widget.load(model, device="cpu").processor
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sampled = sample_video(qvl_widget.Video(clip, **video), processor)
        others = [sample_video(qvl_widget.Video(clip), processor).indices]  # the defaults
        others += [
            sample_video(qvl_widget.Video(clip, **{name: value}), processor).indices for name, value in video.items()
        ]
    frames = [sampled.indices[start : start + 2] for start in range(0, len(sampled.indices), 2)]
    expected = tuple(group if len(group) == 2 else (group[0], group[0]) for group in frames)
    assert sampled.indices not in others[: len(others) if len(video) > 1 else 1]  # each option changes the frames
    ((result, _),) = drawn["html"]
    (geometry,) = result.images
    assert geometry.group_frames == expected
    assert geometry.group_times == tuple((group[0] / 6, group[-1] / 6) for group in expected)
    (medium,) = embedded_header(tmp_path / "o" / "attention.html")["state"]["media"]
    assert len(medium["frames"]) == len(expected)
    assert [tuple(times) for times in medium["times"]] == list(geometry.group_times)


def test_explore_says_what_is_wrong_with_an_unreadable_video(tiny_model_dirs, tmp_path, capsys):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    arguments = ["explore", "--model", str(tiny_model_dirs["qwen2_vl"]), "--video", str(broken), "--prompt", "p"]
    code, _, stderr = run_cli([*arguments, "--out", str(tmp_path / "o"), "--device", "cpu"], capsys)
    assert code == 2 and "broken.mp4" in stderr and "Traceback" not in stderr
    assert not (tmp_path / "o" / "attention.html").exists()


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
    assert opening_view(tmp_path) == PLAIN_VIEW and header["state"]["baseline_prompt"] is None  # no baseline pass


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["explore", "--prompt", "p", "--out", "o"], "the following arguments are required: --model"),
        (["explore", "--model", "m", "--image", "missing.png", "--prompt", "p", "--out", "o"], "image file not found"),
        (["demo", "--layers", "last"], "invalid layer 'last'"),
        (["demo", "--head", "median"], "invalid head 'median'"),
        (["demo", "--head", "9"], "head 9 is out of range: there are 4 heads"),
        (["demo", "--layers", "7"], "layer 7 is out of range: there are 6 layers"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["demo", "--out", "a-file.txt"], "'a-file.txt' is a file: pass a folder for the outputs"),
        (["demo", "--html-max-mib", "0"], "invalid size '0': use a positive number of MiB (2**20 bytes), like 25"),
        (["demo", "--html-max-mb", "-1"], "argument --html-max-mb: invalid size '-1'"),  # its first name
        (["demo", "--max-pixels", "5"], "unrecognized arguments: --max-pixels"),  # the demo's scenes are fixed
        (["demo", "--format", "gif"], "argument --format: invalid choice: 'gif'"),
        (["demo", "--out", "figs.pdf"], "'figs.pdf' looks like a file name, but --out is a folder"),
        (["demo", "--out", "figs.pdf"], "pass e.g. --out figs --format pdf"),
        (["demo", "--out", "page.HTML"], "'page.HTML' looks like a file name, but --out is a folder"),
        (["demo", "--seed", "-1"], "argument --seed: invalid seed '-1': use a whole number >= 0, like 200006"),
        (["demo", "--seed", "first"], "invalid seed 'first'"),
        (["demo", "--seed", "3", "--list-scenes"], "argument --list-scenes: not allowed with argument --seed"),
        (["demo", "--unit", "percent"], "argument --unit: invalid choice: 'percent'"),
        (["demo", "--head-overview", "on"], "argument --head-overview: invalid choice: 'on'"),
        (["demo", "--relative", "yes"], "unrecognized arguments: yes"),  # a switch, without a value
    ],
)
def test_bad_arguments(arguments, message, capsys, tmp_path, monkeypatch, no_loading):
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

    # A limit just over the whole page in MiB (2**20 bytes), which in MB (10**6 bytes) it would pass: all of it.
    mib = str(full * 1.02 / 2**20)
    code, stdout, stderr = run_cli([*base, "--html-max-mib", mib, "--out", str(tmp_path / "m")], capsys)
    assert code == 0, stderr
    assert "it embeds layers" not in stderr
    assert (tmp_path / "m" / "attention.html").stat().st_size == full

    between = str((full + small) / 2 / 2**20)
    code, stdout, stderr = run_cli([*base, "--html-max-mib", between, "--out", str(tmp_path / "o")], capsys)
    assert code == 0, stderr
    assert "it embeds layers 0 -1, mean and max of heads" in stderr
    assert_outputs(tmp_path / "o", stdout)
    assert (tmp_path / "o" / "attention.html").stat().st_size == small

    too_small = str((smallest_page_bytes() + small) / 2 / 2**20)  # more than a page of no data, less than these
    code, _, stderr = run_cli([*base, "--html-max-mib", too_small, "--out", str(tmp_path / "p")], capsys)
    assert code == 2 and "usage: qvl-widget" in stderr
    assert re.search(r"even with layers 0 -1 only \(it would be [\d.]+ KiB: [\d.]+ KiB for", stderr), stderr
    assert "or a larger --html-max-mib" in stderr
    assert not (tmp_path / "p").exists()  # nothing half-written


def test_the_command_line_html_limit_is_the_exports_own_in_mib():
    assert DEFAULT_HTML_MAX_MIB * 2**20 == DEFAULT_MAX_BYTES
    # The option's first name still works; it always meant MiB.
    parser = cli.build_parser()
    assert parser.parse_args(["demo", "--html-max-mb", "3"]).html_max_mib == 3
    assert parser.parse_args(["demo"]).html_max_mib == DEFAULT_HTML_MAX_MIB


def test_the_help_says_the_size_unit_once(capsys):
    code, stdout, _ = run_cli(["explore", "--help"], capsys)
    assert code == 0
    flat = " ".join(stdout.split())
    assert "--html-max-mib MIB size limit of the HTML file in MiB (1 MiB = 2**20 bytes; default 25)" in flat
    assert "--html-max-mb" not in stdout  # the old name works, unlisted


# ----- the model's answer ------------------------------------------------------------------------------------


@pytest.fixture
def drawn(monkeypatch) -> dict[str, list]:
    """Records what the command hands to the HTML and the figures: the result, and each figure's options."""
    from qvl_widget import _figures, _html

    calls: dict[str, list] = {"html": [], "layers_figure": [], "matrix_figure": [], "heads_figure": []}
    original_page = _html.page_bytes

    def page_bytes(result, state, *args, **options):
        calls["html"].append((result, state))
        return original_page(result, state, *args, **options)

    monkeypatch.setattr(_html, "page_bytes", page_bytes)
    for name in ("layers_figure", "matrix_figure", "heads_figure"):
        original = getattr(_figures, name)

        def spy(result, *args, _original=original, _name=name, **options):
            drawn_figure = _original(result, *args, **options)
            calls[_name].append((result, options, drawn_figure))
            return drawn_figure

        monkeypatch.setattr(_figures, name, spy)
    return calls


def reading_lines(stderr: str) -> dict[str, str]:
    """The line on stderr that says how to read each file written, by the file's name."""
    lines = {}
    for line in stderr.splitlines():
        match = re.fullmatch(r"\[qvl-widget\] (attention\.html|(?:layers|matrix|heads)\.\w+): (.*)", line)
        if match:
            assert match[1] not in lines, f"two lines for {match[1]}"
            lines[match[1]] = match[2]
    return lines


def test_demo_and_explore_share_their_layer_default_and_say_how_to_read_each_file(
    tiny_model_dirs, tmp_path, capsys, drawn
):
    code, stdout, stderr = run_cli(["demo", "--out", str(tmp_path / "demo")], capsys)
    assert code == 0, stderr
    assert_outputs(tmp_path / "demo", stdout)
    ((result, options, _),) = drawn["layers_figure"]
    assert result.num_layers == 6 and options["layers"] == (2, 3, 4, 5) == tuple(last_layers(6))  # the last four
    guides = reading_lines(stderr)
    assert list(guides) == ["attention.html", "layers.png", "matrix.png", "heads.png"]  # each file, once
    assert guides["attention.html"].startswith("open it in a browser (it works offline): hover a word")
    assert (
        "per layer where the model looked while writing “orange”: the map (top; colour: each cell's share"
        in (guides["layers.png"])
    )
    assert "one row per text token, one column per image token" in guides["matrix.png"]
    assert "each row is the step that wrote (or, in the prompt, predicted) its token" in guides["matrix.png"]
    assert "right: focus (1: all on one cell, 0: spread evenly)" in guides["heads.png"]

    image = tmp_path / "scene.png"
    Image.new("RGB", (120, 90), "red").save(image)
    arguments = ["explore", "--model", str(tiny_model_dirs["qwen2_vl"]), "--image", str(image), "--phrase", "red cat"]
    arguments += ["--prompt", "Where is the red cat?", "--out", str(tmp_path / "explore"), "--format", "pdf"]
    code, stdout, stderr = run_cli([*arguments, "--device", "cpu"], capsys)
    assert code == 0, stderr
    assert_outputs(tmp_path / "explore", stdout, "pdf")
    (_, (result, options, _)) = drawn["layers_figure"]
    assert result.num_layers == 3 and options["layers"] == (0, 1, 2) == tuple(last_layers(3))  # all of fewer
    guides = reading_lines(stderr)
    assert list(guides) == ["attention.html", "layers.pdf", "matrix.pdf", "heads.pdf"]
    assert "per layer the attention of “red cat”: the map" in guides["layers.pdf"]
    assert "each row is its token's own attention" in guides["matrix.pdf"]
    parser = cli.build_parser()
    helps = {
        command: next(action.help for action in sub._actions if action.dest == "layers")
        for command, sub in parser._subparsers._group_actions[0].choices.items()
        if command != "study"  # a study keeps the layers it is given (default every layer), draws no layers figure
    }
    assert set(helps) == {"explore", "demo"}
    assert all("the last four, or all where the model has fewer" in text for text in helps.values()), helps


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
    # The HTML and the figures get the result with the answer; no selection: each token's own row.
    (result, _), *_ = drawn["html"]
    assert result.answer == expected.answer and result.tokens == expected.tokens
    for name in ("layers_figure", "matrix_figure", "heads_figure"):
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
    assert "producing maps of the model's words" in stderr
    ((result, options, figure),) = drawn["layers_figure"]
    assert result.answer == "A red cat." and options["producing"] is True and options["phrase"] == "red cat"
    assert "while writing “red cat”" in figure.get_suptitle()
    ((_, options, (figure, _)),) = drawn["matrix_figure"]
    assert options["producing"] is True
    assert "each row: the step that wrote its token" in next(axes for axes in figure.axes if axes.images).get_title()
    ((_, options, figure),) = drawn["heads_figure"]
    assert options == {"producing": True, "phrase": "red cat"}  # the same tokens, the steps that wrote them
    assert "while writing “red cat”" in figure.get_suptitle()
    # A phrase of the prompt, or of both: each token's own row (producing maps are for the answer's words).
    for answer, phrase in (("A red cat.", "image"), ("The image.", "image")):
        code, _, stderr = run_cli([*base, "--answer-text", answer, "--phrase", phrase], capsys)
        assert code == 0, stderr
    assert [options["producing"] for _, options, _ in drawn["layers_figure"]] == [True, False, False]
    assert [options["producing"] for _, options, _ in drawn["matrix_figure"]] == [True, False, False]
    assert [options["producing"] for _, options, _ in drawn["heads_figure"]] == [True, False, False]


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


# ----- figure formats, demo scenes ---------------------------------------------------------------------------


def test_explore_writes_the_figures_as_pdf(tiny_model_dirs, tmp_path, capsys):
    image = tmp_path / "scene.png"
    Image.new("RGB", (120, 90), "red").save(image)
    out = tmp_path / "figures.pdf"  # a folder that exists may have any name
    out.mkdir()
    arguments = ["explore", "--model", str(tiny_model_dirs["qwen2_vl"]), "--image", str(image), "--prompt", "A cat?"]
    code, stdout, stderr = run_cli([*arguments, "--format", "pdf", "--device", "cpu", "--out", str(out)], capsys)
    assert code == 0, stderr
    assert_outputs(out, stdout, "pdf")


def test_demo_on_a_chosen_scene_as_svg(tmp_path, capsys):
    from qvl_widget import demo

    seed = 200_002
    example = demo.make_example(seed)
    code, stdout, stderr = run_cli(["demo", "--seed", str(seed), "--format", "svg", "--out", str(tmp_path)], capsys)
    assert code == 0, stderr
    assert_outputs(tmp_path, stdout, "svg")
    assert f"scene {seed}, a held-out test scene: {example['prompt']!r} (right answer: {example['answer']!r})" in stderr
    assert f"answer: {example['answer']}\n" in stdout
    assert embedded_header(tmp_path / "attention.html")["prompt"] == example["prompt"]


def test_the_demo_seed_says_what_the_model_has_seen():
    from qvl_widget.demo import TEST_SEEDS, VALIDATION_SEEDS

    assert DEMO_SEED in TEST_SEEDS and cli.seed_note(DEMO_SEED) == "a held-out test scene"
    note = cli.seed_note(VALIDATION_SEEDS[5])
    assert note.startswith("a validation scene (seeds 100000-100299: the pointing view the page opens on was chosen")
    assert "held-out test scenes are seeds 200000-200499" in note
    assert cli.seed_note(7) == "not a test scene (the demo's published rates are measured on seeds 200000-200499)"


def test_list_scenes_prints_held_out_scenes_the_model_gets_right(tmp_path, capsys, monkeypatch):
    from qvl_widget import demo

    monkeypatch.chdir(tmp_path)
    code, stdout, stderr = run_cli(["demo", "--list-scenes"], capsys)
    assert code == 0, stderr
    rows = [line.split(None, 2) for line in stdout.splitlines() if re.match(r"  \d", line)]
    slots = []
    for seed, count, rest in rows:
        example = demo.make_example(int(seed))
        assert int(seed) in demo.TEST_SEEDS
        assert rest.split() == [*example["prompt"].split(), *example["answer"].split()]
        assert int(count) == len(example["objects"])
        slots.append((example["kind"], int(count)))
    # One per question kind and object count, in that order; seeds of each slot are the first the model gets right.
    assert slots == [(kind, count) for kind in ("color", "shape") for count in (2, 3, 4)]
    assert "the model answers right and, while writing its answer, looks at the named object" in stdout
    assert "Test seeds (200000-200499) were never used to train or choose anything" in stdout
    assert "validation seeds (100000-100299) chose the pointing view" in stdout
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_the_command_lines_constants_are_the_packages():
    from qvl_widget import demo
    from qvl_widget._figures import SAVE_FORMATS

    assert cli.DEMO_MODEL_DIR == demo.MODEL_DIR
    assert set(cli.FIGURE_FORMATS) == set(SAVE_FORMATS.values())


# ----- checks before the model loads -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--phrase", "dog"], "phrase 'dog' is not in the prompt 'Where is the cat?': pass some of its words"),
        (
            ["--phrase", "dog", "--answer-text", "A cat."],
            "not in the prompt 'Where is the cat?' or the answer 'A cat.'",
        ),
        (["--phrase", "  "], "--phrase is empty: pass some words of the prompt or the answer"),
        (["--layers", "3"], "layer 3 is out of range: there are 3 layers, use 0..2 or -3..-1"),
        (["--layers", "0", "-4"], "layer -4 is out of range: there are 3 layers"),
        (["--head", "4"], "head 4 is out of range: there are 4 heads, use 0..3 or -4..-1"),
        (["--answer", "--phrase", "dog", "--head", "-5"], "head -5 is out of range"),
        (["--max-pixels", "0"], "argument --max-pixels: invalid number of pixels '0': use a whole number from 1 to"),
        (["--out", "x.png"], "'x.png' looks like a file name, but --out is a folder"),
    ],
)
def test_a_typo_fails_before_the_model_loads(options, message, tiny_model_dirs, tmp_path, capsys, no_loading):
    image = tmp_path / "scene.png"
    Image.new("RGB", (64, 64)).save(image)
    base = ["explore", "--model", str(tiny_model_dirs["qwen2_vl"]), "--image", str(image)]
    base += ["--prompt", "Where is the cat?", "--out", str(tmp_path / "o")]
    code, _, stderr = run_cli([*base, *options], capsys)
    assert code == 2
    assert "usage: qvl-widget" in stderr and message in stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [(["--layers", "6"], "layer 6 is out of range: there are 6 layers"), (["--head", "4"], "head 4 is out of range")],
)
def test_the_demos_layers_and_head_fail_before_the_demo_model_loads(arguments, message, capsys, no_loading):
    code, _, stderr = run_cli(["demo", *arguments], capsys)
    assert code == 2 and message in stderr


@pytest.mark.parametrize(
    ("phrase", "options"),
    [
        ("CAT", []),  # any case
        ("at", []),  # inside a word, where no word starts with it (as AttentionResult.token_indices finds it)
        ("is the", []),
        ("red", ["--answer-text", "A red cat."]),  # in the given answer
        ("red", ["--answer"]),  # maybe in the model's answer: known only after the run
    ],
)
def test_a_phrase_that_may_be_found_passes_the_early_check(
    phrase, options, tiny_model_dirs, tmp_path, capsys, monkeypatch
):
    def loaded(*args, **kwargs):
        raise LoadedError

    monkeypatch.setattr(qvl_widget, "load", loaded)
    image = tmp_path / "scene.png"
    Image.new("RGB", (64, 64)).save(image)
    base = ["explore", "--model", str(tiny_model_dirs["qwen2_vl"]), "--image", str(image)]
    base += ["--prompt", "Where is the cat?", "--out", str(tmp_path / "o")]
    with pytest.raises(LoadedError):
        main([*base, "--phrase", phrase, *options])
    stderr = capsys.readouterr().err
    unknown = "--phrase 'red' is not in the prompt: it is looked for in the model's answer, which is only known after"
    assert (unknown in stderr) == (options == ["--answer"])


# A child process in which torch and transformers cannot be imported: a check that passes there ran without them.
WITHOUT_MODEL_STACK = """
import importlib.abc, sys

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "transformers"):
            raise ModuleNotFoundError(f"{name} was imported before the arguments were checked")
        return None

sys.meta_path.insert(0, NotInstalled())
from qvl_widget.cli import main
main(sys.argv[1:])
"""


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--phrase", "dog"], "phrase 'dog' is not in the prompt"),
        (["--layers", "0", "9"], "layer 9 is out of range: there are 3 layers"),
        (["--head", "12"], "head 12 is out of range: there are 4 heads"),
        (["--model", "./no-such-model"], "model folder not found: './no-such-model'"),
        (["demo", "--layers", "-7"], "layer -7 is out of range: there are 6 layers"),
        (["--baseline", ""], "argument --baseline: baseline is empty: pass baseline=True for the generic prompt"),
        (["--relative"], "--relative divides each map by the baseline prompt's map, and none is captured"),
        (["--drop-sinks", "--no-sink-scores"], "--drop-sinks leaves out the visual sinks, found by their sink scores"),
    ],
)
def test_a_typo_fails_without_importing_torch_or_transformers(arguments, message, tiny_model_dirs, tmp_path):
    image = tmp_path / "scene.png"
    Image.new("RGB", (64, 64)).save(image)
    if arguments[0] == "demo":
        command = arguments
    else:
        command = ["explore", "--model", str(tiny_model_dirs["qwen2_vl"]), "--image", str(image)]
        command += ["--prompt", "Where is the cat?", "--out", str(tmp_path / "o"), *arguments]
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_MODEL_STACK, *command],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "was imported before" not in done.stderr


def test_the_early_model_path_errors_are_the_loaders_own(tmp_path):
    from qvl_widget._source import checked_source

    (tmp_path / "file.bin").write_text("x")
    (tmp_path / "empty").mkdir()
    for source in (str(tmp_path / "file.bin"), str(tmp_path / "empty"), str(tmp_path / "missing"), "a/b/c"):
        with pytest.raises((FileNotFoundError, ValueError)) as info:
            checked_source(source)
        assert cli.local_source_problem(source) == str(info.value)
    assert cli.local_source_problem("Qwen/Qwen2-VL-2B-Instruct") is None


def test_the_config_counts_are_the_loaded_models(tiny_model_dirs):
    from transformers import AutoConfig

    for folder in tiny_model_dirs.values():
        text = AutoConfig.from_pretrained(folder).get_text_config()
        assert cli.folder_counts(folder) == (len(attention_layers(text)), text.num_attention_heads)
    assert cli.config_counts({"num_hidden_layers": 2, "num_attention_heads": 3}) == (2, 3)  # older flat configs
    assert cli.config_counts({"text_config": {"num_hidden_layers": True, "num_attention_heads": 3}}) is None
    hybrid = {
        "num_hidden_layers": 4,
        "num_attention_heads": 3,
        "layer_types": ["linear_attention", "full_attention"] * 2,
    }
    assert cli.config_counts({"text_config": hybrid}) == (2, 3)  # Qwen3.5: its attention layers only


# ----- baseline and sink scores ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "baseline", "sinks"),
    [
        ([], None, True),  # sink scores by default, as capture keeps them
        (["--no-sink-scores"], None, False),
        (["--sink-scores", "--baseline"], BASELINE_PROMPT, True),  # no value: the generic prompt
        (["--baseline", "Describe it.", "--no-sink-scores"], "Describe it.", False),
    ],
)
def test_explore_forwards_the_baseline_and_the_sink_scores_to_capture(
    options, baseline, sinks, tiny_model_dirs, tmp_path, capsys, drawn
):
    image = tmp_path / "scene.png"
    Image.new("RGB", (120, 90), "red").save(image)
    arguments = ["explore", "--model", str(tiny_model_dirs["qwen2_vl"]), "--image", str(image)]
    arguments += ["--prompt", "Where is the red cat?", "--layers", "-1", "--device", "cpu"]
    code, stdout, stderr = run_cli([*arguments, *options, "--out", str(tmp_path / "out")], capsys)
    assert code == 0, stderr
    assert_outputs(tmp_path / "out", stdout)
    ((result, _),) = drawn["html"]
    assert result.baseline_prompt == baseline and (result.baseline_attention is None) == (baseline is None)
    assert (result.sink_scores is not None) == sinks
    if sinks:
        assert result.sink_scores.shape == (result.num_layers, result.attention.shape[-1])
    said = f"and the baseline prompt {baseline!r} (one more forward pass) ..."
    assert (said in stderr) == (baseline is not None)


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_baseline_is_captures_own_refusal_before_the_model_loads(
    value, tiny_models, tmp_path, capsys, no_loading
):
    image = tmp_path / "scene.png"
    Image.new("RGB", (64, 64)).save(image)
    with pytest.raises(ValueError, match="^baseline is empty") as refusal:
        tiny_models["qwen2_vl"].capture(image, "Where is the cat?", baseline=value)
    base = ["explore", "--model", "m", "--image", str(image), "--prompt", "Where is the cat?"]
    code, _, stderr = run_cli([*base, "--baseline", value, "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "usage: qvl-widget" in stderr
    assert stderr.splitlines()[-1].endswith(f"error: argument --baseline: {refusal.value}")
    assert not (tmp_path / "o").exists()


def test_the_command_line_capture_defaults_are_captures_own():
    parameters = inspect.signature(qvl_widget.LoadedModel.capture).parameters
    base = ["explore", "--model", "m", "--image", __file__, "--prompt", "p", "--out", "o"]
    parsed = cli.build_parser().parse_args(base)
    assert parsed.sink_scores is parameters["sink_scores"].default is True
    assert parsed.baseline is parameters["baseline"].default is None
    assert cli.build_parser().parse_args([*base, "--baseline"]).baseline is True


# ----- the maps' views: unit, relative, visual sinks, head overview ------------------------------------------------


VIEW_OPTIONS = ("unit", "relative", "drop_sinks", "head_overview")
PLAIN_VIEW = {"unit": "probability", "relative": False, "drop_sinks": False, "head_overview": "off"}


def opening_view(folder) -> dict:
    """The view options the HTML in `folder` opens on, from its embedded state."""
    state = embedded_header(folder / "attention.html")["state"]
    return {name: state[name] for name in VIEW_OPTIONS}


def assert_figures_drawn_with(drawn: dict, view: dict, selection: dict) -> None:
    """The layers and matrix figures drawn with `view`'s maps (their colour bars and titles say so); the heads
    figure, which has no such options, with the same tokens."""
    ((_, layers_options, layers), *_) = drawn["layers_figure"]
    ((_, matrix_options, (matrix, _)), *_) = drawn["matrix_figure"]
    for options in (layers_options, matrix_options):
        assert {name: options[name] for name in ("unit", "relative", "drop_sinks")} == {
            name: view[name] for name in ("unit", "relative", "drop_sinks")
        }
    start = {"probability": "share of the", "uniform": "× uniform: share × "}[view["unit"]]
    for label in (layers.axes[-1].get_ylabel(), matrix.axes[-1].get_ylabel()):
        label = label.replace("\n", " ")
        assert label == RELATIVE_LABEL if view["relative"] else label.startswith(start), label
    matrix_title = next(axes for axes in matrix.axes if axes.images).get_title()
    for title in (layers.get_suptitle(), matrix_title):
        assert ("÷ baseline “" in title) == view["relative"]
        assert ("visual sinks dropped" in title) == view["drop_sinks"]
    ((_, heads_options, _), *_) = drawn["heads_figure"]
    assert heads_options == selection


@pytest.mark.parametrize(
    ("options", "view"),
    [
        ([], PLAIN_VIEW),
        (["--unit", "uniform", "--head-overview", "mass"], {**PLAIN_VIEW, "unit": "uniform", "head_overview": "mass"}),
        (
            ["--baseline", "--relative", "--drop-sinks", "--head-overview", "focus"],
            {**PLAIN_VIEW, "relative": True, "drop_sinks": True, "head_overview": "focus"},
        ),
        (
            ["--baseline", "Describe it.", "--relative", "--unit", "uniform"],  # a ratio has no unit, the page keeps it
            {**PLAIN_VIEW, "unit": "uniform", "relative": True},
        ),
    ],
)
def test_explore_opens_the_html_and_draws_the_figures_on_the_maps_options(
    options, view, tiny_model_dirs, tmp_path, capsys, drawn
):
    image = tmp_path / "scene.png"
    Image.new("RGB", (120, 90), "red").save(image)
    out = tmp_path / "out"
    arguments = ["explore", "--model", str(tiny_model_dirs["qwen2_vl"]), "--image", str(image)]
    arguments += ["--prompt", "Where is the red cat?", "--phrase", "red cat", "--layers", "0", "-1"]
    code, stdout, stderr = run_cli([*arguments, *options, "--device", "cpu", "--out", str(out)], capsys)
    assert code == 0, stderr
    assert_outputs(out, stdout)
    ((result, state),) = drawn["html"]
    assert {name: getattr(state, name) for name in VIEW_OPTIONS} == view
    # The tiny model has no visual sinks: the page then opens on its maps as they are (the same maps).
    assert not any(state.sinks)
    assert opening_view(out) == {**view, "drop_sinks": False}
    assert_figures_drawn_with(drawn, view, {"producing": False, "phrase": "red cat"})
    # The last of --layers (0 -1) opens the HTML and the matrix figure, as --help says.
    last = result.num_layers - 1
    assert embedded_header(out / "attention.html")["state"]["layer"] == last
    ((_, _, (matrix, _)),) = drawn["matrix_figure"]
    matrix_title = next(axes for axes in matrix.axes if axes.images).get_title()
    assert f"layer {last}" in matrix_title and "layer 0" not in matrix_title
    sinks = f"visual sinks left out (sink score > 20), of {result.attention.shape[-1]} image tokens, by layer: 0: "
    assert (sinks in stderr) == view["drop_sinks"]


def test_drop_sinks_opens_the_page_without_them_where_the_model_has_some(
    tiny_model_dirs, tmp_path, capsys, drawn, monkeypatch
):
    capture = qvl_widget.LoadedModel.capture

    def with_a_sink(self, *args, **kwargs):  # image token 1 a visual sink in every layer, as in real models
        result = capture(self, *args, **kwargs)
        scores = result.sink_scores.copy()
        scores[:, 1] = 100.0
        return dataclasses.replace(result, sink_scores=scores)

    monkeypatch.setattr(qvl_widget.LoadedModel, "capture", with_a_sink)
    image = tmp_path / "scene.png"
    Image.new("RGB", (120, 90), "red").save(image)
    arguments = ["explore", "--model", str(tiny_model_dirs["qwen2_vl"]), "--image", str(image), "--prompt", "Where?"]
    code, stdout, stderr = run_cli(
        [*arguments, "--drop-sinks", "--device", "cpu", "--out", str(tmp_path / "o")], capsys
    )
    assert code == 0, stderr
    assert_outputs(tmp_path / "o", stdout)
    assert opening_view(tmp_path / "o") == {**PLAIN_VIEW, "drop_sinks": True}
    assert embedded_header(tmp_path / "o" / "attention.html")["state"]["sinks"][-1] == [1]
    assert_figures_drawn_with(drawn, {**PLAIN_VIEW, "drop_sinks": True}, {"producing": False, "phrase": None})
    assert "image tokens, by layer: 0: 1, 1: 1, 2: 1\n" in stderr


def test_demo_relative_captures_the_baseline_too(tmp_path, capsys, drawn):
    options = ["--relative", "--drop-sinks", "--unit", "uniform", "--head-overview", "mass"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, stdout, stderr = run_cli(["demo", *options, "--out", str(tmp_path)], capsys)
    assert code == 0, stderr
    assert_outputs(tmp_path, stdout)
    view = {"unit": "uniform", "relative": True, "drop_sinks": True, "head_overview": "mass"}
    # The demo model has no visual sinks: its page, which then has no switch for them, opens on its maps as they are.
    assert opening_view(tmp_path) == {**view, "drop_sinks": False}
    ((result, state),) = drawn["html"]
    assert state.drop_sinks is True and not any(state.sinks)
    assert result.baseline_prompt == BASELINE_PROMPT
    # The baseline holds the generic prompt's last row over the same scene, in every layer and head: a capture of
    # that prompt alone gives it (up to the rounding of a matrix product of another size).
    from qvl_widget import demo

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", demo.DemoVocabularyWarning)
        alone = demo.load(device="cpu").capture(demo.make_example(DEMO_SEED)["image"], BASELINE_PROMPT)
    assert result.baseline_attention.shape == alone.attention[:, :, -1].shape
    np.testing.assert_allclose(result.baseline_attention, alone.attention[:, :, -1], rtol=1e-5, atol=1e-7)
    (token,) = embedded_header(tmp_path / "attention.html")["state"]["selected"]
    assert_figures_drawn_with(drawn, view, {"producing": True, "token": [token]})  # the answer word's step
    assert f"and the baseline prompt {BASELINE_PROMPT!r} for --relative (one more forward pass" in stderr
    # Its words are mostly unknown to the demo model: said once on stderr, not in a long warning as well.
    assert not [warning for warning in caught if "does not know" in str(warning.message)]
    assert "visual sinks left out (sink score > 20), of 64 image tokens, by layer: 2: 0, 3: 0, 4: 0, 5: 0\n" in stderr


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--relative"],
            "--relative divides each map by the baseline prompt's map, and none is captured: add --baseline (the "
            f"generic {BASELINE_PROMPT!r}) or --baseline 'a prompt of your own'",
        ),
        (
            ["--drop-sinks", "--no-sink-scores"],
            "--drop-sinks leaves out the visual sinks, found by their sink scores, and --no-sink-scores leaves those "
            "out: pass one of them, not both",
        ),
        (["--baseline", "--drop-sinks", "--relative", "--no-sink-scores"], "--drop-sinks leaves out the visual"),
        (["--relative", "--drop-sinks", "--unit", "uniform"], "--relative divides each map"),
        # What the tokenizer and the chat template refuse, checked with the processor alone.
        (["--answer-text", "a cat <|image_pad|>"], "the answer text contains the special token '<|image_pad|>'"),
        (["--baseline", "Describe <|vision_start|> it."], "the baseline prompt contains the special token"),
        (["--prompt", "Where <|im_end|> is it?"], "the prompt contains the special token '<|im_end|>'"),
    ],
)
def test_an_option_explore_refuses_fails_before_the_model_loads(
    options, message, tiny_model_dirs, tmp_path, capsys, no_loading
):
    image = tmp_path / "scene.png"
    Image.new("RGB", (64, 64)).save(image)
    base = ["explore", "--model", str(tiny_model_dirs["qwen2_vl"]), "--image", str(image), "--prompt", "Where?"]
    code, stdout, stderr = run_cli([*base, *options, "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and stdout == ""
    lines = stderr.strip().splitlines()
    assert lines[0].startswith("usage: qvl-widget explore") and "Traceback" not in stderr
    assert lines[-1].startswith(f"qvl-widget explore: error: {message}")  # one line
    assert not (tmp_path / "o").exists()


@pytest.mark.browser
def test_the_written_page_opens_on_the_maps_options(tmp_path, capsys, offline_page):
    page, requests = offline_page
    options = ["--relative", "--drop-sinks", "--unit", "uniform", "--head-overview", "focus"]
    code, _, stderr = run_cli(["demo", *options, "--out", str(tmp_path)], capsys)
    assert code == 0, stderr
    page.goto((tmp_path / "attention.html").as_uri())
    page.wait_for_function("Number(document.querySelector('.qvl-widget')?.dataset.qvlFrames) > 0")  # a map shown
    page.locator(".qvl-heads-grid").wait_for()  # the head overview, shown
    assert page.eval_on_selector(".qvl-head-overview", "select => select.value") == "focus"
    assert page.eval_on_selector(".qvl-unit", "select => select.value") == "uniform"
    assert page.is_checked(".qvl-relative")
    assert not page.is_visible(".qvl-drop-sinks")  # the demo model has no sinks: nothing to leave out
    assert requests == []


def test_the_command_line_view_defaults_are_the_views_own():
    from qvl_widget import figures

    views = inspect.signature(ViewState.of).parameters
    drawings = [
        inspect.signature(figures.layers_figure).parameters,
        inspect.signature(figures.matrix_figure).parameters,
    ]
    for command in (["demo"], ["explore", "--model", "m", "--image", __file__, "--prompt", "p", "--out", "o"]):
        parsed = cli.build_parser().parse_args(command)
        for name in VIEW_OPTIONS:
            assert getattr(parsed, name) == views[name].default
            assert all(getattr(parsed, name) == figure[name].default for figure in drawings if name in figure)


@pytest.mark.parametrize(("layers", "said"), [([], "1: 1, 3: 3"), (["--layers", "-1"], "3: 3")], ids=["all", "last"])
def test_the_sinks_report_names_a_hybrid_models_layers_by_their_decoder_index(
    layers, said, qwen35_dir, tmp_path, capsys, drawn, monkeypatch
):
    """The tiny Qwen3.5 captures decoder layers 1 and 3 (its attention layers), at positions 0 and 1: the report
    names them 1 and 3, each with its own count (here 1 sink in layer 1, 3 in layer 3)."""
    capture = qvl_widget.LoadedModel.capture

    def with_sinks(self, *args, **kwargs):
        result = capture(self, *args, **kwargs)
        scores = np.zeros_like(result.sink_scores)
        scores[0, [2]] = scores[1, [0, 4, 5]] = 100.0
        return dataclasses.replace(result, sink_scores=scores)

    monkeypatch.setattr(qvl_widget.LoadedModel, "capture", with_sinks)
    image = tmp_path / "scene.png"
    Image.new("RGB", (120, 90), "red").save(image)
    arguments = ["explore", "--model", str(qwen35_dir), "--image", str(image), "--prompt", "Where?", *layers]
    code, _, stderr = run_cli([*arguments, "--drop-sinks", "--device", "cpu", "--out", str(tmp_path / "o")], capsys)
    assert code == 0, stderr
    ((result, state),) = drawn["html"]
    assert result.layer_ids == (1, 3) and [len(result.sinks(layer)) for layer in (0, 1)] == [1, 3]
    columns = result.attention.shape[-1]
    assert f"visual sinks left out (sink score > 20), of {columns} image tokens, by layer: {said}\n" in stderr
    assert state.sinks == [[2], [0, 4, 5]]


# ----- thinking ------------------------------------------------------------------------------------------------------


@pytest.fixture
def thinking_run(qwen35_dir, tmp_path):
    """`explore` on the tiny Qwen3.5 (its template thinks first), with what a test adds."""
    image = tmp_path / "scene.png"
    Image.new("RGB", (120, 90), "red").save(image)
    return ["explore", "--model", str(qwen35_dir), "--image", str(image), "--prompt", "Where?",
            "--device", "cpu", "--out", str(tmp_path / "out")]  # fmt: skip


def test_explore_prints_the_thinking_and_the_answer_apart(thinking_run, tmp_path, capsys, drawn):
    code, stdout, stderr = run_cli([*thinking_run, "--answer-text", "Maybe red.</think>\n\nA red cat"], capsys)
    assert code == 0, stderr
    assert_outputs(tmp_path / "out", stdout)
    assert "thinking: Maybe red.\nanswer: A red cat\n" in stdout
    assert "answering with the given text (teacher-forced) ..." in stderr
    assert re.search(r"\(the thinking: 8, the answer: 5 of them\)", stderr), stderr
    (result, _), *_ = drawn["html"]
    assert (result.thinking, result.answer) == ("Maybe red.", "A red cat")
    code, stdout, stderr = run_cli([*thinking_run, "--phrase", "maybe", "--answer-text", "Maybe.</think>A"], capsys)
    assert code == 0, stderr
    assert "producing maps of the model's words" in stderr  # a phrase of the thinking: where it looked to write it


def test_no_thinking_answers_at_once(thinking_run, capsys, drawn):
    code, stdout, stderr = run_cli([*thinking_run, "--no-thinking", "--answer-text", "A red cat"], capsys)
    assert code == 0, stderr
    assert "answer: A red cat\n" in stdout and "thinking:" not in stdout
    assert "answering with the given text (teacher-forced, without thinking) ..." in stderr
    (result, _), *_ = drawn["html"]
    assert result.thinking is None and [token.text for token in result.tokens[-9:-3]] == [
        "<think>",
        "\n",
        "\n",
        "</think>",
        "\n",
        "\n",
    ]


def test_a_generation_cut_short_while_thinking_says_so(thinking_run, capsys):
    code, stdout, stderr = run_cli([*thinking_run, "--answer", "--max-new-tokens", "2"], capsys)
    assert code == 0, stderr
    assert re.search(r"^thinking: .*\n", stdout, re.MULTILINE)
    assert (
        "answer: none (generation stopped while the model was still thinking: no answer yet; pass a larger "
        "--max-new-tokens, or --no-thinking)\n"
    ) in stdout
    assert "answering (the model generates up to 2 tokens) ..." in stderr


def test_a_given_answer_without_its_thinking_is_an_argparse_error_before_the_model_loads(
    thinking_run, capsys, no_loading
):
    code, _, stderr = run_cli([*thinking_run, "--answer-text", "A red cat"], capsys)
    assert code == 2
    assert "include the thinking and '</think>' in the text" in stderr.splitlines()[-1]


@pytest.mark.parametrize("option", ["--thinking", "--no-thinking"])
def test_thinking_for_a_model_without_the_switch_fails_before_loading(
    option, tiny_model_dirs, tmp_path, capsys, no_loading
):
    image = tmp_path / "scene.png"
    Image.new("RGB", (32, 32)).save(image)
    arguments = ["explore", "--model", str(tiny_model_dirs["qwen2_vl"]), "--image", str(image), "--prompt", "Hi"]
    code, _, stderr = run_cli([*arguments, option, "--out", str(tmp_path / "out")], capsys)
    assert code == 2
    assert f"error: {option}: this model's chat template has no thinking switch" in stderr
    assert f"leave {option} out" in stderr


def test_a_long_thinking_is_printed_by_its_start_and_its_end():
    thought = "First, " + "the cat may be red; " * 40 + "so: red."
    shown = cli.shortened(thought, 100)
    assert shown.startswith("First, the cat") and " … " in shown and "so: red. (" in shown
    assert shown.endswith(f"({len(' '.join(thought.split()))} characters; all of it in the HTML)")
    assert cli.shortened("a\n\nshort  one", 100) == "a short one"
