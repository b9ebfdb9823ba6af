"""Your own fine-tune: a checkpoint folder saved without its processor loads with `processor=`, and without it the
error names the missing file and that fix (in `load` and in the command line, before the weights load)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import qvl_widget
from qvl_widget import cli

PROCESSOR_FILES = ("processor_config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja")


@pytest.fixture
def checkpoint(tiny_model_dirs, tmp_path) -> Path:
    """A fine-tuned model as training scripts often save it: the weights and config only (`model.save_pretrained`),
    its weights changed so that it is not the base model."""
    base = qvl_widget.load(tiny_model_dirs["qwen2_vl"], device="cpu")
    with torch.no_grad():
        for parameter in base.model.parameters():
            parameter.add_(0.01)
    folder = tmp_path / "my-fine-tune"
    base.model.save_pretrained(folder)
    assert not any((folder / name).exists() for name in PROCESSOR_FILES)
    return folder


def test_a_checkpoint_without_its_processor_names_the_file_and_the_fix(checkpoint):
    with pytest.raises(FileNotFoundError) as refused:
        qvl_widget.load(checkpoint, device="cpu")
    message = str(refused.value)
    assert "\n" not in message
    assert f"{str(checkpoint)!r} has no preprocessor_config.json (nor processor_config.json)" in message
    assert "pass processor= the hub id or folder of the model it was fine-tuned from" in message


def test_processor_from_the_base_model(checkpoint, tiny_model_dirs):
    base_folder = tiny_model_dirs["qwen2_vl"]
    tuned = qvl_widget.load(checkpoint, device="cpu", processor=base_folder)
    base = qvl_widget.load(base_folder, device="cpu")
    assert tuned.processor.chat_template == base.processor.chat_template
    image, prompt = qvl_widget.example_image(), "Where is the red cat?"
    captured = tuned.capture(image, prompt, answer="A red cat.")
    assert captured.attention.shape == base.capture(image, prompt, answer="A red cat.").attention.shape
    # The weights are the checkpoint's, not the base model's: the maps differ.
    assert not np.allclose(captured.attention, base.capture(image, prompt, answer="A red cat.").attention)
    # A processor object works too, and so does a processor folder without config.json.
    assert qvl_widget.load(checkpoint, device="cpu", processor=base.processor).processor is base.processor
    processor_only = checkpoint.parent / "processor-only"
    base.processor.save_pretrained(processor_only)
    assert not (processor_only / "config.json").exists()
    assert qvl_widget.load(checkpoint, device="cpu", processor=processor_only).capture(image, prompt).num_layers == 3


def test_a_checkpoint_without_a_tokenizer_names_it(tiny_model_dirs, tmp_path):
    folder = tmp_path / "no-tokenizer"
    shutil.copytree(tiny_model_dirs["qwen2_vl"], folder)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (folder / name).unlink()
    with pytest.raises(FileNotFoundError, match=r"has no tokenizer\.json \(nor tokenizer_config\.json\)"):
        qvl_widget.load(folder, device="cpu")


@pytest.mark.parametrize(
    ("processor", "kind", "fragment"),
    [
        (42, TypeError, "processor must be a hub id like 'Qwen/Qwen2-VL-2B-Instruct', a folder, or the model's"),
        ("", ValueError, "processor is empty"),
        ("./no-such-folder", FileNotFoundError, "processor folder not found: './no-such-folder'"),
    ],
)
def test_bad_processor_arguments(checkpoint, processor, kind, fragment):
    with pytest.raises(kind, match=fragment.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        qvl_widget.load(checkpoint, device="cpu", processor=processor)


def test_a_processor_folder_without_processor_files_is_refused(checkpoint):
    with pytest.raises(FileNotFoundError, match="pass as processor= a hub id or a folder saved by"):
        qvl_widget.load(checkpoint, device="cpu", processor=checkpoint)


def test_the_command_line_takes_a_processor_and_refuses_before_loading(checkpoint, tiny_model_dirs, tmp_path, capsys):
    image = tmp_path / "cat.png"
    qvl_widget.example_image().save(image)
    arguments = ["explore", "--model", str(checkpoint), "--image", str(image), "--prompt", "Where is the cat?"]
    with pytest.raises(SystemExit) as refused:
        cli.main([*arguments, "--out", str(tmp_path / "refused")])
    assert refused.value.code == 2
    assert "has no preprocessor_config.json" in capsys.readouterr().err
    assert not (tmp_path / "refused").exists()
    processor = ["--processor", str(tiny_model_dirs["qwen2_vl"])]
    assert cli.main([*arguments, *processor, "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "attention.html").is_file()
