"""Outputs: several files written all or none, figures of any size bounded, every public figure argument checked.

`_files.write_all` and the command line leave the output folder as it was on any failure (no new file, no
temporary file, every old file untouched); `figures` stay a sane size for any prompt length, number of image
tokens, number of layers and picture shape; a bad argument of `figures` or the command line gets one line.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from browser_support import synthetic_result
from matplotlib.figure import Figure
from PIL import Image

import qvl_widget
from qvl_widget import AttentionResult, ImageGeometry, QueryToken, cli
from qvl_widget._figures import (
    _ROW_HEIGHT,
    MATRIX_MAX_ROWS,
    MAX_LAYER_PANELS,
    MAX_PIXELS,
    PAGE_HEIGHT_RATIO,
    figure_bytes,
)
from qvl_widget._files import check_destinations, write_all, write_atomically
from qvl_widget._html import smallest_page_bytes
from qvl_widget.cli import main
from qvl_widget.figures import layers_figure, matrix_figure, overlay_on_image, save_figure

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0  # root writes into read-only folders anyway


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every entry under `folder` (hidden ones too), with the bytes of the files: what must not change."""
    return {
        str(path.relative_to(folder)): None if path.is_dir() else path.read_bytes()
        for path in sorted(folder.rglob("*"))
    }


def fail_on_call(monkeypatch, number: int, error: OSError | None = None) -> list:
    """Make the `number`-th call of os.replace fail (the others do what they do); returns the calls made."""
    calls: list = []
    real = os.replace

    def replace(source, destination):
        calls.append((source, destination))
        if len(calls) == number:
            raise error or PermissionError(errno.EACCES, "Permission denied")
        return real(source, destination)

    monkeypatch.setattr(os, "replace", replace)
    return calls


def read_only(folder: Path, monkeypatch) -> None:
    """`folder` made read-only: by its mode, or, as root (who writes anyway), as the system's answer says."""
    if AS_ROOT:
        real = os.access
        denied = folder.resolve()

        def access(path, mode, *args, **kwargs):
            if Path(path).resolve() == denied and mode & os.W_OK:
                return False
            return real(path, mode, *args, **kwargs)

        monkeypatch.setattr(os, "access", access)
    else:
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR)  # `restore_modes` makes it writable again


@pytest.fixture
def restore_modes(tmp_path):
    yield
    for path in [tmp_path, *tmp_path.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755)


# ----- write_all: all or none --------------------------------------------------------------------------------


OLD = {
    "attention.html": b"old page",
    "layers.png": b"old layers",
    "matrix.png": b"old matrix",
    "heads.png": b"old heads",
}
NEW = {
    "attention.html": b"new page",
    "layers.png": b"new layers",
    "matrix.png": b"new matrix",
    "heads.png": b"new heads",
}
OUTPUTS = sorted(NEW)  # what the command line writes


def old_outputs(folder: Path) -> dict[str, bytes | None]:
    folder.mkdir(exist_ok=True)
    for name, data in OLD.items():
        (folder / name).write_bytes(data)
    (folder / "notes.txt").write_bytes(b"the user's own file")
    return snapshot(folder)


def test_write_all_writes_every_file_with_ordinary_permissions(tmp_path):
    previous = os.umask(0o022)
    try:
        paths = write_all({tmp_path / "new" / "deeper" / name: data for name, data in NEW.items()})
    finally:
        os.umask(previous)
    assert [path.name for path in paths] == list(NEW)
    assert snapshot(tmp_path / "new" / "deeper") == NEW
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o644 for path in paths)


def test_write_all_replaces_old_files_and_leaves_others(tmp_path):
    before = old_outputs(tmp_path / "o")
    write_all({tmp_path / "o" / name: (lambda handle, data=data: handle.write(data)) for name, data in NEW.items()})
    assert snapshot(tmp_path / "o") == {**before, **NEW}


@pytest.mark.parametrize("failing", range(1, len(NEW) + 1))
def test_a_failed_rename_puts_every_old_file_back(tmp_path, monkeypatch, failing):
    before = old_outputs(tmp_path / "o")
    calls = fail_on_call(monkeypatch, failing)
    with pytest.raises(PermissionError) as info:
        write_all({tmp_path / "o" / name: data for name, data in NEW.items()})
    message = str(info.value)
    assert "\n" not in message and "nothing was changed" in message
    assert f"cannot write {str(tmp_path / 'o' / list(NEW)[failing - 1])!r}" in message
    assert len(calls) >= failing
    assert snapshot(tmp_path / "o") == before  # no new file, no temporary one, the old ones as they were


@pytest.mark.parametrize("failing", [1, 2, 3])
def test_a_failed_rename_into_a_new_folder_leaves_no_folder(tmp_path, monkeypatch, failing):
    fail_on_call(monkeypatch, failing)
    with pytest.raises(PermissionError):
        write_all({tmp_path / "new" / "o" / name: data for name, data in NEW.items()})
    assert list(tmp_path.iterdir()) == []


def test_without_hard_links_the_old_files_are_moved_aside_and_back(tmp_path, monkeypatch):
    before = old_outputs(tmp_path / "o")

    def no_links(*args, **kwargs):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    fail_on_call(monkeypatch, 4)  # aside, in place, aside, then the second file's rename fails
    with pytest.raises(PermissionError, match="nothing was changed"):
        write_all({tmp_path / "o" / name: data for name, data in NEW.items()})
    assert snapshot(tmp_path / "o") == before
    monkeypatch.undo()
    write_all({tmp_path / "o" / name: data for name, data in NEW.items()})
    assert snapshot(tmp_path / "o") == {**before, **NEW}


