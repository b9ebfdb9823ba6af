"""`qvl-widget study`: a manifest's study from the command line, its checks before the model loads, and
`--report` (the head ranking printed, the figure written)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from PIL import Image
from test_cli import no_loading, run_cli  # noqa: F401 (no_loading: a fixture)

import qvl_widget
from qvl_widget import demo


def write_manifest(folder, rows: list[dict]) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    for name, colour in (("red.png", "red"), ("blue.png", "blue")):
        Image.new("RGB", (96, 80), colour).save(folder / name)
    path = folder / "set.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


ROWS = [
    {"id": "a", "image": "red.png", "prompt": "Where is the cat?", "box": [0, 0, 48, 40]},
    {"id": "b", "image": "blue.png", "prompt": "Where is the dog?", "box": [40, 20, 96, 80]},
    {"id": "c", "image": "red.png", "prompt": "What is this?"},
]


def test_study_runs_a_manifest_as_model_study_does(tiny_model_dirs, tiny_models, tmp_path, capsys):
    manifest = write_manifest(tmp_path / "data", ROWS)
    folder = str(tiny_model_dirs["qwen2_vl"])
    code, out, err = run_cli(["study", manifest, "--model", folder, "--out", str(tmp_path / "cli"), "--device", "cpu",
                              "--query", "all", "--limit", "2"], capsys)  # fmt: skip
    assert code == 0, err
    assert "2 examples scored, 0 failed" in out and "qvl-widget study --report" in out
    rows = [{**row, "image": str(tmp_path / "data" / row["image"])} for row in ROWS[:2]]
    expected = tiny_models["qwen2_vl"].study(rows, tmp_path / "api", query="all", progress=False)
    pd.testing.assert_frame_equal(qvl_widget.Study.open(tmp_path / "cli").table(), expected.table())


def test_study_passes_its_batch_size(tiny_model_dirs, tmp_path, capsys, monkeypatch):
    asked = []
    study = qvl_widget.LoadedModel.study
    monkeypatch.setattr(
        qvl_widget.LoadedModel, "study", lambda self, *a, **k: asked.append(k["batch_size"]) or study(self, *a, **k)
    )
    manifest = write_manifest(tmp_path / "data", ROWS)
    for size in ("1", "3"):
        code, _, err = run_cli(["study", manifest, "--model", str(tiny_model_dirs["qwen2_vl"]), "--out",
                                str(tmp_path / size), "--device", "cpu", "--batch-size", size], capsys)  # fmt: skip
        assert code == 0, err
    assert asked == [1, 3]
    batched, one_by_one = (qvl_widget.Study.open(tmp_path / size).table() for size in ("3", "1"))
    pd.testing.assert_frame_equal(batched, one_by_one)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"id": "a", "image": "missing.png", "prompt": "?"}], "row 1 (example 'a'): its image"),
        ([{"id": "a", "image": "set.jsonl", "prompt": "?"}], "cannot be read (UnidentifiedImageError"),
        ([{"id": "a", "image": "red.png", "prompt": "?", "box": [5, 5, 1, 1]}], "(example 'a'): the example's box"),
        ([{"id": "a", "image": "red.png", "prompt": "?"}] * 2, "has the id 'a' more than once"),
        ([{"id": "a", "image": "red.png"}], "has no 'prompt or messages' column"),
    ],
)  # fmt: skip
@pytest.mark.usefixtures("no_loading")
def test_a_bad_manifest_fails_before_the_model_loads(rows, message, tmp_path, capsys):
    manifest = write_manifest(tmp_path / "data", rows)
    code, _, err = run_cli(["study", manifest, "--model", "m", "--out", str(tmp_path / "s")], capsys)
    assert code == 2 and message in err.splitlines()[-1], err
    assert not (tmp_path / "s").exists()


@pytest.mark.usefixtures("no_loading")
@pytest.mark.parametrize("tolerance", ["-1", "nan", "inf", "wide"])
def test_a_bad_pointing_tolerance_fails_when_the_arguments_are_read(tolerance, tmp_path, capsys):
    manifest = write_manifest(tmp_path / "data", ROWS)
    arguments = ["study", manifest, "--model", "m", "--out", str(tmp_path / "s"), "--pointing-tolerance", tolerance]
    code, _, err = run_cli(arguments, capsys)
    assert code == 2 and f"invalid tolerance {tolerance!r}: use a number of pixels >= 0" in err.splitlines()[-1]


@pytest.mark.usefixtures("no_loading")
def test_study_needs_its_arguments(tmp_path, capsys):
    code, _, err = run_cli(["study", "--model", "m", "--out", str(tmp_path / "s")], capsys)
    assert code == 2 and "a study needs MANIFEST, --model and --out" in err
    code, _, err = run_cli(["study", "x.jsonl", "--report", str(tmp_path)], capsys)
    assert code == 2 and "pass it alone" in err


def test_report_prints_the_head_ranking_and_writes_the_figure(tmp_path, capsys):
    model = demo.load(device="cpu")
    manifest = demo.write_scenes(6, tmp_path / "scenes", first_seed=200_950)
    study = model.study(manifest, tmp_path / "study", answer=False, progress=False)
    code, out, err = run_cli(["study", "--report", str(tmp_path / "study"), "--metric", "in_box", "--top", "3"], capsys)
    assert code == 0, err
    ranking = study.head_ranking("in_box", top=3)
    lines = out.splitlines()
    assert "6 of 6 examples scored, 0 failed" in lines[0]
    header = lines.index(next(line for line in lines if line.split()[:3] == ["layer", "head", "mean"]))
    printed = [line.split() for line in lines[header + 1 : header + 4]]
    assert [(int(row[0]), int(row[1])) for row in printed] == list(zip(ranking["layer"], ranking["head"], strict=True))
    assert [float(row[2]) for row in printed] == pytest.approx(list(ranking["mean"]), abs=1e-4)
    assert (tmp_path / "study" / "in_box.png").stat().st_size > 5000
    code, _, err = run_cli(["study", "--report", str(tmp_path / "nothing")], capsys)
    assert code == 2 and "nothing" in err.splitlines()[-1]


def test_the_study_figure_outlines_the_top_heads_numbered_by_rank(tmp_path):
    from matplotlib.patches import Rectangle

    from qvl_widget import figures

    model = demo.load(device="cpu")
    manifest = demo.write_scenes(6, tmp_path / "scenes", first_seed=200_960)
    study = model.study(manifest, tmp_path / "study", answer=False, progress=False)
    figure = figures.study_figure(study, "pointing", top=4)
    axes = figure.axes[0]
    ranking = study.head_ranking("pointing", top=4)
    rows = {layer: row for row, layer in enumerate(study.layer_ids())}
    expected = [(int(head), rows[int(layer)]) for layer, head in zip(ranking["layer"], ranking["head"], strict=True)]
    outlined = [(round(patch.get_x() + 0.5), round(patch.get_y() + 0.5)) for patch in axes.patches
                if isinstance(patch, Rectangle)]  # fmt: skip
    assert sorted(set(outlined)) == sorted(expected)
    numbers = {text.get_text(): (round(text.get_position()[0]), round(text.get_position()[1])) for text in axes.texts}
    assert numbers == {str(rank): place for rank, place in enumerate(expected, start=1)}
    np_values = axes.images[0].get_array()
    assert np_values.shape == (len(study.layer_ids()), 4)  # the demo model's 4 heads, every layer
    heading = figure.get_suptitle()
    assert "pointing game" in heading and "6 examples" in heading and "top 4 heads" in heading


def test_bad_values_of_the_new_public_functions_get_one_line_errors(tmp_path):
    from qvl_widget import figures

    with pytest.raises(TypeError, match=r"folder must be a folder path \(a str or a pathlib.Path\), not int"):
        demo.write_scenes(2, 7)
    with pytest.raises(ValueError, match=r"first_seed must be a whole number >= 0 \(the first scene's seed\), not -1"):
        demo.write_scenes(2, tmp_path / "s", first_seed=-1)
    with pytest.raises(TypeError, match=r"count must be a whole number >= 1 \(the number of scenes\), not 'many'"):
        demo.write_scenes("many", tmp_path / "s")
    assert not (tmp_path / "s").exists()
    with pytest.raises(TypeError, match=r"study_figure needs a Study \(model.study or Study.open\), not str"):
        figures.study_figure("my-study")
    model = demo.load(device="cpu")
    study = model.study(demo.write_scenes(2, tmp_path / "scenes"), tmp_path / "study", answer=False, progress=False)
    with pytest.raises(ValueError, match="metric must be one of image_share, spatial_entropy, in_box, area, pointing"):
        figures.study_figure(study, "accuracy")
    with pytest.raises(ValueError, match=r"top must be a whole number >= 0 \(how many of the best heads to outline\)"):
        figures.study_figure(study, top=-2)
    assert len(figures.study_figure(study, top=0).axes[0].patches) == 0  # none outlined
