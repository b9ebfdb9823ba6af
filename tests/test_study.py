"""`model.study` and `qvl_widget.Study`: attention over a set of examples, on the demo model's held-out scenes.

Every number of a study is checked against a direct computation from `model.capture` of the same example; a study
stopped midway and run again gives the table of one uninterrupted run; failing examples are recorded and the study
goes on; a changed option on resume and bad manifests are refused before anything runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from test_light_import import WITHOUT_MODEL_STACK, run_python

import qvl_widget
import qvl_widget._study
from qvl_widget import Box, demo

SCENES = 60  # the count: this test takes 9 s on 2 idle CPU cores, 30 to 50 s on busy ones
FIRST_SEED = 200_000  # the demo's test seeds: held out from its training and recipe choice


@pytest.fixture(scope="module")
def model():
    return demo.load(device="cpu")


def scene(seed: int, **changes) -> dict:
    """A demo scene as a study example: its named object's box and phrase, no answer unless given."""
    example = demo.make_example(seed)
    fields = {
        "id": f"scene-{seed}",
        "image": example["image"],
        "prompt": example["prompt"],
        "box": example["bbox"],
        "phrase": example["phrase"],
    }
    return {**fields, **changes}


def scenes(count: int, start: int = FIRST_SEED) -> list[dict]:
    return [scene(seed) for seed in range(start, start + count)]


def peak_inside(grid: np.ndarray, box: tuple[float, ...], size: tuple[int, int]) -> float:
    """The pointing game, computed here on its own: the first brightest cell's centre inside the box."""
    rows, cols = grid.shape
    row, col = divmod(int(np.argmax(grid)), cols)
    x, y = (col + 0.5) * size[0] / cols, (row + 0.5) * size[1] / rows
    x0, y0, x1, y1 = box
    return float(x0 <= x <= x1 and y0 <= y <= y1)


# ----- the numbers ------------------------------------------------------------------------------------------------


def test_every_number_equals_a_direct_computation_from_capture(model, tmp_path):
    examples = scenes(SCENES)
    study = model.study(examples, tmp_path / "study", query="all", progress=False)
    table = study.table()
    assert len(study.errors()) == 0
    for example in examples:
        result = model.capture(example["image"], example["prompt"])
        size = result.images[0].original_size
        box = Box(*example["box"])
        last = max(index for index, token in enumerate(result.tokens) if token.part == "prompt")
        phrase = [index for index in result.token_indices(example["phrase"]) if result.tokens[index].part == "prompt"]
        for query, tokens in (("last", [last]), ("phrase", phrase)):
            shape = (result.num_layers, result.num_heads)
            in_box, pointing, share = np.empty(shape), np.empty(shape), np.empty(shape)
            for layer in range(result.num_layers):
                for head in range(result.num_heads):
                    grid = result.grid(token=tokens, layer=layer, head=head)
                    in_box[layer, head] = box.share(grid, size).inside
                    pointing[layer, head] = peak_inside(grid, example["box"], size)
                    share[layer, head] = result.image_mass[layer, head, tokens].astype(np.float64).mean()
            for metric, expected in (("in_box", in_box), ("pointing", pointing), ("image_share", share)):
                got = study.heads(metric, example=example["id"], query=query)
                np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6, err_msg=f"{example['id']} {metric}")
            rows = table[(table["example"] == example["id"]) & (table["query"] == query) & (table["head"] == -1)]
            mean_maps = [result.grid(token=tokens, layer=layer, head="mean") for layer in range(result.num_layers)]
            np.testing.assert_allclose(rows["in_box"], [box.share(grid, size).inside for grid in mean_maps], atol=1e-6)
            np.testing.assert_allclose(rows["pointing"], [peak_inside(g, example["box"], size) for g in mean_maps])
            summary = result.head_summary(token=tokens)
            got = study.heads("spatial_entropy", example=example["id"], query=query)
            np.testing.assert_allclose(got, summary.spatial_entropy, atol=1e-9)
    assert set(table["query"]) == {"last", "phrase"}
    means = study.heads("in_box")
    assert means.shape == (6, 4)
    np.testing.assert_allclose(means, np.mean([study.heads("in_box", example=e["id"]) for e in examples], axis=0))


