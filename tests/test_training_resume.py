"""Training on the CPU, warm-started and resumable (issue DEMO2): `--init` grows the shipped model's vocabulary
by the demo2 words and keeps every trained row; a run stopped after a checkpoint and continued with `--resume`
ends with the very weights of a run that was never stopped; a resumed run keeps its saved options."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from training import _model, train

SHIPPED = Path(__file__).resolve().parents[1] / "qvl_widget" / "demo" / "model"
SMALL_RUN = ["--device", "cpu", "--batch", "4", "--val-size", "8", "--pointing-examples", "2"]


def test_the_warm_start_grows_the_vocabulary_and_keeps_every_trained_row(tmp_path):
    out = tmp_path / "warm"
    arguments = ["--out", str(out), "--init", str(SHIPPED), "--tasks", "demo2", "--max-steps", "1", *SMALL_RUN]
    assert train.main([*arguments, "--lr", "0", "--weight-decay", "0"]) == 0  # a step that changes nothing
    shipped, grown = load_file(SHIPPED / "model.safetensors"), load_file(out / "model.safetensors")
    assert shipped.keys() == grown.keys()
    old_words, new_words = len(_model.VOCABULARY), len(_model.DESCRIPTION_VOCABULARY)
    resized = [name for name in shipped if shipped[name].shape != grown[name].shape]
    assert sorted(resized) == ["lm_head.weight", "model.embed_tokens.weight"]
    for name, tensor in shipped.items():
        assert torch.equal(grown[name][: tensor.shape[0]], tensor), name
    for name in resized:  # the new words' rows: drawn, not zeros or copies of each other
        assert grown[name].shape[0] == new_words
        assert grown[name][old_words:].norm(dim=1).min() > 0 and not torch.equal(*grown[name][old_words:])
    tokenizer = json.loads((out / "tokenizer.json").read_text())
    assert tokenizer["model"]["vocab"] == {word: index for index, word in enumerate(_model.DESCRIPTION_VOCABULARY)}
    assert json.loads((out / "config.json").read_text())["text_config"]["vocab_size"] == new_words


class StoppedError(Exception):
    """Stands for a killed process."""


def stop_at_training_step(monkeypatch, step: int) -> None:
    """Make the `step`-th training loss (gradients on; evaluations run without) raise `StoppedError`."""
    loss, calls = train.answer_loss, []

    def answer_loss(logits, batch):
        if torch.is_grad_enabled():
            calls.append(1)
            if len(calls) == step:
                raise StoppedError
        return loss(logits, batch)

    monkeypatch.setattr(train, "answer_loss", answer_loss)


def test_a_stopped_run_resumed_ends_with_the_weights_of_a_run_never_stopped(tmp_path, monkeypatch):
    options = ["--tasks", "demo2", "--config", "tiny", "--max-steps", "4", "--bf16", *SMALL_RUN]
    options += ["--log-every", "1", "--checkpoint-seconds", "0"]  # a checkpoint after every step
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert train.main(["--out", str(whole), *options]) == 0

    with monkeypatch.context() as patch:
        stop_at_training_step(patch, 3)
        with pytest.raises(StoppedError):
            train.main(["--out", str(parts), *options])
    state = torch.load(parts / train.STATE_FILE, weights_only=True)
    assert state["step"] == 2 and not (parts / "qvl_demo.json").exists()
    assert train.main(["--resume", "--out", str(parts)]) == 0

    finished, expected = load_file(parts / "model.safetensors"), load_file(whole / "model.safetensors")
    assert finished.keys() == expected.keys()
    assert all(torch.equal(finished[name], expected[name]) for name in expected)
    assert not (parts / train.STATE_FILE).exists() and not (whole / train.STATE_FILE).exists()
    training = json.loads((parts / "qvl_demo.json").read_text())["training"]
    assert training["steps"] == 4 and training["autocast"] == "bfloat16"
    assert training["resumed_by"] == [f"python -m training.train --resume --out {parts}"]
    assert [run["last_step"] for run in training["runs"]] == [2, 4]
    logged = [entry["step"] for entry in training["history"]]
    assert logged == [1, 2, 3, 4]  # the stopped run's history up to its checkpoint, then the resumed run's


def test_a_resumed_run_keeps_its_saved_options(tmp_path, capsys):
    with pytest.raises(SystemExit):
        train.main(["--resume", "--out", str(tmp_path)])
    assert f"{tmp_path / train.STATE_FILE} not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        train.main(["--resume", "--out", str(tmp_path), "--batch", "8", "--lr", "1e-3"])
    assert "drop --batch, --lr" in capsys.readouterr().err


def test_a_warm_start_whose_words_would_move_is_refused(tmp_path):
    """A folder whose tokenizer numbers the words otherwise: its trained rows would name other words."""
    folder = tmp_path / "reordered"
    shutil.copytree(SHIPPED, folder)
    tokenizer = json.loads((folder / "tokenizer.json").read_text())
    vocab = tokenizer["model"]["vocab"]
    vocab["red"], vocab["blue"] = vocab["blue"], vocab["red"]
    (folder / "tokenizer.json").write_text(json.dumps(tokenizer))
    arguments = ["--out", str(tmp_path / "out"), "--init", str(folder), "--tasks", "demo2", "--max-steps", "1"]
    with pytest.raises(SystemExit, match="its words are not the first words of this task mix's vocabulary"):
        train.main([*arguments, *SMALL_RUN])
