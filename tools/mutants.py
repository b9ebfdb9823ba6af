"""The mutants `tools/mutation.py` runs: one small deliberate bug each, in the code users' views depend on.

`original` must occur exactly once in `file` (else the mutant is reported stale or ambiguous: after a refactor,
point it at the new code or drop it). `tests` are the test files (or node ids; `.js` files run under
`node --test`) that must notice, fastest first: pytest stops at the first failure. `equivalent` says why a
mutant cannot be killed (it changes nothing anyone can observe); it is then reported, not counted as a miss.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    id: str
    file: str
    original: str
    replacement: str
    description: str
    tests: tuple[str, ...]
    equivalent: str = ""


RESULT = "tests/test_result.py"
WIDGET = "tests/test_widget.py"
BROWSER = "tests/test_widget_browser.py"
HTML = "tests/test_html.py"
FIGURES = "tests/test_figures.py"

MUTANTS = [
    # ----- qvl_widget/_result.py ---------------------------------------------------------------------------
    Mutant(
        "result-reduce-max-ignored",
        "qvl_widget/_result.py",
        'combine = np.mean if reduce == "mean" else np.max',
        "combine = np.mean",
        "maps: reduce='max' averages instead",
        (RESULT,),
    ),
    Mutant(
        "result-layers-first",
        "qvl_widget/_result.py",
        "return combine(combine(selected, axis=1), axis=0)",
        "return combine(combine(selected, axis=0), axis=0)",
        "maps: layers reduced before heads (same reduction for both, so the order cannot matter)",
        (RESULT, FIGURES),
        equivalent="maps uses one reduction (mean or max) for heads and layers, and either commutes",
    ),
    Mutant(
        "result-layers-by-max",
        "qvl_widget/_result.py",
        "return combine(combine(selected, axis=1), axis=0)",
        "return np.max(combine(selected, axis=1), axis=0)",
        "maps: several layers always combined by max",
        (RESULT, FIGURES),
    ),
    Mutant(
        "result-grid-max-of-tokens",
        "qvl_widget/_result.py",
        "return per_token.mean(axis=0).reshape(geometry.rows, geometry.cols)",
        "return per_token.max(axis=0).reshape(geometry.rows, geometry.cols)",
        "grid: max over the selected tokens instead of their mean",
        (RESULT, FIGURES),
    ),
    Mutant(
        "result-default-tokens",
        "qvl_widget/_result.py",
        "prompt_rows = [index for index, query in enumerate(self.tokens) if not query.special]",
        "prompt_rows = [index for index, query in enumerate(self.tokens) if query.special]",
        "grid: with no tokens chosen, the template tokens instead of the prompt's",
        (RESULT, FIGURES),
    ),
    Mutant(
        "result-phrase-adjacent",
        "qvl_widget/_result.py",
        "and any(token.start < end and token.end > start for start, end in spans)",
        "and any(token.start <= end and token.end > start for start, end in spans)",
        "token_indices: the token right after a phrase counts too (off by one)",
        (RESULT,),
    ),
    Mutant(
        "result-index-range",
        "qvl_widget/_choices.py",
        "if not -size <= index < size:",
        "if not -size <= index <= size:",
        "index check lets index == size through (off by one)",
        (RESULT,),
    ),
    Mutant(
        "result-format-version",
        "qvl_widget/_result.py",
        """                if metadata.get("format_version") != FORMAT_VERSION:
                    raise ValueError(f"unsupported format version {metadata.get('format_version')!r}")
