// One view of an attention widget: the toolbar, the token strips, a caption, the pictures with their overlays and
// the colour bar, kept in step with the model's state (`state.js`).
//
// The view only reads and writes the model's state (anywidget's model interface: get / set / save_changes / on /
// off). The kernel (or the HTML page's data) answers a change of layer, head, `relative` or `drop_sinks` with a new
// `maps_payload`, and the head overview's first showing with `heads_payload`; hovering, pinning, colours, the unit,
// the marked sinks, the head overview's repaints and a video's temporal `group` are handled here without waiting
// for the kernel.

import { ColourBar } from "./colorbar.js";
import { element } from "./dom.js";
import { decodeHeads, HeadOverview, headValues } from "./heads.js";
import {
  groupLabel,
  headLabel,
  layerLabel,
  ownRowsLabel,
  percent,
  producingLabel,
  quoteTokens,
  scaleMeaning,
  scaleValue,
} from "./labels.js";
import { maximum } from "./paint.js";
import { CONTOUR_LEGEND } from "./overlay.js";
import { MediaPanels } from "./panels.js";
import { blockSums, decodeMaps, meanMass, meanOfRows, valueAt } from "./payload.js";
import { savePngs } from "./save.js";
import { coveredIndices, frameColumns, hasSinks, showsProducer } from "./state.js";
import { pinned, TokenStrips } from "./tokens.js";
import { Toolbar } from "./toolbar.js";

/** @typedef {import("./state.js").Model} Model */
/** @typedef {import("./panels.js").Cell} Cell */

export class AttentionView {
  /**
   * @param {Model} model
   * @param {HTMLElement} el
   */
  constructor(model, el) {
    this.model = model;
    /** @type {number | null} */
    this.hovered = null;
    /** @type {Cell | null} */
    this.hoveredCell = null;
    /** @type {import("./payload.js").Maps | null} */
    this.maps = null;
    /** @type {import("./heads.js").Heads | null} */
    this.heads = null;
    this.frames = 0; // paints so far, on `data-qvl-frames`: tests and benchmarks wait on it
    /** @type {[string, () => void][]} */
    this.listeners = [];

    this.root = element("div", "qvl-widget");
    // The model's own tokens (its thinking, its answer): each has a producing step worth a switch.
    const generated = model.get("groups").some((group) => group.name !== "prompt");
    this.generated = generated;
    this.toolbar = new Toolbar(
      {
        chooseLayer: (layer) => this.chooseLayer(layer),
        chooseHead: (head) => this.setState("head", head),
        set: (name, value) => this.setState(name, value),
        save: () => this.savePng(),
      },
      { generated, baseline: model.get("baseline_prompt"), sinks: hasSinks(model.get("sinks")) },
    );
    this.strips = new TokenStrips(model.get("groups"), model.get("tokens"), {
      hover: (index) => this.hoverToken(index),
      pin: (index, add) => this.setState("selected", pinned(model.get("selected"), index, add)),
      unpinAll: () => this.setState("selected", []),
    });
    this.caption = element("div", "qvl-caption", {
      "aria-live": "polite",
      // Said once, where a newcomer points: what the caption's percentage is.
      title: "The map shows how each image cell shares the token's attention; '% of attention on the image' is " +
        "the share of the token's attention that goes to the image at all (the rest goes to text).",
    });
    this.panels = new MediaPanels({
      hoverCell: (cell) => this.hoverCell(cell),
      resized: () => this.rebuilt(),
      showGroup: (group) => this.setState("group", group),
    });
    this.colorbar = new ColourBar();
    this.legend = element("div", "qvl-legend"); // how to read the contour lines, in that style
    this.overview = new HeadOverview({ choose: (layer, head) => this.chooseHead(layer, head) });
    this.status = element("div", "qvl-status", { role: "status" });
    this.root.append(
      this.toolbar.element,
      this.strips.element,
      this.caption,
      this.panels.element,
      this.colorbar.element,
      this.legend,
      this.overview.element,
      this.status,
    );
    el.append(this.root);
    this.buildPanels();
    this.syncControls();
    this.listen();
    this.updateHeads();
    this.updateMaps();
  }

  /**
   * @template {keyof import("./state.js").Traits} K
   * @param {K} name
   * @param {import("./state.js").Traits[K]} value
   */
  setState(name, value) {
    this.model.set(name, value);
    this.model.save_changes();
  }

