// One view of an attention widget: toolbar, token strip, images with overlays, colour bar.
//
// The view only reads and writes the model's state (anywidget's model interface: get / set / save_changes /
// on / off). The kernel (or the standalone page's data) answers a layer/head change with a new
// `maps_payload`; hovering, pinning and colours are handled here without a round trip.

import { COLORMAP_NAMES, cssColour, rgbTable } from "./colormap.js";
import { cellAt, drawMap, maximum } from "./overlay.js";
import { decodeMaps, meanMass, meanOfRows, valueAt } from "./payload.js";

/**
 * @typedef {{text: string, special: boolean}} Token
 * @typedef {{rows: number, cols: number, first_column: number, width: number, height: number,
 *            mime: string}} ImageInfo
 * @typedef {{layers: (number|string)[], heads: Record<string, (number|string)[]>}} Available
 * @typedef {{get(name: string): any, set(name: string, value: any): void, save_changes(): void,
 *            on(event: string, callback: Function): void, off(event: string, callback: Function): void}} Model
 */

const MAX_PIXEL_RATIO = 2;
// A frame is at most this many times as tall as wide (a 1:80 strip would otherwise be a 40000 px tower).
const MAX_FRAME_ASPECT = 2;
// Canvases larger than this on a side are not drawn at all by some browsers (Chromium: 32767 px).
const MAX_CANVAS_SIDE = 8192;
const FULL_PICTURES_TIMEOUT_MS = 60000;

/**
 * @param {string} tag
 * @param {string} className
 * @param {Record<string, string>} [attributes]
 * @returns {any}
 */
