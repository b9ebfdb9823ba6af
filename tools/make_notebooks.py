"""Write the notebooks, run each on the offline demo model, and store them with their outputs (`make notebooks`).

    python tools/make_notebooks.py               # all of them
    python tools/make_notebooks.py quickstart    # some: quickstart, original_api, video

Edit the notebooks here, not in Jupyter. Each is built from the cells below, executed with nbclient on the demo
model (QVL_WIDGET_MODEL=demo) in a temporary folder (the files it writes under outputs/ stay out of the repository)
and stored with its outputs, so GitHub, nbviewer and `jupyter nbconvert` show its figures without running it.

Stored the same way on every run on one machine (`stored`): fixed cell ids, no execution timings, no kernel
versions, no widget state. A widget's output keeps its still picture and its text (`AttentionWidget`'s display
bundle) but not its view reference: that names a widget model that lived in the kernel that ran the notebook, so no
host can draw it afterwards (JupyterLab shows "Error displaying widget: model not found" instead of the picture), and
its model id changes on every run. Run All makes the widgets live again.
"""

from __future__ import annotations

import copy
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import qvl_widget

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "notebooks"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
INSTALLED_IN = f"{Path(qvl_widget.__file__).resolve().parents[1]}{os.sep}"  # ".../" above qvl_widget/
TIMEOUT = 600  # seconds a cell may take: a hang guard, not a speed limit
KERNEL_SPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
STORED = (
    "*This notebook is stored with its outputs (from the offline demo model), so you can read it without running it; "
    "Run All (JupyterLab: Run → Run All Cells) {runs}.*"
)


def notebook(title: str, cells: list[NotebookNode], widgets: bool = True) -> NotebookNode:
    """A notebook whose first cell is `title` (markdown: its heading and introduction), with the note that it is
    stored with its outputs right under the heading (and, where it shows widgets, that running it makes them live)."""
    heading, _, rest = title.partition("\n\n")
    stored_note = STORED.format(runs="makes its widgets live" if widgets else "runs it again")
    cells = [new_markdown_cell(f"{heading}\n\n{stored_note}\n\n{rest}".rstrip()), *cells]
    for index, cell in enumerate(cells):
        cell["id"] = f"cell-{index:02d}"  # stable ids: rewriting a notebook changes only what changed
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = dict(KERNEL_SPEC)
    nb.metadata["language_info"] = {"name": "python"}
    return nb


SETUP = """import os

import qvl_widget
from qvl_widget import demo

# Which model: "demo" is the small model shipped with qvl_widget (offline, CPU, a second per capture). For a real
# one, set a hub id such as "Qwen/Qwen2-VL-2B-Instruct" (downloaded once, about 4.5 GB; about 9 GB of RAM on a
# CPU in float32) or a local model folder, here or in the QVL_WIDGET_MODEL environment variable.
MODEL = os.environ.get("QVL_WIDGET_MODEL", "demo")
OUT = "outputs"  # files this notebook writes go here
if MODEL == "demo":
    example = demo.make_example(200_006)  # one of the demo's own synthetic scenes, never seen in training
    image, prompt, phrase = example["image"], example["prompt"], example["phrase"]
    boxes = [qvl_widget.Box(*example["bbox"], label=phrase)]  # the named object, outlined in the views below
else:
    image = qvl_widget.example_image()  # a drawn red cat; or a path / PIL image of your own
    prompt, phrase = "Where is the red cat on the image?", "red cat"
    boxes = None  # or [(x0, y0, x1, y1, "red cat")]: a region in pixels of the image, outlined with its share"""

LOAD = """model = demo.load() if MODEL == "demo" else qvl_widget.load(MODEL)  # cuda > mps > cpu; bf16 on cuda
model"""