  listen() {
    const on = (/** @type {string} */ event, /** @type {() => void} */ callback) => {
      this.model.on(event, callback);
      this.listeners.push([event, callback]);
    };
    on("change:maps_payload", () => this.updateMaps());
    on("change:heads_payload", () => this.updateHeads());
    for (const name of ["layer", "head", "available", "relative", "drop_sinks"]) {
      on(`change:${name}`, () => this.syncControls());
    }
    const repainting = ["selected", "producing", "unit", "mark_sinks", "head_overview", "colormap", "smooth"];
    repainting.push("opacity", "overlay_style", "boxes"); // the overlay's look and the boxes
    for (const name of [...repainting, "shared_scale", "show_special"]) {
      on(`change:${name}`, () => {
        this.syncControls();
        this.repaint();
      });
    }
    on("change:width", () => this.rebuildPanels());
    on("change:group", () => this.showGroup());
  }

  // ----- state -> screen ------------------------------------------------------------------------------------

  buildPanels() {
    this.panels.build(this.model.get("media"), this.model.get("pictures"), this.model.get("width"), this.model.get("group"));
  }

  /** Rebuild the pictures at a new `width` (their sizes, canvases and listeners depend on it). */
  rebuildPanels() {
    this.buildPanels();
    this.rebuilt();
  }

  /** Show the state's temporal group in every video: its picture, and the overlays repainted with its columns. */
  showGroup() {
    if (this.panels.show(this.model.get("group"))) this.repaint();
  }

  rebuilt() {
    this.hoveredCell = null;
    this.syncControls();
    this.repaint();
  }

  syncControls() {
    this.toolbar.sync(this.model);
    this.strips.sync(this.model.get("selected"), this.model.get("show_special"));
  }

  updateHeads() {
    const payload = this.model.get("heads_payload");
    try {
      this.heads = payload && payload.byteLength ? decodeHeads(payload) : null;
    } catch (error) {
      this.heads = null;
      this.status.textContent = String(error);
    }
    if (this.heads) this.overview.resize(this.heads.layers, this.heads.heads);
    this.paintHeads();
  }

  updateMaps() {
    const payload = this.model.get("maps_payload");
    try {
      this.maps = payload && payload.byteLength ? decodeMaps(payload) : null;
      this.status.textContent = "";
    } catch (error) {
      this.maps = null;
      this.status.textContent = String(error);
    }
    this.repaint();
  }

  /** The tokens shown: the hovered token, else the pinned ones, else the prompt's own tokens (or all). */
  activeTokens() {
    if (this.hovered !== null) return [this.hovered];
    const selected = this.model.get("selected");
    if (selected.length) return selected;
    const tokens = this.model.get("tokens");
    const own = tokens.flatMap((token, index) => (!token.special && this.partOf(index) === "prompt" ? [index] : []));
    return own.length ? own : tokens.map((_, index) => index);
  }

  /** Whether a token is hovered or pinned (else the view shows the summary of the prompt's own rows). */
  tokensChosen() {
    return this.hovered !== null || this.model.get("selected").length > 0;
  }

  /** The maps' rows on show: the chosen tokens' rows (`rowOf`), or the summary's own rows. */
  activeRows() {
    const shown = this.activeTokens();
    return this.tokensChosen() ? this.rowsOf(shown) : shown;
  }

  /**
   * The maps' row a token shows: its own, or the row of the step that produced it where `producing` applies to it
   * (`showsProducer`; null: none captured).
   * @param {number} token
   * @returns {number | null}
   */
  rowOf(token) {
    return this.showsProducer(token) ? this.model.get("tokens")[token].producer : token;
  }

  /**
   * Whether a token shows the step that produced it: under `producing` true, the model's own words; under "all",
   * every token.
   * @param {number} token
   */
  showsProducer(token) {
    return showsProducer(this.model.get("producing"), this.partOf(token));
  }

  /**
   * The rows the given tokens show (tokens without one are left out).
   * @param {number[]} tokens
   */
  rowsOf(tokens) {
    return tokens.flatMap((token) => {
      const row = this.rowOf(token);
      return row === null ? [] : [row];
    });
  }

  /**
   * A token's strip: its part of the text.
   * @param {number} token
   */
  groupOf(token) {
    return this.model.get("groups")[this.model.get("tokens")[token].group];
  }

