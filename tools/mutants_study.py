"""Mutants of issue 27 STUDY: `model.study`'s numbers, its resuming, its errors, its manifests and its widget."""

from __future__ import annotations

from mutant import Mutant

STUDY = "tests/test_study.py"
NUMBERS = f"{STUDY}::test_every_number_equals_a_direct_computation_from_capture"
RESUME = f"{STUDY}::test_a_study_stopped_midway_resumes_to_the_table_of_one_run"
WIDGET = "tests/test_study_widget.py"

MUTANTS = [
    Mutant(
        "study-in-box-not-normalised",
        "qvl_widget/_study_metrics.py",
        "    return np.divide(inside, totals, out=np.full_like(totals, np.nan), where=totals > 0)",
        "    return inside",
        "in_box: the mass inside the box not divided by the image's cells' sum (the image share leaks in)",
        (NUMBERS,),
    ),
    Mutant(
        "study-pointing-cell-corner",
        "qvl_widget/_study_metrics.py",
        "    centres = np.column_stack([(cells[:, 0] + cells[:, 2]) / 2, (cells[:, 1] + cells[:, 3]) / 2])",
        "    centres = np.column_stack([cells[:, 0], cells[:, 1]])",
        "pointing: the peak cell's top-left corner tested instead of its centre",
        (NUMBERS,),
    ),
    Mutant(
        "study-head-mean-is-max",
        "qvl_widget/_study_metrics.py",
        "    mean_heads = chosen.mean(axis=1)  # as `maps(head=None)`",
        "    mean_heads = chosen.max(axis=1)  # as `maps(head=None)`",
        "the heads' mean rows (head -1) read the heads' max map",
        (NUMBERS,),
    ),
    Mutant(
        "study-resume-runs-done-examples",
        "qvl_widget/_study.py",
        "    todo = [position for position, name in enumerate(source.ids) if name not in done]",
        "    todo = list(range(len(source.ids)))",
        "a resumed study runs every example again: the ones done before are in the table twice",
        (RESUME,),
    ),
    Mutant(
        "study-example-error-stops-the-study",
        "qvl_widget/_study.py",
        "            except EXAMPLE_ERRORS as error:",
        "            except OSError as error:",
        "an example's ValueError (a box outside its image, a prompt too long) stops the study, not recorded",
        (f"{STUDY}::test_failing_examples_are_recorded_and_the_study_goes_on",),
    ),
    Mutant(
        "study-options-not-compared",
        "qvl_widget/_study.py",
        '        if before["options"].get(name) != value:',
        '        if before["options"].get(name) != value and name == "keep":',
        "a study resumes under other options (query, layers, tolerance): its table mixes two studies",
        (f"{STUDY}::test_a_changed_option_on_resume_is_refused_by_name",),
    ),
    Mutant(
        "study-manifest-paths-from-cwd",
        "qvl_widget/_study_manifest.py",
        "            values[key] = str(folder / values[key])",
        "            values[key] = str(values[key])",
        "a manifest's image paths read from the working folder, not the manifest's",
        (f"{STUDY}::test_manifests_in_jsonl_csv_and_parquet_give_the_same_study",),
    ),
    Mutant(
        "study-duplicate-ids-allowed",
        "qvl_widget/_study_manifest.py",
        "    repeated = [name for name, count in Counter(ids).items() if count > 1]",
        "    repeated = [name for name, count in Counter(ids).items() if count > 2]",
        "an id given twice is accepted: the second example is skipped as done",
        (f"{STUDY}::test_bad_manifests_are_refused_in_one_line_before_the_model_runs",),
    ),
    Mutant(
        "study-every-process-runs-everything",
        "qvl_widget/_study.py",
        "        _run_batches(folder, list(share), source.ids, score, bar, process=processes.process_index)",
        "        _run_batches(folder, list(todo), source.ids, score, bar, process=processes.process_index)",
        "under accelerate launch every process runs every example (each example scored twice)",
        (f"{STUDY}::test_a_study_under_accelerate_launch_with_two_processes_gives_the_table_of_one",),
    ),
    Mutant(
        "study-cli-files-unchecked",
        "qvl_widget/_cli_study.py",
        "        problem = _unreadable(example)",
        "        problem = None",
        "qvl-widget study loads the model before finding a manifest's unreadable image",
        ("tests/test_study_cli.py::test_a_bad_manifest_fails_before_the_model_loads",),
    ),
    Mutant(
        "study-scenes-wrong-box",
        "qvl_widget/demo/_manifest.py",
        '"box": [float(value) for value in example["bbox"]],',
        '"box": [float(value) for value in example["distractors"][0]],',
        "demo.write_scenes gives each scene another object's box",
        (f"{STUDY}::test_write_scenes_writes_a_manifest_the_study_reads_as_the_scenes_themselves",),
    ),
    Mutant(
        "study-figure-marks-the-worst",
        "qvl_widget/_study_figure.py",
        "    ranking = study.head_ranking(metric, top=max(top, 1), query=query).head(top)",
        "    ranking = study.head_ranking(metric, top=None, query=query).tail(top)",
        "the study figure outlines the worst heads instead of the best",
        ("tests/test_study_cli.py",),
    ),
    Mutant(
        "study-widget-rows-worst-first",
        "qvl_widget/_study_widget.py",
        '    sign = 1.0 if metric == "spatial_entropy" else -1.0',
        '    sign = -1.0 if metric == "spatial_entropy" else 1.0',
        "the study widget's table lists the worst examples first",
        (f"{WIDGET}::test_the_rows_are_the_studys_values_at_its_best_head_best_first_then_failures",),
    ),
    Mutant(
        "study-widget-view-not-kept",
        "qvl_widget/_study_widget.py",
        '        shown_before = getattr(self, "shown", None) is not None',
        "        shown_before = False",
        "opening another example resets the layer and head the user chose to the table's",
        (f"{WIDGET}::test_choosing_an_example_opens_its_saved_result_with_the_view_kept",),
    ),
    Mutant(
        "study-widget-view-not-rebuilt",
        "js/study.js",
        "    if (this.view && this.viewOf !== shown) {",
        "    if (this.view && shown === null && false) {",
        "the study view keeps the first example's attention view (its tokens) after another is chosen",
        (f"{WIDGET}::test_choosing_an_example_draws_its_own_maps",),
    ),
    Mutant(
        "study-widget-no-opening-signal",
        "qvl_widget/_study_widget.py",
        "        self.shown = None\n        self._ready = False  # no payload while the traits are set one by one",
        "        self._ready = False  # no payload while the traits are set one by one",
        "the kernel replaces an example's data without telling the front ends to drop their view first",
        (f"{WIDGET}::test_choosing_an_example_opens_its_saved_result_with_the_view_kept",),
    ),
    Mutant(
        "training-resume-fresh-optimizer",
        "training/train.py",
        '        optimizer.load_state_dict(state["optimizer"])',
        "        pass",
        "a resumed training run starts with a fresh optimizer (Adam's moments lost): other weights",
        ("tests/test_training_resume.py::test_a_stopped_run_resumed_ends_with_the_weights_of_a_run_never_stopped",),
    ),
    Mutant(
        "training-warm-start-shifts-ids",
        "training/train.py",
        "    if vocabulary[: len(words)] != words:",
        "    if vocabulary[-len(words) :] != words and False:",
        "a warm start accepts a vocabulary whose words moved (the trained rows would name other words)",
        ("tests/test_training_resume.py::test_a_warm_start_whose_words_would_move_is_refused",),
    ),
]