def test_answer_words_are_read_at_the_steps_that_produced_them(model, tmp_path):
    example = scene(FIRST_SEED + 900, answer=demo.make_example(FIRST_SEED + 900)["answer"])
    study = model.study([example], tmp_path / "study", query="answer", progress=False)
    result = model.capture(example["image"], example["prompt"], answer=example["answer"])
    word = next(index for index, token in enumerate(result.tokens) if token.part == "answer" and not token.special)
    rows = study.table()
    assert set(rows["text"]) == {example["answer"]} and set(rows["token"]) == {word}
    box = Box(*example["box"])
    expected = np.array(
        [
            [box.share(result.grid(token=word, layer=layer, head=head, producing=True), (224, 224)).inside
             for head in range(result.num_heads)]
            for layer in range(result.num_layers)
        ]
    )  # fmt: skip
    np.testing.assert_allclose(study.heads("in_box", query="answer"), expected, atol=1e-6)


def test_pointing_tolerance_widens_the_box(model, tmp_path):
    example = scene(FIRST_SEED + 901)
    x0, y0 = example["box"][:2]
    far = {**example, "box": (x0, y0, x0 + 1, y0 + 1)}  # a 1-pixel box: the peak is rarely in it
    strict = model.study([far], tmp_path / "strict", progress=False).heads("pointing", example=far["id"])
    loose = model.study([far], tmp_path / "loose", pointing_tolerance=400, progress=False)
    assert strict.sum() < strict.size and (loose.heads("pointing", example=far["id"]) == 1).all()


def test_head_ranking_has_a_confidence_interval_over_examples(model, tmp_path):
    study = model.study(scenes(5, FIRST_SEED + 300), tmp_path / "study", progress=False)
    ranking = study.head_ranking("in_box", top=3)
    per_example = np.array([study.heads("in_box", example=name) for name in study.ids])
    best = ranking.iloc[0]
    values = per_example[:, study.layer_ids().index(int(best["layer"])), int(best["head"])]
    assert list(ranking.columns) == ["layer", "head", "mean", "low", "high", "n"] and len(ranking) == 3
    assert best["mean"] == pytest.approx(values.mean()) == pytest.approx(per_example.mean(axis=0).max())
    half = 1.959963984540054 * values.std(ddof=1) / np.sqrt(5)
    low, high = values.mean() - half, values.mean() + half
    assert (best["low"], best["high"], best["n"]) == (pytest.approx(low), pytest.approx(high), 5)
    focused = study.head_ranking("spatial_entropy", top=None)
    assert focused["mean"].is_monotonic_increasing and len(focused) == 24


def test_keep_results_saves_each_examples_result(model, tmp_path):
    examples = scenes(2, FIRST_SEED + 902)
    study = model.study(examples, tmp_path / "study", keep="results", progress=False)
    saved = study.result(examples[1]["id"])
    direct = model.capture(examples[1]["image"], examples[1]["prompt"])
    np.testing.assert_array_equal(saved.attention, direct.attention)
    np.testing.assert_array_equal(saved.sink_scores, direct.sink_scores)  # kept results can drop their sinks
    with pytest.raises(FileNotFoundError, match="keep='results'"):
        model.study(examples, tmp_path / "summary", progress=False).result(examples[0]["id"])


def test_a_summary_study_skips_the_sink_scores_no_metric_reads(model, tmp_path, monkeypatch):
    asked = []
    for name in ("capture", "capture_batch"):  # one by one, and prompt-only examples batched
        captures = getattr(type(model), name)
        monkeypatch.setattr(
            type(model),
            name,
            lambda self, *a, captures=captures, **k: asked.append(k["sink_scores"]) or captures(self, *a, **k),
        )
    for batch_size in (1, 2):
        model.study(
            scenes(2, FIRST_SEED + 904), tmp_path / f"summary{batch_size}", progress=False, batch_size=batch_size
        )
        model.study(
            scenes(2, FIRST_SEED + 904),
            tmp_path / f"results{batch_size}",
            keep="results",
            progress=False,
            batch_size=batch_size,
        )
    assert asked == [False, False, True, True, False, True]  # one by one: a capture each; batched: one for both