def test_an_interrupt_between_renames_puts_everything_back(tmp_path, monkeypatch):
    before = old_outputs(tmp_path / "o")
    real = os.replace
    calls = []

    def replace(source, destination):
        calls.append(destination)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(source, destination)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        write_all({tmp_path / "o" / name: data for name, data in NEW.items()})
    assert snapshot(tmp_path / "o") == before


def test_a_failing_writer_leaves_nothing(tmp_path):
    before = old_outputs(tmp_path / "o")

    def full_disk(handle):
        handle.write(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    files = {tmp_path / "o" / "attention.html": b"new", tmp_path / "o" / "layers.png": full_disk}
    with pytest.raises(OSError, match=r"cannot write '.*layers\.png': no space left on device$") as info:
        write_all(files)
    assert "\n" not in str(info.value) and isinstance(info.value.__cause__, OSError)
    assert snapshot(tmp_path / "o") == before
    with pytest.raises(RuntimeError, match="drawing failed"):  # any other error: raised as it is, nothing left
        write_all({tmp_path / "o" / "x.png": lambda handle: (_ for _ in ()).throw(RuntimeError("drawing failed"))})
    assert snapshot(tmp_path / "o") == before


@pytest.mark.parametrize(
    ("make", "name", "error", "message"),
    [
        (lambda o: (o / "layers.png").mkdir(parents=True), "o/layers.png", IsADirectoryError, "is a folder"),
        (lambda o: o.parent.joinpath("file").write_text("x"), "file/layers.png", NotADirectoryError, "is a file"),
        (lambda o: o.parent.joinpath("file").write_text("x"), "file/deeper/a.png", NotADirectoryError, "is a file"),
        (lambda o: None, "o/" + "x" * 300 + ".png", ValueError, "file names may have at most"),
        (lambda o: None, "o/a\0b.png", ValueError, "contains a NUL character"),
    ],
)
def test_destinations_that_cannot_be_written_are_refused_before_any_write(tmp_path, make, name, error, message):
    make(tmp_path / "o")
    before = snapshot(tmp_path)
    files = {tmp_path / "o" / "attention.html": b"page", tmp_path / name: b"figure"}
    with pytest.raises(error, match=message) as info:
        write_all(files)
    assert "\n" not in str(info.value)
    assert snapshot(tmp_path) == before
    with pytest.raises(error, match=message):
        check_destinations(files)


def test_the_same_file_twice_is_refused(tmp_path):
    with pytest.raises(ValueError, match="is given twice"):
        write_all({tmp_path / "a.png": b"1", str(tmp_path / "a.png"): b"2"})
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_folder_is_refused_before_any_write(tmp_path, monkeypatch, restore_modes):
    before = old_outputs(tmp_path / "o")
    read_only(tmp_path / "o", monkeypatch)
    with pytest.raises(PermissionError, match=r"its folder is not writable \(permission denied\)") as info:
        write_all({tmp_path / "o" / name: data for name, data in NEW.items()})
    assert "\n" not in str(info.value)
    monkeypatch.undo()
    read_only(tmp_path, monkeypatch)
    with pytest.raises(PermissionError, match="where its folder is made, is not writable"):
        write_all({tmp_path / "new" / "a.png": b"x"})
    monkeypatch.undo()
    for folder in (tmp_path, tmp_path / "o"):
        folder.chmod(0o755)
    assert snapshot(tmp_path / "o") == before and not (tmp_path / "new").exists()


def test_write_atomically_removes_the_folders_it_made_on_failure(tmp_path):
    def fail(handle):
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        write_atomically(tmp_path / "a" / "b" / "out.bin", fail)
    assert list(tmp_path.iterdir()) == []


# ----- the command line: all or none -------------------------------------------------------------------------


@pytest.fixture
def no_loading(monkeypatch):
    def loaded(*args, **kwargs):
        pytest.fail("the model loaded before the outputs were checked")

    monkeypatch.setattr(qvl_widget, "load", loaded)
    monkeypatch.setattr(qvl_widget.demo, "load", loaded)


def run_cli(arguments: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = main(arguments)
    except SystemExit as exit:
        code = exit.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_argparse_line(stderr: str, message: str) -> None:
    """argparse's usage, then one error line (progress lines on stderr may come before)."""
    lines = stderr.strip().splitlines()
    assert "usage: qvl-widget" in stderr and "Traceback" not in stderr, stderr
    assert lines[-1].startswith("qvl-widget ") and ": error: " in lines[-1], stderr
    assert message in lines[-1], stderr


@pytest.mark.parametrize("command", ["demo", "explore"])
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda o: (o / "layers.png").mkdir(parents=True), "layers.png' is a folder; pass a file path inside it"),
        (lambda o: (o / "matrix.png").mkdir(parents=True), "matrix.png' is a folder"),
        (lambda o: (o / "heads.png").mkdir(parents=True), "heads.png' is a folder"),
        (lambda o: (o / "attention.html").mkdir(parents=True), "attention.html' is a folder"),
    ],
)
def test_an_output_name_that_is_a_folder_fails_before_the_model_loads(
    command, make, message, tmp_path, capsys, no_loading, tiny_model_dirs
):
    out = tmp_path / "o"
    make(out)
    (out / "notes.txt").write_text("mine")
    before = snapshot(tmp_path)
    arguments = ["demo"] if command == "demo" else ["explore", "--model", str(tiny_model_dirs["qwen2_vl"])]
    if command == "explore":
        image = tmp_path / "scene.png"
        Image.new("RGB", (64, 64)).save(image)
        before = snapshot(tmp_path)
        arguments += ["--image", str(image), "--prompt", "Where is the cat?"]
    code, stdout, stderr = run_cli([*arguments, "--out", str(out)], capsys)
    assert code == 2 and stdout == ""
    assert_one_argparse_line(stderr, message)
    assert snapshot(tmp_path) == before


