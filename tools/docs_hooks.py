"""MkDocs hooks of the documentation site (mkdocs.yml): what the site adds to the Markdown pages in docs/.

- The notebooks of notebooks/ become pages (rendered by mkdocs-jupyter from their stored outputs).
- Live pages: the demo model's one-file HTML exports, made at build time with the current front end, so a reader
  hovers tokens inside the docs (`<iframe src="demos/NAME.html">`).
- No request leaves the site: the notebook pages' CDN scripts (MathJax, Mermaid; the notebooks use neither) are
  dropped, so the built site reads the same offline and from file://.
"""

from __future__ import annotations

import re
import tempfile
import warnings
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
_LIVE_PAGES = tempfile.TemporaryDirectory(prefix="qvl-docs-")  # lives as long as the build process
_REMOTE_SCRIPT = re.compile(r"<script[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>")


@event_priority(100)  # before mkdocs-jupyter, which turns .ipynb files into pages in its own on_files
def on_files(files: Files, config: MkDocsConfig) -> Files:
    for notebook in sorted(NOTEBOOKS.glob("*.ipynb")):
        files.append(File(f"notebooks/{notebook.name}", str(ROOT), config.site_dir, config.use_directory_urls))
    folder = Path(_LIVE_PAGES.name)
    if not any(folder.iterdir()):
        write_live_pages(folder / "demos")
    for page in sorted((folder / "demos").glob("*.html")):
        files.append(File(f"demos/{page.name}", str(folder), config.site_dir, config.use_directory_urls))
    return files


def on_post_page(output: str, page: Page, config: MkDocsConfig) -> str:
    return _REMOTE_SCRIPT.sub("", output)


def write_live_pages(folder: Path) -> None:
    """The demo model's HTML pages the docs embed: its answer (`answer.html`), the same with a baseline and the
    head overview (`maps.html`), and a clip (`video.html`)."""
    from transformers.utils import logging as transformers_logging

    import qvl_widget
    from qvl_widget import demo
    from qvl_widget.cli import DEMO_ANSWER_TOKENS, DEMO_SEED

    transformers_logging.disable_progress_bar()  # a quiet build
    folder.mkdir(parents=True)
    model = demo.load(device="cpu")
    example = demo.make_example(DEMO_SEED)
    with warnings.catch_warnings():  # the generic baseline prompt's words are unknown to the demo model, as expected
        warnings.simplefilter("ignore", demo.DemoVocabularyWarning)
        result = model.capture(
            example["image"], example["prompt"], answer=True, max_new_tokens=DEMO_ANSWER_TOKENS, baseline=True
        )
    view = demo.recommended_view(result, example)
    result.to_html(folder / "answer.html", **view)
    result.to_html(folder / "maps.html", **view, head_overview="mass")
    clip = demo.make_clip(DEMO_SEED, groups=4)
    video = qvl_widget.Video(demo.frames_array(clip), min_pixels=224 * 224, max_pixels=224 * 224)
    captured = model.capture(video, clip["prompt"], answer=True, max_new_tokens=DEMO_ANSWER_TOKENS)
    # The answer word, with the map of the step that wrote it, in the layer the demo model points from; the moving
    # object's box in each group.
    answer = [demo.answer_word(captured)]
    captured.to_html(
        folder / "video.html", token=answer, producing=True, layer=view["layer"], boxes=demo.clip_boxes(clip)
    )
