"""Every code block of the README and of the documentation pages (docs/*.md) works as written.

- `python` blocks: each file's blocks run in order in one namespace, as a reader pasting them into one notebook.
  Hub ids (`Qwen/...`) resolve to tiny offline models (Qwen3.5's to a tiny Qwen3.5, whose template thinks first);
  `cat.jpg` is the example picture and `clip.mp4` a small video; since a tiny random model cannot answer,
  `answer=True` gives it the answer a real model would write (with its thinking, where it thinks); the demo model
  answers for itself. A page may assume what a reader has: `my_model`, `my_processor`, `my_image`, `frames`, a
  fine-tuned checkpoint folder (`checkpoints/my-finetune`, without the processor's files) and a LoRA adapter
  folder (`my-lora-adapter`). Blocks inside list items are dedented, as a reader pasting them would.
- `bash` blocks: each line is checked by what it is (`check_command`): a `make` target exists, a `qvl-widget`
  command runs (through `qvl_widget.cli.main`, hub ids mapped to the tiny models) and exits 0, and the files,
  notebooks, scripts and extras a line names exist. A line of a kind it does not know fails the test.
- Blocks not meant to run (output, signatures, layouts) are `text` blocks.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
import shutil
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import NO_QWEN3_5

import qvl_widget
import qvl_widget._loading

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = sorted((ROOT / "docs").glob("*.md"))
DOC_FILES = [README, *PAGES]
README_MAX_BYTES = 12 * 1024

# A fenced block: its indentation (inside a list item), language and body, up to the closing fence at that indent.
_FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)[ \t]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)


def code_blocks(path: Path, language: str) -> list[tuple[int, str]]:
    """The `language` blocks of a Markdown file: (line number of the fence, the block's text, dedented)."""
    text = path.read_text()
    return [
        (text.count("\n", 0, match.start()) + 1, textwrap.dedent(match["body"]))
        for match in _FENCE.finditer(text)
        if match["lang"] == language
    ]


def files_with(language: str) -> list[Path]:
    return [path for path in DOC_FILES if code_blocks(path, language)]


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


# ----- python blocks ------------------------------------------------------------------------------------------

GIVEN_ANSWER = "A red cat sits on the left."
GIVEN_THOUGHT = "The cat is on the left.</think>\n\nA red cat sits on the left."


def given_answers(block: str) -> str:
    """`block` with each `answer=True` replaced by the answer a real model would write."""
    if "demo.load(" in block:  # the demo model answers for itself (it knows its scenes)
        return block
    if "Qwen3.5" in block:  # it thinks first, unless thinking=False
        block = block.replace("answer=True, thinking=False", f"answer={GIVEN_ANSWER!r}, thinking=False")
        return block.replace("answer=True", f"answer={GIVEN_THOUGHT!r}")
    return block.replace("answer=True", f"answer={GIVEN_ANSWER!r}")


def test_the_docs_have_runnable_examples():
    assert len(code_blocks(README, "python")) >= 2
    assert len(files_with("python")) >= 12
    assert sum(len(code_blocks(path, "bash")) for path in DOC_FILES) >= 8


@pytest.fixture
def offline_hub(tiny_model_dirs, monkeypatch):
    """Hub ids resolve to the tiny models (as `qvl_widget.load` sees them); returns hub id -> folder."""

    def tiny_folder(model_id: str) -> Path:
        if model_id.startswith("Qwen/Qwen3.5"):
            if "qwen3_5" not in tiny_model_dirs:
                pytest.skip(NO_QWEN3_5)  # the oldest transformers: these blocks run in the main run
            return tiny_model_dirs["qwen3_5"]
        return tiny_model_dirs["qwen2_vl"]

    def offline(checked):
        def resolve(model_id_or_path):
            source = str(model_id_or_path)
            return str(tiny_folder(source)) if source.startswith("Qwen/") else checked(model_id_or_path)

        return resolve

    for name in ("checked_source", "checked_processor_source"):  # the model's source, and load(processor=...)'s
        monkeypatch.setattr(qvl_widget._loading, name, offline(getattr(qvl_widget._loading, name)))
    return tiny_folder


@pytest.fixture
def reader_folder(tmp_path, monkeypatch, tiny_model_dirs, offline_hub) -> Path:
    """A folder a reader works in: cat.jpg (the example picture), clip.mp4 (a small video) and a fine-tuned
    checkpoint folder without the processor's files (checkpoints/my-finetune)."""
    from test_video_input import write_video

    monkeypatch.chdir(tmp_path)
    qvl_widget.example_image().save("cat.jpg")
    write_video(tmp_path / "clip.mp4")
    checkpoint = tmp_path / "checkpoints" / "my-finetune"  # saved with model.save_pretrained only: no processor files
    checkpoint.mkdir(parents=True)
    for name in ("config.json", "generation_config.json", "model.safetensors"):
        shutil.copy(tiny_model_dirs["qwen2_vl"] / name, checkpoint / name)
    return tmp_path


def reader_namespace(text: str, folder: Path, tiny_folder: Path) -> dict:
    """What a page assumes its reader has (only what `text` names: each costs a model load)."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    namespace: dict = {"__name__": "__docs__"}
    if "my_model" in text:
        namespace["my_model"] = AutoModelForImageTextToText.from_pretrained(tiny_folder).eval()
    if "my_processor" in text:
        namespace["my_processor"] = AutoProcessor.from_pretrained(tiny_folder)
    namespace["my_image"] = qvl_widget.example_image()
    namespace["frames"] = np.stack([np.asarray(qvl_widget.example_image().resize((64, 48)))] * 4)
    if "my-lora-adapter" in text:
        from peft import LoraConfig, get_peft_model

        base = AutoModelForImageTextToText.from_pretrained(tiny_folder)
        adapted = get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "k_proj"], init_lora_weights=False))
        adapted.save_pretrained(folder / "my-lora-adapter")
    return namespace


@pytest.mark.parametrize("path", files_with("python"), ids=_name)
def test_every_python_block_runs(path, reader_folder, offline_hub):
    namespace = reader_namespace(path.read_text(), reader_folder, offline_hub("Qwen/Qwen2-VL-2B-Instruct"))
    for number, (line, block) in enumerate(code_blocks(path, "python"), start=1):
        try:
            code = compile(given_answers(block), f"{_name(path)}, block {number} (line {line})", "exec")
            exec(code, namespace)
        except Exception as error:
            pytest.fail(
                f"{_name(path)}: python block {number} (line {line}) fails: {type(error).__name__}: {error}\n{block}"
            )


# ----- bash blocks --------------------------------------------------------------------------------------------


def command_lines(block: str) -> list[str]:
    """The block's commands: continuation lines joined, blank lines left out."""
    return [line for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z][\w-]*):(?!=)", text, re.M))


