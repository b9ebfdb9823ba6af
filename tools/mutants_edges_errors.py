"""Mutants of issue EDGES, part 4: each undoes one fix of a raw error that is now one line of qvl_widget's own."""

from __future__ import annotations

from mutant import Mutant

ERRORS = "tests/test_edges_errors.py"

MUTANTS = [
    Mutant(
        "edges-errors-max-frames-below-a-group",
        "qvl_widget/_video.py",
        "    if max_frames < temporal_patch_size:  # Qwen2/2.5-VL's rules round max_frames down to 0 groups",
        "    if False:  # Qwen2/2.5-VL's rules round max_frames down to 0 groups",
        "max_frames=1 goes to Qwen2-VL's sampling rule again (ZeroDivisionError)",
        (ERRORS,),
    ),
    Mutant(
        "edges-errors-generation-config-unchecked",
        "qvl_widget/_answer.py",
        "        if value not in harmless:\n            raise _refused_setting(",
        "        if False:\n            raise _refused_setting(",
        "settings of the built generation config (use_cache=False, a static cache in generation_config) pass",
        (ERRORS,),
    ),
    Mutant(
        "edges-errors-truncated-weights-raw",
        "qvl_widget/_loading.py",
        "    except SafetensorError as error:  # not an OSError",
        "    except KeyError as error:  # not an OSError",
        "a truncated model.safetensors ends in safetensors' own SafetensorError",
        (ERRORS,),
    ),
    Mutant(
        "edges-errors-meta-device-accepted",
        "qvl_widget/_loading.py",
        '    if resolved.type == "meta":',
        "    if False:",
        'device="meta" loads a model without weights',
        (ERRORS,),
    ),
    Mutant(
        "edges-errors-attach-any-processor",
        "qvl_widget/_loading.py",
        "    check_processor_matches(config, processor)\n",
        "",
        "attach takes another family's processor (a raw reshape error in the vision tower)",
        (ERRORS,),
    ),
    Mutant(
        "edges-errors-baseline-named-the-prompt",
        "qvl_widget/_loading.py",
        'prompt_label="the baseline prompt",',
        'prompt_label="the prompt",',
        "the baseline's errors name the capture's prompt",
        (ERRORS,),
    ),
    Mutant(
        "edges-errors-long-temporary-name",
        "qvl_widget/_files.py",
        'prefix=".qvl-", suffix=".tmp"',
        'prefix=f".{path.name}.", suffix=""',
        "the temporary file is named after the file, past the system's name limit for long legal names",
        (ERRORS,),
    ),
    Mutant(
        "edges-errors-float32-overflow-called-nan",
        "qvl_widget/_figures.py",
        "    if largest > np.finfo(np.float32).max:",
        "    if False:",
        "a grid past float32's range is cast to infinity",
        (ERRORS,),
    ),
    Mutant(
        "edges-errors-big-endian-refused",
        "qvl_widget/_images.py",
        "    if not pixels.dtype.isnative:",
        "    if False:",
        "a big-endian image array is refused as 'not >u2'",
        (ERRORS,),
    ),
    Mutant(
        "edges-errors-demo-seed-unchecked",
        "qvl_widget/demo/_scenes.py",
        "    if number is None or not SEED_RANGE[0] <= number <= SEED_RANGE[1]:",
        "    if False:",
        "a bad seed reaches torch's manual_seed (its raw errors)",
        (ERRORS,),
    ),
    Mutant(
        "edges-errors-cli-advises-keywords",
        "qvl_widget/cli.py",
        "        parser.error(in_cli_terms(str(error)))",
        "        parser.error(str(error))",
        "the command line advises thinking=False instead of --no-thinking",
        (ERRORS,),
    ),
    Mutant(
        "edges-errors-read-only-found-late",
        "qvl_widget/_files.py",
        "        if _read_only(folder):",
        "        if False:",
        "--out on a read-only mount is found only when writing, after the run",
        (ERRORS,),
    ),
    Mutant(
        "edges-errors-cli-answer-checked-late",
        "qvl_widget/cli.py",
        "        planned_answer(processor, config, prepared, "
        'answer.get("answer"), answer.get("max_new_tokens", 64), baseline)',
        "        pass",
        "the command line checks a given answer's special tokens and thinking block only after the model loads",
        ("tests/test_cli.py",),
    ),
]