def test_video_and_conversation_examples_score_as_their_captures(model, tmp_path):
    """An example with a video (its box marks the object in every frame) and one given as `messages`: each row of
    the table equals what `capture` of the same input gives."""
    still = scene(FIRST_SEED + 910)
    frames = np.stack([np.asarray(still["image"].convert("RGB"))] * 4)  # 4 frames: 2 temporal groups
    first_turn = [{"type": "image", "image": still["image"]}, {"type": "text", "text": "Where is the one?"}]
    conversation = [
        {"role": "user", "content": first_turn},
        {"role": "assistant", "content": "The square."},
        {"role": "user", "content": [{"type": "text", "text": still["prompt"]}]},
    ]
    examples = [
        {"id": "video", "video": frames, "prompt": still["prompt"], "box": still["box"]},
        {"id": "talk", "messages": conversation, "box": still["box"]},
    ]
    study = model.study(examples, tmp_path / "study", progress=False)
    assert len(study.errors()) == 0
    direct = {
        "video": model.capture(qvl_widget.Video(frames), still["prompt"]),
        "talk": model.capture(messages=conversation),
    }
    for name, result in direct.items():
        last = max(index for index, token in enumerate(result.tokens) if token.part == "prompt")
        summary = result.head_summary(token=[last])
        np.testing.assert_allclose(study.heads("image_share", example=name), summary.image_mass, atol=1e-6)
        np.testing.assert_allclose(study.heads("spatial_entropy", example=name), summary.spatial_entropy, atol=1e-6)
    talk, box = direct["talk"], Box(*still["box"])
    last = max(index for index, token in enumerate(talk.tokens) if token.part == "prompt")
    size = talk.images[0].original_size
    in_box = [
        [box.share(talk.grid(token=[last], layer=layer, head=head), size).inside for head in range(4)]
        for layer in range(6)
    ]
    np.testing.assert_allclose(study.heads("in_box", example="talk"), in_box, atol=1e-6)
    video = study.heads("in_box", example="video")
    assert video.shape == (6, 4) and np.all((video >= 0) & (video <= 1))


