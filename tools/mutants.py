"""The mutants `tools/mutation.py` runs: one small deliberate bug each, in the code users' views depend on.

`MUTANTS` is this file's list plus those of `mutants_*.py` beside it (one file per area, so that work on several
areas at once never edits one file).

`original` must occur exactly once in `file` (else the mutant is reported stale or ambiguous: after a refactor,
point it at the new code or drop it). `tests` are the test files (or node ids; `.js` files run under
`node --test`) that must notice, fastest first: pytest stops at the first failure. `equivalent` says why a
mutant cannot be killed (it changes nothing anyone can observe); it is then reported, not counted as a miss.
"""

from __future__ import annotations

from mutant import Mutant

RESULT = "tests/test_result.py"
WIDGET = "tests/test_widget.py"
BROWSER = "tests/test_widget_browser.py"
HTML = "tests/test_html.py"
FIGURES = "tests/test_figures.py"
MAPS = "tests/test_maps.py"

MUTANTS = [
    # ----- qvl_widget/_result.py ---------------------------------------------------------------------------
    Mutant(
        "result-reduce-max-ignored",
        "qvl_widget/_choices.py",
        "    reduce = checked_reduce(reduce)\n    if choice is None",
        '    reduce = checked_reduce(reduce) and "mean"\n    if choice is None',
        "selected: reduce='max' averages instead (lists and 'all' of layers or heads always by their mean)",
        (RESULT,),
    ),
    Mutant(
        "result-layers-first",
        "qvl_widget/_result.py",
        "rows = _combine(_combine(chosen, over_heads, axis=1), over_layers, axis=0)",
        "rows = _combine(_combine(chosen, over_layers, axis=0), over_heads, axis=0)",
        "maps: layers combined before heads (differs where they are combined differently: head max, layer mean)",
        (RESULT, FIGURES),
    ),
    Mutant(
        "result-layers-by-max",
        "qvl_widget/_result.py",
        "rows = _combine(_combine(chosen, over_heads, axis=1), over_layers, axis=0)",
        'rows = _combine(_combine(chosen, over_heads, axis=1), "max", axis=0)',
        "maps: several layers always combined by max",
        (RESULT, FIGURES),
    ),
    Mutant(
        "result-grid-max-of-tokens",
        "qvl_widget/_result.py",
        "return per_token.mean(axis=0).reshape(shape)",
        "return per_token.max(axis=0).reshape(shape)",
        "grid: max over the selected tokens instead of their mean",
        (RESULT, FIGURES),
    ),
    Mutant(
        "result-default-tokens",
        "qvl_widget/_result.py",
        'enumerate(self.tokens) if query.part == "prompt" and not query.special]',
        'enumerate(self.tokens) if query.part == "prompt" and query.special]',
        "grid: with no tokens chosen, the template tokens instead of the prompt's",
        (RESULT, FIGURES),
    ),
    Mutant(
        "result-phrase-adjacent",
        "qvl_widget/_result.py",
        "and any(token.start < end and token.end > start for start, end in spans[token.part])",
        "and any(token.start <= end and token.end > start for start, end in spans[token.part])",
        "token_indices: the token right after a phrase counts too (off by one)",
        (RESULT,),
    ),
    Mutant(
        "result-index-range",
        "qvl_widget/_choices.py",
        "if not -size <= value < size:",
        "if not -size <= value <= size:",
        "index check lets index == size through (off by one)",
        (RESULT,),
    ),
    Mutant(
        "result-format-version",
        "qvl_widget/_result.py",
        "if type(version) is not int or version not in READABLE_FORMAT_VERSIONS:",
        "if False:",
        "load: the format-version check removed",
        ("tests/test_result_files.py", RESULT),
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
        'return per_layer.mean(axis=0, dtype=np.float32) if over_layers == "mean" else per_layer.max(axis=0)',
        "layer_means = self.result.attention[layers].mean(axis=0, keepdims=True, dtype=np.float32)\n"
        '        return _over_heads(layer_means, head)[0] if over_layers == "mean" else per_layer.max(axis=0)',
        "Selections.maps: layer mean taken before the head mean/max (wrong order)",
        (WIDGET, BROWSER),
    ),
    Mutant(
        "payload-layer-mean-of-head-is-max",
        "qvl_widget/_payload.py",
        'return per_layer.mean(axis=0, dtype=np.float32) if over_layers == "mean" else per_layer.max(axis=0)',
        "return per_layer.max(axis=0)",
        "Selections.maps: a layer mean (of one head, or of a head list) is a max",
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
        'per_layer = shares.mean(axis=1) if over_heads == "mean" else shares.max(axis=1)',
        "per_layer = shares.mean(axis=1)",
        "Selections.mass: the head max's image share is the mean",
        (WIDGET,),
    ),
    # ----- qvl_widget/_widget.py ---------------------------------------------------------------------------
    Mutant(
        "widget-head-ignored",
        "qvl_widget/_widget.py",
        (
            "            self.available = dict(menus)\n"
            "        self.maps_payload = self._selections.payload(self.layer, self.head, self.relative, self"
            ".drop_sinks)"
        ),
        (
            "            self.available = dict(menus)\n"
            '        self.maps_payload = self._selections.payload(self.layer, "mean", self.relative, self.dr'
            "op_sinks)"
        ),
        "_send_maps: a head change always sends the head mean",
        (WIDGET, BROWSER),
    ),
    Mutant(
        "widget-head-not-observed",
        "qvl_widget/_widget.py",
        '@traitlets.observe("layer", "head", "reduce", "relative", "drop_sinks")',
        '@traitlets.observe("layer", "reduce", "relative", "drop_sinks")',
        "a head change sends no new maps",
        (WIDGET, BROWSER),
    ),
    Mutant(
        "widget-initial-head",
        "qvl_widget/_widget.py",
        (
            "        self._ready = True\n        self.maps_payload = self._selections.payload(self.layer, se"
            "lf.head, self.relative, self.drop_sinks)"
        ),
        (
            '        self._ready = True\n        self.maps_payload = self._selections.payload(self.layer, "m'
            'ean", self.relative, self.drop_sinks)'
        ),
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
        (
            "            self.available = dict(menus)\n"
            "        self.maps_payload = self._selections.payload(self.layer, self.head, self.relative, self"
            ".drop_sinks)\n"
        ),
        (
            "            self.available = dict(menus)\n"
            "        self.maps_payload = self._selections.payload(self.layer, self.head, self.relative, self"
            '.drop_sinks)\n        self.send({"event": "maps"})\n'
        ),
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
        "add(selections.payload(layer, head, relative, drop_sinks))",
        'add(selections.payload(layer, "mean", relative, drop_sinks))',
        "every embedded choice holds the head mean's maps",
        (HTML,),
    ),
    Mutant(
        "html-opening-head",
        "qvl_widget/_html.py",
        "choices = embedded_choices(result, layers, heads, current=(state.layer, state.head), reduce=state.reduce)",
        "choices = embedded_choices(result, layers, heads, current=(state.layer, state.head), reduce=state.reduce)\n"
        '    state = state.replace(head="mean")',
        "the page opens on the head mean, whatever the widget showed",
        (HTML,),
    ),
    Mutant(
        "html-shared-scale",
        "qvl_widget/_html.py",
        '"state": opening.json_fields(),',
        '"state": opening.replace(shared_scale=False).json_fields(),',
        "the page ignores the shared colour scale",
        (HTML,),
    ),
    Mutant(
        "html-pins-lost",
        "qvl_widget/_html.py",
        '"state": opening.json_fields(),',
        '"state": opening.replace(selected=[]).json_fields(),',
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
        "qvl_widget/_overlay.py",
        "    if not smooth:\n        ys = _nearest(",
        "    if smooth:\n        ys = _nearest(",
        "overlay_map: smooth and blocky swapped",
        (FIGURES,),
    ),
    Mutant(
        "figures-alpha-swapped",
        "qvl_widget/_overlay.py",
        "mixed = picture.astype(np.uint32) * (255 - alpha) + layer[..., :3].astype(np.uint32) * alpha",
        "mixed = picture.astype(np.uint32) * alpha + layer[..., :3].astype(np.uint32) * (255 - alpha)",
        "overlay_map: the picture's and the colour's weights swapped",
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
        "overlay.imshow(_panel_overlay(picture, grid, table, alpha, smooth, top, style, layout.shown_inches))",
        "overlay.imshow(_panel_overlay(picture, grid, table, alpha, smooth, grid.max(), style, layout.shown_inches))",
        "layers_figure: each overlay on its own colour scale",
        (FIGURES,),
    ),
    Mutant(
        "figures-matrix-reduce",
        "qvl_widget/_figures.py",
        "matrix = result.maps(layer, head, reduce, producing=producing, unit=unit,",
        "matrix = result.maps(layer, head, producing=producing, unit=unit,",
        "matrix_figure: reduce ignored",
        (FIGURES,),
    ),
    Mutant(
        "figures-matrix-producing-ignored",
        "qvl_widget/_figures.py",
        "matrix = result.maps(layer, head, reduce, producing=producing, unit=unit,",
        "matrix = result.maps(layer, head, reduce, unit=unit,",
        "matrix_figure: producing=True shows each token's own row",
        (FIGURES,),
    ),
    Mutant(
        "figures-answer-separator-missing",
        "qvl_widget/_figures.py",
        'axes.axhline(first - 0.5, color="white", linewidth=1.5, gid=f"{part}-boundary")',
        "pass",
        "matrix_figure: no line between the prompt's rows and the answer's (or the thinking's)",
        (FIGURES,),
    ),
    Mutant(
        "figures-answer-labels-black",
        "qvl_widget/_figures.py",
        """        else:
            label.set_color(_PART_COLOURS[token.part])""",
        """        else:
            pass""",
        "matrix_figure: the answer's (and the thinking's) labels look like the prompt's",
        (FIGURES,),
    ),
    Mutant(
        "figures-blank-rows-coloured",
        "qvl_widget/_figures.py",
        "with_extremes(bad=(1.0, 1.0, 1.0, 0.0))  # NaN rows: blank",
        "with_extremes(bad=(0.0, 0.0, 0.5, 1.0))  # NaN rows: blank",
        "matrix_figure: rows without a producing step drawn in the colour of 0, not blank",
        (FIGURES,),
    ),
    Mutant(
        "figures-layer-label-by-position",
        "qvl_widget/_figures.py",
        'return _choice_label(layer, result.num_layers, result.layer_ids, "layer", reduce)',
        'return _choice_label(layer, result.num_layers, range(result.num_layers), "layer", reduce)',
        "titles name layers by their position among the captured ones, not their decoder-layer id",
        (FIGURES,),
    ),
    Mutant(
        "figures-panel-by-position",
        "qvl_widget/_figures.py",
        'heat.set_title(f"layer {result.layer_ids[layer]}"',
        'heat.set_title(f"layer {layer}"',
        "layers_figure: panels titled by position, not decoder-layer id",
        (FIGURES,),
    ),
    Mutant(
        "figures-writing-probability-of-first",
        "qvl_widget/_figures.py",
        "probability = float(np.prod(np.asarray(probabilities, dtype=np.float64)))",
        "probability = float(probabilities[0])",
        "layers_figure: 'while writing' gives the first token's probability for several",
        (FIGURES,),
    ),
    Mutant(
        "figures-layers-head",
        "qvl_widget/_figures.py",
        "            head=head,\n            reduce=reduce,\n            image=image,\n",
        "            reduce=reduce,\n            image=image,\n",
        "layers_figure: head ignored",
        (FIGURES,),
    ),
    Mutant(
        "figures-layers-producing-ignored",
        "qvl_widget/_figures.py",
        "            image=image,\n            producing=producing,\n            unit=unit,\n",
        "            image=image,\n            unit=unit,\n",
        "layers_figure: producing=True shows each token's own row",
        (FIGURES,),
    ),
    # ----- qvl_widget/cli.py and the original API ---------------------------------------------------------
    Mutant(
        "cli-answer-figures-own-rows",
        "qvl_widget/cli.py",
        "    producing = selects_generated(result, phrase, tokens)",
        "    producing = False",
        "the command's figures of answer words show their own rows, not their producing maps",
        ("tests/test_cli.py",),
    ),
    Mutant(
        "cli-max-new-tokens-ignored",
        "qvl_widget/cli.py",
        'return {"answer": True, "max_new_tokens": tokens, **thinking}',
        'return {"answer": True, **thinking}',
        "--max-new-tokens ignored",
        ("tests/test_cli.py",),
    ),
    Mutant(
        "visualizer-cache-key-without-answer",
        "qvl_widget/_visualizer.py",
        "key = (tuple(_content_key(picture) for picture in pictures), text_prompt, answer, thinking)",
        "key = (tuple(_content_key(picture) for picture in pictures), text_prompt, thinking)",
        "QwenVLCrossModalVisualizer: a capture with an answer reused for one without (and back)",
        ("tests/test_visualizer.py",),
    ),
    # ----- js/view.js --------------------------------------------------------------------------------------
    Mutant(
        "view-save-first-image",
        "js/view.js",
        'const composites = this.model.get("media").map((medium, index) => {',
        'const composites = this.model.get("media").slice(0, 1).map((medium, index) => {',
        "Save PNG saves only the first image",
        (BROWSER,),
    ),
    Mutant(
        "view-save-half-size",
        "js/save.js",
        "    layer.width = bitmap.width;\n    layer.height = bitmap.height;",
        "    layer.width = bitmap.width / 2;\n    layer.height = bitmap.height / 2;",
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
        "if (row !== null && this.strips.isVisible(token) && maps.scales[row] > max) max = maps.scales[row];",
        "if (row !== null && maps.scales[row] > max) max = maps.scales[row];",
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
        'const repainting = ["selected", "producing", "unit", "mark_sinks", "head_overview", "colormap", "smooth"];',
        'const repainting = ["selected", "producing", "unit", "mark_sinks", "head_overview", "smooth"];',
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
        'for (const name of ["layer", "head", "available", "relative", "drop_sinks"]) {',
        'for (const name of ["head", "available", "relative", "drop_sinks"]) {',
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
        "column = start + cell.row * medium.cols + cell.col;",
        "column = start + cell.col * medium.cols + cell.row;",
        "tints read the hovered cell with rows and columns swapped",
        (BROWSER,),
    ),
    Mutant(
        "view-opacity",
        "js/view.js",
        'repainting.push("opacity", "overlay_style", "boxes");',
        'repainting.push("overlay_style", "boxes");',
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
        'if (!offered && heads.length) this.model.set("head", heads[0]);',
        "",
        "choosing a layer without the current head keeps that head (nothing to show in the HTML page)",
        (HTML,),
    ),
    # ----- js/payload.js -----------------------------------------------------------------------------------
    Mutant(
        "payload-js-sum-of-rows",
        "js/payload.js",
        (
            "  for (const row of rows) {\n    const factor = maps.scales[row] / 255 / rows.length;\n"
            "    const offset = row * maps.columns + start;"
        ),
        (
            "  for (const row of rows) {\n    const factor = maps.scales[row] / 255;\n"
            "    const offset = row * maps.columns + start;"
        ),
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
        "js/overlay.js",
        "    if (!smooth) {\n      low[pixel]",
        "    if (false) {\n      low[pixel]",
        "blocky cells are drawn smooth",
        (BROWSER,),
    ),
    Mutant(
        "overlay-reversed-colours",
        "js/overlay.js",
        "out[offset + x] = table[colourIndex(line[x], max)];",
        "out[offset + x] = table[255 - colourIndex(line[x], max)];",
        "heatPixels: the colour map reversed",
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
        (BROWSER, "tests/test_maps_browser.py::test_the_head_overview_paints_in_the_chosen_colour_map"),
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
        '      const payload = payloadOf({\n        layer: model.get("layer"),\n        head: model.get("head"),',
        '      const payload = payloadOf({\n        layer: model.get("layer"),\n        head: "mean",',
        "the HTML page ignores its head menu",
        (HTML,),
    ),
    Mutant(
        "page-opening-head",
        "js/page.js",
        "    maps_payload: payloadOf(header.state),",
        '    maps_payload: payloadOf({ ...header.state, head: "mean" }),',
        "the HTML page first paints the head mean, whatever head it opens on",
        (HTML,),
    ),
    Mutant(
        "page-head-only-change",
        "js/page.js",
        'if (!["layer", "head", "relative", "drop_sinks"].some((name) => name in changes)) return;',
        'if (!["layer", "relative", "drop_sinks"].some((name) => name in changes)) return;',
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
    # ----- the answer -----------------------------------------------------------------------------------------
    Mutant(
        "answer-probability-shifted",
        "qvl_widget/_answer.py",
        "probabilities = _probabilities(logits[0, :count], answer_ids)",
        "probabilities = _probabilities(logits[0, 1:], answer_ids)",
        "a given answer's probabilities read one position late",
        ("tests/test_answer.py::test_a_given_answer_is_teacher_forced",),
    ),
    Mutant(
        "answer-last-row-missing",
        "qvl_widget/_answer.py",
        '        _feed_back(model, ids[-1:], getattr(output, "cache", None) or output.past_key_values)\n',
        "",
        "the last answer token is never fed back for its own row",
        ("tests/test_answer.py::test_the_answer_is_the_one_generate_gives",),
    ),
    Mutant(
        "capture-rows-window",
        "qvl_widget/_capture.py",
        "bounds = torch.tensor([query_offset, query_offset + query_length], dtype=self.query_positions.dtype)",
        "bounds = torch.tensor([query_offset, query_offset + query_length - 1], dtype=self.query_positions.dtype)",
        "a call's kept rows stop one short (a generation step's row is never kept)",
        ("tests/test_answer.py",),
    ),
    Mutant(
        "result-producing-next",
        "qvl_widget/_result.py",
        "row = row_of.get(int(self.query_positions[index]) - 1)",
        "row = row_of.get(int(self.query_positions[index]) + 1)",
        "producing maps read the next position's row",
        ("tests/test_answer.py::test_producing_maps_are_the_rows_of_the_positions_before",),
    ),
    Mutant(
        "state-producer-own-row",
        "qvl_widget/_view_state.py",
        "producer=row_of.get(int(position) - 1),",
        "producer=row_of.get(int(position)),",
        "the front end is told each token produced itself",
        ("tests/test_answer_views.py",),
    ),
    Mutant(
        "view-producing-ignored",
        "js/view.js",
        'return this.showsProducer(token) ? this.model.get("tokens")[token].producer : token;',
        "return token;",
        "the producing switch changes nothing on screen",
        ("tests/test_answer_views.py",),
    ),
    # ----- QWEN3.5: hybrid decoders (qvl_widget/_families.py, _loading.py) ------------------------------------
    Mutant(
        "hybrid-every-layer",
        "qvl_widget/_families.py",
        "if kind not in MAPLESS_LAYER_TYPES)",
        "if kind is not None)",
        "attention_layers: linear-attention layers counted as attention layers (capture waits for rows never made)",
        ("tests/test_hybrid.py",),
    ),
    Mutant(
        "hybrid-indices-count-decoder-layers",
        "qvl_widget/_loading.py",
        "return tuple(sorted({available[position] for position in positions}))",
        "return tuple(sorted({position for position in positions}))",
        "kept_layers: indices taken as decoder layers, not as positions among the attention layers",
        ("tests/test_hybrid.py", "tests/test_bad_input.py"),
    ),
    Mutant(
        "cli-hybrid-counts-every-layer",
        "qvl_widget/cli.py",
        "layers = sum(kind not in MAPLESS_LAYER_TYPES for kind in layer_types[:layers])",
        "layers = int(layers)",
        "the CLI's early --layers check counts a hybrid decoder's linear-attention layers",
        ("tests/test_cli.py::test_the_config_counts_are_the_loaded_models",),
    ),
    # ----- thinking (qvl_widget/_answer.py, _inputs.py, the views, the figures, the CLI) -----------------------
    Mutant(
        "thinking-close-in-answer",
        "qvl_widget/_answer.py",
        "stop = len(ids) if close is None else close + 1",
        "stop = len(ids) if close is None else close",
        "answer_parts: the model's '</think>' is counted as the answer's, not the thinking's",
        ("tests/test_thinking.py",),
    ),
    Mutant(
        "thinking-prompt-block-ignored",
        "qvl_widget/_answer.py",
        "not (opens_thinking or (ids and ids[0] == markers[0]))",
        "not (ids and ids[0] == markers[0])",
        "answer_parts: a thinking the template opened is taken for the answer",
        ("tests/test_thinking.py",),
    ),
    Mutant(
        "thinking-own-think-ignored",
        "qvl_widget/_answer.py",
        "not (opens_thinking or (ids and ids[0] == markers[0]))",
        "not opens_thinking",
        "answer_parts: a '<think>' the model writes first (Qwen3-style templates) opens no thinking",
        ("tests/test_thinking.py",),
    ),
    Mutant(
        "thinking-line-breaks-are-text",
        "qvl_widget/_answer.py",
        "for run in (thought, thought[::-1], after):",
        "for run in ():",
        "answer_parts: the line breaks around the markers are the thinking's and the answer's text",
        ("tests/test_thinking.py",),
    ),
    Mutant(
        "thinking-switch-not-passed",
        "qvl_widget/_inputs.py",
        "switch = {} if thinking is None else {THINKING_SWITCH: thinking}",
        "switch = {}",
        "thinking=True/False never reaches the chat template",
        ("tests/test_thinking.py",),
    ),
    Mutant(
        "thinking-closed-block-open",
        "qvl_widget/_inputs.py",
        "return bool(opens.size) and (not closes.size or opens[-1] > closes[-1])",
        "return bool(opens.size)",
        "the empty block of thinking=False is taken for an open thinking",
        ("tests/test_thinking.py",),
    ),
    Mutant(
        "thinking-given-without-close",
        "qvl_widget/_answer.py",
        "        if not closed:\n",
        "        if False:\n",
        "a given answer without '</think>' is accepted where the template opened the thinking",
        ("tests/test_thinking.py",),
    ),
    Mutant(
        "thinking-switch-without-template",
        "qvl_widget/_inputs.py",
        "    if not has_thinking_switch(chat_template):",
        "    if False:",
        "thinking=True/False accepted (and ignored) for a template without the switch",
        ("tests/test_thinking.py", "tests/test_visualizer.py"),
    ),
    Mutant(
        "thinking-never-unfinished",
        "qvl_widget/_result.py",
        "return self.thinking is not None and not any(",
        "return False and not any(",
        "still_thinking: a generation cut short while thinking is never said",
        ("tests/test_thinking.py", FIGURES),
    ),
    Mutant(
        "thinking-not-loaded",
        "qvl_widget/_result.py",
        "        thinking=contents.thinking,\n",
        "",
        "load: the thinking's text is dropped",
        ("tests/test_thinking.py",),
    ),
    Mutant(
        "state-thinking-strip-is-answer",
        "qvl_widget/_view_state.py",
        "            label=GROUP_LABELS[part],",
        '            label=GROUP_LABELS["answer" if part == "thinking" else part],',
        "the thinking's strip is labelled Answer",
        ("tests/test_answer_views.py",),
    ),
    Mutant(
        "view-thinking-while-writing",
        "js/labels.js",
        '{ thinking: "while thinking", answer: "while writing" }',
        '{ thinking: "while writing", answer: "while writing" }',
        "captions say a thinking word was written for the answer",
        ("js/tests/labels.test.js", "tests/test_answer_views.py"),
    ),
    Mutant(
        "view-thinking-note-missing",
        "js/view.js",
        "if (this.tokensChosen()) parts.push(...this.groupNotes(shown));",
        "",
        "captions of a thinking cut short do not say the model was still thinking",
        ("tests/test_answer_views.py",),
    ),
    Mutant(
        "page-thinking-hidden",
        "js/page.js",
        "  block.hidden = false;",
        "",
        "the HTML page never shows the thinking",
        ("tests/test_answer_views.py",),
    ),
    Mutant(
        "figures-thinking-as-answer",
        "qvl_widget/_figures.py",
        '"thinking": _THINKING_COLOUR,',
        '"thinking": _ANSWER_COLOUR,',
        "matrix_figure: the thinking's rows look like the answer's",
        (FIGURES,),
    ),
    Mutant(
        "cli-thinking-not-printed",
        "qvl_widget/cli.py",
        'print(f"thinking: {visible(shortened(result.thinking, SHOWN_THINKING))}", flush=True)',
        "pass",
        "the command does not print the thinking",
        ("tests/test_cli.py",),
    ),
    Mutant(
        "cli-thinking-switch-ignored",
        "qvl_widget/cli.py",
        'thinking = {} if arguments.thinking is None else {"thinking": arguments.thinking}',
        "thinking = {}",
        "--thinking / --no-thinking change nothing",
        ("tests/test_cli.py",),
    ),
    # ----- HARDEN ----------------------------------------------------------------------------------------------
    Mutant(
        "widget-list-not-in-menus",
        "qvl_widget/_widget.py",
        "        if menus != self.available:",
        "        if False:",
        "a layer or head list set from Python is drawn but missing from the menus",
        (WIDGET,),
    ),
    Mutant(
        "capture-no-lock",
        "qvl_widget/_capture.py",
        "    if not lock.acquire(blocking=False):",
        "    if not lock.acquire(blocking=True):",
        "a second capture on a busy model waits silently instead of being refused at once",
        ("tests/test_concurrency.py",),
    ),
    # ----- MAPS ---------------------------------------------------------------------------------------------------
    Mutant(
        "maps-uniform-wrong-count",
        "qvl_widget/_result.py",
        "rows = rows * np.float32(self.attention.shape[-1])",
        "rows = rows * np.float32(self.attention.shape[-1] - 1)",
        "unit='uniform' multiplies by one image token fewer (an even spread is no longer 1)",
        (MAPS,),
    ),
    Mutant(
        "maps-relative-no-floor",
        "qvl_widget/_result.py",
        "rows = rows / np.maximum(combined, np.float32(RELATIVE_FLOOR / self.attention.shape[-1]))",
        "rows = rows / combined",
        "relative maps divide by a zero baseline (infinite ratios)",
        (MAPS,),
    ),
    Mutant(
        "maps-relative-baseline-always-head-mean",
        "qvl_widget/_result.py",
        "combined = _combine(_combine(baseline, over_heads, axis=1), over_layers, axis=0)",
        'combined = _combine(_combine(baseline, "mean", axis=1), over_layers, axis=0)',
        "the baseline's heads are averaged whatever the head choice",
        (MAPS,),
    ),
    Mutant(
        "maps-drop-sinks-no-rescale",
        "qvl_widget/_result.py",
        "        block *= scale.astype(block.dtype)\n",
        "",
        "drop_sinks zeroes the sinks without giving their share to the other image tokens",
        (MAPS,),
    ),
    Mutant(
        "maps-sinks-at-tau",
        "qvl_widget/_result.py",
        "return np.flatnonzero(self.sink_scores[layer] > number)",
        "return np.flatnonzero(self.sink_scores[layer] >= number)",
        "sinks() flags a token whose score equals tau (the rule: exceeds it)",
        (MAPS,),
    ),
    Mutant(
        "maps-entropy-not-normalized",
        "qvl_widget/_result.py",
        "np.where(totals[..., 0] > 0, -terms.sum(axis=-1) / math.log(cells), np.nan)",
        "np.where(totals[..., 0] > 0, -terms.sum(axis=-1), np.nan)",
        "head_summary's spatial entropy is not divided by log(image tokens)",
        (MAPS,),
    ),
    Mutant(
        "maps-sink-score-signed",
        "qvl_widget/_capture.py",
        "return values.abs().amax(dim=-1) / values.square().mean(dim=-1).add(eps).sqrt()",
        "return values.amax(dim=-1) / values.square().mean(dim=-1).add(eps).sqrt()",
        "sink scores take the largest value, not the largest absolute value",
        (MAPS,),
    ),
    Mutant(
        "maps-sink-scores-from-decoding-steps",
        "qvl_widget/_capture.py",
        "        if hidden.shape[1] <= int(self.image_positions[-1]):  # a decoding step: the image is in the cache\n"
        "            return\n",
        "",
        "sink scores are read in decoding steps too (whose hidden states are the new tokens')",
        (MAPS,),
    ),
    Mutant(
        "maps-baseline-wrong-row",
        "qvl_widget/_loading.py",
        "query_positions=torch.tensor([length - 1]),",
        "query_positions=torch.tensor([length - 2]),",
        "the baseline keeps the row of the token before its last",
        (MAPS,),
    ),
    Mutant(
        "maps-ticks-four-decimals",
        "qvl_widget/_figures.py",
        "    decimals = max(0, 1 - math.floor(math.log10(scale)))\n",
        "    decimals = min(4, max(0, 1 - math.floor(math.log10(scale))))\n",
        "colour bar labels stop at 4 decimals (tiny probabilities read 0.0000%)",
        (MAPS,),
    ),
]


def _more_mutants() -> list[Mutant]:
    """The mutants of the `mutants_*.py` files beside this one, in file-name order."""
    import importlib
    from pathlib import Path

    more: list[Mutant] = []
    for path in sorted(Path(__file__).parent.glob("mutants_*.py")):
        more.extend(importlib.import_module(path.stem).MUTANTS)
    return more


MUTANTS += _more_mutants()
