"""Rendering AttentionWidgets in headless Chromium without Jupyter, with the real Python side as the kernel.

The page loads the bundled front end and `js/standalone.js` (a model with anywidget's interface). When a view
saves changes, they go to the real `AttentionWidget` in this process (`set_state`), and the traits it changes
in answer (e.g. a new maps payload) come back, as a kernel would send them. Every other request is blocked
and recorded, so tests also prove the front end needs no network.
"""

from __future__ import annotations

import base64
import dataclasses
import itertools
import json
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
import traitlets
from PIL import Image

import qvl_widget
from qvl_widget import AttentionResult, AttentionWidget, ImageGeometry, QueryToken

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("QVL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ORIGIN = "http://qvl.test"
# Token texts that would run script if they were ever put into the page as markup.
XSS_TEXTS = ("<img src=x onerror=\"window.__xss='img'\">", "</script><script>window.__xss='script'</script>", " cat")


def require_chromium() -> str:
    """Chromium's path; under CI a missing browser fails the test instead of skipping it."""
    if shutil.which(CHROMIUM) or Path(CHROMIUM).exists():
        return CHROMIUM
    message = f"Chromium not found at {CHROMIUM}: install Debian's chromium package (make test does, as root)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def launch(playwright):
    return playwright.chromium.launch(executable_path=require_chromium(), args=CHROMIUM_ARGS)


def to_json(value):
    """Trait values to JSON, bytes as {"$bytes": base64}."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    return value


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><link rel="stylesheet" href="/widget.css"></head>
<body style="margin: 16px">
{views}
<script type="module">
import widget from "/widget.js";
import {{ createModel }} from "/standalone.js";

// Bytes arrive as DataViews into a larger buffer, at an odd offset, as they may from a real kernel.
function decode(value) {{
  if (value && typeof value === "object" && "$bytes" in value) {{
    const raw = atob(value.$bytes);
    const buffer = new ArrayBuffer(raw.length + 7);
    const bytes = new Uint8Array(buffer, 3, raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return new DataView(buffer, 3, raw.length);
  }}
  if (Array.isArray(value)) return value.map(decode);
  if (value && typeof value === "object") {{
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, decode(item)]));
  }}
  return value;
}}

const states = await (await fetch("/states.json")).json();
window.qvlAnswers = 0;  // kernel answers applied so far
window.qvlModels = states.map((state, index) => createModel(decode(state), {{
  onSave: async (changes, apply) => {{
    // The kernel's changes one by one, in the order it made them, as a kernel sends them.
    const answer = await window.qvlKernel(index, JSON.stringify(changes));
    for (const [name, value] of JSON.parse(answer)) apply({{ [name]: decode(value) }});
    window.qvlAnswers += 1;
  }},
}}));
window.qvlCleanups = {placements}.map(([model, view]) =>
  widget.render({{ model: window.qvlModels[model], el: document.getElementById(`view-${{view}}`) }}));
window.qvlReady = true;
</script>
</body></html>
"""


class WidgetPage:
    """A page showing `widgets`; `placements[i]` is the widget index of view i (default: one view each)."""

    def __init__(self, page, widgets: Sequence[AttentionWidget], placements: Sequence[int] | None = None) -> None:
        self.page = page
        self.widgets = list(widgets)
        self.placements = list(placements) if placements is not None else list(range(len(widgets)))
        self.blocked: list[str] = []
        self.kernel_calls = 0
        self.kernel_errors: list[str] = []  # changes the kernel refused (`change` fails on one)
        page.expose_function("qvlKernel", self._kernel)
        page.route("**/*", self._serve)
        page.goto(f"{ORIGIN}/index.html")
        page.wait_for_function("window.qvlReady === true")

    def _serve(self, route) -> None:
        url = route.request.url
        static = ROOT / "qvl_widget" / "static"
        files = {
            f"{ORIGIN}/widget.js": (static / "widget.js", "text/javascript"),
            f"{ORIGIN}/widget.css": (static / "widget.css", "text/css"),
            f"{ORIGIN}/standalone.js": (ROOT / "js" / "standalone.js", "text/javascript"),
        }
        if url == f"{ORIGIN}/index.html":
            views = "\n".join(f'<div id="view-{index}" class="host"></div>' for index in range(len(self.placements)))
            placements = json.dumps([[model, view] for view, model in enumerate(self.placements)])
            route.fulfill(body=PAGE.format(views=views, placements=placements), content_type="text/html")
        elif url == f"{ORIGIN}/states.json":
            route.fulfill(body=json.dumps([to_json(widget.get_state()) for widget in self.widgets]))
        elif url in files:
            path, content_type = files[url]
            route.fulfill(body=path.read_bytes(), content_type=content_type)
        elif url.startswith("blob:") or url.startswith("data:"):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def _kernel(self, index: int, changes: str) -> str:
        """Apply the view's changes to the Python widget; answer with the synced traits it changed in response, each
        change in order with the value it had then (a trait changed twice is sent twice, as a kernel does)."""
        self.kernel_calls += 1
        widget = self.widgets[index]
        sent = json.loads(changes)
        changed: list[tuple[str, object]] = []

        def handler(change: traitlets.Bunch) -> None:
            if widget.trait_metadata(change.name, "sync"):
                changed.append((change.name, to_json(widget.get_state(change.name)[change.name])))

        widget.observe(handler, names=traitlets.All)
        try:
            widget.set_state(sent)
        except Exception as error:  # refused (e.g. a group the video lacks): answered, so no wait hangs on it
            self.kernel_errors.append(f"{type(error).__name__}: {error}")
        finally:
            widget.unobserve(handler, names=traitlets.All)
        answer = [[name, value] for name, value in changed if name not in sent or value != sent[name]]
        return json.dumps(answer)

    # ----- reading the page ---------------------------------------------------------------------------------

    def frames(self, view: int = 0) -> int:
        value = self.page.eval_on_selector(f"#view-{view} .qvl-widget", "node => node.dataset.qvlFrames")
        return int(value or 0)

    def cell_colours(self, view: int = 0, image: int = 0) -> np.ndarray:
        """`[rows, cols, 4]` RGBA of the overlay at each token cell's centre."""
        info = self.widgets[self.placements[view]].media[image]
        return cell_colours(self.page, f"#view-{view} canvas.qvl-overlay", image, info["rows"], info["cols"])

    def brightest_cell(self, view: int = 0, image: int = 0) -> tuple[int, int]:
        return brightest(self.cell_colours(view, image))

    def token(self, index: int, view: int = 0):
        return self.page.locator(f"#view-{view} [data-qvl-token='{index}']")

    def hover_token(self, index: int, view: int = 0) -> None:
        before = self.frames(view)
        self.token(index, view).hover()
        self.page.wait_for_function(
            f"Number(document.querySelector('#view-{view} .qvl-widget').dataset.qvlFrames) > {before}"
        )

    def wait_for_frames_after(self, before: int, view: int = 0) -> None:
        self.page.wait_for_function(
            f"Number(document.querySelector('#view-{view} .qvl-widget').dataset.qvlFrames) > {before}"
        )

    def answers(self) -> int:
        """How many kernel answers the page has applied."""
        return self.page.evaluate("window.qvlAnswers")

    def change(self, action, *args, **options) -> None:
        """Run a page action (e.g. `page.select_option`) that changes a trait; return once the kernel's answer
        is applied (fail if the kernel refused a change)."""
        before = self.answers()
        action(*args, **options)
        self.page.wait_for_function(f"window.qvlAnswers > {before}")
        assert not self.kernel_errors, f"the kernel refused a change: {self.kernel_errors}"

    def custom_messages(self) -> list:
        """What the views sent as custom messages (`model.send`), over all models: traits only means none."""
        return self.page.evaluate("window.qvlModels.flatMap(model => model.sent)")


def cell_colours(page, selector: str, index: int, rows: int, cols: int) -> np.ndarray:
    """`[rows, cols, 4]` RGBA at each token cell's centre of the `index`-th canvas matching `selector` (straight
    alpha: an overlay's opacity grows with the value, so a low cell's colour is approximate and its alpha small)."""
    pixels = page.evaluate(
        """([selector, index, rows, cols]) => {
            const canvas = document.querySelectorAll(selector)[index];
            const context = canvas.getContext("2d");
            const out = [];
            for (let row = 0; row < rows; row++) for (let col = 0; col < cols; col++) {
              const x = Math.floor((col + 0.5) * canvas.width / cols);
              const y = Math.floor((row + 0.5) * canvas.height / rows);
              out.push(...context.getImageData(x, y, 1, 1).data);
            }
            return out;
        }""",
        [selector, index, rows, cols],
    )
    return np.array(pixels, dtype=np.uint8).reshape(rows, cols, 4)


def brightest(colours: np.ndarray) -> tuple[int, int]:
    """The cell whose overlay is most opaque (RGBA: its opacity grows with the value), then brightest (RGB sum)."""
    brightness = colours[..., :3].astype(int).sum(axis=-1)
    if colours.shape[-1] == 4:
        brightness += colours[..., 3].astype(int) * 1024
    return tuple(int(value) for value in np.unravel_index(np.argmax(brightness), brightness.shape))


def prompt_tokens(texts: Sequence[str]) -> list[QueryToken]:
    """Prompt tokens of these texts: "<|...|>" ones special (no offsets), the others with their offsets into the
    prompt they make up."""
    tokens, cursor = [], 0
    for text in texts:
        if text.startswith("<|"):
            tokens.append(QueryToken(text, None, None, special=True))
        else:
            tokens.append(QueryToken(text, cursor, cursor + len(text), special=False))
            cursor += len(text)
    return tokens


def synthetic_result(
    texts: Sequence[str] = ("Where", " is", " the", " red", " cat", "?", "<|im_end|>"),
    grids: Sequence[tuple[int, int]] = ((4, 6),),
    layers: int = 2,
    heads: int = 2,
    prompt: str | None = None,
    layer_ids: Sequence[int] = (),
) -> AttentionResult:
    """A result whose views all look somewhere else: every layer, head, head mean, head max and layer mean.

    In each image, token q uses a block of cells starting at `o = q * (layers * (heads + 1) + 1)` (mod cells):
    - cell `o + 1 + l * (heads + 1) + h`: head h's own peak at layer l (0.40 to 0.50, tallest head varies by layer);
    - cell `o + 1 + l * (heads + 1) + heads`: 0.33 (+0.03 on odd layers) in every head of layer l, so the head
      mean peaks there, away from every single head;
    - cell `o`: 0.28 in head `l % heads` of each layer l, so the layer mean of the head max (heads reduced
      first) peaks there, while the head max of the layer mean (the wrong order) peaks elsewhere.
    Rows are scaled by `1 - 0.05 * (q % 4)`, so tokens differ in strength (shared colour scale); see
    `expected_peak` for where each view's brightest cell is. Each row's image share is more than its columns add
    up to (`uneven_image_mass`); `layer_ids` name the captured layers (default: their positions).
    """
    prompt = prompt if prompt is not None else "".join(text for text in texts if not text.startswith("<|"))
    tokens = prompt_tokens(texts)
    images, first = [], 0
    for rows, cols in grids:
        images.append(ImageGeometry(rows, cols, (cols * 28, rows * 28), (cols * 50, rows * 40), first))
        first += rows * cols
    attention = np.zeros((layers, heads, len(texts), first), dtype=np.float32)
    block = layers * (heads + 1) + 1
    for query in range(len(texts)):
        strength = (1.0 - 0.05 * (query % 4)) * 0.5 / len(images)
        for geometry in images:
            cells, start = geometry.num_tokens, query * block
            for layer, head in itertools.product(range(layers), range(heads)):
                row = np.full(cells, 0.05 / cells)
                own = start + 1 + layer * (heads + 1)
                row[(own + head) % cells] += 0.40 + 0.05 * ((head + layer) % heads)
                row[(own + heads) % cells] += 0.33 + 0.03 * (layer % 2)
                if head == layer % heads:
                    row[start % cells] += 0.28
                attention[layer, head, query, geometry.columns] = row * strength
    pictures = tuple(
        Image.fromarray(np.full((rows * 40, cols * 50, 3), 90 + 40 * index, dtype=np.uint8))
        for index, (rows, cols) in enumerate(grids)
    )
    return AttentionResult(
        attention=attention,
        image_mass=uneven_image_mass(attention),
        query_positions=np.arange(100, 100 + len(texts)),
        image_positions=np.arange(10, 10 + first),
        tokens=tuple(tokens),
        images=tuple(images),
        pictures=pictures,
        prompt=prompt,
        model="synthetic",
        family="qwen2_vl",
        layer_ids=tuple(layer_ids),
    )


def uneven_image_mass(attention: np.ndarray) -> np.ndarray:
    """`[layers, heads, queries]` image shares larger than the rows' sums over the captured columns, by a part of
    the rest (the attention on text) that differs per layer, head and token: a view that reads a map's sum where
    it should read the image share (or one layer's, head's or token's share for another's) shows another number.
    Each share stays a probability (under 1)."""
    layers, heads, queries = attention.shape[:3]
    captured = attention.sum(axis=-1, dtype=np.float64)
    layer, head, query = np.ogrid[:layers, :heads, :queries]
    part = 0.1 + 0.05 * ((7 * layer + 3 * head + query) % 11)  # 0.1 to 0.6 of the attention on text
    return (captured + (1 - captured) * part).astype(np.float32)


VIDEO_TEXTS = ("What", " does", " the", " ball", " do", "?", "<|im_end|>")
VIDEO_SIZE = (1200, 800)  # each frame's original size: wider than a 512 px view shows it at twice


def video_peak(query: int, group: int, cells: int, layer: int = 0, video: int = 0) -> int:
    """The cell token `query` looks at in temporal group `group` of video `video` of `synthetic_video_result`, at
    layer `layer`: every head's common peak, so the head mean's. Another for every token, group, layer and video."""
    return (5 * query + 7 * group + 11 * layer + 17 * video + 1) % cells


def head_peak(query: int, group: int, cells: int, layer: int, head: int, video: int = 0) -> int:
    """The cell head `head` of layer `layer` alone looks at hardest (its own, beside the common `video_peak`).
    Tokens' common peaks lie 5 cells apart (mod 24), so 2 + 5 h from one is never another token's: hovering a
    token's peak still finds that token strongest."""
    return (video_peak(query, group, cells, layer, video) + 2 + 5 * head) % cells


def video_share(query: int, group: int, groups: int, layer: int = 0, video: int = 0, videos: int = 1) -> float:
    """Token `query`'s share of attention on temporal group `group` of video `video` (of `videos`, each of its own
    `groups`) at layer `layer`, before the head's factor (`head_factor`): a different one for every group, and
    the groups in another order in every layer and video."""
    return 0.7 / videos * (1 + (query + group + layer + video) % groups) / (groups * (groups + 1) / 2)


def head_factor(layer: int, head: int) -> float:
    """How strongly head `head` of layer `layer` attends to the media (1 or 0.9)."""
    return 1 - 0.1 * ((layer + head) % 2)


def synthetic_video_result(
    texts: Sequence[str] = VIDEO_TEXTS,
    groups: int | Sequence[int] = 4,
    grid: tuple[int, int] = (4, 6),
    layers: int = 2,
    heads: int = 2,
    image: tuple[int, int] | None = None,
) -> AttentionResult:
    """A result with one video of `groups` temporal groups of `grid` tokens (several videos, one after the other,
    where `groups` is a list of their group counts), after an image of grid `image` where given. Video v's group g
    covers frames 2g and 2g + 1, at (v + 1) g and (v + 1) g + 0.5 s; its picture is a flat colour of its own (red
    channel `frame_level(g, groups, v)`), `VIDEO_SIZE` pixels.

    In head h of layer l, token q puts `video_share(q, g, groups, l, v, videos) * head_factor(l, h)` of its
    attention on group g of video v: 0.35 of it on `video_peak(q, g, cells, l, v)` (common to every head: the head
    mean peaks there), 0.45 on `head_peak(q, g, cells, l, h, v)` (that head's own: a single head peaks there), the
    rest spread evenly. So peaks and shares change from group to group, layer to layer, head to head and video to
    video. The image (where there is one): token q's peak at cell `3 q`, 0.1 of its attention. Each row's image
    share is more than its columns add up to (`uneven_image_mass`)."""
    counts = (groups,) if isinstance(groups, int) else tuple(groups)
    prompt = "".join(text for text in texts if not text.startswith("<|"))
    tokens = prompt_tokens(texts)
    media, pictures, first = [], [], 0
    if image is not None:
        rows, cols = image
        media.append(ImageGeometry(rows, cols, (cols * 28, rows * 28), (cols * 50, rows * 40), 0))
        pictures.append(Image.fromarray(np.full((rows * 40, cols * 50, 3), (200, 60, 60), dtype=np.uint8)))
        first = rows * cols
    rows, cols = grid
    cells, starts = rows * cols, []
    for video, count in enumerate(counts):
        starts.append(first)
        media.append(
            ImageGeometry(
                rows,
                cols,
                (cols * 28, rows * 28),
                VIDEO_SIZE,
                first,
                count,
                tuple((2 * group, 2 * group + 1) for group in range(count)),
                tuple((float((video + 1) * group), (video + 1) * group + 0.5) for group in range(count)),
            )
        )
        pictures += [video_frame(group, count, video) for group in range(count)]
        first += count * cells
    attention = np.zeros((layers, heads, len(texts), first), dtype=np.float32)
    for layer, head, query in itertools.product(range(layers), range(heads), range(len(texts))):
        row = np.zeros(first)
        if image is not None:
            row[: starts[0]] = 0.02 / starts[0]
            row[(3 * query) % starts[0]] += 0.08
        for video, (count, start) in enumerate(zip(counts, starts, strict=True)):
            for group in range(count):
                share = video_share(query, group, count, layer, video, len(counts))
                columns = start + group * cells
                row[columns : columns + cells] = 0.2 * share / cells
                row[columns + video_peak(query, group, cells, layer, video)] += 0.35 * share
                row[columns + head_peak(query, group, cells, layer, head, video)] += 0.45 * share
        attention[layer, head, query] = row * head_factor(layer, head)
    return AttentionResult(
        attention=attention,
        image_mass=uneven_image_mass(attention),
        query_positions=np.arange(400, 400 + len(texts)),
        image_positions=np.arange(10, 10 + attention.shape[-1]),
        tokens=tuple(tokens),
        images=tuple(media),
        pictures=tuple(pictures),
        prompt=prompt,
        model="synthetic",
        family="qwen2_vl",
    )


def frame_level(group: int, groups: int, video: int = 0) -> int:
    """The red level of group `group`'s picture in video `video` of `synthetic_video_result` (of `groups`)."""
    return 40 + 160 * group // max(1, groups - 1) + 15 * video


def video_frame(group: int, groups: int, video: int) -> Image.Image:
    """A flat picture: grey in the first video, tinted in the others, its red channel `frame_level`."""
    level = frame_level(group, groups, video)
    colour = (level, level, level) if video == 0 else (level, 120, 200)
    return Image.fromarray(np.full((VIDEO_SIZE[1], VIDEO_SIZE[0], 3), colour, np.uint8))


ANSWER_TEXTS = (" A", " red", " cat", "<|im_end|>")
THINKING_TEXTS = ("Maybe", " red", "</think>", "\n\n")  # the model's thinking, closed, and the line break after it


def synthetic_answer_result(
    answer_texts: Sequence[str] = ANSWER_TEXTS, thinking_texts: Sequence[str] = (), **options
) -> AttentionResult:
    """`synthetic_result` whose last tokens are the model's: its thinking (where `thinking_texts` are given: its
    tokens up to "</think>" and the line breaks after it), then its answer, each token with a probability;
    positions are consecutive, so every token but the first has a producing row: the previous token's. Markers
    ("<think>", "</think>"), "<|...|>" tokens and the whitespace after "</think>" are special, as in a capture."""
    prompt_texts = options.pop("texts", ("Where", " is", " the", " red", " cat", "?", "<|im_end|>"))
    base = synthetic_result(
        texts=(*prompt_texts, *thinking_texts, *answer_texts),
        prompt="".join(text for text in prompt_texts if not text.startswith("<|")),
        **options,
    )
    tokens = list(base.tokens[: len(prompt_texts)])
    texts: dict[str, str] = {}
    closed = "</think>" in thinking_texts
    after_close = thinking_texts[thinking_texts.index("</think>") + 1 :] if closed else ()
    parts = [("thinking", text) for text in thinking_texts[: len(thinking_texts) - len(after_close)]]
    parts += [("answer", text) for text in (*after_close, *answer_texts)]
    for index, (part, text) in enumerate(parts):
        probability = 0.9 - 0.1 * (index % 8)
        written = texts.setdefault(part, "")
        markup = text.startswith("<|") or text in ("<think>", "</think>") or (part == "answer" and not text.strip())
        if markup:
            tokens.append(QueryToken(text, None, None, special=True, part=part, probability=probability))
            continue
        tokens.append(QueryToken(text, len(written), len(written) + len(text), False, part, probability))
        texts[part] = written + text
    if thinking_texts or answer_texts:
        texts.setdefault("answer", "")
    return dataclasses.replace(base, tokens=tuple(tokens), answer=texts.get("answer"), thinking=texts.get("thinking"))


def view_map(result: AttentionResult, query: int | Sequence[int], layer: int | str, head: int | str = "mean"):
    """`[image tokens]` map the views show for one choice, as documented: heads are reduced first ("mean" or
    "max" over heads, or one head), then layers (one layer, or "mean" over layers); then the mean over the
    selected tokens."""
    queries = [query] if isinstance(query, (int, np.integer)) else list(query)
    selected = result.attention[:, :, queries].astype(np.float64)
    if head == "mean":
        per_layer = selected.mean(axis=1)
    elif head == "max":
        per_layer = selected.max(axis=1)
    else:
        per_layer = selected[:, head]
    chosen = per_layer.mean(axis=0) if layer == "mean" else per_layer[layer]
    return chosen.mean(axis=0)


def expected_peak(
    result: AttentionResult, query: int | Sequence[int], layer: int | str, head: int | str = "mean", image: int = 0
) -> tuple[int, int]:
    """`(row, col)` of the brightest cell of `image` for token(s) `query` in one layer/head view (`view_map`).

    Fails when the test data leave it ambiguous: the peak must beat the runner-up by 4%."""
    geometry = result.images[image]
    values = view_map(result, query, layer, head)[geometry.columns]
    runner_up, best = np.sort(values)[-2:]
    assert best - runner_up > 0.04 * best, f"no clear peak for token {query}, layer {layer}, head {head}"
    return divmod(int(np.argmax(values)), geometry.cols)


# Waits in the browser end at this, a guard against a hang, never a speed requirement: a busy machine passes too.
HANG_GUARD_MS = 120_000


@pytest.fixture(scope="session")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    require_chromium()
    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@pytest.fixture
def page(browser) -> Iterator:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1200, "height": 900})
    context.set_default_timeout(HANG_GUARD_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def offline_page(browser):
    """A page whose every network request is refused (file:// still opens)."""
    context = browser.new_context(accept_downloads=True, viewport={"width": 1200, "height": 900})
    context.set_default_timeout(HANG_GUARD_MS)
    requests = []

    def refuse(route):
        requests.append(route.request.url)
        route.abort()

    context.route(re.compile(r"^(https?|wss?)://"), refuse)
    context.set_offline(True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page, requests
    context.close()
    assert not errors, errors


__all__ = [
    "WidgetPage",
    "browser",
    "expected_peak",
    "frame_level",
    "head_factor",
    "head_peak",
    "offline_page",
    "page",
    "qvl_widget",
    "synthetic_answer_result",
    "synthetic_result",
    "synthetic_video_result",
    "uneven_image_mass",
    "video_peak",
    "video_share",
    "view_map",
]