function element(tag, className, attributes = {}) {
  const node = document.createElement(tag);
  node.className = className;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

/**
 * Token text as shown on a chip: visible whitespace, never markup (always assigned with textContent).
 * @param {string} text
 */
export function chipText(text) {
  if (text === "") return "∅";
  return text.replace(/\n/g, "⏎").replace(/\t/g, "⇥");
}

/** @param {number|string} layer */
export function layerLabel(layer) {
  return layer === "mean" ? "mean of layers" : `layer ${layer}`;
}

/** @param {number|string} head */
export function headLabel(head) {
  return head === "mean" || head === "max" ? `${head} of heads` : `head ${head}`;
}

/** @param {number} probability */
function percent(probability) {
  return `${(probability * 100).toFixed(probability < 0.1 ? 1 : 0)}%`;
}

/**
 * Value of a select option back to the model's type.
 * @param {string} value
 */
function parseChoice(value) {
  return /^-?\d+$/.test(value) ? Number(value) : value;
}

export class AttentionView {
  /**
   * @param {Model} model
   * @param {HTMLElement} el
   */
  constructor(model, el) {
    this.model = model;
    this.el = el;
    /** @type {number | null} */
    this.hovered = null;
    /** @type {{image: number, row: number, col: number} | null} */
    this.hoveredCell = null;
    /** @type {import("./payload.js").Maps | null} */
    this.maps = null;
    this.frames = 0;
    /** @type {[string, Function][]} */
    this.listeners = [];
    /** @type {(() => void) | null} */
    this.stopWatchingPixelRatio = null;
    this.build();
    this.listen();
    this.updateMaps();
  }

  /** @param {string} name */
  get(name) {
    return this.model.get(name);
  }

  /**
   * @param {string} name
   * @param {any} value
   */
  setState(name, value) {
    this.model.set(name, value);
    this.model.save_changes();
  }

  /** @returns {Token[]} */
  get tokens() {
    return this.get("tokens");
  }

  /** @returns {ImageInfo[]} */
  get images() {
    return this.get("images");
  }

  // ----- building the DOM ------------------------------------------------------------------------------

  build() {
    this.root = element("div", "qvl-widget");
    this.toolbar = element("div", "qvl-toolbar", { role: "toolbar", "aria-label": "Attention map controls" });
    this.layerSelect = this.addSelect("Layer", "qvl-layer", "Decoder layer, or the mean over layers");
    this.headSelect = this.addSelect("Head", "qvl-head", "Attention head, or the mean / max over heads");
    this.colormapSelect = this.addSelect("Colours", "qvl-colormap", "Colour map");
    for (const name of COLORMAP_NAMES) this.colormapSelect.append(new Option(name, name));
    this.opacityInput = this.addInput("Opacity", "qvl-opacity", "range", "Overlay opacity");
    Object.assign(this.opacityInput, { min: "0", max: "1", step: "0.05" });
    this.smoothInput = this.addInput("Smooth", "qvl-smooth", "checkbox", "Smooth (on) or blocky (off) cells");
    this.sharedInput = this.addInput("Shared scale", "qvl-shared", "checkbox", "One colour scale for all tokens");
    this.specialInput = this.addInput("Template tokens", "qvl-special", "checkbox", "Show chat-template tokens");
    this.saveButton = element("button", "qvl-save", { type: "button", "aria-label": "Save image with overlay as PNG" });
    this.saveButton.textContent = "Save PNG";
    this.toolbar.append(this.saveButton);

    this.strip = element("div", "qvl-tokens", {
      role: "listbox",
      "aria-multiselectable": "true",
      "aria-label": "Query tokens: hover or focus one to see where it looks; click to pin, shift-click to add",
    });
    this.caption = element("div", "qvl-caption", { "aria-live": "polite" });
    this.figures = element("div", "qvl-images");
    this.colorbar = element("div", "qvl-colorbar", { "aria-hidden": "true" });
    this.colorbarCanvas = element("canvas", "qvl-colorbar-ramp");
    this.colorbarCanvas.width = 256;
    this.colorbarCanvas.height = 1;
    this.colorbarLow = element("span", "qvl-colorbar-label");
    this.colorbarHigh = element("span", "qvl-colorbar-label");
    this.colorbar.append(this.colorbarLow, this.colorbarCanvas, this.colorbarHigh);
    this.status = element("div", "qvl-status", { role: "status" });

    this.root.append(this.toolbar, this.strip, this.caption, this.figures, this.colorbar, this.status);
    this.el.append(this.root);
    this.buildTokens();
    this.buildFigures();
    this.syncControls();
  }

  /**
   * @param {string} label
   * @param {string} className
   * @param {string} description
   * @returns {HTMLSelectElement}
   */
  addSelect(label, className, description) {
    const wrapper = element("label", "qvl-control");
    const select = element("select", className, { "aria-label": description });
    const text = element("span", "qvl-control-label");
    text.textContent = label;
    wrapper.append(text, select);
    this.toolbar.append(wrapper);
    return select;
  }

  /**
   * @param {string} label
   * @param {string} className
   * @param {string} type
   * @param {string} description
   * @returns {HTMLInputElement}
   */
  addInput(label, className, type, description) {
    const wrapper = element("label", "qvl-control");
    const input = element("input", className, { type, "aria-label": description });
    const text = element("span", "qvl-control-label");
    text.textContent = label;
    if (type === "checkbox") wrapper.append(input, text);
    else wrapper.append(text, input);
    this.toolbar.append(wrapper);
    return input;
  }

  buildTokens() {
    /** @type {HTMLElement[]} */
    this.chips = this.tokens.map((token, index) => {
      const chip = element("span", token.special ? "qvl-token qvl-special-token" : "qvl-token", {
        "data-qvl-token": String(index),
        role: "option",
        tabindex: "-1",
      });
      chip.textContent = chipText(token.text);
      return chip;
    });
    this.strip.replaceChildren(...this.chips);
  }

  buildFigures() {
    /** @type {{frame: HTMLElement, image: HTMLImageElement, overlay: HTMLCanvasElement,
     *          cursor: HTMLCanvasElement, scratch: any, cssWidth: number, cssHeight: number}[]} */
    this.panels = this.images.map((info, index) => {
      const figure = element("figure", "qvl-figure");
      const { cssWidth, cssHeight } = frameSize(this.get("width"), info);
      const frame = element("div", "qvl-frame");
      // Width and aspect, not height: under `max-width: 100%` a narrow output shrinks the frame, undistorted.
      frame.style.width = `${cssWidth}px`;
      frame.style.aspectRatio = `${cssWidth} / ${cssHeight}`;
      const image = element("img", "qvl-image", { alt: `Image ${index + 1}`, draggable: "false" });
      image.src = this.pictureUrl(index);
      const ratio = Math.min(MAX_PIXEL_RATIO, window.devicePixelRatio || 1, MAX_CANVAS_SIDE / Math.max(cssWidth, cssHeight));
      const overlay = element("canvas", "qvl-overlay", { "data-qvl-image": String(index) });
      const cursor = element("canvas", "qvl-cursor");
      for (const canvas of [overlay, cursor]) {
        canvas.width = Math.round(cssWidth * ratio);
        canvas.height = Math.round(cssHeight * ratio);
      }
      const grid = element("canvas", "qvl-scratch");
      grid.width = info.cols;
      grid.height = info.rows;
      frame.append(image, overlay, cursor);
      const caption = element("figcaption", "qvl-figcaption");
      caption.textContent = `Image ${index + 1} · ${info.rows} × ${info.cols} tokens · ${info.width} × ${info.height} px`;
      figure.append(frame, caption);
      this.figures.append(figure);
      frame.addEventListener("pointermove", (event) => this.hoverCell(index, event));
      frame.addEventListener("pointerleave", () => this.hoverCell(null, null));
      return { frame, image, overlay, cursor, scratch: { grid, gridContext: grid.getContext("2d") }, cssWidth, cssHeight };
    });
    this.watchPixelRatio();
  }

  /** Canvases are sized for the screen's pixel ratio: when it changes (browser zoom, another screen), rebuild them. */
  watchPixelRatio() {
    this.stopWatchingPixelRatio?.();
    const query = window.matchMedia(`(resolution: ${window.devicePixelRatio || 1}dppx)`);
    const changed = () => this.rebuildFigures();
    query.addEventListener("change", changed, { once: true });
    this.stopWatchingPixelRatio = () => query.removeEventListener("change", changed);
  }

  /** @param {number} index */
  pictureUrl(index) {
    const view = this.get("pictures")[index];
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    const url = URL.createObjectURL(new Blob([bytes], { type: this.images[index].mime }));
    (this.urls ??= []).push(url);
    return url;
  }

  // ----- state -> controls -------------------------------------------------------------------------------

  syncControls() {
    /** @type {Available} */
    const available = this.get("available");
    const layer = this.get("layer");
    fillOptions(this.layerSelect, available.layers, layerLabel, layer);
    fillOptions(this.headSelect, available.heads[String(layer)] ?? [], headLabel, this.get("head"));
    this.colormapSelect.value = this.get("colormap");
    this.opacityInput.value = String(this.get("opacity"));
    this.smoothInput.checked = this.get("smooth");
    this.sharedInput.checked = this.get("shared_scale");
    this.specialInput.checked = this.get("show_special");
    for (const panel of this.panels) panel.overlay.style.opacity = String(this.get("opacity"));
    this.syncTokens();
  }

  syncTokens() {
    const selected = new Set(this.get("selected"));
    // A prompt with no text of its own (only template tokens) shows them: the strip is never empty.
    const showSpecial = this.get("show_special") || !this.hasPromptTokens();
    this.chips.forEach((chip, index) => {
      // Template tokens hide behind the toggle, unless pinned: what the map shows is always on screen.
      chip.hidden = this.tokens[index].special && !showSpecial && !selected.has(index);
      chip.classList.toggle("qvl-pinned", selected.has(index));
      chip.setAttribute("aria-selected", String(selected.has(index)));
    });
    this.keepTabStop();
  }

  /** Roving tabindex: one visible chip is in the tab order, the one that was, else the first visible one. */
  keepTabStop() {
    const visible = this.visibleChips();
    const stop = visible.find((chip) => chip.tabIndex === 0) ?? visible[0];
    for (const chip of this.chips) chip.tabIndex = chip === stop ? 0 : -1;
  }

  hasPromptTokens() {
    return this.tokens.some((token) => !token.special);
  }

  /** Rebuild the pictures at a new `width` or pixel ratio (their sizes, canvases and listeners depend on them). */
  rebuildFigures() {
    for (const url of this.urls ?? []) URL.revokeObjectURL(url);
    this.urls = [];
    this.hoveredCell = null;
    this.figures.replaceChildren();
    this.buildFigures();
    this.syncControls();
    this.repaint();
  }

  visibleChips() {
    return this.chips.filter((chip) => !chip.hidden);
  }

  /** The rows shown when nothing is hovered or pinned: the prompt's own tokens. */
  defaultRows() {
    const rows = this.tokens.flatMap((token, index) => (token.special ? [] : [index]));
    return rows.length ? rows : this.tokens.map((_, index) => index);
  }

  activeRows() {
    if (this.hovered !== null) return [this.hovered];
    const selected = this.get("selected");
    return selected.length ? selected : this.defaultRows();
  }

  // ----- listening ------------------------------------------------------------------------------------------

  listen() {
    const on = (/** @type {string} */ event, /** @type {Function} */ callback) => {
      this.model.on(event, callback);
      this.listeners.push([event, callback]);
    };
    on("change:maps_payload", () => this.updateMaps());
    on("change:layer", () => this.syncControls());
    on("change:head", () => this.syncControls());
    on("change:available", () => this.syncControls());
    on("change:selected", () => {
      this.syncTokens();
      this.repaint();
    });
    for (const name of ["colormap", "smooth", "shared_scale"]) {
      on(`change:${name}`, () => {
        this.syncControls();
        this.repaint();
      });
    }
    on("change:opacity", () => this.syncControls());
    on("change:width", () => this.rebuildFigures());
    on("change:show_special", () => {
      this.syncControls();
      this.repaint();
    });

    this.layerSelect.addEventListener("change", () => this.chooseLayer(parseChoice(this.layerSelect.value)));
    this.headSelect.addEventListener("change", () => this.setState("head", parseChoice(this.headSelect.value)));
    this.colormapSelect.addEventListener("change", () => this.setState("colormap", this.colormapSelect.value));
    this.opacityInput.addEventListener("input", () => this.setState("opacity", Number(this.opacityInput.value)));
    this.smoothInput.addEventListener("change", () => this.setState("smooth", this.smoothInput.checked));
    this.sharedInput.addEventListener("change", () => this.setState("shared_scale", this.sharedInput.checked));
    this.specialInput.addEventListener("change", () => this.setState("show_special", this.specialInput.checked));
    this.saveButton.addEventListener("click", () => this.savePng());

    // Over a chip only: the gaps between chips keep the last one (no flash of the all-tokens map).
    this.strip.addEventListener("pointerover", (event) => {
      const index = tokenIndex(event.target);
      if (index !== null) this.hoverToken(index);
    });
    this.strip.addEventListener("pointerleave", () => this.hoverToken(null));
    this.strip.addEventListener("focusin", (event) => this.hoverToken(tokenIndex(event.target)));
    this.strip.addEventListener("focusout", () => this.hoverToken(null));
    this.strip.addEventListener("click", (event) => {
      const index = tokenIndex(event.target);
      if (index !== null) this.pin(index, event.shiftKey || event.ctrlKey || event.metaKey);
    });
    this.strip.addEventListener("keydown", (event) => this.onKey(event));
  }

  /** @param {number|string} layer */
  chooseLayer(layer) {
    /** @type {Available} */
    const available = this.get("available");
    const heads = available.heads[String(layer)] ?? [];
    this.model.set("layer", layer);
    if (!heads.includes(this.get("head")) && heads.length) this.model.set("head", heads[0]);
    this.model.save_changes();
  }

  /**
   * @param {number} index
   * @param {boolean} add  add to / remove from the selection instead of replacing it
   */
  pin(index, add) {
    const selected = this.get("selected");
    let next;
    if (add) next = selected.includes(index) ? selected.filter((i) => i !== index) : [...selected, index];
    else next = selected.length === 1 && selected[0] === index ? [] : [index];
    this.setState("selected", next);
  }

  /** @param {KeyboardEvent} event */
  onKey(event) {
    const chips = this.visibleChips();
    const current = tokenIndex(event.target);
    const position = chips.findIndex((chip) => Number(chip.dataset.qvlToken) === current);
    const moves = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };
    let target = null;
    if (event.key in moves) target = chips[Math.min(chips.length - 1, Math.max(0, position + moves[event.key]))];
    else if (event.key === "Home") target = chips[0];
    else if (event.key === "End") target = chips[chips.length - 1];
    else if ((event.key === "Enter" || event.key === " ") && current !== null) {
      this.pin(current, event.shiftKey || event.ctrlKey || event.metaKey);
    } else if (event.key === "Escape") this.setState("selected", []);
    else return;
    event.preventDefault();
    if (target) {
      for (const chip of chips) chip.tabIndex = -1;
      target.tabIndex = 0;
      target.focus();
    }
  }

  /** @param {number | null} index */
  hoverToken(index) {
    if (index === this.hovered) return;
    this.hovered = index;
    this.repaint();
  }

  /**
   * @param {number | null} image
   * @param {PointerEvent | null} event
   */
  hoverCell(image, event) {
    if (image === null || event === null) {
      this.hoveredCell = null;
    } else {
      const info = this.images[image];
      const bounds = this.panels[image].frame.getBoundingClientRect();
      const { row, col } = cellAt(
        event.clientX - bounds.left,
        event.clientY - bounds.top,
        bounds.width,
        bounds.height,
        info.rows,
        info.cols,
      );
      const same = this.hoveredCell && this.hoveredCell.image === image && this.hoveredCell.row === row;
      if (same && this.hoveredCell?.col === col) return;
      this.hoveredCell = { image, row, col };
    }
    this.drawCursor();
    this.tintTokens();
    this.updateCaption();
  }

  // ----- painting ---------------------------------------------------------------------------------------

  updateMaps() {
    const payload = this.get("maps_payload");
    try {
      this.maps = payload && payload.byteLength ? decodeMaps(payload) : null;
      this.status.textContent = "";
    } catch (error) {
      this.maps = null;
      this.status.textContent = String(error);
    }
    this.repaint();
  }

  /** Maximum over the visible tokens' rows: the shared colour scale. */
  sharedMax() {
    const maps = this.maps;
    if (!maps) return 0;
    let max = 0;
    this.chips.forEach((chip, row) => {
      if (!chip.hidden && maps.scales[row] > max) max = maps.scales[row];
    });
    return max;
  }

  repaint() {
    const maps = this.maps;
    if (!maps) return;
    const rows = this.activeRows();
    const values = this.images.map((info) => meanOfRows(maps, rows, info.first_column, info.rows * info.cols));
    const max = this.get("shared_scale") ? this.sharedMax() : Math.max(...values.map(maximum));
    const style = { colormap: this.get("colormap"), smooth: this.get("smooth") };
    this.panels.forEach((panel, index) => {
      const info = this.images[index];
      const context = panel.overlay.getContext("2d");
      const size = { width: panel.overlay.width, height: panel.overlay.height };
      drawMap(context, panel.scratch, values[index], info.rows, info.cols, max, { ...style, ...size });
    });
    this.scale = max;
    this.drawColorbar(max);
    this.tintTokens();
    this.updateCaption();
    this.frames += 1;
    this.root.dataset.qvlFrames = String(this.frames);
  }

  /** @param {number} max */
  drawColorbar(max) {
    const context = this.colorbarCanvas.getContext("2d");
    const ramp = context.createImageData(256, 1);
    const rgb = rgbTable(this.get("colormap"));
    for (let index = 0; index < 256; index++) {
      ramp.data.set([rgb[3 * index], rgb[3 * index + 1], rgb[3 * index + 2], 255], 4 * index);
    }
    context.putImageData(ramp, 0, 0);
    this.colorbarLow.textContent = "0%";
    this.colorbarHigh.textContent = percent(max);
  }

  drawCursor() {
    this.panels.forEach((panel, index) => {
      const context = panel.cursor.getContext("2d");
      context.clearRect(0, 0, panel.cursor.width, panel.cursor.height);
      const cell = this.hoveredCell;
      if (!cell || cell.image !== index) return;
      const info = this.images[index];
      const cellWidth = panel.cursor.width / info.cols;
      const cellHeight = panel.cursor.height / info.rows;
      context.lineWidth = Math.max(1, panel.cursor.width / 400);
      context.strokeStyle = "white";
      context.strokeRect(cell.col * cellWidth, cell.row * cellHeight, cellWidth, cellHeight);
    });
  }

  /** Chips tinted by their image mass, or, while a cell is hovered, by their attention to that cell. */
  tintTokens() {
    const maps = this.maps;
    if (!maps) return;
    const cell = this.hoveredCell;
    const column = cell ? this.images[cell.image].first_column + cell.row * this.images[cell.image].cols + cell.col : -1;
    const weights = this.chips.map((_, row) => (cell ? valueAt(maps, row, column) : maps.mass[row]));
    const max = maximum(weights.filter((_, row) => !this.chips[row].hidden));
    const colormap = this.get("colormap");
    this.chips.forEach((chip, row) => {
      const share = max > 0 ? weights[row] / max : 0;
      chip.style.backgroundColor = cssColour(colormap, weights[row], max, 0.15 + 0.7 * share);
      chip.style.color = share > 0.55 && colormap !== "gray" ? "#111" : "";
      const what = cell ? "attention to the hovered cell" : "attention on the image";
      chip.title = `${percent(weights[row])} ${what}`;
    });
  }

  updateCaption() {
    const maps = this.maps;
    if (!maps) return;
    const parts = [layerLabel(this.get("layer")), headLabel(this.get("head"))];
    const cell = this.hoveredCell;
    if (cell) {
      parts.push(`image ${cell.image + 1}, cell row ${cell.row}, col ${cell.col}: tokens tinted by attention to it`);
    } else {
      const rows = this.activeRows();
      const everything = this.hasPromptTokens() ? "all prompt tokens" : "all tokens";
      const named = this.hovered === null && !this.get("selected").length ? everything : quoteTokens(this.tokens, rows);
      parts.push(named, `${percent(meanMass(maps, rows))} of attention on the image`);
    }
    this.caption.textContent = parts.join(" · ");
  }

  // ----- saving -----------------------------------------------------------------------------------------

  /** The original-resolution images: asked from the kernel once, then reused. */
  async fullPictures() {
    const ready = () => this.get("full_pictures").length === this.images.length;
    if (ready()) return this.get("full_pictures");
    return new Promise((resolve, reject) => {
      const done = () => {
        if (!ready()) return;
        clearTimeout(timer);
        this.model.off("change:full_pictures", done);
        resolve(this.get("full_pictures"));
      };
      const timer = setTimeout(() => {
        this.model.off("change:full_pictures", done);
        reject(new Error("the kernel did not send the full-resolution image; is it still running?"));
      }, FULL_PICTURES_TIMEOUT_MS);
      this.model.on("change:full_pictures", done);
      this.setState("want_full_pictures", true);
    });
  }

  async savePng() {
    const maps = this.maps;
    if (!maps) return;
    this.status.textContent = "Preparing PNG…";
    try {
      const pictures = await this.fullPictures();
      const rows = this.activeRows();
      const values = this.images.map((info) => meanOfRows(maps, rows, info.first_column, info.rows * info.cols));
      const max = this.get("shared_scale") ? this.sharedMax() : Math.max(...values.map(maximum));
      for (const [index, info] of this.images.entries()) {
        const blob = await compositePng(pictures[index], info, values[index], max, {
          colormap: this.get("colormap"),
          smooth: this.get("smooth"),
          opacity: this.get("opacity"),
          scratch: this.panels[index].scratch,
        });
        download(blob, `qvl-attention-${String(this.get("layer"))}-${String(this.get("head"))}-image${index + 1}.png`);
      }
      this.status.textContent = "";
    } catch (error) {
      this.status.textContent = `Save PNG failed: ${error}`;
    }
  }

  destroy() {
    this.stopWatchingPixelRatio?.();
    for (const [event, callback] of this.listeners) this.model.off(event, callback);
    for (const url of this.urls ?? []) URL.revokeObjectURL(url);
    this.root.remove();
  }
}

