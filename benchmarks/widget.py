"""Widget latency in headless Chromium: hover repaint, and the layer/head dropdown round trip through a kernel.

1. Hover: 64 query tokens, a 32 x 40 token grid, overlay 1024 px wide; the mouse moves over a different
   token chip each time (Playwright's real pointer input). Measured in the page from the dispatch of the
   pointer event to the overlay drawn (the view paints in the event handler), and for context to the start of
   the next animation frame (which waits for the display's refresh) and from the event's input timestamp
   (which adds Chromium's delivery of pointer input, aligned to animation frames).
2. Head overview: the same hovers with the layers x heads overview shown, 28 x 28 heads: each repaint of the
   overview (its values for the hovered token from the data sent once, and the grid drawn), measured by the view
   itself (`performance.measure("qvl-heads-paint")`), and the whole hover (overlay and overview) as in 1.
3. Dropdown: a real JupyterLab kernel holding a `[28, 28, 64, 1280]` result; from the select's change to
   the overlay repainted with the kernel's new maps (every layer, the layer mean, and head choices).
4. Video: one video of 16 temporal groups of 32 x 32 = 1024 tokens, 64 query tokens, overlay 1024 px wide. Hover
   as in 1 (the pointer event to the overlay and the film strip's bars drawn), and scrub: the scrubber focused and
   moved a group at a time with the keyboard (real input events: ArrowRight, Home from the last group), from the
   dispatch of its `input` event to the new group's overlay drawn (the view swaps the picture and repaints in the
   handler), with one token pinned and with none (the summary of all 64 rows); for context, to the next animation
   frame and to the new picture decoded.

    python benchmarks/widget.py [--hovers 400] [--changes 80] [--scrubs 300] [--parts hover,heads,dropdown,video]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser_support import WidgetPage, launch, synthetic_result, synthetic_video_result  # noqa: E402
from jupyter_support import open_notebook, run_cell, running_jupyterlab, write_notebook  # noqa: E402

from qvl_widget import AttentionWidget  # noqa: E402

GRID = (32, 40)
TOKENS = 64
VIDEO_GROUPS = 16
VIDEO_GRID = (32, 32)

# Listeners on the document: the capturing one runs as the event is dispatched, before the view's handler on
# the token strip; the bubbling one runs after it, when the overlay has been drawn.
HOVER_PROBE = """() => {
  window.qvlHover = {drawn: [], frame: [], input: []};
  let dispatched = 0;
  const onToken = (event) => event.target.closest && event.target.closest('[data-qvl-token]');
  document.addEventListener('pointerover', (event) => { if (onToken(event)) dispatched = performance.now(); }, true);
  document.addEventListener('pointerover', (event) => {
    if (!onToken(event)) return;
    const start = dispatched;
    window.qvlHover.drawn.push(performance.now() - start);
    window.qvlHover.input.push(performance.now() - event.timeStamp);
    requestAnimationFrame(() => window.qvlHover.frame.push(performance.now() - start));
  });
}"""

# As HOVER_PROBE, for the scrubber's `input` events; and when the new picture is decoded.
SCRUB_PROBE = """() => {
  window.qvlScrub = {drawn: [], frame: [], decoded: []};
  let dispatched = 0;
  const onScrubber = (event) => event.target.classList && event.target.classList.contains('qvl-scrubber');
  document.addEventListener('input', (event) => { if (onScrubber(event)) dispatched = performance.now(); }, true);
  document.addEventListener('input', (event) => {
    if (!onScrubber(event)) return;
    const start = dispatched;
    window.qvlScrub.drawn.push(performance.now() - start);
    requestAnimationFrame(() => window.qvlScrub.frame.push(performance.now() - start));
    const decoded = () => window.qvlScrub.decoded.push(performance.now() - start);
    document.querySelector('img.qvl-image').decode().then(decoded);
  });
}"""

DROPDOWN_NOTEBOOK = [
    """
import numpy as np
from PIL import Image
from qvl_widget import AttentionResult, AttentionWidget, ImageGeometry, QueryToken
rng = np.random.default_rng(0)
layers, heads, queries, rows, cols = 28, 28, 64, 32, 40
attention = rng.random((layers, heads, queries, rows * cols), dtype=np.float32)
attention /= attention.sum(-1, keepdims=True) * 2
tokens = tuple(QueryToken(f" w{i}", 3 * i, 3 * i + 3, False) for i in range(queries))
result = AttentionResult(
    attention=attention, image_mass=attention.sum(-1),
    query_positions=np.arange(2000, 2000 + queries), image_positions=np.arange(10, 10 + rows * cols),
    tokens=tokens, images=(ImageGeometry(rows, cols, (cols * 28, rows * 28), (1120, 896), 0),),
    pictures=(Image.fromarray(rng.integers(0, 255, (896, 1120, 3), dtype=np.uint8)),),
    prompt="".join(t.text for t in tokens), model="benchmark", family="qwen2_vl")