  /**
   * A token's part: "prompt", "thinking" or "answer".
   * @param {number} token
   */
  partOf(token) {
    return this.groupOf(token)?.name ?? "prompt";
  }

  /**
   * Each medium's map on screen: the mean of `rows` over its shown frame's columns.
   * @param {import("./payload.js").Maps} maps
   * @param {number[]} rows
   */
  mediaValues(maps, rows) {
    return this.model.get("media").map((medium, index) => {
      const { start, count } = frameColumns(medium, this.panels.panels[index].shown);
      return meanOfRows(maps, rows, start, count);
    });
  }

  /**
   * The top of the colour scale: the shown maps' maximum, or with a shared scale the largest value of any
   * visible token's row.
   * @param {import("./payload.js").Maps} maps
   * @param {Float32Array[]} values
   */
  scaleTop(maps, values) {
    if (!this.model.get("shared_scale")) return Math.max(...values.map(maximum));
    let max = 0;
    for (let token = 0; token < maps.queries; token++) {
      const row = this.rowOf(token);
      if (row !== null && this.strips.isVisible(token) && maps.scales[row] > max) max = maps.scales[row];
    }
    return max;
  }

  repaint() {
    const maps = this.maps;
    if (!maps) return;
    const rows = this.activeRows();
    const values = this.mediaValues(maps, rows);
    const max = this.scaleTop(maps, values);
    const colormap = this.model.get("colormap");
    this.panels.paint(values, max, this.overlayStyle());
    this.drawBoxes(values);
    this.paintStrips(maps, rows);
    this.colorbar.draw(colormap, max, (value) => this.valueWords(value), this.scaleMeaning(rows.length));
    this.drawSinks();
    this.paintHeads();
    this.tintTokens();
    this.updateCaption();
    this.frames += 1;
    this.root.dataset.qvlFrames = String(this.frames);
  }

  /** How the overlays are drawn: the state's colour map, opacity, smoothing and style. */
  overlayStyle() {
    return {
      colormap: this.model.get("colormap"),
      opacity: this.model.get("opacity"),
      smooth: this.model.get("smooth"),
      style: this.model.get("overlay_style"),
    };
  }

  /**
   * The boxes on the pictures, the share of the shown maps inside each under its picture, and in the contour style
   * how to read the lines.
   * @param {Float32Array[]} values  each medium's map on screen
   */
  drawBoxes(values) {
    const boxes = this.model.get("boxes");
    this.panels.drawBoxes(boxes);
    this.panels.describeBoxes(values, boxes);
    this.legend.textContent = this.model.get("overlay_style") === "contour" ? CONTOUR_LEGEND : "";
  }

  /**
   * Each video's film strip: the rows' share of attention on each temporal group, or with relative maps each
   * group's mean ratio to the baseline.
   * @param {import("./payload.js").Maps} maps
   * @param {number[]} rows
   */
  paintStrips(maps, rows) {
    const relative = this.model.get("relative");
    const values = this.model.get("media").map((medium) => {
      if (medium.kind !== "video") return null;
      const count = medium.rows * medium.cols;
      const sums = blockSums(maps, rows, medium.first_column, count, medium.frames.length);
      if (relative) for (let group = 0; group < sums.length; group++) sums[group] /= count;
      return sums;
    });
    this.panels.paintStrips(values, {
      colormap: this.model.get("colormap"),
      format: relative ? (value) => this.valueWords(value) : percent,
      what: relative ? "(the mean over this group's cells)" : "of the attention on this group",
    });
  }

  /**
   * What the colour bar's numbers are, for `rows` maps on show.
   * @param {number} rows
   */
  scaleMeaning(rows) {
    const columns = this.maps?.columns ?? 0;
    return scaleMeaning({ unit: this.model.get("unit"), relative: this.model.get("relative"), columns }, rows);
  }

  /**
   * A value of the current maps in the view's unit (a percentage, × uniform, or × baseline).
   * @param {number} value
   */
  valueWords(value) {
    const columns = this.maps?.columns ?? 0;
    return scaleValue(value, { unit: this.model.get("unit"), relative: this.model.get("relative"), columns });
  }

  /** The image columns that are visual sinks in any of the chosen layers (none without sink scores). */
  sinkColumns() {
    const sinks = this.model.get("sinks");
    if (sinks === null) return new Set();
    return new Set(coveredIndices(this.model.get("layer"), sinks.length).flatMap((layer) => sinks[layer] ?? []));
  }

