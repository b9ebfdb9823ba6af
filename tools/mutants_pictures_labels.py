"""Mutants of issue 25's labels (the LABELS half): figure titles that name the word and say what a probability is,
colour bars that say what their number is a share of, width= and title= with fonts for the width, the figure
regression tests, the CLI's shared layer default and reading lines, the producing switch that applies to the model's
words, and the toolbar's tooltips. Each is a bug the tests must see; `tools/mutants.py` explains the fields and
joins this list to its own."""

from __future__ import annotations

from mutant import Mutant

FIGURES = "tests/test_figures.py"
IMAGES = "tests/test_figure_images.py"
MAPS = "tests/test_maps.py"
CLI = "tests/test_cli.py::test_demo_and_explore_share_their_layer_default_and_say_how_to_read_each_file"
ANSWER_VIEWS = "tests/test_answer_views.py"
LABELS_JS = "js/tests/labels.test.js"
TOOLTIPS = "tests/test_widget_browser.py::test_every_toolbar_control_shows_what_it_does_when_pointed_at"
PRODUCING_MENU = (
    "tests/test_answer_views.py::test_the_producing_menu_shows_every_tokens_producing_step_or_each_tokens_own_row"
)

MUTANTS = [
    # ----- figure titles and colour bars ---------------------------------------------------------------------
    Mutant(
        "labels-title-names-a-position",
        "qvl_widget/_figures.py",
        'return f"{_quoted_tokens(result, indices)} {_where(result, indices)}"',
        'return f"token {indices[0]} {_where(result, indices)}"',
        "figure titles: a selected token named by its position, not its words",
        (FIGURES,),
    ),
    Mutant(
        "labels-title-bare-probability",
        "qvl_widget/_figures.py",
        "(the model's probability {_percent(probability)})",
        "({_percent(probability)})",
        "figure titles: the model's probability of its words as a bare percentage (it reads as an attention share)",
        (FIGURES,),
    ),
    Mutant(
        "labels-colorbar-shares-nothing",
        "qvl_widget/_figures.py",
        'return f"share of {whose} attention" + (" (mean)" if whose == "the tokens\'" else "")',
        'return "attention probability"',
        "figure colour bars: no word of what the number is a share of",
        (FIGURES,),
    ),
    Mutant(
        "labels-matrix-rows-unsaid",
        "qvl_widget/_figures.py",
        'line = "each row: the step that wrote its token (in the prompt: that predicted it)"',
        'line = "producing step"',
        "matrix figure: the title no longer says which step each row is",
        (FIGURES,),
    ),
    Mutant(
        "labels-heads-entropy-not-focus",
        "qvl_widget/_figures.py",
        '(1.0 - summary.spatial_entropy, "focus (1: one cell, 0: even)"',
        '(summary.spatial_entropy, "focus (1: one cell, 0: even)"',
        "heads figure: the grid titled focus shows the spatial entropy (dark where focused)",
        (MAPS,),
    ),
    # ----- width=, title=, fonts -----------------------------------------------------------------------------
    Mutant(
        "labels-fonts-ignore-the-width",
        "qvl_widget/_figures.py",
        "    share = min(1.0, max(0.0, (width - low) / (high - low)))",
        "    share = 1.0",
        "figures: a page's fonts at every width (a column figure's text crowds its panels)",
        (FIGURES,),
    ),
    Mutant(
        "labels-fonts-under-six-points",
        "qvl_widget/_figures.py",
        "_COLUMN_FONTS = _Fonts(tick=MIN_FONT_POINTS,",
        "_COLUMN_FONTS = _Fonts(tick=4.5,",
        "figures: a column figure's tick labels at 4.5 pt, unreadable in print",
        (FIGURES,),
    ),
    Mutant(
        "labels-titles-never-wrap",
        "qvl_widget/_figures.py",
        "    if len(line) <= most:",
        "    if True:",
        "figures: a long title line runs past a narrow figure's edges",
        (FIGURES,),
    ),
    Mutant(
        "labels-title-false-ignored",
        "qvl_widget/_figures.py",
        "    if title is False:\n        return None",
        "    if title is False:\n        title = None",
        "figures: title=False draws the figure's own title",
        (FIGURES,),
    ),
    Mutant(
        "labels-column-preset-wrong",
        "qvl_widget/_figures.py",
        'WIDTH_PRESETS: dict[str, float] = {"column": 3.3, "page": 7.0}',
        'WIDTH_PRESETS: dict[str, float] = {"column": 3.5, "page": 7.0}',
        "figures: width='column' makes a figure wider than a paper's column",
        (FIGURES,),
    ),
    Mutant(
        "labels-narrow-figure-keeps-every-panel-in-a-row",
        "qvl_widget/_figures.py",
        "    most = min(LAYERS_PER_ROW, _panels_that_fit(width - 1.15, 1))",
        "    most = LAYERS_PER_ROW",
        "layers figure: six layers in one row at a column's width (panels too small to read)",
        (IMAGES,),
    ),
    # ----- the command line ----------------------------------------------------------------------------------
    Mutant(
        "labels-demo-draws-all-layers",
        "qvl_widget/cli.py",
        "layers = arguments.layers or last_layers(result.num_layers)",
        "layers = arguments.layers or list(range(result.num_layers))",
        "qvl-widget demo: every layer by default, unlike explore and the README",
        (CLI,),
    ),
    Mutant(
        "labels-no-reading-line",
        "qvl_widget/cli.py",
        '        progress(f"{shown_path(Path(path.name))}: {guide}")\n',
        "",
        "qvl-widget: no line says how to read the files written",
        (CLI,),
    ),
    Mutant(
        "labels-reading-line-ignores-producing",
        "qvl_widget/cli.py",
        '        f"where the model looked while writing {outputs.selection}"\n        if outputs.producing',
        '        f"where the model looked while writing {outputs.selection}"\n        if False',
        "qvl-widget: the layers figure's reading line speaks of the tokens' own rows where it shows producing steps",
        (CLI,),
    ),
    # ----- the producing switch ------------------------------------------------------------------------------
    Mutant(
        "labels-producing-applies-to-the-prompt",
        "qvl_widget/_view_state.py",
        'return producing == "all" or (producing is True and part in GENERATED_PARTS)',
        "return bool(producing)",
        "views (Python): producing=True shows a prompt word the step that predicted it, as 'all' does",
        (ANSWER_VIEWS,),
    ),
    Mutant(
        "labels-producing-all-refused",
        "qvl_widget/_view_state.py",
        '            if value != "all":',
        "            if True:",
        "views: producing='all' refused",
        (ANSWER_VIEWS,),
    ),
    Mutant(
        "labels-still-caption-says-no-row",
        "qvl_widget/_still.py",
        "return f\"{quoted} ({'their own rows' if several else 'its own row'})\" if generated else quoted",
        "return quoted",
        "still picture: a pinned prompt word's caption does not say it shows its own row",
        (ANSWER_VIEWS,),
    ),
    Mutant(
        "labels-js-producing-applies-to-the-prompt",
        "js/state.js",
        'return producing === "all" || (producing === true && part !== "prompt");',
        "return producing !== false;",
        "views (JS): producing=True shows a prompt word the step that predicted it, as 'all' does",
        (LABELS_JS, "tests/test_answer_views.py::test_hovering_an_answer_word_shows_the_step_that_wrote_it"),
    ),
    Mutant(
        "labels-js-menu-never-all",
        "js/toolbar.js",
        'return value === "all" ? "all" : value === "true";',
        'return value === "true";',
        "toolbar: the producing menu's 'every token' turns the switch off",
        (PRODUCING_MENU,),
    ),
    Mutant(
        "labels-js-caption-says-no-row",
        "js/labels.js",
        "  if (!switchable) return quoted;",
        "  if (true) return quoted;",
        "caption: a token on its own row, where the producing step could be shown, does not say so",
        (LABELS_JS, PRODUCING_MENU),
    ),
    Mutant(
        "labels-js-caption-bare-probability",
        "js/labels.js",
        "(the model's probability ${percent(token.probability)})",
        "(${percent(token.probability)})",
        "caption: the model's probability of its word as a bare percentage",
        (LABELS_JS,),
    ),
    Mutant(
        "labels-js-chip-titles-all-producing",
        "js/view.js",
        "(this.showsProducer(token) ? `${what} (producing step)` : what)",
        "`${what} (producing step)`",
        "reverse view: every chip's title says producing step, the prompt's words (their own rows) too",
        ("tests/test_answer_views.py::test_the_reverse_view_tints_answer_words_by_their_producing_rows",),
    ),
    Mutant(
        "labels-js-colorbar-always-one-token",
        "js/view.js",
        "this.scaleMeaning(rows.length)",
        "this.scaleMeaning(1)",
        "widget colour bar: several pinned tokens' mean called the token's share",
        ("tests/test_widget_browser.py::test_click_pins_and_shift_click_shows_the_mean",),
    ),
    # ----- tooltips ------------------------------------------------------------------------------------------
    Mutant(
        "labels-js-no-tooltip-on-the-name",
        "js/toolbar.js",
        'const wrapper = element("label", "qvl-control", { title: help });',
        'const wrapper = element("label", "qvl-control");',
        "toolbar: pointing at a control's name shows no tooltip",
        (TOOLTIPS,),
    ),
    Mutant(
        "labels-js-no-tooltip-on-a-menu",
        "js/toolbar.js",
        'const select = element("select", className, { "aria-label": description, title: help });',
        'const select = element("select", className, { "aria-label": description });',
        "toolbar: the menus (layer, head, unit, heads, colours, producing step) have no tooltip of their own",
        (TOOLTIPS,),
    ),
]