def test_batched_and_one_by_one_studies_give_the_same_table(model, tmp_path, monkeypatch):
    """Prompt-only examples run several to a forward pass (images of one size together, another size on its own);
    an example whose batch fails is run alone, so its error is its own and its batch-mates are still scored."""
    examples = scenes(11, FIRST_SEED + 950)
    examples[3] = {**examples[3], "image": examples[3]["image"].resize((96, 64)), "box": None}
    examples[6] = {**examples[6], "prompt": examples[6]["prompt"] + " What shape is the red one?"}  # a longer prompt
    one_by_one = model.study(examples, tmp_path / "one", query="all", progress=False, batch_size=1)
    batched = model.study(examples, tmp_path / "batched", query="all", progress=False, batch_size=4)
    pd.testing.assert_frame_equal(batched.table(), one_by_one.table(), check_exact=False, rtol=0, atol=1e-6)

    batch_sizes = []
    capture_batch = type(model).capture_batch

    def failing_for_the_two_questions(self, prepared, **options):
        batch_sizes.append(len(prepared))
        if any(one.prompt.count("?") == 2 for one in prepared):
            raise ValueError("this input cannot be captured")
        return capture_batch(self, prepared, **options)

    monkeypatch.setattr(type(model), "capture_batch", failing_for_the_two_questions)
    failed = model.study(examples, tmp_path / "failed", query="all", progress=False, batch_size=4)
    assert failed.errors().to_dict("records") == [
        {"example": examples[6]["id"], "error": "ValueError: this input cannot be captured"}
    ]
    others = one_by_one.table()[one_by_one.table()["example"] != examples[6]["id"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(failed.table(), others, check_exact=False, rtol=0, atol=1e-6)
    # 10 images of one size, 4 to a batch (the failed one's again one by one), and the other size alone
    assert sorted(batch_sizes) == [1, 1, 1, 1, 1, 2, 4, 4]


# ----- resuming -----------------------------------------------------------------------------------------------


def test_a_study_stopped_midway_resumes_to_the_table_of_one_run(model, tmp_path, monkeypatch):
    examples = scenes(8, FIRST_SEED + 100)
    examples[2] = {**examples[2], "image": str(tmp_path / "missing.png")}  # an error is resumed over too
    whole = model.study(examples, tmp_path / "whole", query="all", progress=False)

    monkeypatch.setattr(qvl_widget._study, "PART_EXAMPLES", 3)
    scored = qvl_widget._study.example_rows
    calls = []

    def stop_at_the_sixth(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 6:
            raise KeyboardInterrupt  # the user stops it: no example's error
        return scored(*args, **kwargs)

    monkeypatch.setattr(qvl_widget._study, "example_rows", stop_at_the_sixth)
    with pytest.raises(KeyboardInterrupt):
        model.study(examples, tmp_path / "resumed", query="all", progress=False)
    stopped = qvl_widget.Study.open(tmp_path / "resumed")
    assert stopped.table()["example"].nunique() == 5  # the 5 scored before the stop were written, not lost
    monkeypatch.setattr(qvl_widget._study, "example_rows", scored)
    resumed = model.study(examples, tmp_path / "resumed", query="all", progress=False)

    pd.testing.assert_frame_equal(resumed.table(), whole.table())
    pd.testing.assert_frame_equal(resumed.errors(), whole.errors())
    rows = resumed.table().groupby("example").size()
    assert len(rows) == 7 and rows.nunique() == 1  # every example once: no rows twice
    assert len(list((tmp_path / "resumed" / "parts").glob("*.tmp"))) == 0


def test_the_same_call_again_runs_nothing(model, tmp_path, monkeypatch):
    examples = scenes(2, FIRST_SEED + 200)
    model.study(examples, tmp_path / "study", progress=False)
    monkeypatch.setattr(model, "capture", lambda *args, **kwargs: pytest.fail("a done example ran again"))
    assert model.study(examples, tmp_path / "study", progress=False).table()["example"].nunique() == 2


def test_a_changed_option_on_resume_is_refused_by_name(model, tmp_path):
    examples = scenes(2, FIRST_SEED + 210)
    model.study(examples, tmp_path / "study", progress=False)
    with pytest.raises(ValueError, match=r"query='last', and this call has query='phrase'") as error:
        model.study(examples, tmp_path / "study", query="phrase", progress=False)
    assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match="pointing_tolerance=0.0, and this call has pointing_tolerance=2.0"):
        model.study(examples, tmp_path / "study", pointing_tolerance=2, progress=False)
    with pytest.raises(ValueError, match=r"layers=None, and this call has layers=\[5\]"):
        model.study(examples, tmp_path / "study", layers=[-1], progress=False)
    with pytest.raises(ValueError, match="other examples"):
        model.study([*examples, scene(FIRST_SEED + 212)], tmp_path / "study", progress=False)
    assert model.study(examples, tmp_path / "study", progress=False).table()["example"].nunique() == 2


# ----- failures -----------------------------------------------------------------------------------------------


def test_failing_examples_are_recorded_and_the_study_goes_on(model, tmp_path):
    (tmp_path / "broken.png").write_bytes(b"not a picture")
    examples = scenes(5, FIRST_SEED + 400)
    examples[1]["image"] = str(tmp_path / "broken.png")
    examples[2]["box"] = (500, 500, 600, 600)  # the scene is 224 x 224
    examples[3]["prompt"] = "red " * 33_000  # past the demo model's 32,768 positions
    study = model.study(examples, tmp_path / "study", progress=False)
    errors = study.errors()
    assert list(errors["example"]) == [examples[index]["id"] for index in (1, 2, 3)]
    assert all("\n" not in line for line in errors["error"])
    assert "broken.png" in errors["error"][0] and "outside image 0" in errors["error"][1]
    assert "32768" in errors["error"][2].replace(",", "")
    assert list(study.table()["example"].unique()) == [examples[0]["id"], examples[4]["id"]]
    with pytest.raises(ValueError, match="failed, so it has no values"):
        study.heads("in_box", example=examples[1]["id"])


def test_bad_options_are_refused_before_anything_runs(model, tmp_path):
    examples = scenes(1, FIRST_SEED + 500)
    for options, message in (
        ({"query": "first"}, "query must be one of last, phrase, answer, all"),
        ({"keep": "everything"}, "keep must be 'summary'"),
        ({"answer": "a cat"}, "answer must be None"),
        ({"pointing_tolerance": -1}, "pointing_tolerance must be a number of pixels >= 0"),
        ({"layers": [99]}, "layer"),
        ({"batch_size": 0}, r"batch_size must be a whole number >= 1 \(examples per forward pass\), not 0"),
        ({"batch_size": "8"}, "batch_size must be a whole number >= 1"),
    ):
        with pytest.raises((ValueError, TypeError, IndexError), match=message):
            model.study(examples, tmp_path / "study", progress=False, **options)
    assert not (tmp_path / "study").exists()


# ----- manifests ----------------------------------------------------------------------------------------------


def write_manifests(folder, examples) -> dict[str, object]:
    """The examples as JSONL, CSV and Parquet manifests in `folder`, images in `folder/images` (relative paths)."""
    (folder / "images").mkdir(parents=True)
    rows = []
    for example in examples:
        name = f"images/{example['id']}.png"
        example["image"].save(folder / name)
        rows.append({"id": example["id"], "image": name, "prompt": example["prompt"], "box": list(example["box"])})
    (folder / "set.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    pd.DataFrame(rows).to_parquet(folder / "set.parquet")
    flat = [{**row, "box": " ".join(map(str, row["box"]))} for row in rows]
    pd.DataFrame(flat).to_csv(folder / "set.csv", index=False)
    return {suffix: folder / f"set.{suffix}" for suffix in ("jsonl", "csv", "parquet")}


def test_manifests_in_jsonl_csv_and_parquet_give_the_same_study(model, tmp_path):
    examples = scenes(2, FIRST_SEED + 600)
    manifests = write_manifests(tmp_path / "data", examples)
    direct = model.study(examples, tmp_path / "direct", progress=False).table()
    for suffix, path in manifests.items():
        study = model.study(path, tmp_path / suffix, progress=False)
        assert len(study.errors()) == 0, study.errors()
        pd.testing.assert_frame_equal(study.table(), direct)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([{"id": "a", "prompt": "What?"}], r"has no 'image or video or messages' column"),
        ([{"image": "a.png", "prompt": "What?"}], r"has no 'id' column"),
        ([{"id": "a", "image": "a.png"}], r"has no 'prompt or messages' column"),
        ([{"id": 7, "image": "a.png", "prompt": "?"}, {"id": "7", "image": "b.png", "prompt": "?"}], "'7' more than"),
        ([{"id": "a", "image": "a.png", "prompt": "?"}, {"image": "b.png", "prompt": "?"}], "row 2 has no id"),
    ],
)
def test_bad_manifests_are_refused_in_one_line_before_the_model_runs(model, tmp_path, monkeypatch, lines, message):
    path = tmp_path / "set.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    monkeypatch.setattr(model, "capture", lambda *args, **kwargs: pytest.fail("the model ran"))
    with pytest.raises(ValueError, match=message) as error:
        model.study(path, tmp_path / "study", progress=False)
    assert "\n" not in str(error.value) and not (tmp_path / "study").exists()


def test_unknown_manifests_are_refused(model, tmp_path):
    with pytest.raises(ValueError, match=r"must be a \.jsonl, \.csv or \.parquet file"):
        model.study(tmp_path / "set.txt", tmp_path / "study", progress=False)
    with pytest.raises(FileNotFoundError, match="no manifest at"):
        model.study(tmp_path / "set.csv", tmp_path / "study", progress=False)
    (tmp_path / "bad.jsonl").write_text('{"id": "a"}\nnot json\n')
    with pytest.raises(ValueError, match="line 2 is not JSON"):
        model.study(tmp_path / "bad.jsonl", tmp_path / "study", progress=False)


def test_a_dataset_like_object_is_read_row_by_row(model, tmp_path):
    examples = scenes(2, FIRST_SEED + 700)

    class Dataset:  # what the study uses of a datasets.Dataset
        column_names = ("id", "image", "prompt", "box")

        def __len__(self):
            return len(examples)

        def __getitem__(self, key):
            return [row[key] for row in examples] if isinstance(key, str) else examples[key]

    study = model.study(Dataset(), tmp_path / "study", progress=False)
    assert list(study.table()["example"].unique()) == [row["id"] for row in examples]


# ----- reading without torch ----------------------------------------------------------------------------------


def test_a_study_is_read_without_torch(model, tmp_path):
    model.study(scenes(2, FIRST_SEED + 800), tmp_path / "study", progress=False)
    done = run_python(
        WITHOUT_MODEL_STACK
        + textwrap.dedent(
            """
            import sys
            import qvl_widget
            study = qvl_widget.Study.open("study")
            print(study.heads("in_box").shape, len(study.table()), "torch" in sys.modules)
            """
        ),
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["(6,", "4)", "60", "False"]


def test_without_pyarrow_the_error_says_what_to_install(tmp_path):
    blocked = WITHOUT_MODEL_STACK.replace('("torch", "torchvision", "transformers", "triton")', '("pyarrow",)')
    (tmp_path / "study").mkdir()
    (tmp_path / "study" / "study.json").write_text(json.dumps({"format": "qvl_widget study", "examples": []}))
    done = run_python(blocked + 'import qvl_widget\nqvl_widget.Study.open("study").table()\n', tmp_path)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("ModuleNotFoundError: studies are stored with pyarrow") and 'pip install ".[study]"' in last


# ----- the demo's scenes as a data set, and several processes -----------------------------------------------------


def test_write_scenes_writes_a_manifest_the_study_reads_as_the_scenes_themselves(model, tmp_path):
    manifest = demo.write_scenes(3, tmp_path / "scenes", first_seed=FIRST_SEED + 800)
    assert manifest == tmp_path / "scenes" / "scenes.jsonl"
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    truth = [demo.make_example(seed) for seed in range(FIRST_SEED + 800, FIRST_SEED + 803)]
    assert [line["id"] for line in lines] == [f"scene-{seed}" for seed in range(FIRST_SEED + 800, FIRST_SEED + 803)]
    for line, example in zip(lines, truth, strict=True):
        assert (line["prompt"], line["phrase"], line["answer"]) == (
            example["prompt"],
            example["phrase"],
            example["answer"],
        )
        assert line["box"] == list(example["bbox"])
        stored = np.asarray(Image.open(manifest.parent / line["image"]))
        np.testing.assert_array_equal(stored, np.asarray(example["image"]))  # PNG: the very pixels
    from_files = model.study(manifest, tmp_path / "from files", progress=False, answer=False).table()
    direct = [scene(seed) for seed in range(FIRST_SEED + 800, FIRST_SEED + 803)]
    pd.testing.assert_frame_equal(from_files, model.study(direct, tmp_path / "direct", progress=False).table())
    with pytest.raises(ValueError, match=r"count must be a whole number >= 1 \(the number of scenes\), not 0"):
        demo.write_scenes(0, tmp_path / "none")


STUDY_SCRIPT = """
import sys
from qvl_widget import demo

study = demo.load(device="cpu").study(sys.argv[1], out=sys.argv[2], query="all", progress=False)
print("rows", len(study.table()), "errors", len(study.errors()))
"""


def test_a_study_under_accelerate_launch_with_two_processes_gives_the_table_of_one(model, tmp_path):
    """Each process takes its share and writes its own parts (gloo on the CPU); the table is one process's."""
    manifest = demo.write_scenes(6, tmp_path / "scenes", first_seed=FIRST_SEED + 900)
    lines = manifest.read_text().splitlines()
    lines[3] = lines[3].replace('"image": "images/', '"image": "missing/')  # a failing example, in one share
    manifest.write_text("\n".join(lines) + "\n")
    script = tmp_path / "run_study.py"
    script.write_text(STUDY_SCRIPT)
    # accelerate's multi-process launcher (torchrun); on a machine without GPUs the study's processes use gloo.
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"]
    launch += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(qvl_widget.__file__).parent.parent)}
    done = subprocess.run(
        [*launch, str(script), str(manifest), str(tmp_path / "two")],
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    # Every process's errors (the first lines of each traceback's cause), then the end of the launcher's output.
    causes = [line for line in done.stderr.splitlines() if "Error" in line and "Traceback" not in line]
    assert done.returncode == 0, "\n".join([*dict.fromkeys(causes), done.stderr[-1500:]])
    assert done.stdout.count("rows") == 2  # both processes return the whole study
    writers = {path.name.split(".")[0].rsplit("-", 1)[-1] for path in (tmp_path / "two" / "parts").glob("*.parquet")}
    assert writers == {"p0", "p1"}, writers  # both wrote parts of their own
    one = model.study(manifest, tmp_path / "one", query="all", progress=False)
    two = qvl_widget.Study.open(tmp_path / "two")
    pd.testing.assert_frame_equal(two.table(), one.table())
    pd.testing.assert_frame_equal(two.errors(), one.errors())
    assert len(one.errors()) == 1 and two.table()["example"].nunique() == 5