""",
        "",
        "load: the format-version check removed",
        (RESULT,),
    ),
    # ----- qvl_widget/_payload.py --------------------------------------------------------------------------
    Mutant(
        "payload-truncates",
        "qvl_widget/_payload.py",
        "values = np.rint(maps / safe[:, None] * 255.0).astype(np.uint8)",
        "values = (maps / safe[:, None] * 255.0).astype(np.uint8)",
        "encode_maps: values truncated instead of rounded",
        (WIDGET,),
    ),
    Mutant(
        "payload-header-swapped",
        "qvl_widget/_payload.py",
        'header = np.array([PAYLOAD_VERSION, queries, columns], dtype="<u4")',
        'header = np.array([PAYLOAD_VERSION, columns, queries], dtype="<u4")',
        "encode_maps: queries and columns swapped in the header",
        (WIDGET, BROWSER),
    ),
    Mutant(
        "payload-layer-mean-order",
        "qvl_widget/_payload.py",
        "return self._all_layers(head).mean(axis=0, dtype=np.float32)",
        "return _over_heads(attention.mean(axis=0, keepdims=True, dtype=np.float32), head)[0]",
        "Selections.maps: layer mean taken before the head mean/max (wrong order)",
        (WIDGET, BROWSER),
    ),
    Mutant(
        "payload-layer-mean-of-head-is-max",
        "qvl_widget/_payload.py",
        "return attention[:, head].mean(axis=0, dtype=np.float32)",
        "return attention[:, head].max(axis=0)",
        "Selections.maps: one head's layer mean is a max",
        (WIDGET, BROWSER),
    ),
    Mutant(
        "payload-warm-layer",
        "qvl_widget/_payload.py",
        "return ready[layer] if ready is not None else",
        "return ready[0] if ready is not None else",
        "Selections.maps: after warm-up, every layer shows layer 0",
        (WIDGET,),
    ),
    Mutant(
        "payload-over-heads-axis",
        "qvl_widget/_payload.py",
        "return attention.max(axis=1).astype(np.float32, copy=False)",
        "return attention.max(axis=0).astype(np.float32, copy=False)",
        "_over_heads: max over layers instead of heads",
        (WIDGET, BROWSER),
    ),
    Mutant(
        "payload-mass-max",
        "qvl_widget/_payload.py",
        "per_layer = mass.max(axis=1).astype(np.float64)",
        "per_layer = mass.mean(axis=1).astype(np.float64)",
        "Selections.mass: the head max's image share is the mean",
        (WIDGET,),
    ),
    # ----- qvl_widget/_widget.py ---------------------------------------------------------------------------
    Mutant(
        "widget-head-ignored",
        "qvl_widget/_widget.py",
        """        if self._ready:
            self.maps_payload = self._selections.payload(self.layer, self.head)""",
        """        if self._ready:
            self.maps_payload = self._selections.payload(self.layer, "mean")""",
        "_send_maps: a head change always sends the head mean",
        (WIDGET, BROWSER),
    ),
    Mutant(
        "widget-head-not-observed",
        "qvl_widget/_widget.py",
        '@traitlets.observe("layer", "head")',
        '@traitlets.observe("layer")',
        "a head change sends no new maps",
        (WIDGET, BROWSER),
    ),
    Mutant(
        "widget-initial-head",
        "qvl_widget/_widget.py",
        """        self._ready = True
        self.maps_payload = self._selections.payload(self.layer, self.head)""",
        """        self._ready = True
        self.maps_payload = self._selections.payload(self.layer, "mean")""",
        "the first payload ignores the head the widget was made with",
        (WIDGET, BROWSER),
    ),
    Mutant(
        "widget-no-max-choice",
        "qvl_widget/_choices.py",
        'return ["mean", "max", *range(num_heads)]',
        'return ["mean", *range(num_heads)]',
        "the head menu offers no max",
        (WIDGET, BROWSER),
    ),
    Mutant(
        "widget-shared-scale-option",
        "qvl_widget/_view_state.py",
        '            shared_scale=checked_option(result, "shared_scale", shared_scale),\n',
        "            shared_scale=False,\n",
        "AttentionWidget(shared_scale=True) is ignored",
        (WIDGET, BROWSER, HTML),
    ),
    Mutant(
        "widget-display-size",
        "qvl_widget/_pictures.py",
        "target = min(picture.width, width * PIXEL_RATIO)",
        "target = min(picture.width, width)",
        "pictures sent at the display width, not twice it",
        (WIDGET,),
    ),
    Mutant(
        "widget-custom-message",
        "qvl_widget/_widget.py",
        "            self.maps_payload = self._selections.payload(self.layer, self.head)\n\n"
        '    @traitlets.observe("want_full_pictures")',
        "            self.maps_payload = self._selections.payload(self.layer, self.head)\n"
        '            self.send({"event": "maps"})\n\n    @traitlets.observe("want_full_pictures")',
        "a layer/head change also sends a custom message",
        (WIDGET, BROWSER),
    ),
    # ----- qvl_widget/_html.py -----------------------------------------------------------------------------
    Mutant(
        "html-no-head-max",
        "qvl_widget/_html.py",
        'pairs = [(layer, head) for layer in every_layer for head in ("mean", "max")]',
        'pairs = [(layer, head) for layer in every_layer for head in ("mean",)]',
        "default embedding leaves out the head max",
        (HTML,),
    ),
    Mutant(
        "html-last-layers",
        "qvl_widget/_choices.py",
        "LAST_LAYERS = 4",
        "LAST_LAYERS = 3",
        "every head of the last three layers only",
        (HTML,),
    ),
    Mutant(
        "html-payload-head",
        "qvl_widget/_html.py",
        '"payloads": {f"{layer}|{head}": add(selections.payload(layer, head)) for layer, head in choices},',
        '"payloads": {f"{layer}|{head}": add(selections.payload(layer, "mean")) for layer, head in choices},',
        "every embedded choice holds the head mean's maps",
        (HTML,),
    ),
    Mutant(
        "html-opening-head",
        "qvl_widget/_html.py",
        "choices = embedded_choices(result, layers, heads, current=(state.layer, state.head))",
        "choices = embedded_choices(result, layers, heads, current=(state.layer, state.head))\n"
        '    state = state.replace(head="mean")',
        "the page opens on the head mean, whatever the widget showed",
        (HTML,),
    ),
    Mutant(
        "html-shared-scale",
        "qvl_widget/_html.py",
        '"state": state.replace(available=embedded).json_fields(),',
        '"state": state.replace(available=embedded, shared_scale=False).json_fields(),',
        "the page ignores the shared colour scale",
        (HTML,),
    ),
    Mutant(
        "html-pins-lost",
        "qvl_widget/_html.py",
        '"state": state.replace(available=embedded).json_fields(),',
        '"state": state.replace(available=embedded, selected=[]).json_fields(),',
        "the page forgets the pinned tokens",
        (HTML,),
    ),
    # ----- qvl_widget/_figures.py --------------------------------------------------------------------------
    Mutant(
        "figures-not-closed",
        "qvl_widget/_figures.py",
        """    figure = plt.figure(figsize=(width, height), layout="constrained")
    plt.close(figure)""",
        """    figure = plt.figure(figsize=(width, height), layout="constrained")""",
        "_detached_figure: plt.close removed (figures pile up in pyplot)",
        (FIGURES,),
    ),
    Mutant(
        "figures-smooth-swapped",
        "qvl_widget/_figures.py",
        "resample = Image.Resampling.BILINEAR if smooth else Image.Resampling.NEAREST",
        "resample = Image.Resampling.NEAREST if smooth else Image.Resampling.BILINEAR",
        "overlay_on_image: smooth and blocky swapped",
        (FIGURES,),
    ),
    Mutant(
        "figures-alpha-swapped",
        "qvl_widget/_figures.py",
        "blended = np.asarray(picture, dtype=np.float32) * (1.0 - alpha) + colours * alpha",
        "blended = np.asarray(picture, dtype=np.float32) * alpha + colours * (1.0 - alpha)",
        "overlay_on_image: alpha weights swapped",
        (FIGURES,),
    ),
    Mutant(
        "figures-scale-first-layer",
        "qvl_widget/_figures.py",
        "vmax = max(float(grid.max()) for grid in grids)",
        "vmax = float(grids[0].max())",
        "layers_figure: the shared colour scale from the first layer only",
        (FIGURES,),
    ),
    Mutant(
        "figures-overlay-own-scale",
        "qvl_widget/_figures.py",
        "overlay_on_image(picture, grid, alpha=alpha, colormap=colormap, smooth=smooth, vmax=norm.vmax)",
        "overlay_on_image(picture, grid, alpha=alpha, colormap=colormap, smooth=smooth)",
        "layers_figure: each overlay on its own colour scale",
        (FIGURES,),
    ),
    Mutant(
        "figures-matrix-reduce",
        "qvl_widget/_figures.py",
        "matrix = result.maps(layer, head, reduce)",
        "matrix = result.maps(layer, head)",
        "matrix_figure: reduce ignored",
        (FIGURES,),
    ),
    Mutant(
        "figures-layers-head",
        "qvl_widget/_figures.py",
        "result.grid(token=token, phrase=phrase, layer=layer, head=head, reduce=reduce, image=image)",
        "result.grid(token=token, phrase=phrase, layer=layer, reduce=reduce, image=image)",
        "layers_figure: head ignored",
        (FIGURES,),
    ),
    # ----- js/view.js --------------------------------------------------------------------------------------
    Mutant(
        "view-save-first-image",
        "js/view.js",
        'const composites = this.model.get("media").map((medium, index) => ({',
        'const composites = this.model.get("media").slice(0, 1).map((medium, index) => ({',
        "Save PNG saves only the first image",
        (BROWSER,),
    ),
    Mutant(
        "view-save-half-size",
        "js/save.js",
        "const size = { width: bitmap.width, height: bitmap.height };",
        "const size = { width: bitmap.width / 2, height: bitmap.height / 2 };",
        "Save PNG draws the overlay at half size",
        (BROWSER,),
    ),
    Mutant(
        "view-shared-ignored",
        "js/view.js",
        'if (!this.model.get("shared_scale")) return Math.max(...values.map(maximum));',
        'if (this.model.get("shared_scale") || true) return Math.max(...values.map(maximum));',
        "the shared colour scale is ignored on screen",
        (BROWSER,),
    ),
    Mutant(
        "view-shared-counts-hidden",
        "js/view.js",
        "if (this.strips.isVisible(row) && maps.scales[row] > max) max = maps.scales[row];",
        "if (maps.scales[row] > max) max = maps.scales[row];",
        "the shared scale counts hidden template tokens",
        (BROWSER,),
    ),
    Mutant(
        "view-shared-input",
        "js/toolbar.js",
        'this.sharedInput.addEventListener("change", () => actions.set("shared_scale", this.sharedInput.checked));',
        "",
        "the shared-scale checkbox does nothing",
        (BROWSER,),
    ),
    Mutant(
        "view-colormap-no-repaint",
        "js/view.js",
        'for (const name of ["selected", "colormap", "smooth", "shared_scale", "show_special"]) {',
        'for (const name of ["selected", "smooth", "shared_scale", "show_special"]) {',
        "a colour map change does not repaint",
        (BROWSER,),
    ),
    Mutant(
        "view-hover-saves",
        "js/view.js",
        """    this.hovered = index;
    this.repaint();""",
        """    this.hovered = index;
    this.model.save_changes();
    this.repaint();""",
        "hovering a token goes to the kernel",
        (BROWSER,),
    ),
    Mutant(
        "view-hover-sends",
        "js/view.js",
        """    this.hovered = index;
    this.repaint();""",
        """    this.hovered = index;
    this.model.send?.({ hovered: index });
    this.repaint();""",
        "hovering a token sends a custom message",
        (BROWSER,),
    ),
    Mutant(
        "view-head-trait-name",
        "js/view.js",
        'chooseHead: (head) => this.setState("head", head),',
        'chooseHead: (head) => this.setState(/** @type {any} */ ("heads"), head),',
        "the head menu sets a misspelt trait",
        (BROWSER,),
    ),
    Mutant(
        "view-layer-listener",
        "js/view.js",
        'for (const name of ["layer", "head", "available", "opacity"]) on(`change:${name}`, '
        "() => this.syncControls());",
        'for (const name of ["head", "available", "opacity"]) on(`change:${name}`, () => this.syncControls());',
        "a layer set elsewhere does not update the menu",
        (BROWSER,),
    ),
    Mutant(
        "view-unpin-on-click",
        "js/tokens.js",
        "return selected.length === 1 && selected[0] === index ? [] : [index];",
        "return [index];",
        "clicking the pinned token again does not unpin it",
        ("js/tests/labels.test.js", "tests/test_widget_browser.py"),
    ),
    Mutant(
        "view-arrow-left",
        "js/tokens.js",
        "ArrowLeft: -1,",
        "ArrowLeft: 1,",
        "ArrowLeft moves right",
        (BROWSER,),
    ),
    Mutant(
        "view-cell-axes",
        "js/view.js",
        "const column = start + cell.row * medium.cols + cell.col;",
        "const column = start + cell.col * medium.cols + cell.row;",
        "tints read the hovered cell with rows and columns swapped",
        (BROWSER,),
    ),
    Mutant(
        "view-opacity",
        "js/panels.js",
        "for (const panel of this.panels) panel.overlay.style.opacity = String(opacity);",
        "",
        "the opacity slider does not change the overlay",
        (BROWSER,),
    ),
    Mutant(
        "view-keep-pinned-template",
        "js/tokens.js",
        "chip.hidden = this.tokens[index].special && !show && !pinned.has(index);",
        "chip.hidden = this.tokens[index].special && !show;",
        "a pinned template token is hidden",
        (BROWSER,),
    ),
    Mutant(
        "view-layer-keeps-missing-head",
        "js/view.js",
        'if (!heads.includes(this.model.get("head")) && heads.length) this.model.set("head", heads[0]);',
        "",
        "choosing a layer without the current head keeps that head (nothing to show in the HTML page)",
        (HTML,),
    ),
    # ----- js/payload.js -----------------------------------------------------------------------------------
    Mutant(
        "payload-js-sum-of-rows",
        "js/payload.js",
        "const factor = maps.scales[row] / 255 / rows.length;",
        "const factor = maps.scales[row] / 255;",
        "meanOfRows: the sum of the pinned tokens' maps, not their mean",
        (BROWSER,),
    ),
    Mutant(
        "payload-js-mass-sum",
        "js/payload.js",
        "return total / rows.length;",
        "return total;",
        "meanMass: the caption's image share sums the pinned tokens",
        (BROWSER,),
    ),
    Mutant(
        "payload-js-mass-offset",
        "js/payload.js",
        "mass[row] = view.getFloat32(HEADER_BYTES + 4 * (queries + row), true);",
        "mass[row] = view.getFloat32(HEADER_BYTES + 4 * row, true);",
        "decodeMaps: the image share read from the scales",
        (BROWSER,),
    ),
    Mutant(
        "payload-js-value-column",
        "js/payload.js",
        "return (maps.values[row * maps.columns + column] / 255) * maps.scales[row];",
        "return (maps.values[row * maps.columns + column + 1] / 255) * maps.scales[row];",
        "valueAt: the next column (off by one)",
        (BROWSER,),
    ),
    Mutant(
        "payload-js-byte-offset",
        "js/payload.js",
        "new Uint8Array(view.buffer, view.byteOffset + HEADER_BYTES + 8 * queries, queries * columns)",
        "new Uint8Array(view.buffer, HEADER_BYTES + 8 * queries, queries * columns)",
        "decodeMaps: ignores the DataView's offset into its buffer",
        (BROWSER,),
    ),
    # ----- js/overlay.js -----------------------------------------------------------------------------------
    Mutant(
        "overlay-cell-round",
        "js/geometry.js",
        "const col = Math.min(cols - 1, Math.max(0, Math.floor((x / width) * cols)));",
        "const col = Math.min(cols - 1, Math.max(0, Math.round((x / width) * cols)));",
        "cellAt: rounds to the nearest column edge (half a cell off)",
        ("tests/test_shared_rules.py", "tests/test_widget_browser.py"),
    ),
    Mutant(
        "overlay-always-smooth",
        "js/paint.js",
        "context.imageSmoothingEnabled = style.smooth;",
        "context.imageSmoothingEnabled = true;",
        "blocky cells are drawn smooth",
        (BROWSER,),
    ),
    Mutant(
        "overlay-reversed-colours",
        "js/paint.js",
        "for (let index = 0; index < indices.length; index++) out[index] = lut[indices[index]];",
        "for (let index = 0; index < indices.length; index++) out[index] = lut[255 - indices[index]];",
        "paintCells: the colour map reversed",
        (BROWSER,),
    ),
    Mutant(
        "overlay-no-clear",
        "js/paint.js",
        "context.clearRect(0, 0, style.width, style.height);",
        "",
        "drawMap: the canvas is not cleared first",
        (BROWSER,),
        equivalent="every cell is painted opaque over the whole canvas, so the old picture never shows through",
    ),
    # ----- js/colormap.js ----------------------------------------------------------------------------------
    Mutant(
        "colormap-floor",
        "js/colormap.js",
        "return Math.min(255, Math.round((value / max) * 255));",
        "return Math.min(255, Math.floor((value / max) * 255));",
        "colourIndex: floor instead of round (at most one of 256 colour steps darker)",
        (BROWSER, "js/tests/colormap.test.js"),
    ),
    Mutant(
        "colormap-red-blue",
        "js/colormap.js",
        "bytes.set([rgb[3 * index], rgb[3 * index + 1], rgb[3 * index + 2], 255], 4 * index);",
        "bytes.set([rgb[3 * index + 2], rgb[3 * index + 1], rgb[3 * index], 255], 4 * index);",
        "packedTable: red and blue swapped",
        (BROWSER,),
    ),
    Mutant(
        "colormap-tint-alpha",
        "js/colormap.js",
        "return `rgba(${rgb[3 * index]}, ${rgb[3 * index + 1]}, ${rgb[3 * index + 2]}, ${alpha})`;",
        "return `rgba(${rgb[3 * index]}, ${rgb[3 * index + 1]}, ${rgb[3 * index + 2]}, 1)`;",
        "cssColour: token tints ignore their strength",
        (BROWSER,),
    ),
    # ----- js/page.js --------------------------------------------------------------------------------------
    Mutant(
        "page-wrong-head",
        "js/page.js",
        'const payload = payloads[`${model.get("layer")}|${model.get("head")}`];',
        'const payload = payloads[`${model.get("layer")}|mean`];',
        "the HTML page ignores its head menu",
        (HTML,),
    ),
    Mutant(
        "page-opening-head",
        "js/page.js",
        "maps_payload: payloads[`${header.state.layer}|${header.state.head}`],",
        "maps_payload: payloads[`${header.state.layer}|mean`],",
        "the HTML page first paints the head mean, whatever head it opens on",
        (HTML,),
    ),
    Mutant(
        "page-head-only-change",
        "js/page.js",
        'if (!("layer" in changes || "head" in changes)) return;',
        'if (!("layer" in changes)) return;',
        "the HTML page answers layer changes only",
        (HTML,),
    ),
    Mutant(
        "page-title",
        "js/page.js",
        "if (title) title.textContent = prompt;",
        "",
        "the HTML page shows no prompt as its title",
        (HTML,),
    ),
    # ----- the view state, the shared rules, the light import --------------------------------------------------
    Mutant(
        "state-first-column",
        "qvl_widget/_view_state.py",
        "first_column=geometry.first_column,",
        "first_column=0,",
        "every image shows the first image's columns",
        (BROWSER,),
    ),
    Mutant(
        "state-js-frame-columns",
        "js/state.js",
        "return { start: medium.first_column + frame * count, count };",
        "return { start: frame * count, count };",
        "the front end reads every image's map from the first image's columns",
        (BROWSER,),
    ),
    Mutant(
        "strips-ignore-groups",
        "js/tokens.js",
        "strip.append(...this.chips.filter((_, index) => tokens[index].group === groupIndex));",
        "strip.append(...this.chips);",
        "every token lands in the last group's strip",
        (BROWSER,),
    ),
    Mutant(
        "colour-index-python-rounding",
        "qvl_widget/_colormaps.py",
        "scaled = np.floor(np.where(values > 0, values, 0.0) / vmax * 255.0 + 0.5)",
        "scaled = np.round(np.where(values > 0, values, 0.0) / vmax * 255.0)",
        "figures round half-way values to even, the browser up (one colour step apart)",
        ("tests/test_shared_rules.py",),
    ),
    Mutant(
        "heavy-import",
        "qvl_widget/__init__.py",
        "from ._example import example_image\n",
        "from ._example import example_image\nfrom ._loading import load as _load\n",
        "import qvl_widget loads torch and transformers",
        ("tests/test_light_import.py",),
    ),
    Mutant(
        "html-built-from-a-widget",
        "qvl_widget/_result.py",
        "        state = ViewState.of(self, **view_options)\n",
        "        state = self.widget(**view_options).view_state()\n",
        "to_html builds a widget to write the page",
        ("tests/test_view_state.py",),
    ),
]