def quickstart() -> NotebookNode:
    return notebook(
        "# qvl_widget quickstart\n\nLoad a Qwen vision-language model, let it answer a question about an image, "
        "and see where each token of the question and of the answer looks in the image (every layer and "
        "head, on the model's own fast attention); explore it, and export it.\n\n"
        "It runs offline on the small demo model shipped with qvl_widget (shapes and colours). To use a real "
        "model, set `MODEL` in the next cell (or the `QVL_WIDGET_MODEL` environment variable) to a hub id "
        "such as `Qwen/Qwen2-VL-2B-Instruct` or a local folder.\n\n"
        "*Words*: a **token** is a piece of text the model reads (a word or part of one); a **layer** is one of "
        "the model's stacked processing steps; a **head** is one of several parallel attention patterns in a "
        "layer; the **image share** is how much of a token's attention goes to the image at all.",
        [
            new_code_cell(SETUP),
            new_code_cell(LOAD),
            new_markdown_cell(
                "## Capture the answer\n\n`answer=True` lets the model answer (greedy, the same answer as "
                "`model.generate`) and keeps, for every token of the prompt and of the answer, its attention to the "
                "image in every layer and head."
            ),
            new_code_cell(
                "result = model.capture(image, prompt, answer=True, max_new_tokens=16)\n"
                'print("answer:", result.answer)\n'
                "result"
            ),
            new_markdown_cell(
                "## Explore\n\nHover a token to see where it looks; click to pin, shift-click to add. An answer word "
                "shows where the model looked *while writing it* (the *Producing step* menu's *off* shows each token's "
                "own row instead). The layer and head menus ask the kernel for that choice's maps; everything else "
                "happens in the browser. With the demo model the widget opens on the answer word, in the layer where "
                "it looks (`demo.recommended_view`)."
            ),
            new_code_cell(
                'view = demo.recommended_view(result, example) if MODEL == "demo" else {"phrase": phrase}\n'
                "result.widget(**view)"
            ),
            new_markdown_cell(
                "The question's own words look much less in the demo model (it looks where it chooses the answer); a "
                "real model's words often look at what they name. The prompt's tokens:"
            ),
            new_code_cell("result.widget(phrase=phrase, producing=False, boxes=boxes)"),
            new_markdown_cell(
                "## Numbers\n\n`grid` gives one image's `[rows, cols]` map for any selection (the same choices as the "
                "widget); `token_boxes` says which box of the original image each cell covers, and a `Box` (the "
                "demo's named object) the share of the map inside it."
            ),
            new_code_cell(
                'grid = result.grid(**{key: value for key, value in view.items() if key != "boxes"})\n'
                "row, col = divmod(int(grid.argmax()), grid.shape[1])\n"
                "box = result.token_boxes()[row * grid.shape[1] + col].round()\n"
                'print(f"hottest cell: row {row}, col {col}, box {box}")\n'
                'for named in view.get("boxes", []):\n'
                "    print(named.share(grid, result.images[0].original_size))"
            ),
            new_markdown_cell(
                "## Export\n\nOne self-contained HTML file (works offline, from `file://`), and a lossless result file."
            ),
            new_code_cell(
                'html = result.to_html(f"{OUT}/attention.html", **view)\n'
                'saved = result.save(f"{OUT}/attention.npz")\n'
                'print(html, f"{html.stat().st_size / 2**20:.1f} MiB")\n'
                "assert (qvl_widget.AttentionResult.load(saved).attention == result.attention).all()"
            ),
        ],
    )


def original_api() -> NotebookNode:
    return notebook(
        "# The original API: `QwenVLCrossModalVisualizer`\n\n"
        "Three calls that return paper-ready figures and arrays. "
        "The visualizer loads the model once and reuses the captured attention for the same image and prompt.",
        [
            new_code_cell(SETUP),
            new_code_cell(
                'visualizer = qvl_widget.QwenVLCrossModalVisualizer(demo.MODEL_DIR if MODEL == "demo" else MODEL)\n'
                "visualizer"
            ),
            new_markdown_cell(
                "## Heatmaps across layers\n\n"
                "The original image, then for each layer its heatmap and the heatmap over the image. (With the demo "
                "model the question's words look only weakly at the named object: it looks from the token that "
                "predicts the answer; see the quickstart.)"
            ),
            new_code_cell(
                "figure = visualizer.visualize_cross_modal_attention(\n"
                "    image, prompt, target_phrase=phrase, layers_to_show=(-3, -2, -1), boxes=boxes, "
                'save_path=f"{OUT}/layers.pdf"\n)\n'
                "figure"
            ),
            new_markdown_cell("## One overlay at the original resolution"),
            new_code_cell(
                "overlay = visualizer.create_attention_heatmap_on_image("
                "image, prompt, target_phrase=phrase, boxes=boxes)\n"
                "print(overlay.size)\noverlay"
            ),
            new_markdown_cell("## Every text token against every image token"),
            new_code_cell(
                "matrix = visualizer.create_token_image_attention_matrix("
                'image, prompt, save_path=f"{OUT}/matrix.png")\n'
                "print(matrix.shape)  # [text tokens, image tokens]\nvisualizer.last_figure"
            ),
        ],
        widgets=False,
    )


