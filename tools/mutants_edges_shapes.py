"""Mutants of issue EDGES, shapes and sizes: inputs the processors could misread, inputs past the model's context,
and result files whose pictures or metadata do not go together."""

from __future__ import annotations

from mutant import Mutant

SHAPES = "tests/test_edges_shapes.py"
FILES = "tests/test_result_files.py"

MUTANTS = [
    Mutant(
        "edges-shapes-video-layout-guessed",
        "qvl_widget/_video.py",
        '        "input_data_format": "channels_last",',
        '        "input_data_format": None,',
        "the video processor guesses the frames' layout: a frame 1 or 3 pixels tall reaches the model channels-first",
        (f"{SHAPES}::test_a_red_clip_reaches_the_model_red_whatever_its_frames_shape",),
    ),
    Mutant(
        "edges-shapes-context-unchecked",
        "qvl_widget/_context.py",
        "    if context is None or total <= context:",
        "    if True:",
        "a given answer, max_new_tokens or a video past the model's context runs (or dies in an allocator)",
        (
            f"{SHAPES}::test_max_new_tokens_past_the_context_is_refused_before_any_allocation",
            f"{SHAPES}::test_a_given_answer_past_the_context_is_refused_before_the_model_runs",
            f"{SHAPES}::test_a_video_past_the_context_is_refused_before_the_model_runs",
        ),
    ),
    Mutant(
        "edges-shapes-picture-bytes-unbounded",
        "qvl_widget/_result.py",
        "    _check_picture_bytes(owners, archive.file_size)\n",
        "",
        "a result file's pictures decode to any size its metadata declares, whatever the file's size",
        (f"{FILES}::test_every_video_groups_picture_is_bounded_by_the_file_before_any_is_read",),
    ),
    Mutant(
        "edges-shapes-png-headers-late",
        "qvl_widget/_result.py",
        (
            "    for index, (data, geometry) in enumerate(zip(files, owners, strict=True)):\n"
            "        _check_png_header(data, index, geometry)\n"
            "    return tuple(_picture_from_png(data, index) for index, data in enumerate(files))\n"
        ),
        (
            "    pictures = []\n"
            "    for index, (data, geometry) in enumerate(zip(files, owners, strict=True)):\n"
            "        _check_png_header(data, index, geometry)\n"
            "        pictures.append(_picture_from_png(data, index))\n"
            "    return tuple(pictures)\n"
        ),
        "each picture decoded before the next one's PNG header is read: a bad last picture costs all the others",
        (f"{FILES}::test_every_png_header_is_checked_before_any_picture_is_decoded",),
    ),
    Mutant(
        "edges-shapes-image-mass-unchecked",
        "qvl_widget/_result.py",
        '    _check_image_mass(arrays["attention"], arrays["image_mass"])\n',
        "",
        "a file whose image_mass disagrees with its attention rows loads",
        (f"{FILES}::test_metadata_that_disagrees_with_what_can_be_derived_is_refused",),
    ),
    Mutant(
        "edges-shapes-prompt-offsets-unchecked",
        "qvl_widget/_result.py",
        '    if part == "prompt" and start is not None and not special and of[start:end] != text:',
        "    if False:",
        "a file whose prompt no longer matches its tokens' offsets loads",
        (f"{FILES}::test_metadata_that_disagrees_with_what_can_be_derived_is_refused",),
    ),
    Mutant(
        "edges-shapes-token-order-unchecked",
        "qvl_widget/_result.py",
        "        if PARTS.index(after) < PARTS.index(before):",
        "        if False:",
        "a file with answer tokens before prompt tokens loads",
        (f"{FILES}::test_metadata_that_disagrees_with_what_can_be_derived_is_refused",),
    ),
]