widget = AttentionWidget(result, layer=0, width=1024)
widget
""",
]

DROPDOWN_PROBE = """async ([select, value]) => {
  const root = document.querySelector('.jp-OutputArea .qvl-widget');
  const element = root.querySelector(select);
  const before = Number(root.dataset.qvlFrames);
  const repainted = new Promise((resolve) => {
    const observer = new MutationObserver(() => {
      if (Number(root.dataset.qvlFrames) > before) { observer.disconnect(); resolve(performance.now()); }
    });
    observer.observe(root, {attributes: true, attributeFilter: ['data-qvl-frames']});
  });
  const start = performance.now();
  element.value = value;
  element.dispatchEvent(new Event('change'));
  return (await repainted) - start;
}"""


def percentiles(values: list[float]) -> str:
    p50 = statistics.median(values)
    p95 = float(np.percentile(values, 95))
    return f"p50 {p50:.2f} ms, p95 {p95:.2f} ms (n={len(values)})"


def hover_benchmark(playwright, hovers: int, heads: int = 0) -> dict[str, list[float]]:
    """Hover timings; with `heads`, on a `heads` x `heads` result with the head overview shown, plus each of its
    repaints ("heads")."""
    texts = [f" t{index}" for index in range(TOKENS)]
    if heads:
        result = synthetic_result(texts=texts, grids=(GRID,), layers=heads, heads=heads)
        widget = AttentionWidget(result, width=1024, head_overview="mass")
    else:
        widget = AttentionWidget(synthetic_result(texts=texts, grids=(GRID,), layers=2, heads=2), width=1024)
    browser = launch(playwright)
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    WidgetPage(page, [widget])
    page.evaluate(HOVER_PROBE)
    boxes = [page.locator(f"[data-qvl-token='{index}']").bounding_box() for index in range(TOKENS)]
    for step in range(hovers + 20):  # the first 20 are a warm-up
        box = boxes[(step * 7) % TOKENS]  # jump around, never the same chip twice in a row
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.evaluate("() => new Promise(requestAnimationFrame)")
    probe = page.evaluate("() => window.qvlHover")
    probe["heads"] = page.evaluate(
        "() => performance.getEntriesByName('qvl-heads-paint').map((entry) => entry.duration)"
    )
    browser.close()
    return {name: values[20:] for name, values in probe.items()}


def video_benchmark(playwright, hovers: int, scrubs: int) -> dict[str, list[float]]:
    """Hover and scrub timings on one video of VIDEO_GROUPS groups of VIDEO_GRID tokens."""
    texts = [f" t{index}" for index in range(TOKENS)]
    result = synthetic_video_result(texts=texts, groups=VIDEO_GROUPS, grid=VIDEO_GRID)
    widget = AttentionWidget(result, width=1024)
    browser = launch(playwright)
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    WidgetPage(page, [widget])
    page.evaluate(HOVER_PROBE)
    page.evaluate(SCRUB_PROBE)
    boxes = [page.locator(f"[data-qvl-token='{index}']").bounding_box() for index in range(TOKENS)]
    for step in range(hovers + 20):  # the first 20 are a warm-up
        box = boxes[(step * 7) % TOKENS]
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.evaluate("() => new Promise(requestAnimationFrame)")
    timings = {f"hover {name}": values[20:] for name, values in page.evaluate("() => window.qvlHover").items()}

    def scrub(count: int) -> dict[str, list[float]]:
        page.evaluate("() => { for (const list of Object.values(window.qvlScrub)) list.length = 0; }")
        page.focus(".qvl-scrubber")
        for _ in range(count + 10):  # the first 10 are a warm-up
            at_end = page.eval_on_selector(".qvl-filmstrip", "strip => strip.dataset.qvlShown") == str(VIDEO_GROUPS - 1)
            page.keyboard.press("Home" if at_end else "ArrowRight")
            page.evaluate("() => new Promise(requestAnimationFrame)")
        page.wait_for_timeout(300)  # the last pictures decoded
        return {name: values[10:] for name, values in page.evaluate("() => window.qvlScrub").items()}

    page.mouse.click(boxes[3]["x"] + 2, boxes[3]["y"] + 2)  # pin token 3
    page.mouse.move(2, 2)
    assert widget.selected == [3]
    timings.update({f"scrub pinned {name}": values for name, values in scrub(scrubs).items()})
    page.mouse.click(boxes[3]["x"] + 2, boxes[3]["y"] + 2)  # unpinned: the summary of every prompt token
    page.mouse.move(2, 2)
    assert widget.selected == []
    timings.update({f"scrub summary {name}": values for name, values in scrub(scrubs).items()})
    browser.close()
    return timings


def dropdown_benchmark(playwright, changes: int) -> tuple[list[float], int]:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_notebook(root / "bench.ipynb", DROPDOWN_NOTEBOOK)
        with running_jupyterlab(root) as url:
            browser = launch(playwright)
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            open_notebook(page, url, "bench.ipynb")
            run_cell(page, 0)
            page.wait_for_selector(".jp-OutputArea .qvl-widget canvas.qvl-overlay", timeout=120_000)
            page.wait_for_function("document.querySelector('.jp-OutputArea .qvl-widget').dataset.qvlFrames > 0")
            payload_bytes = 12 + 8 * TOKENS + TOKENS * GRID[0] * GRID[1]
            choices = [(".qvl-layer", str(layer)) for layer in range(28)] + [(".qvl-layer", "mean")]
            choices += [(".qvl-head", head) for head in ("max", "mean", "0", "5", "27")]
            times = []
            for step in range(changes + 5):  # the first 5 are a warm-up
                select, value = choices[step % len(choices)]
                current = page.eval_on_selector(f".jp-OutputArea {select}", "node => node.value")
                if current == value:
                    continue
                elapsed = page.evaluate(DROPDOWN_PROBE, [select, value])
                if step >= 5:
                    times.append(elapsed)
            browser.close()
    return times, payload_bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hovers", type=int, default=400)
    parser.add_argument("--changes", type=int, default=80)
    parser.add_argument("--scrubs", type=int, default=300)
    parser.add_argument("--parts", default="hover,heads,dropdown,video", help="which to run, comma-separated")
    arguments = parser.parse_args()
    parts = set(arguments.parts.split(","))
    from playwright.sync_api import sync_playwright

    print(f"# widget benchmark: {time.strftime('%Y-%m-%d')}")
    with sync_playwright() as playwright:
        version = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless"]).version
        print(f"# headless Chromium {version}")
        if "hover" in parts:
            hover = hover_benchmark(playwright, arguments.hovers)
            print(f"pointer event -> overlay drawn:     {percentiles(hover['drawn'])}   (target p95 <= 4 ms)")
            print(f"pointer event -> next frame starts: {percentiles(hover['frame'])}   (waits for the display)")
            print(
                f"input timestamp -> overlay drawn:   {percentiles(hover['input'])}   (with the browser's input "
                "delivery)"
            )
        if "heads" in parts:
            hover = hover_benchmark(playwright, arguments.hovers, heads=28)
            print(f"head overview repaint (28 x 28):    {percentiles(hover['heads'])}   (target p95 <= 4 ms)")
            print(f"pointer event -> overlay + overview drawn: {percentiles(hover['drawn'])}")
        if "video" in parts:
            video = video_benchmark(playwright, arguments.hovers, arguments.scrubs)
            print(f"video, {VIDEO_GROUPS} groups of {VIDEO_GRID[0]} x {VIDEO_GRID[1]} tokens, {TOKENS} query tokens:")
            hover = percentiles(video["hover drawn"])
            print(f"  pointer event -> overlay + strip drawn:  {hover}   (target p95 <= 4 ms)")
            print(f"  pointer event -> next frame starts:      {percentiles(video['hover frame'])}")
            for rows in ("pinned", "summary"):
                words = "one token pinned" if rows == "pinned" else f"all {TOKENS} rows"
                print(f"  scrub ({words}):")
                print(
                    f"    input event -> new group's overlay drawn: {percentiles(video[f'scrub {rows} drawn'])}   "
                    "(target p95 <= 16 ms)"
                )
                print(f"    input event -> next frame starts:        {percentiles(video[f'scrub {rows} frame'])}")
                print(f"    input event -> new picture decoded:      {percentiles(video[f'scrub {rows} decoded'])}")
        if "dropdown" not in parts:
            return
        times, payload_bytes = dropdown_benchmark(playwright, arguments.changes)
        print(f"dropdown -> repainted via kernel: {percentiles(times)}   (target p95 <= 50 ms)")
        print(f"payload per change: {payload_bytes} bytes ({payload_bytes / 1024:.1f} KiB), one binary message")


if __name__ == "__main__":
    main()