def pyproject() -> dict:
    toml = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")  # tomllib: Python 3.11+
    return toml.loads((ROOT / "pyproject.toml").read_text())


def _requirement_names(requirements: list[str]) -> set[str]:
    return {
        re.split(r"[\s<>=!~\[;]", requirement, maxsplit=1)[0].lower().replace("_", "-") for requirement in requirements
    }


def check_pip_install(arguments: list[str]) -> None:
    """`pip install` of the checkout (`.`, `".[extra,...]"`, `-e`) or of a package the project depends on."""
    assert arguments[:1] == ["install"], f"pip {' '.join(arguments)}: only `pip install` is documented"
    project = pyproject()["project"]
    extras = project["optional-dependencies"]
    known = _requirement_names(project["dependencies"] + [r for group in extras.values() for r in group])
    targets = [argument for argument in arguments[1:] if not argument.startswith("-")]
    assert targets, "pip install of nothing"
    for target in targets:
        checkout = re.fullmatch(r"\.(?:\[([\w,-]+)\])?", target)
        if checkout:
            unknown = set((checkout[1] or "").split(",")) - set(extras) - {""}
            assert not unknown, f"pip install {target}: no extra {sorted(unknown)} in pyproject.toml ({sorted(extras)})"
        else:
            name = _requirement_names([target]).pop()
            assert name in known, f"pip install {target}: not a dependency of the project"


