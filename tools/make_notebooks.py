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

# A hub id or a local folder; "demo" picks the small model shipped with qvl_widget (offline, used by the tests).
MODEL = os.environ.get("QVL_WIDGET_MODEL", "Qwen/Qwen2-VL-2B-Instruct")
OUT = "outputs"  # files this notebook writes go here
if MODEL == "demo":
    example = demo.make_example(200_006)  # a synthetic scene the demo model never saw in training
    image, prompt, phrase = example["image"], example["prompt"], example["phrase"]
else:
    image = qvl_widget.example_image()  # or a path / PIL image of your own
    prompt, phrase = "Where is the red cat on the image?", "red cat"'''

LOAD = """model = demo.load() if MODEL == "demo" else qvl_widget.load(MODEL)  # cuda > mps > cpu; bf16 on cuda
model"""

quick = notebook(
    [
        new_markdown_cell(
            "# qvl_widget quickstart\n\nLoad a Qwen vision-language model, capture where each text token of a "
            "prompt looks in the image "
            "(every layer and head, on the model's own fast attention), explore it, and export it.\n\n"
            "It loads `Qwen/Qwen2-VL-2B-Instruct` from the hub. Offline, start Jupyter with "
            "`QVL_WIDGET_MODEL=demo jupyter lab` to use the small demo model shipped with qvl_widget, or set "
            "`QVL_WIDGET_MODEL` to a local model folder."
        ),
        new_code_cell(SETUP),
        new_code_cell(LOAD),
        new_markdown_cell(
            "## Capture\n\nOne forward pass. The result holds `attention[layer, head, query token, image token]`, "
            "the tokens "
            "(with their character offsets in the prompt) and the geometry of every image."
        ),
        new_code_cell("result = model.capture(image, prompt)\nresult"),
        new_code_cell("[(token.text, token.special) for token in result.tokens][:12]"),
        new_markdown_cell(
            "## Explore\n\nHover a token to see where it looks; click to pin, shift-click to add. The layer and head "
            "menus ask the kernel for that choice's maps; everything else happens in the browser."
        ),
        new_code_cell("result.widget(phrase=phrase)"),
        new_markdown_cell(
            "With the demo model, the looking happens at the token that predicts the answer (the last one, "
            "`assistant`), not at the question's words: `demo.recommended_view` opens the widget there."
        ),
        new_code_cell(
            'if MODEL == "demo":\n    from IPython.display import display\n\n'
            "    display(result.widget(**demo.recommended_view(result, example)))"
        ),
        new_markdown_cell(
            "## The model's answer\n\n`answer=True` lets the model answer (greedy, on its own fast attention: the "
            "same answer as `model.generate`) and keeps, for every answer token, the attention of the step that "
            "chose it. Hover an answer word to see where the model looked while writing it; the *Producing step* "
            'switch shows each token\'s own row instead. `answer="some text"` teacher-forces a given answer.'
        ),
        new_code_cell(
            "answered = model.capture(image, prompt, answer=True, max_new_tokens=16)\n"
            'print("answer:", answered.answer)\n'
            'view = demo.recommended_view(answered, example) if MODEL == "demo" else {}\n'
            "answered.widget(**view)"
        ),
        new_markdown_cell(
            "## Numbers\n\n`grid` gives one image's `[rows, cols]` map for any selection; `token_boxes` says which box "
            "of the original image each cell covers."
        ),
        new_code_cell(
            "# The demo model looks from the answer token (its recommended view); other models, from the phrase.\n"
            'if MODEL == "demo":\n'
            "    grid = demo.pointing_map(result, example)\n"
            "else:\n"
            '    grid = result.grid(phrase=phrase, layer=-1, head=None, reduce="mean")\n'
            "row, col = divmod(int(grid.argmax()), grid.shape[1])\n"
            "box = result.token_boxes()[row * grid.shape[1] + col].round()\n"
            'print(f"hottest cell: row {row}, col {col}, box {box}")'
        ),
        new_markdown_cell(
            "## Export\n\nOne self-contained HTML file (works offline, from `file://`), and a lossless result file."
        ),
        new_code_cell(
            'html = result.to_html(f"{OUT}/attention.html", phrase=phrase)\n'
            'saved = result.save(f"{OUT}/attention.npz")\n'
            'print(html, f"{html.stat().st_size / 1e6:.1f} MB")\n'
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