  /** Outline the chosen layers' visual sinks on each shown frame, with `mark_sinks`. */
  drawSinks() {
    const columns = this.model.get("mark_sinks") ? this.sinkColumns() : new Set();
    const cells = this.model.get("media").map((medium, index) => {
      const { start, count } = frameColumns(medium, this.panels.panels[index].shown);
      return [...columns].filter((column) => column >= start && column < start + count).map((column) => column - start);
    });
    this.panels.drawMarks(cells);
  }

  /** The head overview, for the tokens on show (hidden while off or until its data has come). */
  paintHeads() {
    const setting = this.model.get("head_overview");
    const heads = this.heads;
    this.overview.element.hidden = setting === "off" || heads === null;
    if (setting === "off" || heads === null) return;
    const started = performance.now();
    /** @type {import("./heads.js").HeadMeasure} */
    const measure = setting === "focus" ? "focus" : "mass";
    const chosen = {
      layers: coveredIndices(this.model.get("layer"), heads.layers),
      heads: coveredIndices(this.model.get("head"), heads.heads),
    };
    this.overview.paint({
      values: headValues(heads, this.activeRows(), measure),
      measure,
      colormap: this.model.get("colormap"),
      layerIds: this.model.get("layer_ids"),
      chosen,
      format: percent,
    });
    // Benchmarks read these: the time of each repaint of the overview.
    performance.measure("qvl-heads-paint", { start: started, end: performance.now() });
  }

  /** Chips tinted by their image share, or, while a cell is hovered, by their attention to that cell. */
  tintTokens() {
    const maps = this.maps;
    if (!maps) return;
    const cell = this.hoveredCell;
    const colormap = this.model.get("colormap");
    let column = -1;
    if (cell) {
      const medium = this.model.get("media")[cell.medium];
      const { start } = frameColumns(medium, this.panels.panels[cell.medium].shown);
      column = start + cell.row * medium.cols + cell.col;
    }
    const weights = Array.from({ length: maps.queries }, (_, token) => {
      const row = this.rowOf(token);
      if (row === null) return 0;
      return cell ? valueAt(maps, row, column) : maps.mass[row];
    });
    const what = cell ? "attention to the hovered cell" : "attention on the image";
    const format = cell ? (/** @type {number} */ value) => this.valueWords(value) : percent;
    const words = (/** @type {number} */ token) => (this.showsProducer(token) ? `${what} (producing step)` : what);
    this.strips.tint(weights, colormap, words, format);
  }

  updateCaption() {
    const maps = this.maps;
    if (!maps) return;
    const reduce = this.model.get("reduce");
    const parts = [
      layerLabel(this.model.get("layer"), this.model.get("layer_ids"), reduce),
      headLabel(this.model.get("head"), reduce),
    ];
    const cell = this.hoveredCell;
    parts.push(...this.derivation());
    if (cell) {
      const words = `${this.mediumWords(cell.medium)}, cell row ${cell.row}, col ${cell.col}: tokens tinted by attention to it`;
      parts.push(this.isSink(cell) ? `${words} (a visual sink)` : words);
    } else {
      const rows = this.activeRows();
      const shown = this.activeTokens();
      parts.push(this.describeTokens(shown));
      if (rows.length) parts.push(`${percent(meanMass(maps, rows))} of attention on the image`);
      if (this.tokensChosen()) parts.push(...this.groupNotes(shown));
    }
    this.caption.textContent = parts.join(" · ");
  }

  /**
   * A medium in a caption: "image 1", or "video 2, group 3 of 8, 1.0–1.5 s" (the group on screen).
   * @param {number} index
   */
  mediumWords(index) {
    const medium = this.model.get("media")[index];
    if (medium.kind !== "video") return `image ${index + 1}`;
    return `video ${index + 1}, ${groupLabel(this.panels.panels[index].shown, medium)}`;
  }

  /** How the maps on show were derived: divided by the baseline's, sinks left out, sinks outlined. */
  derivation() {
    const words = [];
    const baseline = this.model.get("baseline_prompt");
    if (this.model.get("relative") && baseline !== null) words.push(`÷ baseline “\u2068${baseline}\u2069”`);
    if (this.model.get("drop_sinks")) words.push("visual sinks left out");
    if (this.model.get("mark_sinks")) {
      const count = this.sinkColumns().size;
      words.push(count ? `${count} visual sink${count === 1 ? "" : "s"} outlined` : "no visual sinks in these layers");
    }
    return words;
  }