def check_python(arguments: list[str]) -> None:
    """`python tools/x.py ...`, `python -m pytest tests/...`, `python -m training.train ...`: what it names exists."""
    if arguments[:1] == ["-m"]:
        module, rest = arguments[1], arguments[2:]
        if module == "pytest":
            for argument in rest:
                if not argument.startswith("-"):
                    assert (ROOT / argument.split("::")[0]).exists(), f"pytest {argument}: no such test file"
            return
        module_path = ROOT / Path(*module.split("."))
        assert module_path.with_suffix(".py").is_file() or (module_path / "__main__.py").is_file(), (
            f"python -m {module}: no such module in the repository"
        )
        return
    assert arguments and (ROOT / arguments[0]).is_file(), f"python {' '.join(arguments)}: no such script"


def check_site_page(path: str) -> None:
    site_dir = re.search(r"^site_dir:\s*(\S+)", (ROOT / "mkdocs.yml").read_text(), re.M)
    assert site_dir is not None and Path(path).parts[0] == site_dir[1], f"{path} is not in the built site"
    page = ROOT / "docs" / Path(*Path(path).parts[1:]).with_suffix(".md")
    assert page.is_file(), f"{path}: the site has no such page (no {page.relative_to(ROOT)})"


class CommandLine:
    """Runs a documented `qvl-widget` command on the tiny models, in the reader's folder."""

    def __init__(self, tiny_folder) -> None:
        self.tiny_folder = tiny_folder

    def __call__(self, arguments: list[str]) -> None:
        from qvl_widget.cli import main

        thinks = any(argument.startswith("Qwen/Qwen3.5") for argument in arguments) and "--no-thinking" not in arguments
        argv: list[str] = []
        rest = iter(arguments)
        for argument in rest:
            if argument.startswith("Qwen/"):
                argv.append(str(self.tiny_folder(argument)))
            elif argument == "--answer" and arguments[:1] == ["explore"]:  # a tiny random model cannot answer
                argv += ["--answer-text", GIVEN_THOUGHT if thinks else GIVEN_ANSWER]
            elif argument == "--max-new-tokens":
                next(rest)  # only with --answer
            else:
                argv.append(argument)
        output = io.StringIO()
        try:
            with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
                status = main(argv)
        except SystemExit as exit:
            status = exit.code
        assert status in (0, None), f"qvl-widget {shlex.join(argv)} exited with {status}:\n{output.getvalue()}"


def check_command(line: str, run_cli: CommandLine) -> None:
    """One documented shell line: known kinds are checked (or run), anything else fails."""
    words = shlex.split(line, comments=True)
    while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):  # environment settings, e.g. PYTHONPATH=.
        words = words[1:]
    if not words:
        return
    command, arguments = words[0], words[1:]
    if command == "make":
        unknown = [word for word in arguments if "=" not in word and word not in makefile_targets()]
        assert arguments and not unknown, f"make {' '.join(arguments)}: no such target in the Makefile {unknown}"
    elif command in ("qvl-widget", ".venv/bin/qvl-widget"):
        run_cli(arguments)
    elif command in ("jupyter", ".venv/bin/jupyter"):
        assert arguments[:1] in (["lab"], ["notebook"]), f"jupyter {' '.join(arguments)}: only lab / notebook"
        for name in arguments[1:]:
            assert (ROOT / name).is_file(), f"jupyter {arguments[0]} {name}: no such notebook"
    elif command in ("open", "xdg-open"):
        assert len(arguments) == 1, line
        check_site_page(arguments[0]) if arguments[0].startswith("site/") else None
        assert arguments[0].startswith("site/") or (ROOT / arguments[0]).exists(), f"{arguments[0]}: no such file"
    elif command in ("pip", ".venv/bin/pip"):
        check_pip_install(arguments)
    elif command in ("python", "python3", ".venv/bin/python"):
        if arguments[:2] == ["-m", "pip"]:
            check_pip_install(arguments[2:])
        else:
            check_python(arguments)
    elif command == "bash":
        assert arguments and (ROOT / arguments[0]).is_file(), f"bash {' '.join(arguments)}: no such script"
    elif command == "npm":
        scripts = json.loads((ROOT / "package.json").read_text())["scripts"]
        assert arguments == ["ci"] or (arguments[:1] == ["run"] and arguments[1] in scripts), f"npm {arguments}"
    elif command == "node":
        assert arguments[:1] == ["--test"] and (ROOT / arguments[1]).exists(), f"node {arguments}"
    elif command == "git":
        assert arguments[:1] == ["clone"] and len(arguments) in (2, 3), f"git {arguments}: only git clone"
    elif command == "accelerate":
        # accelerate's launcher around the command line: the command itself runs here, in one process.
        assert arguments[:1] == ["launch"] and "-m" in arguments, f"accelerate {arguments}: only launch -m"
        module = arguments.index("-m") + 1
        assert arguments[module] == "qvl_widget.cli", f"accelerate launch -m {arguments[module]}: not the CLI"
        run_cli(arguments[module + 1 :])
    else:
        pytest.fail(f"a documented shell line of a kind this test does not know (teach check_command): {line}")


