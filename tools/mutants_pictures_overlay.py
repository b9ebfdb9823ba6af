"""Mutants of issue 25's overlays and boxes (helper OVERLAY): the overlay rule in Python and in the browser, the
contour lines, the boxes' shares and outlines, the style and boxes as view options, and the demo's and the command
line's boxes. Each is a bug a reader would see in a picture; `tools/mutants.py` explains the fields and joins this
list to its own."""

from __future__ import annotations

from mutant import Mutant

PICTURES = "tests/test_pictures_overlay.py"
BROWSER = "tests/test_pictures_browser.py"
CLI = "tests/test_pictures_cli.py"
STATE = "tests/test_view_state.py"
VIDEO_BOXES = "tests/test_video_boxes.py"

MUTANTS = [
    # ----- the overlay rule (qvl_widget/_overlay.py, js/overlay.js) -----------------------------------------------
    Mutant(
        "pictures-heat-uniform-opacity",
        "qvl_widget/_overlay.py",
        "alpha = np.floor(opacity * np.arange(256, dtype=np.float64) + 0.5)",
        "alpha = np.floor(opacity * np.full(256, 255.0) + 0.5)",
        "heat: one opacity everywhere (the picture washed over where attention is low)",
        (PICTURES,),
    ),
    Mutant(
        "pictures-bilinear-half-cell-off",
        "qvl_widget/_overlay.py",
        "source = np.clip((pixels + 0.5) * cells / extent - 0.5, 0.0, cells - 1.0)",
        "source = np.clip(pixels * cells / extent, 0.0, cells - 1.0)",
        "smooth upsampling half a cell off (the glow shifted down and right), unlike the browser's",
        (PICTURES,),
    ),
    Mutant(
        "pictures-blend-picture-weight",
        "qvl_widget/_overlay.py",
        "return ((mixed + 127) // 255).astype(np.uint8)",
        "return np.minimum(255, (mixed + 127) // 200).astype(np.uint8)",
        "blending: the picture brightened where nothing is drawn",
        (PICTURES,),
    ),
    Mutant(
        "pictures-contour-levels-smallest-first",
        "qvl_widget/_overlay.py",
        "values = np.sort(np.asarray(grid, dtype=np.float64).ravel())[::-1]",
        "values = np.sort(np.asarray(grid, dtype=np.float64).ravel())",
        "contour levels from the weakest cells up: the lines enclose the wrong regions",
        (PICTURES,),
    ),
    Mutant(
        "pictures-contour-no-halo",
        "qvl_widget/_overlay.py",
        "        layer[straddles(inside, radius + halo)] = HALO_RGBA\n",
        "",
        "contour lines without their light halo: invisible on a dark picture in greyscale",
        (PICTURES,),
    ),
    Mutant(
        "pictures-contour-not-dashed",
        "qvl_widget/_overlay.py",
        "lines.append(drawn & checker if line.dashed else drawn)",
        "lines.append(drawn)",
        "the 75 % line solid: the lines cannot be told apart in greyscale",
        (PICTURES,),
    ),
    Mutant(
        "pictures-js-heat-uniform-opacity",
        "js/overlay.js",
        "const alpha = Math.min(255, Math.max(0, Math.floor(opacity * index + 0.5)));",
        "const alpha = Math.min(255, Math.max(0, Math.floor(opacity * 255 + 0.5)));",
        "browser heat: one opacity everywhere",
        (PICTURES, BROWSER),
    ),
    Mutant(
        "pictures-js-contour-levels-ascending",
        "js/overlay.js",
        ".filter((value) => value > 0).sort((a, b) => b - a);",
        ".filter((value) => value > 0).sort((a, b) => a - b);",
        "browser contour levels from the weakest cells up",
        (PICTURES,),
    ),
    Mutant(
        "pictures-js-style-ignored",
        "js/overlay.js",
        'if (style.style === "contour") contourPixels(',
        'if (style.style === "lines") contourPixels(',
        "the browser draws heat whatever the style",
        (PICTURES, BROWSER),
    ),
    # ----- the views' style and boxes ----------------------------------------------------------------------------
    Mutant(
        "pictures-view-style-not-repainted",
        "js/view.js",
        'repainting.push("opacity", "overlay_style", "boxes");',
        'repainting.push("opacity", "boxes");',
        "choosing a style in the toolbar (or from Python) does not redraw the overlay",
        (BROWSER,),
    ),
    Mutant(
        "pictures-view-no-legend",
        "js/view.js",
        'this.legend.textContent = this.model.get("overlay_style") === "contour" ? CONTOUR_LEGEND : "";',
        'this.legend.textContent = "";',
        "contour lines without the line saying what they enclose",
        (BROWSER,),
    ),
    Mutant(
        "pictures-frames-figure-heat-only",
        "qvl_widget/_figures.py",
        "_panel_overlay(picture, grid[group], table, alpha, smooth, top, style, layout.shown_inches)",
        '_panel_overlay(picture, grid[group], table, alpha, smooth, top, "heat", layout.shown_inches)',
        "frames_figure ignores style=",
        (PICTURES,),
    ),
    Mutant(
        "pictures-still-heat-only",
        "qvl_widget/_still.py",
        "shown = overlay_map(picture, grid, table, state.opacity, state.smooth, top, state.overlay_style)",
        "shown = overlay_map(picture, grid, table, state.opacity, state.smooth, top)",
        "the still picture ignores the widget's style",
        (PICTURES,),
    ),
    # ----- boxes: shares, outlines, checks -----------------------------------------------------------------------
    Mutant(
        "pictures-share-whole-cells",
        "qvl_widget/_boxes.py",
        "return float((values * fractions).sum()) / total if total > 0 else math.nan",
        "return float((values * (fractions > 0)).sum()) / total if total > 0 else math.nan",
        "share inside a box: a cell the box touches counts whole",
        (PICTURES,),
    ),
    Mutant(
        "pictures-area-unclipped",
        "qvl_widget/_geometry.py",
        "inside_x = max(0.0, min(x1, width) - max(x0, 0.0))",
        "inside_x = x1 - x0",
        "a box partly outside its image: its area share counts the part outside",
        (PICTURES, CLI),
    ),
    Mutant(
        "pictures-box-outside-accepted",
        "qvl_widget/_boxes.py",
        "if box.x1 <= 0 or box.y1 <= 0 or box.x0 >= width or box.y0 >= height:",
        "if box.x1 < 0 and box.y1 < 0:",
        "a box wholly outside its image is accepted (drawn nowhere, its share 0 %)",
        (PICTURES, CLI),
    ),
    Mutant(
        "pictures-ratio-whole-numbers",
        "qvl_widget/_boxes.py",
        '    if tenths >= 100:\n        return f"{math.floor(ratio + 0.5)}×"',
        '    if tenths >= 10:\n        return f"{math.floor(ratio + 0.5)}×"',
        "× uniform rounded to whole numbers in Python (6.9× reads 7×), not as the browser says it",
        (PICTURES,),
    ),
    Mutant(
        "pictures-box-drawn-on-the-box",
        "qvl_widget/_boxes.py",
        "band = (left - 3 * line, top - 3 * line, right + 3 * line, bottom + 3 * line)",
        "band = (left - line, top - line, right + line, bottom + line)",
        "the outline's band drawn over the box's edge (it hides the object's rim)",
        (PICTURES,),
    ),
    Mutant(
        "pictures-figure-share-of-the-first-layer",
        "qvl_widget/_figures.py",
        "overlay.set_xlabel(_box_share_text(grid, views, wide), fontsize=fonts.tick)",
        "overlay.set_xlabel(_box_share_text(grids[0], views, wide), fontsize=fonts.tick)",
        "layers_figure: every panel says the first layer's share inside the box",
        (PICTURES,),
    ),
    Mutant(
        "pictures-js-share-whole-cells",
        "js/boxes.js",
        "inside += values[cell] * box.fractions[index];",
        "inside += values[cell];",
        "the caption's share inside a box counts a touched cell whole",
        (BROWSER,),
    ),
    Mutant(
        "pictures-js-boxes-on-every-picture",
        "js/panels.js",
        "const mine = boxesOn(boxes, index, panel.shown);",
        "const mine = boxes;",
        "every box outlined on every picture",
        (BROWSER,),
    ),
    Mutant(
        "pictures-js-save-without-boxes",
        "js/save.js",
        "const own = boxesOn(boxes, index, frame);",
        "const own = boxes.filter(() => false);",
        "Save PNG leaves the boxes out",
        (BROWSER,),
    ),
    Mutant(
        "pictures-view-state-boxes-dropped",
        "qvl_widget/_view_state.py",
        "    return box_views(checked, [(geometry.rows, geometry.cols) for geometry in result.images], sizes)",
        "    return []",
        "boxes= accepted and checked, then dropped from the view state",
        (STATE, BROWSER),
    ),
    # ----- boxes per temporal group of a video (Box(..., group=g)) ------------------------------------------------
    Mutant(
        "pictures-group-box-on-every-group",
        "qvl_widget/_boxes.py",
        'return [view for view in views if view["image"] == image and view["group"] in (None, group)]',
        'return [view for view in views if view["image"] == image]',
        "a group's box drawn and said on every group's picture (the figures, the overlay, the still picture)",
        (VIDEO_BOXES,),
    ),
    Mutant(
        "pictures-group-counted-from-the-end-kept",
        "qvl_widget/_boxes.py",
        "    return box.group % count\n",
        "    return box.group\n",
        "Box(..., group=-1) sent as -1: no view shows the video's last group's box",
        (VIDEO_BOXES,),
    ),
    Mutant(
        "pictures-js-group-box-on-every-frame",
        "js/boxes.js",
        "return boxes.filter((box) => box.image === image && (box.group ?? frame) === frame);",
        "return boxes.filter((box) => box.image === image);",
        "the widget outlines and says a group's box whichever group is shown",
        (VIDEO_BOXES, "js/tests/overlay.test.js"),
    ),
    Mutant(
        "pictures-js-save-first-groups-boxes",
        "js/save.js",
        "const own = boxesOn(boxes, index, frame);",
        "const own = boxesOn(boxes, index, 0);",
        "Save PNG of another group outlines the first group's boxes",
        (VIDEO_BOXES,),
    ),
    Mutant(
        "pictures-cli-box-group-ignored",
        "qvl_widget/cli.py",
        'group = int(match["group"]) if match["group"] is not None else None',
        "group = None",
        "--box ...#GROUP: the group ignored (the box on every group)",
        (CLI,),
    ),
    # ----- the demo and the command line -------------------------------------------------------------------------
    Mutant(
        "pictures-demo-no-box",
        "qvl_widget/demo/_pointing.py",
        'boxes = [Box(x0, y0, x1, y1, label=example["phrase"])]',
        "boxes: list[Box] = []",
        "demo.recommended_view without the named object's box",
        (PICTURES, CLI),
    ),
    Mutant(
        "pictures-cli-box-image-ignored",
        "qvl_widget/cli.py",
        "    return BoxArgument(value, Box(*fields, group=group))",
        "    return BoxArgument(value, Box(*fields[:5], group=group))",
        "--box ...@IMAGE: the image index ignored (every box on the first image)",
        (CLI,),
    ),
]