VIDEO_SETUP = """import os

import qvl_widget
from qvl_widget import Video, demo

MODEL = os.environ.get("QVL_WIDGET_MODEL", "demo")
VIDEO = "clip.mp4"  # with a real model: your video file
OUT = "outputs"
if MODEL == "demo":
    clip = demo.make_clip(200_006, groups=4)  # 8 frames of a held-out scene; its named object moves
    # 224 px frames, 8 x 8 tokens a group: the size the demo model was trained at
    video = Video(demo.frames_array(clip), min_pixels=224 * 224, max_pixels=224 * 224)
    prompt, phrase = clip["prompt"], clip["phrase"]
    boxes = demo.clip_boxes(clip)  # the moving object's box in each group (Box(..., group=g)), outlined below
    print(prompt, "| the object is in:", ", ".join(clip["regions"]))
else:
    video = Video(VIDEO, fps=2, max_frames=16)  # 2 frames a second, at most 16
    prompt, phrase = "What is moving in the video?", None
    # or a moving object's box per temporal group, in pixels of the frames:
    # [qvl_widget.Box(x0, y0, x1, y1, label="cat", group=0), qvl_widget.Box(..., group=1), ...]
    boxes = None"""


def video() -> NotebookNode:
    return notebook(
        "# qvl_widget on a video\n\n"
        "Give a Qwen vision-language model a video and a question, and see, for every token and every temporal group "
        "of frames, where it looked. Qwen-VL models read a video as pairs of frames: each pair is one *temporal "
        "group* of image tokens, and attention is captured on all of them at once (the model's own fast attention, "
        "no eager pass).\n\n"
        "It runs offline on the demo model shipped with qvl_widget, on a synthetic clip in which the object the "
        "question names moves from region to region (one region per group). For a real model, set `MODEL` (or the "
        "`QVL_WIDGET_MODEL` environment variable) to a hub id such as `Qwen/Qwen2-VL-2B-Instruct`, and `VIDEO` to a "
        'video file (decoded with PyAV: from the checkout, `pip install ".[video]"`).',
        [
            new_code_cell(VIDEO_SETUP),
            new_code_cell('model = demo.load() if MODEL == "demo" else qvl_widget.load(MODEL)\nmodel'),
            new_markdown_cell(
                "## Capture\n\n`capture` takes a `Video` wherever it takes an image (mixed with images too). The "
                "result keeps every temporal group's tokens, which frames each covers, and their times."
            ),
            new_code_cell(
                "result = model.capture(video, prompt, answer=True, max_new_tokens=4)\n"
                'print("answer:", result.answer)\n'
                "(geometry,) = result.images\n"
                'print(f"{geometry.groups} groups of {geometry.rows} x {geometry.cols} tokens; frames per group:", '
                "geometry.group_frames)\n"
                'print("times (s):", geometry.group_times)'
            ),
            new_markdown_cell(
                "## Where the model looks, group by group\n\n`result.grid(...)` of a video is `[groups, rows, cols]`: "
                "one map per temporal group. With the demo model, the token that predicts the answer looks at the "
                "named object (`demo.recommended_view`); here, group by group, does it follow the object as it moves?"
            ),
            new_code_cell(
                'last_prompt_token = max(i for i, token in enumerate(result.tokens) if token.part == "prompt")\n'
                "maps = result.grid(token=last_prompt_token, layer=2)\n"
                "print(maps.shape)\n"
                'if MODEL == "demo":\n'
                "    for group, grid in enumerate(maps):\n"
                "        hit = demo.points_at_named(grid, demo.group_example(clip, group))\n"
                """        print(f"group {group} ({clip['regions'][group]}):", """
                '"on the object" if hit else "elsewhere")'
            ),
            new_markdown_cell(
                "For a paper: every group's map on its frame, one colour scale (`figures.frames_figure`). Each "
                "group's box (`Box(..., group=g)`) is outlined on its own frame, with the share of that group's map "
                "inside it under the panel."
            ),
            new_code_cell(
                "from qvl_widget import figures\n\n"
                "figures.frames_figure(result, token=last_prompt_token, layer=2, boxes=boxes)"
            ),
            new_markdown_cell(
                "## Explore\n\nHover a token: the overlay shows its map on the current group. Each group's picture is "
                "its first frame, with the box of that group and the share of attention inside it; the film strip "
                "changes the group. It opens on the token that predicts the answer, its own map (`producing=False`) "
                "as above; the *Producing step* menu's *every token* shows the step that predicted it instead."
            ),
            new_code_cell("result.widget(token=[last_prompt_token], layer=2, producing=False, boxes=boxes)"),
            new_markdown_cell(
                "## Export\n\nOne offline HTML file, and the result itself (frames and attention, bit-exact)."
            ),
            new_code_cell(
                "os.makedirs(OUT, exist_ok=True)\n"
                'print(result.to_html(f"{OUT}/video.html", token=[last_prompt_token], layer=2, boxes=boxes))\n'
                'print(result.save(f"{OUT}/video.npz"))'
            ),
        ],
    )


