"""Mutants of the engine and the command line (issue 24's kinds outside the views): producing rows where positions
are not consecutive, conversations whose texts touch or repeat, the CLI's video sampling options and its
visual-sink report on a hybrid model, and the refusals and baselines whose tests used to accept anything.

Same format as `tools/mutants.py` (which joins this list to its own)."""

from __future__ import annotations

from mutant import Mutant

ANSWER = "tests/test_answer.py"
CONVERSATION = "tests/test_conversation.py"
CLI = "tests/test_cli.py"
FILES = "tests/test_result_files.py"
VIDEO = "tests/test_video.py"

MUTANTS = [
    # ----- producing rows: the position before, not the row before ---------------------------------------------
    Mutant(
        "engine-producing-previous-row",
        "qvl_widget/_result.py",
        "row = row_of.get(int(self.query_positions[index]) - 1)",
        "row = index - 1 if index > 0 else None",
        "producing rows: the previous row, not the row of the position before (differs after an image between "
        "query rows)",
        (ANSWER,),
    ),
    Mutant(
        "engine-has-producing-previous-row",
        "qvl_widget/_result.py",
        "return self._rows_before()[token] is not None",
        "return token > 0",
        "has_producing_row: every token but the first has one (the token right after a second image too)",
        (ANSWER,),
    ),
    # ----- conversations: texts that touch, texts that repeat ---------------------------------------------------
    Mutant(
        "engine-conversation-touching-texts-apart",
        "qvl_widget/_inputs.py",
        "if merged and merged[-1][1] == start:",
        "if merged and merged[-1][1] == start and False:",
        "two text parts side by side in one message are joined by a newline in the prompt, and the token across "
        "them is taken for the template's",
        (CONVERSATION,),
    ),
    Mutant(
        "engine-conversation-spans-searched",
        "qvl_widget/_inputs.py",
        "spans[number] = (len(rebuilt), len(rebuilt) + len(conversation.parts[number].text))",
        "spans[number] = _find_text(text, conversation.parts[number], 0)",
        "each text found by searching the input text from its start: a repeated text maps to its first occurrence",
        (CONVERSATION,),
    ),
    Mutant(
        "engine-conversation-search-restarts",
        "qvl_widget/_inputs.py",
        "            cursor = spans[number][1]\n",
        "            cursor = spans[number][0]\n",
        "a template that changes texts: a text repeated right after itself is found where it was found before",
        (CONVERSATION,),
    ),
    Mutant(
        "engine-conversation-search-in-the-template",
        "qvl_widget/_inputs.py",
        "                cursor += len(before)\n",
        "                pass\n",
        "a template that changes texts: a text is searched from the end of the one before, so a text 'user' is "
        "found in the template's '<|im_start|>user' (the bug this fixed)",
        (CONVERSATION,),
    ),
    # ----- the command line --------------------------------------------------------------------------------------
    Mutant(
        "engine-cli-fps-ignored",
        "qvl_widget/cli.py",
        "Video(path, fps=arguments.fps, max_frames=arguments.max_frames)",
        "Video(path, max_frames=arguments.max_frames)",
        "--fps is accepted and ignored: the video is sampled at the model's rate",
        (CLI,),
    ),
    Mutant(
        "engine-cli-max-frames-ignored",
        "qvl_widget/cli.py",
        "Video(path, fps=arguments.fps, max_frames=arguments.max_frames)",
        "Video(path, fps=arguments.fps)",
        "--max-frames is accepted and ignored: the video is sampled up to the model's own most frames",
        (CLI,),
    ),
    Mutant(
        "engine-cli-max-frames-without-video",
        "qvl_widget/cli.py",
        "if not arguments.video and (arguments.fps is not None or arguments.max_frames is not None):",
        "if not arguments.video and arguments.fps is not None:",
        "--max-frames alone (no --video) is accepted and does nothing",
        (CLI,),
    ),
    Mutant(
        "engine-cli-sinks-named-by-position",
        "qvl_widget/cli.py",
        'counts = ", ".join(f"{result.layer_ids[layer]}: {len(result.sinks(layer))}" for layer in layers)',
        'counts = ", ".join(f"{layer}: {len(result.sinks(layer))}" for layer in layers)',
        "the --drop-sinks report names layers by their position among the captured ones (wrong on Qwen3.5)",
        (CLI,),
    ),
    Mutant(
        "engine-cli-sinks-of-the-last-layer",
        "qvl_widget/cli.py",
        'counts = ", ".join(f"{result.layer_ids[layer]}: {len(result.sinks(layer))}" for layer in layers)',
        'counts = ", ".join(f"{result.layer_ids[layer]}: {len(result.sinks())}" for layer in layers)',
        "the --drop-sinks report gives every layer the last layer's count",
        (CLI,),
    ),
    # ----- result files: refused before they are read --------------------------------------------------------------
    Mutant(
        "engine-files-metadata-read-before-its-cap",
        "qvl_widget/_result.py",
        '    if header.dtype.kind != "U" or header.shape != () or not 0 < header.nbytes <= _MAX_METADATA_BYTES:\n'
        '        raise _UnreadableError(f"its metadata is {header}, not one text of at most '
        '{binary_size(_MAX_METADATA_BYTES)}")\n'
        '    text = archive.read("metadata.npy").item()\n',
        '    raw = archive.read("metadata.npy")\n'
        '    if header.dtype.kind != "U" or header.shape != () or not 0 < header.nbytes <= _MAX_METADATA_BYTES:\n'
        '        raise _UnreadableError(f"its metadata is {header}, not one text of at most '
        '{binary_size(_MAX_METADATA_BYTES)}")\n'
        "    text = raw.item()\n",
        "load reads the metadata, then checks it against its cap (a metadata over the cap is read all the same)",
        (FILES,),
    ),
    Mutant(
        "engine-files-positions-read-before-the-headers-are-checked",
        "qvl_widget/_result.py",
        "    _check_headers(headers, contents)\n    _check_memory(headers, contents)\n",
        '    positions = {name: archive.read(f"{name}.npy") for name in ("query_positions", "image_positions")}\n'
        "    _check_headers(headers, contents)\n    _check_memory(headers, contents)\n",
        "load reads the positions' data before checking the headers against the metadata (same refusal, later)",
        (FILES,),
    ),
    # ----- assertions that used to hold whatever the code did ------------------------------------------------------
    Mutant(
        "engine-still-producing-ignored",
        "qvl_widget/_still.py",
        "if (row := shown_row(state, token)) is not None]",
        'if (row := state.tokens[token]["producer"]) is not None]',
        "the widget's still picture shows the producing steps' maps with producing=False",
        ("tests/test_answer_views.py::test_widget_producing_option_is_checked",),
    ),
    Mutant(
        "engine-view-reverse-tint-scale",
        "js/tokens.js",
        "cssColour(colormap, weights[index], max, 0.15 + 0.7 * share)",
        "cssColour(colormap, weights[index], max, 0.15 + 0.7 * Math.sqrt(share))",
        "chips tinted on another scale than their share of the largest (the strongest chip stays the strongest)",
        ("tests/test_answer_views.py::test_the_reverse_view_tints_answer_words_by_their_producing_rows",),
    ),
    # ----- a video's baseline ------------------------------------------------------------------------------------
    Mutant(
        "engine-video-baseline-resampled",
        "qvl_widget/_loading.py",
        "                list(prepared.media),\n",
        "                [type(m)(**{**vars(m), 'frames': m.frames[::-1]}) if hasattr(m, 'indices') else m"
        " for m in prepared.media],\n",
        "the baseline sees another sampling of the video (its frames in another order) than the capture",
        (VIDEO,),
    ),
]
