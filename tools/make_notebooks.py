"""Write notebooks/quickstart.ipynb and notebooks/original_api.ipynb (without outputs).

Run `python tools/make_notebooks.py` after changing them here; tests execute both on the offline demo model.
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


def notebook(cells):
    for index, cell in enumerate(cells):
        cell["id"] = f"cell-{index:02d}"  # stable ids: rewriting a notebook changes only what changed
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


SETUP = '''import os

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
else:
    image = qvl_widget.example_image()  # a drawn red cat; or a path / PIL image of your own
    prompt, phrase = "Where is the red cat on the image?", "red cat"'''

LOAD = """model = demo.load() if MODEL == "demo" else qvl_widget.load(MODEL)  # cuda > mps > cpu; bf16 on cuda
model"""

quick = notebook(
    [
        new_markdown_cell(
            "# qvl_widget quickstart\n\nLoad a Qwen vision-language model, let it answer a question about an image, "
            "and see where each token of the question and of the answer looks in the image (every layer and "
            "head, on the model's own fast attention); explore it, and export it.\n\n"
            "It runs offline on the small demo model shipped with qvl_widget (shapes and colours). To use a real "
            "model, set `MODEL` in the next cell (or the `QVL_WIDGET_MODEL` environment variable) to a hub id "
            "such as `Qwen/Qwen2-VL-2B-Instruct` or a local folder.\n\n"
            "*Words*: a **token** is a piece of text the model reads (a word or part of one); a **layer** is one of "
            "the model's stacked processing steps; a **head** is one of several parallel attention patterns in a "
            "layer; the **image share** is how much of a token's attention goes to the image at all."
        ),
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
            "shows where the model looked *while writing it* (the *Producing step* switch shows each token's own "
            "row instead). The layer and head menus ask the kernel for that choice's maps; everything else "
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
        new_code_cell("result.widget(phrase=phrase, producing=False)"),
        new_markdown_cell(
            "## Numbers\n\n`grid` gives one image's `[rows, cols]` map for any selection (the same choices as the "
            "widget); `token_boxes` says which box of the original image each cell covers."
        ),
        new_code_cell(
            "grid = result.grid(**view)\n"
            "row, col = divmod(int(grid.argmax()), grid.shape[1])\n"
            "box = result.token_boxes()[row * grid.shape[1] + col].round()\n"
            'print(f"hottest cell: row {row}, col {col}, box {box}")'
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
    ]
)
ROOT = Path(__file__).resolve().parents[1]
nbformat.write(quick, ROOT / "notebooks" / "quickstart.ipynb")

original = notebook(
    [
        new_markdown_cell(
            "# The original API: `QwenVLCrossModalVisualizer`\n\n"
            "Three calls that return paper-ready figures and arrays. "
            "The visualizer loads the model once and reuses the captured attention for the same image and prompt."
        ),
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
            '    image, prompt, target_phrase=phrase, layers_to_show=(-3, -2, -1), save_path=f"{OUT}/layers.pdf"\n)\n'
            "figure"
        ),
        new_markdown_cell("## One overlay at the original resolution"),
        new_code_cell(
            "overlay = visualizer.create_attention_heatmap_on_image(image, prompt, target_phrase=phrase, alpha=0.5)\n"
            "print(overlay.size)\noverlay"
        ),
        new_markdown_cell("## Every text token against every image token"),
        new_code_cell(
            'matrix = visualizer.create_token_image_attention_matrix(image, prompt, save_path=f"{OUT}/matrix.png")\n'
            "print(matrix.shape)  # [text tokens, image tokens]\nvisualizer.last_figure"
        ),
    ]
)
nbformat.write(original, ROOT / "notebooks" / "original_api.ipynb")