def test_an_unwritable_output_folder_fails_before_the_model_loads(
    tmp_path, capsys, monkeypatch, no_loading, restore_modes
):
    (tmp_path / "o").mkdir()
    read_only(tmp_path / "o", monkeypatch)
    code, _, stderr = run_cli(["demo", "--out", str(tmp_path / "o")], capsys)
    assert code == 2
    assert_one_argparse_line(stderr, "its folder is not writable (permission denied); choose another folder")
    code, _, stderr = run_cli(["demo", "--out", str(tmp_path / "o" / "new")], capsys)
    assert code == 2
    assert_one_argparse_line(stderr, "where its folder is made, is not writable")
    (tmp_path / "o").chmod(0o755)
    assert list((tmp_path / "o").iterdir()) == []
    (tmp_path / "file").write_text("x")
    code, _, stderr = run_cli(["demo", "--out", str(tmp_path / "file" / "o")], capsys)
    assert code == 2
    assert_one_argparse_line(stderr, "is a file, not a folder")


@pytest.fixture(scope="module")
def written_once(tiny_model_dirs, tmp_path_factory):
    """The arguments of a quick explore run, and the bytes it writes into an empty folder."""
    folder = tmp_path_factory.mktemp("explore")
    image = folder / "scene.png"
    Image.new("RGB", (56, 56), "red").save(image)
    arguments = ["explore", "--model", str(tiny_model_dirs["qwen2_vl"]), "--image", str(image)]
    arguments += ["--prompt", "Where is the red cat?", "--layers", "-1", "--device", "cpu"]
    assert main([*arguments, "--out", str(folder / "first")]) == 0
    return arguments, snapshot(folder / "first")