/**
 * @param {EventTarget | null} target
 * @returns {number | null}
 */
function tokenIndex(target) {
  const chip = target instanceof Element ? target.closest("[data-qvl-token]") : null;
  return chip ? Number(chip.getAttribute("data-qvl-token")) : null;
}

/**
 * CSS size of an image's frame: `width` wide, unless the image is so tall that the frame would pass
 * MAX_FRAME_ASPECT; then that tall, and narrower.
 * @param {number} width
 * @param {ImageInfo} info
 */
export function frameSize(width, info) {
  const aspect = info.height / info.width;
  if (aspect <= MAX_FRAME_ASPECT) return { cssWidth: width, cssHeight: Math.round(width * aspect) };
  const cssHeight = Math.round(width * MAX_FRAME_ASPECT);
  return { cssWidth: Math.max(1, Math.round(cssHeight / aspect)), cssHeight };
}

/**
 * @param {HTMLSelectElement} select
 * @param {(number|string)[]} choices
 * @param {(choice: number|string) => string} label
 * @param {number|string} value
 */
function fillOptions(select, choices, label, value) {
  const wanted = choices.map(String).join("|");
  if (select.dataset.choices !== wanted) {
    select.replaceChildren(...choices.map((choice) => new Option(label(choice), String(choice))));
    select.dataset.choices = wanted;
  }
  select.value = String(value);
}

