"""Mutants of issue 24's own audit (item 3): thirty one-line bugs in the code of the last two weeks that are not of
the kinds the issue lists: answers and thinking, conversations, video input, maps and sinks, verify, the views
(head overview, film strip, panels, labels, view state, payload keys, still picture), the CLI, the figures,
load(processor=) and the training script's budget. Each is a bug a user would see.

Same format as `tools/mutants.py` (which joins this list to its own)."""

from __future__ import annotations

from mutant import Mutant

ANSWER = "tests/test_answer.py"
THINKING = "tests/test_thinking.py"
CONVERSATION = "tests/test_conversation.py"
VIDEO_INPUT = "tests/test_video_input.py"
VIDEO = "tests/test_video.py"
MAPS = "tests/test_maps.py"
RESULT = "tests/test_result.py"
VERIFY = "tests/test_verify.py"
STATE = "tests/test_view_state.py"
HTML = "tests/test_html.py"
FALLBACK = "tests/test_widget_fallback.py"
CLI = "tests/test_cli.py"
OUTPUTS = "tests/test_outputs.py"
VIDEO_FIGURES = "tests/test_video_figures.py"
FINE_TUNE = "tests/test_fine_tune.py"
TRAINING = "tests/test_training_tasks.py"
HEADS_JS = "js/tests/heads.test.js"
LABELS_JS = "js/tests/labels.test.js"
MAPS_BROWSER = "tests/test_maps_browser.py"
VIDEO_BROWSER = "tests/test_video_browser.py"
ANSWER_VIEWS = "tests/test_answer_views.py"
WIDGET_BROWSER = "tests/test_widget_browser.py"