@pytest.mark.parametrize("failing", range(1, len(OUTPUTS) + 1))
def test_a_write_that_fails_midway_leaves_the_output_folder_as_it_was(
    failing, written_once, tmp_path, capsys, monkeypatch
):
    arguments, written = written_once
    assert sorted(written) == OUTPUTS
    before = old_outputs(tmp_path / "o")
    real_write_all = cli.write_all

    def failing_write_all(files):
        fail_on_call(monkeypatch, failing)  # only while the outputs are written (loading renames files too)
        return real_write_all(files)

    monkeypatch.setattr(cli, "write_all", failing_write_all)
    code, stdout, stderr = run_cli([*arguments, "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "wrote" not in stdout
    assert_one_argparse_line(stderr, "permission denied")
    assert "nothing was changed" in stderr
    assert snapshot(tmp_path / "o") == before
    monkeypatch.undo()
    code, stdout, _ = run_cli([*arguments, "--out", str(tmp_path / "o")], capsys)
    assert code == 0 and stdout.count("wrote") == len(OUTPUTS)
    assert snapshot(tmp_path / "o") == {**before, **written}  # the same bytes: rendered in memory, then written


def test_the_html_that_fails_its_limit_writes_nothing(written_once, tmp_path, capsys):
    arguments, _ = written_once
    before = old_outputs(tmp_path / "o")
    just_over_no_data = str((smallest_page_bytes() + 1) / 2**20)  # a limit taken, that no page of data meets
    code, _, stderr = run_cli([*arguments, "--html-max-mib", just_over_no_data, "--out", str(tmp_path / "o")], capsys)
    assert code == 2
    assert_one_argparse_line(stderr, "the HTML would pass its size limit")
    assert snapshot(tmp_path / "o") == before


def test_a_figure_that_fails_to_draw_writes_nothing(written_once, tmp_path, capsys, monkeypatch):
    arguments, _ = written_once
    before = old_outputs(tmp_path / "o")

    def broken(*args, **kwargs):
        raise ValueError("matplotlib cannot draw this figure as png: broken")

    monkeypatch.setattr(cli, "write_all", lambda files: pytest.fail("nothing may be written"))
    from qvl_widget import _figures

    monkeypatch.setattr(_figures, "figure_bytes", broken)
    code, _, stderr = run_cli([*arguments, "--out", str(tmp_path / "o")], capsys)
    assert code == 2
    assert_one_argparse_line(stderr, "matplotlib cannot draw this figure as png: broken")
    assert snapshot(tmp_path / "o") == before


@pytest.mark.parametrize("figure", ["layers_figure", "matrix_figure", "heads_figure"])
def test_any_one_figure_that_fails_writes_nothing(figure, written_once, tmp_path, capsys, monkeypatch):
    arguments, _ = written_once
    before = old_outputs(tmp_path / "o")

    def broken(*args, **kwargs):
        raise ValueError(f"{figure} is broken")

    monkeypatch.setattr(cli, "write_all", lambda files: pytest.fail("nothing may be written"))
    from qvl_widget import _figures

    monkeypatch.setattr(_figures, figure, broken)
    code, stdout, stderr = run_cli([*arguments, "--unit", "uniform", "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "wrote" not in stdout
    assert_one_argparse_line(stderr, f"{figure} is broken")
    assert snapshot(tmp_path / "o") == before


def test_output_paths_that_are_not_utf8_are_written_and_reported(tmp_path, capsys):
    name = os.fsdecode(b"caf\xe9-out")  # Latin-1 bytes: not UTF-8
    try:
        (tmp_path / name).mkdir()
    except (OSError, UnicodeError):
        pytest.skip("this file system refuses names that are not UTF-8")
    result = synthetic_result()
    outputs = cli.write_outputs(result, tmp_path / name, [0, 1], "mean")
    cli.report(outputs)
    stdout = capsys.readouterr().out
    assert stdout.count("wrote ") == len(OUTPUTS) and "caf\\xe9-out" in stdout
    assert sorted(os.listdir(tmp_path / name)) == OUTPUTS


# ----- the command line: every argument checked before anything runs -------------------------------------------


LONG_NAME = "x" * 300


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--out", "o\0ut"], "argument --out: the output folder 'o\\x00ut' contains a NUL character"),
        (["--out", LONG_NAME], "argument --out: the output folder 'xxxx"),
        (["--out", LONG_NAME], "has a name of 300 bytes; file names may have at most"),
        (["--out", ""], "argument --out: the output folder is empty"),
        (["--image", "sc\0ene.png"], "argument --image: the image path 'sc\\x00ene.png' contains a NUL character"),
        (["--image", LONG_NAME + ".png"], "argument --image: the image path"),
        (["--model", "mo\0del"], "argument --model: the model path 'mo\\x00del' contains a NUL character"),
        (["--model", "./" + LONG_NAME], "argument --model: the model path"),
        (["--prompt", "Where is the c\udcffat?"], "argument --prompt: the text has a byte 0xff that is not UTF-8"),
        (["--prompt", "Wh\udce9re?"], "(at character 3): pass UTF-8 text"),
        (["--phrase", "c\udcffat"], "argument --phrase: the text has a byte 0xff that is not UTF-8"),
        (["--answer-text", "a c\udcffat"], "argument --answer-text: the text has a byte 0xff that is not UTF-8"),
        (["--max-pixels", "0"], "argument --max-pixels: invalid number of pixels '0': use a whole number from 1"),
        (["--max-pixels", "-401408"], "invalid number of pixels '-401408'"),
        (["--max-pixels", "1e9"], "invalid number of pixels '1e9'"),
        (["--max-pixels", "16777217"], "use a whole number from 1 to 16777216"),
        (["--max-pixels", str(10**30)], "invalid number of pixels '1000000000000000000000000000000'"),
        (["--max-pixels", "nan"], "invalid number of pixels 'nan'"),
        (["--html-max-mib", "inf"], "argument --html-max-mib: invalid size 'inf'"),
        (["--html-max-mib", "nan"], "argument --html-max-mib: invalid size 'nan'"),
    ],
)
def test_bad_command_line_arguments_get_one_line(options, message, tmp_path, capsys, monkeypatch, no_loading):
    monkeypatch.chdir(tmp_path)
    Image.new("RGB", (64, 64)).save(tmp_path / "scene.png")
    given = {option: value for option, value in zip(options[::2], options[1::2], strict=True)}
    base = {"--model": "./model", "--image": "scene.png", "--prompt": "Where is the cat?", "--out": "o"}
    arguments = ["explore"]
    for option, value in {**base, **given}.items():
        arguments += [option, value]
    code, stdout, stderr = run_cli(arguments, capsys)
    assert code == 2 and stdout == ""
    assert_one_argparse_line(stderr, message)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["scene.png"]


def test_an_image_whose_name_is_not_utf8_is_accepted(tmp_path):
    name = os.fsdecode(b"sc\xe8ne.png")
    try:
        Image.new("RGB", (8, 8)).save(tmp_path / name)
    except (OSError, UnicodeError):
        pytest.skip("this file system refuses names that are not UTF-8")
    assert cli.existing_image(str(tmp_path / name)) == tmp_path / name


def test_the_pixel_limit_is_above_every_models_default():
    assert cli.MAX_PIXELS_ARGUMENT >= 12_845_056  # Qwen2-VL's and Qwen2.5-VL's processors' max_pixels
    assert cli.pixel_count(str(cli.MAX_PIXELS_ARGUMENT)) == cli.MAX_PIXELS_ARGUMENT


# ----- figures that scale ------------------------------------------------------------------------------------


def long_result(queries: int = 5000, rows: int = 4, cols: int = 6, layers: int = 2, heads: int = 2, answer: int = 0):
    """A result of `queries` tokens (the last `answer` of them the answer's), random maps, a 50x40-pixel cell."""
    generator = np.random.default_rng(0)
    attention = generator.random((layers, heads, queries, rows * cols), dtype=np.float32) / (rows * cols)
    tokens, cursor = [], 0
    for index in range(queries - answer):
        text = f" w{index}"
        tokens.append(QueryToken(text, cursor, cursor + len(text), False))
        cursor += len(text)
    cursor = 0
    for index in range(answer):
        text = f" a{index}"
        tokens.append(QueryToken(text, cursor, cursor + len(text), False, "answer", 0.5))
        cursor += len(text)
    picture = Image.new("RGB", (cols * 50, rows * 40), (90, 90, 90))
    return AttentionResult(
        attention=attention,
        image_mass=attention.sum(axis=-1),
        query_positions=np.arange(1000, 1000 + queries),
        image_positions=np.arange(10, 10 + rows * cols),
        tokens=tuple(tokens),
        images=(ImageGeometry(rows, cols, (cols * 28, rows * 28), picture.size, 0),),
        pictures=(picture,),
        prompt="".join(token.text for token in tokens[: queries - answer]),
        answer="".join(token.text for token in tokens[queries - answer :]) if answer else None,
        model="synthetic",
        family="qwen2_vl",
    )


def matrix_axes(figure: Figure):
    (axes,) = [axes for axes in figure.axes if axes.images]
    return axes


def test_a_long_prompts_matrix_shows_its_last_rows_and_says_so():
    result = long_result(5000, answer=20)
    figure, matrix = matrix_figure(result)
    assert matrix.shape == (5000, 24)  # the returned matrix: every token
    axes = matrix_axes(figure)
    shown = axes.images[0].get_array()
    np.testing.assert_array_equal(shown, matrix[-MATRIX_MAX_ROWS:])
    labels = [label.get_text() for label in axes.get_yticklabels()]
    assert labels[0] == f"␣w{5000 - MATRIX_MAX_ROWS}" and labels[-1] == "␣a19"
    assert figure.get_figheight() <= 1.6 + MATRIX_MAX_ROWS * _ROW_HEIGHT < 19
    title = axes.get_title()
    assert f"tokens 4872–4999 of 5000: the last {MATRIX_MAX_ROWS}" in title and "tokens= picks others" in title
    # The answer's rows are marked within the rows shown.
    (line,) = [line for line in axes.lines if line.get_gid() == "answer-boundary"]
    assert line.get_ydata()[0] == MATRIX_MAX_ROWS - 20 - 0.5


def test_a_long_prompts_matrix_is_drawn_in_bounded_pixels(tmp_path):
    """Rows are capped, so the drawing stays small (before the cap: 79 s and 11.6 GB for the PNG alone)."""
    result = long_result(5000, rows=32, cols=40)  # 5,000 query tokens x 1,280 image tokens
    figure, _ = matrix_figure(result)
    for suffix in ("png", "pdf"):
        path = save_figure(figure, tmp_path / f"matrix.{suffix}")
        assert path.stat().st_size < 4 * 2**20
    with Image.open(tmp_path / "matrix.png") as saved:
        assert saved.size[0] == 2100 and saved.size[1] <= 19 * 300


def test_tokens_choose_the_matrix_rows():
    result = long_result(500, answer=5)
    figure, matrix = matrix_figure(result, tokens=[300, 10, 11, 12, 300, np.int64(495)])
    axes = matrix_axes(figure)
    np.testing.assert_array_equal(axes.images[0].get_array(), matrix[[10, 11, 12, 300, 495]])  # sorted, once each
    assert [label.get_text() for label in axes.get_yticklabels()] == ["␣w10", "␣w11", "␣w12", "␣w300", "␣a0"]
    gaps = [line.get_ydata()[0] for line in axes.lines if line.get_gid() == "row-gap"]
    assert gaps == [2.5, 3.5]
    assert "5 of 500 tokens (dashed lines: tokens left out)" in axes.get_title()
    (side,) = axes.child_axes
    assert [label.get_text() for label in side.get_yticklabels()] == ["prompt", "answer"]
    figure, _ = matrix_figure(result, tokens=range(100, 150))
    assert "tokens 100–149 of 500" in matrix_axes(figure).get_title()
    assert not [line for line in matrix_axes(figure).lines if line.get_gid() in ("row-gap", "answer-boundary")]
    figure, _ = matrix_figure(result, tokens=np.arange(495, 500))  # the answer alone: no "prompt" side label
    (side,) = matrix_axes(figure).child_axes
    assert [label.get_text() for label in side.get_yticklabels()] == ["answer"]
    small = synthetic_result()
    title = matrix_axes(matrix_figure(small, tokens=range(small.num_queries))[0]).get_title()
    assert title == "text → image attention · layer 1 · mean of 2 heads"  # every token: no note


def test_producing_blank_rows_are_counted_among_the_rows_shown():
    result = long_result(300)
    result = dataclasses.replace(result, query_positions=np.concatenate([[1000], np.arange(1002, 1301)]))
    figure, _ = matrix_figure(result, producing=True, tokens=range(0, 10))
    assert "2 blank rows: an image token comes right before" in matrix_axes(figure).get_title()  # tokens 0 and 1
    figure, _ = matrix_figure(result, producing=True)  # the last 128: every row has its step
    assert "blank row" not in matrix_axes(figure).get_title()


@pytest.mark.parametrize(
    ("tokens", "error", "message"),
    [
        ("cat", TypeError, "tokens must be token indices (an index, a list or a range), not the text 'cat': for words"),
        (1.5, TypeError, "tokens must be a token index, a list of them or a range, not 1.5"),
        ([0, 1.5], TypeError, "each of tokens must be an integer index, not 1.5"),
        (True, TypeError, "tokens must be a token index, a list of them or a range, not True"),
        (np.zeros((2, 2), dtype=int), TypeError, "not a 2-d array of int"),
        ([], ValueError, "tokens is empty"),
        (range(0, 200), ValueError, f"tokens selects 200 tokens, and a matrix figure shows at most {MATRIX_MAX_ROWS}"),
        ([0, 500], IndexError, "token 500 is out of range: there are 500 tokens"),
    ],
)
def test_bad_matrix_rows_get_one_line(tokens, error, message):
    with pytest.raises(error) as info:
        matrix_figure(long_result(500), tokens=tokens)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_many_layers_wrap_into_rows_of_panels_no_taller_than_a_page():
    result = synthetic_result(layers=80, heads=1)
    figure = layers_figure(result, layers="all")
    titles = [axes.get_title() for axes in figure.axes if axes.get_title().startswith("layer")]
    assert titles == [f"layer {index}" for index in range(80)]
    assert figure.get_figheight() <= figure.get_figwidth() * PAGE_HEIGHT_RATIO + 1e-9
    overlays = [axes.images[0].get_array() for axes in figure.axes if axes.images and axes.get_title() == ""]
    assert len(overlays) == 80 and max(max(overlay.shape[:2]) for overlay in overlays) <= 600  # small panels
    assert len(figure_bytes(figure, "png", dpi=100)) < 4 * 2**20  # drawn: laid out
    rows = {round(axes.get_position().y0, 3) for axes in figure.axes if axes.get_title().startswith("layer")}
    assert 2 <= len(rows) <= 10
    with pytest.raises(ValueError, match=rf"at most {MAX_LAYER_PANELS} \(a panel each\): pass some of them, e\.g\."):
        layers_figure(synthetic_result(layers=MAX_LAYER_PANELS + 1, heads=1, texts=("a",)), layers="all")


@pytest.mark.parametrize("size", [(8000, 100), (100, 8000), (5000, 4000)])
def test_very_wide_tall_or_large_pictures_keep_the_figure_bounded(size):
    result = dataclasses.replace(synthetic_result(), pictures=(Image.new("RGB", size, (120, 120, 120)),))
    figure = layers_figure(result, layers=[0, 1])
    assert figure.get_figheight() <= figure.get_figwidth() * PAGE_HEIGHT_RATIO + 1e-9
    pictures = [axes.images[0].get_array() for axes in figure.axes if axes.images and axes.get_title() != "layer 0"]
    assert max(max(picture.shape[:2]) for picture in pictures if picture.ndim == 3) <= 1600
    assert len(figure_bytes(figure, "png", dpi=100)) < 2**20


def test_save_figure_refuses_a_drawing_too_large_with_the_dpi_that_fits(tmp_path):
    figure, _ = matrix_figure(long_result(200))
    pixels = figure.get_figwidth() * figure.get_figheight() * 2400**2
    assert pixels > MAX_PIXELS
    with pytest.raises(
        ValueError, match=r"would be 16800 x \d+ pixels, more than the 34 million this draws: pass dpi="
    ):
        save_figure(figure, tmp_path / "big.png", dpi=2400)
    assert list(tmp_path.iterdir()) == []


def test_save_figure_refuses_a_huge_figure_of_its_own(tmp_path):
    huge = Figure(figsize=(800, 800))
    with pytest.raises(ValueError, match=r"more than the 34 million this draws: make the figure smaller") as info:
        save_figure(huge, tmp_path / "huge.png", dpi=10)
    assert "pass dpi" not in one_line(info)


def test_text_that_looks_like_mathtext_is_drawn_as_it_is(tmp_path):
    texts = ("Is", " $\\x$", " cheaper", " than", " $5$?")
    result = synthetic_result(texts=texts, prompt="Is $\\x$ cheaper than $5$?")
    path = save_figure(layers_figure(result, layers=0, phrase="$\\x$"), tmp_path / "layers.png", dpi=30)
    assert path.stat().st_size > 0
    figure, _ = matrix_figure(result)
    assert "␣$\\x$" in [label.get_text() for label in matrix_axes(figure).get_yticklabels()]
    save_figure(figure, tmp_path / "matrix.pdf", dpi=30)


def test_matrix_rows_of_the_command_line_follow_the_selection():
    result = long_result(1000)
    assert cli.matrix_rows(synthetic_result(), None, None) is None
    assert cli.matrix_rows(result, None, None) is None  # the figure's default: the last rows
    rows = cli.matrix_rows(result, None, [400, 410])
    assert rows == list(range(405 - MATRIX_MAX_ROWS // 2, 405 + MATRIX_MAX_ROWS // 2))
    assert cli.matrix_rows(result, None, [3]) == list(range(MATRIX_MAX_ROWS))
    assert cli.matrix_rows(result, "w998", None) == list(range(1000 - MATRIX_MAX_ROWS, 1000))


# ----- figures: every public argument checked ----------------------------------------------------------------


@pytest.fixture(scope="module")
def small():
    return synthetic_result(layers=3, heads=2)


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message, message
    return message


PICTURE = Image.new("RGB", (60, 40), (100, 100, 100))
GRID = np.arange(24, dtype=np.float32).reshape(4, 6)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"alpha": float("nan")}, ValueError, "alpha must be a finite number between 0 (picture only) and 1"),
        ({"alpha": float("inf")}, ValueError, "alpha must be a finite number between 0"),
        ({"alpha": -0.1}, ValueError, "alpha must be between 0 (picture only) and 1 (map only), not -0.1"),
        ({"alpha": "0.5"}, TypeError, "alpha must be a number between 0 (picture only) and 1 (map only), not '0.5'"),
        ({"alpha": True}, TypeError, "alpha must be a number between 0"),
        ({"alpha": None}, TypeError, "alpha must be a number between 0"),
        ({"alpha": np.zeros((30, 30))}, TypeError, "alpha must be a number between 0 (picture only) and 1 (map only)"),
        ({"vmax": float("nan")}, ValueError, "vmax must be a finite number"),
        ({"vmax": float("inf")}, ValueError, "vmax must be a finite number"),
        ({"vmax": -1}, ValueError, "vmax must be a positive top of the colour scale"),
        ({"vmax": "1"}, TypeError, "vmax must be a number (the top of the colour scale"),
        ({"colormap": 3}, TypeError, "colormap must be a colour map name like 'jet'"),
        ({"colormap": None}, TypeError, "colormap must be a colour map name like 'jet'"),
        ({"colormap": "nope"}, ValueError, "unknown colormap 'nope'"),
        ({"smooth": "no"}, TypeError, "smooth must be True (bilinear upsampling; False: blocky cells) or False"),
        ({"smooth": None}, TypeError, "smooth must be True"),
        ({"grid": GRID.ravel()}, ValueError, r"grid must be a non-empty [rows, cols] map, got shape (24,)"),
        ({"grid": GRID[None]}, ValueError, "got shape (1, 4, 6)"),
        ({"grid": np.zeros((0, 3))}, ValueError, "got shape (0, 3)"),
        ({"grid": np.where(GRID > 3, GRID, np.nan)}, ValueError, "grid must hold finite numbers; it has NaN"),
        ({"grid": np.where(GRID > 3, GRID, np.inf)}, ValueError, "grid must hold finite numbers"),
        ({"grid": [[1, 2], [3]]}, TypeError, "grid must be a [rows, cols] array of numbers, not list"),
        ({"grid": [["a", "b"]]}, TypeError, "grid must be a [rows, cols] array of numbers, not an array of <U1"),
        ({"grid": None}, TypeError, "grid must be a [rows, cols] array of numbers, not an array of object"),
        ({"picture": None}, TypeError, "picture must be an image (a PIL image, an image file path or a [height,"),
        ({"picture": 3}, TypeError, "picture must be an image"),
        ({"picture": "missing.png"}, FileNotFoundError, "picture is not an image this can show: image file not"),
        ({"picture": np.zeros((4, 4, 2))}, ValueError, "picture is not an image this can show: an image array must"),
        ({"picture": np.full((4, 4), np.nan)}, ValueError, "picture is not an image this can show"),
    ],
)
def test_bad_overlay_arguments_get_one_line(options, error, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    arguments = {"picture": PICTURE, "grid": GRID, **options}
    with pytest.raises(error) as info:
        overlay_on_image(**arguments)
    assert message in one_line(info)


def test_the_overlay_takes_numpy_numbers_and_any_image(tmp_path):
    (tmp_path / "not-an-image.png").write_bytes(b"text")
    with pytest.raises(ValueError, match="picture is not an image this can show: cannot read image") as info:
        overlay_on_image(tmp_path / "not-an-image.png", GRID)
    assert one_line(info) and isinstance(info.value.__cause__, ValueError)
    plain = np.asarray(overlay_on_image(PICTURE, GRID, alpha=0.25, vmax=30.0))
    for alpha, vmax in ((np.float32(0.25), np.float64(30)), (np.array(0.25), np.array(30)), (0.25, 30)):
        assert np.array_equal(np.asarray(overlay_on_image(PICTURE, GRID, alpha=alpha, vmax=vmax)), plain)
    assert overlay_on_image(np.asarray(PICTURE), GRID > 10, smooth=np.bool_(False)).size == PICTURE.size
    Image.new("RGB", (60, 40), (100, 100, 100)).save(tmp_path / "picture.png")
    assert np.array_equal(np.asarray(overlay_on_image(tmp_path / "picture.png", GRID, 0.25, vmax=30)), plain)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"layers": 1.5}, TypeError, "layers must be a layer index like -1, a list of them, 'mean', 'max' or 'all'"),
        ({"layers": True}, TypeError, "layers must be a layer index like -1, a list of them, 'mean', 'max' or"),
        ({"layers": "last"}, ValueError, "layers must be a layer index like -1, a list of them, 'mean', 'max' or"),
        ({"layers": [0, 1.5]}, TypeError, "each of layers must be an integer index, not 1.5"),
        ({"layers": [0, np.float64(1)]}, TypeError, "each of layers must be an integer index, not"),
        ({"layers": np.array([[0, 1]])}, TypeError, "layers must be a layer index like -1"),
        ({"layers": np.array([0.0, 1.0])}, TypeError, "not a 1-d array of float64"),
        ({"layers": 3}, IndexError, "layer 3 is out of range: there are 3 layers"),
        ({"layers": []}, ValueError, "the layer selection is empty"),
        ({"head": 2.0}, TypeError, "head must be a head index like -1, a list of them, 'mean', 'max' or 'all'"),
        ({"head": "median"}, ValueError, "head must be a head index like -1"),
        ({"head": 2}, IndexError, "head 2 is out of range"),
        ({"token": "cat"}, TypeError, "token must be token indices (an index, a list or a range), not the text"),
        ({"token": "cat"}, TypeError, "for words, pass phrase='cat'"),
        ({"token": 0.5}, TypeError, "token must be a token index, a list of them or a range, not 0.5"),
        ({"phrase": 3}, TypeError, "phrase must be words of the prompt or the answer (a str), not 3"),
        ({"image": 1.5}, TypeError, "image must be an image index like 0, not 1.5"),
        ({"image": True}, TypeError, "image must be an image index like 0, not True"),
        ({"image": np.array([0])}, TypeError, "image must be an image index like 0"),
        ({"image": 1}, IndexError, "image 1 is out of range"),
        ({"reduce": "median"}, ValueError, "reduce must be 'mean' or 'max', not 'median'"),
        ({"producing": 1}, TypeError, "producing must be True"),
        ({"colormap": ["jet"]}, TypeError, "colormap must be a colour map name like 'jet'"),
        ({"alpha": float("nan")}, ValueError, "alpha must be a finite number"),
        ({"smooth": 0}, TypeError, "smooth must be True"),
        (
            {"width": float("nan")},
            ValueError,
            "width must be 'column' (3.3 in), 'page' (7 in) or a number of inches from 3 to 40, not nan",
        ),
        (
            {"width": float("inf")},
            ValueError,
            "width must be 'column' (3.3 in), 'page' (7 in) or a number of inches from 3 to 40, not inf",
        ),
        (
            {"width": 0},
            ValueError,
            "width must be 'column' (3.3 in), 'page' (7 in) or a number of inches from 3 to 40, not 0",
        ),
        (
            {"width": 1000},
            ValueError,
            "width must be 'column' (3.3 in), 'page' (7 in) or a number of inches from 3 to 40, not 1000",
        ),
        (
            {"width": "7"},
            ValueError,
            "width must be 'column' (3.3 in), 'page' (7 in) or a number of inches from 3 to 40, not '7'",
        ),  # a text: a preset's name
        (
            {"width": [7]},
            TypeError,
            "width must be 'column' (3.3 in), 'page' (7 in) or a number of inches from 3 to 40, not [7]",
        ),
    ],
)
def test_bad_layers_figure_arguments_get_one_line(small, options, error, message):
    with pytest.raises(error) as info:
        layers_figure(small, **options)
    assert message in one_line(info)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"layer": 0.5}, TypeError, "layer must be a layer index like -1, a list of them, 'mean', 'max' or 'all'"),
        ({"layer": [np.int64(0), 2.0]}, TypeError, "each of layer must be an integer index, not 2.0"),
        ({"layer": -4}, IndexError, "layer -4 is out of range"),
        ({"head": False}, TypeError, "head must be a head index like -1"),
        ({"reduce": None}, ValueError, "reduce must be 'mean' or 'max', not None"),
        ({"colormap": 0}, TypeError, "colormap must be a colour map name like 'jet'"),
        (
            {"width": float("-inf")},
            ValueError,
            "width must be 'column' (3.3 in), 'page' (7 in) or a number of inches from 3 to 40, not -inf",
        ),
        ({"producing": "yes"}, TypeError, "producing must be True"),
    ],
)
def test_bad_matrix_figure_arguments_get_one_line(small, options, error, message):
    with pytest.raises(error) as info:
        matrix_figure(small, **options)
    assert message in one_line(info)