/**
 * @param {Token[]} tokens
 * @param {number[]} rows
 */
function quoteTokens(tokens, rows) {
  // Each token bidi-isolated (FSI ... PDI): a right-to-left override inside one cannot reorder the caption.
  const shown = rows.slice(0, 6).map((row) => `“\u2068${chipText(tokens[row].text)}\u2069”`);
  return rows.length > 6 ? `${shown.join(" + ")} + ${rows.length - 6} more` : shown.join(" + ");
}

/**
 * The image at full resolution with the map drawn over it, as a PNG blob.
 * @param {DataView} picture
 * @param {ImageInfo} info
 * @param {Float32Array} values
 * @param {number} max
 * @param {{colormap: string, smooth: boolean, opacity: number, scratch: any}} style
 */
async function compositePng(picture, info, values, max, style) {
  const bytes = new Uint8Array(picture.buffer, picture.byteOffset, picture.byteLength);
  const type = bytes[0] === 0x89 ? "image/png" : "image/jpeg";
  const bitmap = await createImageBitmap(new Blob([bytes], { type }));
  const canvas = document.createElement("canvas");
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const context = canvas.getContext("2d");
  context.drawImage(bitmap, 0, 0);
  const overlay = document.createElement("canvas");
  overlay.width = bitmap.width;
  overlay.height = bitmap.height;
  const size = { width: bitmap.width, height: bitmap.height };
  drawMap(overlay.getContext("2d"), style.scratch, values, info.rows, info.cols, max, { ...style, ...size });
  context.globalAlpha = style.opacity;
  context.drawImage(overlay, 0, 0);
  return new Promise((resolve, reject) =>
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("the browser could not encode a PNG"))), "image/png"),
  );
}

/**
 * @param {Blob} blob
 * @param {string} name
 */
function download(blob, name) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  link.style.display = "none";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}
