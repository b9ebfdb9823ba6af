"""Mutants of the views (issue 24's view half): the film strip, the head overview, the HTML page's opening state,
answers in the views and views of videos with different group counts. Each is a bug that once went unnoticed;
`tools/mutants.py` explains the fields and joins this list to its own."""

from __future__ import annotations

from mutant import Mutant

VIDEO = "tests/test_video_browser.py"
MAPS = "tests/test_maps_browser.py"
WIDGET = "tests/test_widget_browser.py"
STATE = "tests/test_view_state.py"

MUTANTS = [
    # ----- the film strip ----------------------------------------------------------------------------------
    Mutant(
        "views-strip-top-colour",
        "js/filmstrip.js",
        "bar.style.backgroundColor = cssColour(colormap, value, max);",
        "bar.style.backgroundColor = cssColour(colormap, max, max);",
        "film strip: every bar drawn in the top colour",
        (VIDEO,),
    ),
    Mutant(
        "views-scrubber-one-too-long",
        "js/filmstrip.js",
        "max: String(count - 1),",
        "max: String(count),",
        "film strip: the scrubber's range one group too long",
        (VIDEO,),
    ),
    Mutant(
        "views-strip-relative-sums",
        "js/view.js",
        "if (relative) for (let group = 0; group < sums.length; group++) sums[group] /= count;",
        "",
        "film strip: with relative maps, each group's ratios summed instead of averaged",
        (VIDEO,),
    ),
    Mutant(
        "views-sink-note-group-0",
        "js/view.js",
        "frameColumns(medium, this.panels.panels[cell.medium].shown);\n    return this.sinkColumns()",
        "frameColumns(medium, 0);\n    return this.sinkColumns()",
        "caption: the 'visual sink' note on a video reads group 0's cell, whatever group is shown",
        (VIDEO,),
    ),
    # ----- the head overview -------------------------------------------------------------------------------
    Mutant(
        "views-heads-tooltip-by-position",
        "js/heads.js",
        "layerLabel(cell.layer, paint.layerIds)",
        "layerLabel(cell.layer)",
        "head overview: the tooltip names layers by position, not by layer_ids",
        (MAPS,),
    ),
    Mutant(
        "views-heads-legend-by-position",
        "js/heads.js",
        "    const first = layerIds[0] ?? 0;\n    const last = layerIds[this.layers - 1] ?? this.layers - 1;",
        "    const first = 0;\n    const last = this.layers - 1;",
        "head overview: the legend names layers by position, not by layer_ids",
        (MAPS,),
    ),
    Mutant(
        "views-heads-ignore-producing",
        "js/view.js",
        "values: headValues(heads, this.activeRows(), measure),",
        "values: headValues(heads, this.activeTokens(), measure),",
        "head overview: the tokens' own rows, whatever the producing switch says",
        (MAPS,),
    ),
    Mutant(
        "views-heads-outline-wrong-rows",
        "js/heads.js",
        "    for (const layer of chosen.layers) {",
        "    for (const layer of chosen.heads) {",
        "head overview: the chosen heads outlined in the rows of the head indices",
        (MAPS,),
    ),
    Mutant(
        "views-heads-outline-all-heads",
        "js/heads.js",
        "if (chosen.layers.length === this.layers && chosen.heads.length === this.heads) return;",
        "if (chosen.layers.length === this.layers || chosen.heads.length === this.heads) return;",
        "head overview: nothing outlined when every head (of one layer) is chosen",
        (MAPS,),
    ),
    # ----- the HTML page's opening state -------------------------------------------------------------------
    Mutant(
        "views-page-opens-on-plain-maps",
        "js/page.js",
        "    maps_payload: payloadOf(header.state),",
        "    maps_payload: payloadOf({ ...header.state, relative: false, drop_sinks: false }),",
        "HTML page: first paints plain maps though its switches say relative or sinks dropped",
        (MAPS, STATE),
    ),
    Mutant(
        "views-page-opens-on-group-0",
        "js/page.js",
        "    ...header.state,\n",
        "    ...header.state,\n    group: 0,\n",
        "HTML page: always opens on the first temporal group",
        (VIDEO, STATE),
    ),
    Mutant(
        "views-html-drops-drop-sinks",
        "qvl_widget/_html.py",
        "drop_sinks=state.drop_sinks and any(drop for _, drop in variants))",
        "drop_sinks=False)",
        "HTML page: written with sinks dropped, it opens with them kept",
        (STATE,),
    ),
    Mutant(
        "views-html-opens-on-group-0",
        "qvl_widget/_html.py",
        "    opening = state.replace(available=embedded, ",
        "    opening = state.replace(available=embedded, group=0, ",
        "HTML page: its state always says the first temporal group",
        (STATE,),
    ),
    # ----- answers in the views ----------------------------------------------------------------------------
    Mutant(
        "views-summary-averages-answers",
        "js/view.js",
        '(!token.special && this.partOf(index) === "prompt" ? [index] : [])',
        "(!token.special ? [index] : [])",
        "summary view (nothing hovered or pinned): the answer's tokens averaged in with the prompt's",
        (WIDGET,),
    ),
    Mutant(
        "views-generated-special-empty",
        "js/tokens.js",
        "chip.textContent = chipText(token.text);",
        'chip.textContent = chipText(token.special && token.probability !== null ? "" : token.text);',
        "token strips: a generated special token (<|im_end|>) shown as an empty token",
        (WIDGET,),
    ),
    Mutant(
        "views-producer-previous-row",
        "qvl_widget/_view_state.py",
        "producer=row_of.get(int(position) - 1),",
        "producer=row_of[int(position)] - 1 if row_of[int(position)] else None,",
        "view state: a token's producer is the previous row, not the row of the position before it",
        (STATE,),
    ),
    # ----- two videos of different group counts ------------------------------------------------------------
    Mutant(
        "views-group-bounded-by-shorter-video",
        "qvl_widget/_view_state.py",
        'groups = max((geometry.groups for geometry in result.images if geometry.kind == "video"), default=0)',
        'groups = min((geometry.groups for geometry in result.images if geometry.kind == "video"), default=0)',
        "group=: bounded by the video with the fewest groups",
        (STATE, VIDEO),
    ),
    Mutant(
        "views-shorter-video-past-its-last",
        "js/panels.js",
        "return Math.max(0, Math.min(group, medium.frames.length - 1));",
        "return Math.max(0, group);",
        "a video with fewer groups than the one shown: no frame, instead of its last",
        (VIDEO,),
    ),
]