def test_numpy_indices_are_taken_as_the_indices_they_are(small):
    expected = layers_figure(small, layers=[0, -1], head=1, token=3, image=0)
    titles = [axes.get_title() for axes in expected.axes if axes.images]
    for layers, head, token, image in (
        (np.array([0, -1]), np.int64(1), np.int32(3), np.int64(0)),
        ((np.int64(0), np.array(-1)), np.array(1), np.array(3), np.array(0)),
        (range(0, 3, 2), np.uint8(1), [np.int16(3)], 0),
    ):
        figure = layers_figure(small, layers=layers, head=head, token=token, image=image)
        assert [axes.get_title() for axes in figure.axes if axes.images] == titles
        assert figure.get_suptitle() == expected.get_suptitle()
    _, matrix = matrix_figure(small, layer=np.array(1), head=np.array([0, 1]), tokens=np.int64(2))
    np.testing.assert_array_equal(matrix, small.maps(layer=1, head=[0, 1]))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: layers_figure({"attention": []}), TypeError, "result must be an AttentionResult"),
        (lambda: matrix_figure(None), TypeError, "result must be an AttentionResult (from model.capture(...)"),
    ],
)
def test_a_result_that_is_not_one_gets_one_line(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert message in one_line(info)


@pytest.fixture(scope="module")
def drawn_figure():
    return layers_figure(synthetic_result(), layers=0)


@pytest.mark.parametrize(
    ("figure", "options", "error", "message"),
    [
        ("tuple", {}, TypeError, "figure must be a matplotlib Figure, not a tuple: matrix_figure returns (figure,"),
        (None, {}, TypeError, "figure must be a matplotlib Figure (from layers_figure or matrix_figure), not NoneType"),
        ("figure", {"dpi": float("nan")}, ValueError, "dpi must be a finite number from 10 to 2400 dots per inch"),
        ("figure", {"dpi": float("inf")}, ValueError, "dpi must be a finite number"),
        ("figure", {"dpi": 0}, ValueError, "dpi must be from 10 to 2400 dots per inch (print: 300), not 0"),
        ("figure", {"dpi": -300}, ValueError, "not -300"),
        ("figure", {"dpi": 5000}, ValueError, "not 5000"),
        ("figure", {"dpi": "300"}, TypeError, "dpi must be a number from 10 to 2400"),
        ("figure", {"dpi": True}, TypeError, "dpi must be a number"),
        ("figure", {"path": "fig\0ure.png"}, ValueError, "the figure path 'fig\\x00ure.png' contains a NUL character"),
        ("figure", {"path": "x" * 300 + ".png"}, ValueError, "file names may have at most"),
        ("figure", {"path": 3}, TypeError, "the figure path must be a path (a str or a pathlib.Path), not int"),
        ("figure", {"path": b"figure.png"}, TypeError, "not bytes"),
        ("figure", {"path": "figure.gif"}, ValueError, "cannot save a figure as '.gif'"),
        ("figure", {"path": "folder.png"}, IsADirectoryError, "'folder.png' is a folder; pass a file path inside it"),
    ],
)
def test_bad_save_arguments_get_one_line(figure, options, error, message, drawn_figure, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder.png").mkdir()
    given = {"tuple": (drawn_figure, np.zeros(1)), "figure": drawn_figure}.get(figure, figure)
    options = dict(options)
    with pytest.raises(error) as info:
        save_figure(given, options.pop("path", "figure.png"), **options)
    assert message in one_line(info)
    assert [path.name for path in tmp_path.iterdir()] == ["folder.png"]


def test_save_figure_takes_numpy_dpi_and_says_matplotlibs_errors_in_one_line(drawn_figure, tmp_path, monkeypatch):
    assert save_figure(drawn_figure, tmp_path / "a.png", dpi=np.int64(20)).stat().st_size > 0
    assert save_figure(drawn_figure, tmp_path / "b.png", dpi=np.float32(20.5)).stat().st_size > 0

    def parse_error(*args, **kwargs):
        raise ValueError("\n$\\x$\n^\nParseFatalException: Unknown symbol: \\x")

    monkeypatch.setattr(drawn_figure, "savefig", parse_error)
    with pytest.raises(ValueError, match=r"matplotlib cannot draw this figure as png: \$\\x\$$") as info:
        save_figure(drawn_figure, tmp_path / "c.png")
    assert one_line(info) and isinstance(info.value.__cause__, ValueError)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.png", "b.png"]