MUTANTS = [
    # ----- engine: answers and thinking ---------------------------------------------------------------------
    Mutant(
        "audit-answer-sampling-ignored",
        "qvl_widget/_answer.py",
        'options = {"do_sample": False, **generate_kwargs}',
        'options = {**generate_kwargs, "do_sample": False}',
        "generate_kwargs={'do_sample': True, ...} is overridden: every answer is greedy",
        (ANSWER,),
    ),
    Mutant(
        "audit-answer-config-override-ignored",
        "qvl_widget/_answer.py",
        "    chosen |= set(keywords) - set(config.update(**keywords))  # update returns what is not a setting",
        "    chosen |= set(keywords)",
        "a model whose generation config asks for beam search is refused even with the generate_kwargs override "
        "the refusal itself advises",
        (ANSWER,),
    ),
    Mutant(
        "audit-answer-two-closes-accepted",
        "qvl_widget/_answer.py",
        "if closed > 1 or opened > 1:",
        "if closed > 1 and opened > 1:",
        "a given answer with two '</think>' (and one '<think>' or none) is accepted; its second block counts as "
        "the answer",
        (THINKING,),
    ),
    # ----- engine: conversations --------------------------------------------------------------------------
    Mutant(
        "audit-inputs-prompt-offsets-skip-newline",
        "qvl_widget/_inputs.py",
        "offset += end - start + 1",
        "offset += end - start",
        "a conversation's second text: its tokens' offsets one character early in the prompt (the joining "
        "newline not counted)",
        (CONVERSATION,),
    ),
    # ----- engine: video input ----------------------------------------------------------------------------
    Mutant(
        "audit-video-decode-stops-one-early",
        "qvl_widget/_video.py",
        "if decoded > last:",
        "if decoded >= last:",
        "a video file's decoding stops before its last sampled frame (then taken for a stream shorter than it "
        "says and sampled again over fewer frames)",
        (VIDEO_INPUT,),
    ),
    # ----- engine: maps, sinks, head summary --------------------------------------------------------------
    Mutant(
        "audit-result-head-summary-image-mass-axis",
        "qvl_widget/_result.py",
        "mass[layer] = chosen.astype(np.float64).sum(axis=2).mean(axis=1)",
        "mass[layer] = chosen.astype(np.float64).sum(axis=1).mean(axis=1)",
        "head_summary(image=k): each head's image share summed over the tokens and averaged over the image's "
        "cells (axes swapped)",
        (MAPS,),
    ),
    Mutant(
        "audit-result-head-summary-tokens-are-rows",
        "qvl_widget/_result.py",
        "return HeadSummary(mass, entropy, self.layer_ids, tuple(tokens), producing)",
        "return HeadSummary(mass, entropy, self.layer_ids, tuple(rows), producing)",
        "head_summary(producing=True).tokens lists the producing rows, not the tokens chosen",
        (MAPS, ANSWER),
    ),
    Mutant(
        "audit-result-relative-floor-unit",
        "qvl_widget/_result.py",
        "np.float32(RELATIVE_FLOOR / self.attention.shape[-1])",
        "np.float32(RELATIVE_FLOOR)",
        "relative maps: the baseline's floor is RELATIVE_FLOOR itself, not RELATIVE_FLOOR / image tokens (a unit "
        "mix-up: ratios to small baselines flattened)",
        (MAPS,),
    ),
    Mutant(
        "audit-result-relative-baseline-keeps-sinks",
        "qvl_widget/_result.py",
        "                _drop_sinks(baseline[:, :, None, :], sinks)\n",
        "                pass\n",
        "relative=True with drop_sinks=True: the baseline keeps its sinks (the numerator drops them)",
        (MAPS,),
    ),
    Mutant(
        "audit-result-picture-index",
        "qvl_widget/_result.py",
        "return self.pictures[sum(geometry.groups for geometry in self.images[:image]) + group]",
        "return self.pictures[image + group]",
        "result.picture(image, group): an image after a video gets one of the video's frames",
        (VIDEO, RESULT),
    ),
    Mutant(
        "audit-capture-sink-score-norm",
        "qvl_widget/_capture.py",
        "values.square().mean(dim=-1)",
        "values.square().sum(dim=-1)",
        "sink scores divided by the hidden state's norm, not its RMS (sqrt(D) times smaller: no token passes tau)",
        (MAPS,),
    ),
    # ----- engine: verify ---------------------------------------------------------------------------------
    Mutant(
        "audit-verify-advice-in-tokens",
        "qvl_widget/_verify.py",
        'shrink = f"pass a smaller image (max_pixels={image_fitting * pixels_per_token} or less)"',
        'shrink = f"pass a smaller image (max_pixels={image_fitting} or less)"',
        "verify's refusal advises max_pixels in image tokens, not pixels (a unit mix-up: the advice never fits)",
        (VERIFY,),
    ),
    # ----- views: head overview ---------------------------------------------------------------------------
    Mutant(
        "audit-heads-focus-is-entropy",
        "js/heads.js",
        "values[cell] = count ? 1 - total / count / 254 : NaN;",
        "values[cell] = count ? total / count / 254 : NaN;",
        "head overview 'focus': each head's mean entropy, not 1 - entropy (spread heads drawn brightest)",
        (HEADS_JS, MAPS_BROWSER),
    ),
    Mutant(
        "audit-heads-tooltip-transposed",
        "js/heads.js",
        "const value = paint.values[cell.layer * this.heads + cell.head];",
        "const value = paint.values[cell.head * this.layers + cell.layer];",
        "head overview: the tooltip reads the transposed cell's number (another layer and head's)",
        (MAPS_BROWSER,),
    ),
    # ----- views: film strip and panels -------------------------------------------------------------------
    Mutant(
        "audit-filmstrip-play-at-last-stays",
        "js/filmstrip.js",
        "    if (this.shown >= last) this.actions.show(0);\n",
        "",
        "film strip: Play on the last group does not start again from the first (it stops at once)",
        (VIDEO_BROWSER,),
    ),
    Mutant(
        "audit-filmstrip-tooltip-shown-group",
        "js/filmstrip.js",
        "cell.title = `${groupLabel(group, this.medium)}: ${format(value)} ${what}`;",
        "cell.title = `${groupLabel(this.shown, this.medium)}: ${format(value)} ${what}`;",
        "film strip: every cell's tooltip names the group on screen, not its own",
        (VIDEO_BROWSER,),
    ),
    Mutant(
        "audit-panels-caption-stale",
        "js/panels.js",
        "      this.describe(panel, index);\n      changed = true;",
        "      changed = true;",
        "a video's caption keeps naming the group it opened on after another group is shown",
        (VIDEO_BROWSER,),
    ),
    Mutant(
        "audit-panels-sink-marks-rows-axis",
        "js/panels.js",
        "const row = Math.floor(cell / medium.cols);",
        "const row = Math.floor(cell / medium.rows);",
        "visual sinks outlined in the wrong rows of a grid that is not square",
        (MAPS_BROWSER,),
    ),
    # ----- views: labels, view state, payload keys, still picture ----------------------------------------
    Mutant(
        "audit-labels-producer-row-zero",
        "js/labels.js",
        "if (token.producer === null)",
        "if (!token.producer)",
        "caption: the token produced by row 0 (the first after the image's) is said to have no producing step",
        (LABELS_JS, ANSWER_VIEWS),
    ),
    Mutant(
        "audit-state-media-width-height-swapped",
        "qvl_widget/_view_state.py",
        "                width=geometry.original_size[0],\n                height=geometry.original_size[1],",
        "                width=geometry.original_size[1],\n                height=geometry.original_size[0],",
        "view state: each medium's width and height swapped (a wide picture shown in a tall frame)",
        (STATE, WIDGET_BROWSER),
    ),
    Mutant(
        "audit-payload-key-flags-swapped",
        "qvl_widget/_payload.py",
        'flags = ("|relative" if relative else "") + ("|drop_sinks" if drop_sinks else "")',
        'flags = ("|drop_sinks" if drop_sinks else "") + ("|relative" if relative else "")',
        "payload keys name relative and drop_sinks in the other order than the page looks them up: relative maps "
        "with sinks dropped are missing from the HTML page",
        (HTML, MAPS_BROWSER),
    ),
    Mutant(
        "audit-still-group-caption-zero-based",
        "qvl_widget/_still.py",
        'parts.append(f"video group {min(state.group, groups - 1) + 1} of {groups}")',
        'parts.append(f"video group {min(state.group, groups - 1)} of {groups}")',
        "still picture's caption: the video group counted from 0 ('group 0 of 4')",
        (FALLBACK,),
    ),
    # ----- CLI -------------------------------------------------------------------------------------------
    Mutant(
        "audit-cli-opens-on-first-layer",
        "qvl_widget/cli.py",
        "open_layer = layers[-1] if open_layer is None else open_layer",
        "open_layer = layers[0] if open_layer is None else open_layer",
        "the command's HTML and matrix figure open on the first of --layers, not the last (as --help says)",
        (CLI, OUTPUTS),
    ),
    Mutant(
        "audit-cli-matrix-window-past-end",
        "qvl_widget/cli.py",
        "start = min(max(0, middle - MATRIX_MAX_ROWS // 2), count - MATRIX_MAX_ROWS)",
        "start = max(0, middle - MATRIX_MAX_ROWS // 2)",
        "the matrix figure of a long result around a selection near its end asks for rows past the last token",
        (CLI, OUTPUTS),
    ),
    Mutant(
        "audit-cli-html-limit-in-mb",
        "qvl_widget/cli.py",
        "return round(arguments.html_max_mib * MIB)",
        "return round(arguments.html_max_mib * 1_000_000)",
        "--html-max-mib counted in MB (10**6 bytes), not MiB (a unit mix-up: a smaller limit than asked)",
        (CLI, OUTPUTS),
    ),
    Mutant(
        "audit-cli-mixed-selection-producing",
        "qvl_widget/cli.py",
        "return all(result.tokens[index].part in GENERATED_PARTS for index in selected)",
        "return any(result.tokens[index].part in GENERATED_PARTS for index in selected)",
        "a --phrase found in the prompt and in the answer draws the prompt's tokens with producing maps too",
        (CLI, OUTPUTS),
    ),
    # ----- figures ---------------------------------------------------------------------------------------
    Mutant(
        "audit-figures-frames-scale-all-groups",
        "qvl_widget/_figures.py",
        "vmax = max(float(grid[group].max()) for group in shown_groups)",
        "vmax = float(grid.max())",
        "frames_figure(groups=...): the colour scale tops at the largest value of every group, not of those shown",
        (VIDEO_FIGURES,),
    ),
    Mutant(
        "audit-figures-input-named-by-position",
        "qvl_widget/_figures.py",
        'return f"{kind} {same.index(index) + 1} of {len(same)}" if len(same) > 1 else kind',
        'return f"{kind} {index + 1} of {len(same)}" if len(same) > 1 else kind',
        "figure titles number a video by its position among all media ('video 3 of 2' after an image)",
        (VIDEO_FIGURES,),
    ),
    # ----- loading and training --------------------------------------------------------------------------
    Mutant(
        "audit-loading-processor-advice",
        "qvl_widget/_loading.py",
        "check_processor_files(source, model_folder=True)",
        "check_processor_files(source, model_folder=False)",
        "load() of a fine-tuned folder without its processor: the error gives the processor folder's advice, not "
        "'pass processor= the base model'",
        (FINE_TUNE,),
    ),
    Mutant(
        "audit-train-minutes-as-seconds",
        "training/train.py",
        "started + args.minutes * 60",
        "started + args.minutes",
        "training: --minutes taken as seconds (a unit mix-up: the budget ends at once)",
        (TRAINING,),
    ),
]