def split_commands(line: str) -> list[str]:
    """`a && b` as its two commands."""
    return [part.strip() for part in line.split(" && ")]


@pytest.mark.parametrize("path", files_with("bash"), ids=_name)
def test_every_shell_line_works(path, reader_folder, offline_hub):
    run_cli = CommandLine(offline_hub)
    for number, (line_number, block) in enumerate(code_blocks(path, "bash"), start=1):
        for line in command_lines(block):
            for command in split_commands(line):
                try:
                    check_command(command, run_cli)
                except (AssertionError, ValueError) as error:
                    pytest.fail(f"{_name(path)}: bash block {number} (line {line_number}): {command}\n{error}")


def test_the_shell_line_checker_refuses_what_does_not_exist(reader_folder, offline_hub):
    run_cli = CommandLine(offline_hub)
    for line in (
        "make no-such-target",
        'pip install ".[no-such-extra]"',
        ".venv/bin/jupyter lab notebooks/no_such.ipynb",
        "open site/no-such-page.html",
        "qvl-widget demo --no-such-option",
        "python tools/no_such_tool.py",
    ):
        with pytest.raises(AssertionError):
            check_command(line, run_cli)
    with pytest.raises(pytest.fail.Exception):
        check_command("curl https://example.com | sh", run_cli)


# ----- README and the refusals table --------------------------------------------------------------------------


def test_the_readme_is_read_in_five_minutes():
    size = len(README.read_text().encode())
    assert size <= README_MAX_BYTES, f"README.md is {size} bytes, over {README_MAX_BYTES}: move details into docs/"


def test_the_readme_links_to_pages_that_exist():
    for target in re.findall(r"\]\((docs/[^)#]+)", README.read_text()):
        assert (ROOT / target).is_file(), f"README links to {target}, which does not exist"


def test_the_refusals_table_states_the_codes_limits():
    """docs/refusals.md gives each limit as the code has it."""
    from PIL import Image

    from qvl_widget import _figures, _html, _inputs, _result

    page = (ROOT / "docs" / "refusals.md").read_text()
    stated = {
        f"({round(Image.MAX_IMAGE_PIXELS / 1e6)} megapixels)",
        f"at most {_inputs.MAX_ASPECT_RATIO}:1",
        f"{_html.DEFAULT_MAX_BYTES // 2**20} MiB by default",
        f"at most {_figures.MATRIX_MAX_ROWS} token rows",
        f"the last {_figures.MATRIX_MAX_ROWS}",
        f"at most {_figures.MAX_LAYER_PANELS} layer panels",
        f"at most {_figures.MAX_FRAME_PANELS} group panels",
        f"at most {round(_figures.MAX_PIXELS / 1e6)} million pixels",
        f"{_figures._MAX_SIDE_PIXELS:,} px a side",
        f"at most {_result._MAX_INFLATION} times the file's size (or {_result._FREE_INFLATION // 2**20} MiB)",
        f"metadata at most {_result._MAX_METADATA_BYTES // 2**20} MiB",
    }
    missing = [limit for limit in stated if limit not in page]
    assert not missing, f"docs/refusals.md's table does not say: {missing}"