NOTEBOOKS: dict[str, Callable[[], NotebookNode]] = {
    "quickstart": quickstart,
    "original_api": original_api,
    "video": video,
}


# ----- run and store ----------------------------------------------------------------------------------------------


def executed(nb: NotebookNode) -> NotebookNode:
    """A copy of `nb` run top to bottom on the demo model, in a temporary folder; a cell's error stops it."""
    nb = copy.deepcopy(nb)
    environment = {
        **os.environ,
        "QVL_WIDGET_MODEL": "demo",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # "Loading weights: ... it/s": a line that changes on every run
        "PYTHONHASHSEED": "0",
    }
    with tempfile.TemporaryDirectory(prefix="qvl-notebook-") as folder:
        client = NotebookClient(
            nb,
            timeout=TIMEOUT,
            kernel_name=KERNEL_SPEC["name"],
            resources={"metadata": {"path": folder}},
            record_timing=False,
            store_widget_state=False,
        )
        client.execute(env=environment)
    return nb


def stored(nb: NotebookNode) -> NotebookNode:
    """`nb` as it is stored: only what is the same on every run and in every checkout, and what every renderer can
    show (the module docstring says why a widget's view reference goes). Paths under the folder qvl_widget is
    installed in (the demo model's, in `model`'s repr) are written relative to it."""
    nb = copy.deepcopy(nb)
    nb.metadata = NotebookNode(kernelspec=dict(KERNEL_SPEC), language_info={"name": "python"})
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        for output in cell.get("outputs", []):
            output.get("data", {}).pop(WIDGET_VIEW, None)
            if "text" in output:
                output["text"] = output["text"].replace(INSTALLED_IN, "")
            if "text/plain" in output.get("data", {}):
                output["data"]["text/plain"] = output["data"]["text/plain"].replace(INSTALLED_IN, "")
    return nb


def write(name: str) -> Path:
    path = FOLDER / f"{name}.ipynb"
    nb = stored(executed(NOTEBOOKS[name]()))
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return path


def main(names: list[str]) -> None:
    unknown = sorted(set(names) - set(NOTEBOOKS))
    if unknown:
        raise SystemExit(f"no notebook named {', '.join(unknown)}: pick from {', '.join(NOTEBOOKS)}")
    for name in names or list(NOTEBOOKS):
        path = write(name)
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main(sys.argv[1:])