  /**
   * Whether a cell is a visual sink of the chosen layers.
   * @param {Cell} cell
   */
  isSink(cell) {
    const medium = this.model.get("media")[cell.medium];
    const { start } = frameColumns(medium, this.panels.panels[cell.medium].shown);
    return this.sinkColumns().has(start + cell.row * medium.cols + cell.col);
  }

  /**
   * The caption's words for the tokens shown.
   * @param {number[]} shown
   */
  describeTokens(shown) {
    const tokens = this.model.get("tokens");
    if (!this.tokensChosen()) {
      const promptText = tokens.some((token, index) => !token.special && this.partOf(index) === "prompt");
      return promptText ? "all prompt tokens" : "all tokens";
    }
    const [first] = shown;
    if (shown.length === 1 && this.showsProducer(first)) return producingLabel(tokens[first], this.partOf(first));
    const texts = shown.map((token) => tokens[token].text);
    const producers = shown.filter((token) => this.showsProducer(token)).length;
    if (producers === 0) return ownRowsLabel(texts, this.generated);
    if (producers === shown.length) return `the steps that produced ${quoteTokens(texts)}`;
    return `${quoteTokens(texts)} (the model's words: the steps that wrote them; the others: their own rows)`;
  }

  /**
   * The notes of the strips the shown tokens are in (e.g. that the model was still thinking), each once.
   * @param {number[]} shown
   */
  groupNotes(shown) {
    return [...new Set(shown.map((token) => this.groupOf(token)?.note ?? ""))].filter((note) => note);
  }

  // ----- user -> state ------------------------------------------------------------------------------------

  /**
   * A new layer; its head menu may lack the current head (the HTML page embeds some pairs only): then its first.
   * @param {import("./state.js").Choice} layer
   */
  chooseLayer(layer) {
    const heads = this.model.get("available").heads[String(layer)] ?? [];
    this.model.set("layer", layer);
    const offered = heads.map(String).includes(String(this.model.get("head")));
    if (!offered && heads.length) this.model.set("head", heads[0]);
    this.model.save_changes();
  }

  /**
   * One layer and head, from the head overview.
   * @param {number} layer
   * @param {number} head
   */
  chooseHead(layer, head) {
    const offered = (this.model.get("available").heads[String(layer)] ?? []).map(String);
    if (!offered.includes(String(head))) {
      // The HTML page embeds some layer/head pairs only.
      const name = `${layerLabel(layer, this.model.get("layer_ids"))}, ${headLabel(head)}`;
      this.status.textContent = `${name} is not in this page: export it with layers=[...] and heads="all"`;
      return;
    }
    this.status.textContent = "";
    this.model.set("layer", layer);
    this.model.set("head", head);
    this.model.save_changes();
  }

  /** @param {number | null} index */
  hoverToken(index) {
    if (index === this.hovered) return;
    this.hovered = index;
    this.repaint();
  }

  /** @param {Cell | null} cell */
  hoverCell(cell) {
    const before = this.hoveredCell;
    if (cell && before && cell.medium === before.medium && cell.row === before.row && cell.col === before.col) return;
    this.hoveredCell = cell;
    this.panels.drawCursor(cell);
    this.tintTokens();
    this.updateCaption();
  }

  async savePng() {
    const maps = this.maps;
    if (!maps) return;
    this.status.textContent = "Preparing PNG…";
    const values = this.mediaValues(maps, this.activeRows());
    const { layer, head } = { layer: String(this.model.get("layer")), head: String(this.model.get("head")) };
    const composites = this.model.get("media").map((medium, index) => {
      const frame = this.panels.panels[index].shown;
      const what = medium.kind === "video" ? `video${index + 1}-group${frame + 1}` : `image${index + 1}`;
      return { medium, frame, values: values[index], name: `qvl-attention-${layer}-${head}-${what}.png` };
    });
    try {
      await savePngs(this.model, composites, this.scaleTop(maps, values), this.overlayStyle(), this.model.get("boxes"));
      this.status.textContent = "";
    } catch (error) {
      this.status.textContent = `Save PNG failed: ${error}`;
    }
  }

  destroy() {
    for (const [event, callback] of this.listeners) this.model.off(event, callback);
    this.panels.release();
    this.root.remove();
  }
}
