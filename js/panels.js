// The pictures: one panel per medium (its picture, the overlay canvas the map is painted on (`overlay.js`), a canvas
// for marked cells (visual sinks), one for the boxes and a cursor canvas for the hovered cell), sized for the view's
// width and the screen's pixel ratio, the share of the map inside each box under the picture, and the pointer over
// them.
// A video's panel shows one temporal group at a time (`shown`), with its film strip (`filmstrip.js`) under it.

import { boxesOn, boxShare, boxWords, drawBoxes } from "./boxes.js";
import { element } from "./dom.js";
import { FilmStrip } from "./filmstrip.js";
import { cellAt } from "./geometry.js";
import { groupLabel } from "./labels.js";
import { drawOverlay } from "./overlay.js";
import { context2d } from "./paint.js";
import { bytesOf } from "./state.js";

const MAX_PIXEL_RATIO = 2;
// A frame is at most this many times as tall as wide (a 1:80 strip would otherwise be a 40000 px tower).
const MAX_FRAME_ASPECT = 2;
// Canvases larger than this on a side are not drawn at all by some browsers (Chromium: 32767 px).
const MAX_CANVAS_SIDE = 8192;
// The overlay is computed pixel by pixel (`overlay.js`), then scaled to the frame by the browser: the heat at most
// this many pixels a cell (odd, so that a pixel's centre is each cell's centre; smooth maps vary slowly within a
// cell, so hovering stays fast on any picture), contour lines at the screen's resolution, at most this many pixels
// on a side.
const HEAT_CELL_PIXELS = 9;
const MAX_CONTOUR_SIDE = 1024;

/**
 * A token cell of a medium.
 * @typedef {{medium: number, row: number, col: number}} Cell
 *
 * @typedef {Object} Panel
 * @property {HTMLElement} frame
 * @property {HTMLImageElement} image
 * @property {HTMLElement} caption
 * @property {string[]} urls  each frame's picture, as an object URL
 * @property {FilmStrip | null} strip  a video's film strip
 * @property {HTMLCanvasElement} overlay
 * @property {HTMLCanvasElement} marks
 * @property {HTMLCanvasElement} boxes
 * @property {HTMLCanvasElement} cursor
 * @property {HTMLElement} boxLines  the share of the map inside each box, a line each
 * @property {number} ratio  the canvases' pixels per CSS pixel (the overlay's: `overlay.width / cssWidth`)
 * @property {number} cssWidth
 * @property {number} cssHeight
 * @property {number} shown  the frame (temporal group) on screen
 *
 * What the panels ask of the view.
 * @typedef {Object} PanelActions
 * @property {(cell: Cell | null) => void} hoverCell  the pointer is over a token cell (null: it left)
 * @property {() => void} resized  the canvases were made anew (another pixel ratio): paint them again
 * @property {(group: number) => void} showGroup  show this temporal group (a video's strip, scrubber or play)
 */

export class MediaPanels {
  /** @param {PanelActions} actions */
  constructor(actions) {
    this.actions = actions;
    this.element = element("div", "qvl-images");
    /** @type {Panel[]} */
    this.panels = [];
    /** @type {string[]} */
    this.urls = [];
    /** @type {(() => void) | null} */
    this.stopWatchingPixelRatio = null;
    /** @type {import("./state.js").Medium[]} */
    this.media = [];
    this.group = 0; // the temporal group the videos show
  }

  /**
   * (Re)build every panel for `width` CSS pixels and the current pixel ratio, each video on temporal `group`.
   * @param {import("./state.js").Medium[]} media
   * @param {DataView[]} pictures
   * @param {number} width
   * @param {number} group
   */
  build(media, pictures, width, group) {
    this.release();
    this.media = media;
    this.group = group;
    this.element.replaceChildren();
    this.panels = media.map((medium, index) => this.buildPanel(medium, index, pictures, width, group));
    this.watchPixelRatio(() => {
      this.build(media, pictures, width, this.group);
      this.actions.resized();
    });
  }

  /**
   * @param {import("./state.js").Medium} medium
   * @param {number} index
   * @param {DataView[]} pictures
   * @param {number} width
   * @param {number} group
   * @returns {Panel}
   */
  buildPanel(medium, index, pictures, width, group) {
    const shown = shownFrame(medium, group);
    const urls = medium.frames.map((frame) => this.pictureUrl(pictures[frame.picture], frame.mime));
    const figure = element("figure", "qvl-figure");
    const { cssWidth, cssHeight } = frameSize(width, medium);
    const frame = element("div", "qvl-frame");
    // Width and aspect, not height: under `max-width: 100%` a narrow output shrinks the frame, undistorted.
    frame.style.width = `${cssWidth}px`;
    frame.style.aspectRatio = `${cssWidth} / ${cssHeight}`;
    const name = `${medium.kind === "video" ? "Video" : "Image"} ${index + 1}`;
    const image = element("img", "qvl-image", { alt: name, draggable: "false" });
    image.src = urls[shown];
    const ratio = Math.min(MAX_PIXEL_RATIO, window.devicePixelRatio || 1, MAX_CANVAS_SIDE / Math.max(cssWidth, cssHeight));
    const overlay = element("canvas", "qvl-overlay", { "data-qvl-image": String(index) });
    const marks = element("canvas", "qvl-marks");
    const boxes = element("canvas", "qvl-boxes", { "data-qvl-image": String(index) });
    const cursor = element("canvas", "qvl-cursor");
    for (const canvas of [marks, boxes, cursor]) {
      canvas.width = Math.round(cssWidth * ratio);
      canvas.height = Math.round(cssHeight * ratio);
    }
    frame.append(image, overlay, marks, boxes, cursor);
    const caption = element("figcaption", "qvl-figcaption");
    const boxLines = element("div", "qvl-box-shares", { "aria-live": "polite" });
    const strip =
      medium.kind === "video" ? new FilmStrip(medium, index, urls, shown, { show: (to) => this.actions.showGroup(to) }) : null;
    if (strip) strip.element.style.width = `${cssWidth}px`; // as wide as its picture
    figure.append(frame, ...(strip ? [strip.element] : []), caption, boxLines);
    this.element.append(figure);
    frame.addEventListener("pointermove", (event) => this.actions.hoverCell(this.cellUnder(index, event)));
    frame.addEventListener("pointerleave", () => this.actions.hoverCell(null));
    const panel = { frame, image, caption, urls, strip, overlay, marks, boxes, cursor, boxLines, ratio, cssWidth, cssHeight, shown };
    this.describe(panel, index);
    return panel;
  }

  /**
   * A panel's caption: the medium, for a video the group on screen, its token grid and size.
   * @param {Panel} panel
   * @param {number} index
   */
  describe(panel, index) {
    const medium = this.media[index];
    const grid = `${medium.rows} × ${medium.cols} tokens`;
    const size = `${medium.width} × ${medium.height} px`;
    panel.caption.textContent =
      medium.kind === "video"
        ? `Video ${index + 1} · ${groupLabel(panel.shown, medium)} · ${grid} per group · ${size}`
        : `Image ${index + 1} · ${grid} · ${size}`;
  }

  /**
   * Show temporal `group` in every video (one with fewer groups shows its last): its picture, strip and caption.
   * The caller repaints the overlays (their columns follow `shown`). Returns whether any panel changed.
   * @param {number} group
   */
  show(group) {
    this.group = group;
    let changed = false;
    this.panels.forEach((panel, index) => {
      const shown = shownFrame(this.media[index], group);
      if (shown === panel.shown) return;
      panel.shown = shown;
      panel.image.src = panel.urls[shown];
      panel.strip?.mark(shown);
      this.describe(panel, index);
      changed = true;
    });
    return changed;
  }

  /**
   * Each video's film strip bars: `values[i]` is medium i's per-group values (null for an image).
   * @param {(Float32Array | null)[]} values
   * @param {Omit<import("./filmstrip.js").StripPaint, "values">} style
   */
  paintStrips(values, style) {
    this.panels.forEach((panel, index) => {
      const shares = values[index];
      if (panel.strip && shares) panel.strip.paint({ ...style, values: shares });
    });
  }

  /**
   * @param {number} index
   * @param {PointerEvent} event
   * @returns {Cell}
   */
  cellUnder(index, event) {
    const medium = this.media[index];
    const bounds = this.panels[index].frame.getBoundingClientRect();
    const x = event.clientX - bounds.left;
    const y = event.clientY - bounds.top;
    return { medium: index, ...cellAt(x, y, bounds.width, bounds.height, medium.rows, medium.cols) };
  }

  /**
   * @param {DataView} view
   * @param {string} mime
   */
  pictureUrl(view, mime) {
    const url = URL.createObjectURL(new Blob([bytesOf(view)], { type: mime }));
    this.urls.push(url);
    return url;
  }

  /**
   * Canvases are sized for the screen's pixel ratio: when it changes (browser zoom, another screen), rebuild them.
   * @param {() => void} changed
   */
  watchPixelRatio(changed) {
    this.stopWatchingPixelRatio?.();
    const query = window.matchMedia(`(resolution: ${window.devicePixelRatio || 1}dppx)`);
    query.addEventListener("change", changed, { once: true });
    this.stopWatchingPixelRatio = () => query.removeEventListener("change", changed);
  }

  /**
   * Paint each panel's map: `values[i]` is medium i's shown frame, `rows * cols` values on a scale from 0 to `max`,
   * drawn by the overlay rule (`overlay.js`).
   * @param {Float32Array[]} values
   * @param {number} max
   * @param {Omit<import("./overlay.js").OverlayStyle, "scale">} style
   */
  paint(values, max, style) {
    this.panels.forEach((panel, index) => {
      const medium = this.media[index];
      const { width, height } = overlaySize(panel, medium, style.style);
      if (panel.overlay.width !== width || panel.overlay.height !== height) Object.assign(panel.overlay, { width, height });
      // Blocky heat scaled without smoothing: crisp cells.
      panel.overlay.style.imageRendering = style.style === "heat" && !style.smooth ? "pixelated" : "auto";
      const scale = width / panel.cssWidth;
      drawOverlay(context2d(panel.overlay), values[index], medium.rows, medium.cols, max, { ...style, scale });
    });
  }

  /**
   * Outline each medium's boxes on show (`boxes` of every medium; each box names its own, and a video's box with a
   * group is on that group's frame only).
   * @param {import("./boxes.js").BoxView[]} boxes
   */
  drawBoxes(boxes) {
    this.panels.forEach((panel, index) => {
      const mine = boxesOn(boxes, index, panel.shown);
      drawBoxes(context2d(panel.boxes), mine, this.media[index], panel.ratio);
    });
  }

  /**
   * Under each picture, the share of its shown map inside each of its boxes on show, a line each.
   * @param {Float32Array[]} values  each medium's shown frame, as painted
   * @param {import("./boxes.js").BoxView[]} boxes
   */
  describeBoxes(values, boxes) {
    this.panels.forEach((panel, index) => {
      const lines = boxesOn(boxes, index, panel.shown).map((box) => {
        const line = element("div", "qvl-box-share");
        line.textContent = boxWords(box.name, boxShare(values[index], box), box.area);
        return line;
      });
      panel.boxLines.replaceChildren(...lines);
    });
  }

  /**
   * Outline the hovered cell (none for null).
   * @param {Cell | null} cell
   */
  drawCursor(cell) {
    this.panels.forEach((panel, index) => {
      const context = context2d(panel.cursor);
      context.clearRect(0, 0, panel.cursor.width, panel.cursor.height);
      if (!cell || cell.medium !== index) return;
      const medium = this.media[index];
      const cellWidth = panel.cursor.width / medium.cols;
      const cellHeight = panel.cursor.height / medium.rows;
      context.lineWidth = Math.max(1, panel.cursor.width / 400);
      context.strokeStyle = "white";
      context.strokeRect(cell.col * cellWidth, cell.row * cellHeight, cellWidth, cellHeight);
    });
  }

  /**
   * Outline marked cells (visual sinks): `cells[i]` are medium i's, as indices into its shown frame's grid.
   * @param {number[][]} cells
   */
  drawMarks(cells) {
    this.panels.forEach((panel, index) => {
      const context = context2d(panel.marks);
      context.clearRect(0, 0, panel.marks.width, panel.marks.height);
      const medium = this.media[index];
      const cellWidth = panel.marks.width / medium.cols;
      const cellHeight = panel.marks.height / medium.rows;
      context.lineWidth = Math.max(1.5, panel.marks.width / 300);
      context.strokeStyle = "#00e5ff";
      context.setLineDash([3 * context.lineWidth, 2 * context.lineWidth]);
      const inset = context.lineWidth / 2;
      for (const cell of cells[index] ?? []) {
        const row = Math.floor(cell / medium.cols);
        const col = cell % medium.cols;
        context.strokeRect(col * cellWidth + inset, row * cellHeight + inset, cellWidth - 2 * inset, cellHeight - 2 * inset);
      }
    });
  }

  release() {
    for (const panel of this.panels) panel.strip?.destroy();
    this.stopWatchingPixelRatio?.();
    this.stopWatchingPixelRatio = null;
    for (const url of this.urls) URL.revokeObjectURL(url);
    this.urls = [];
  }
}

/**
 * CSS size of a medium's frame: `width` wide, unless the picture is so tall that the frame would pass
 * MAX_FRAME_ASPECT; then that tall, and narrower.
 * @param {number} width
 * @param {{width: number, height: number}} medium
 */
export function frameSize(width, medium) {
  const aspect = medium.height / medium.width;
  if (aspect <= MAX_FRAME_ASPECT) return { cssWidth: width, cssHeight: Math.round(width * aspect) };
  const cssHeight = Math.round(width * MAX_FRAME_ASPECT);
  return { cssWidth: Math.max(1, Math.round(cssHeight / aspect)), cssHeight };
}

/**
 * The pixels a panel's overlay is computed at: the screen's, or for the heat at most `HEAT_CELL_PIXELS` a cell, for
 * contour lines at most `MAX_CONTOUR_SIDE` on a side.
 * @param {{cssWidth: number, cssHeight: number, ratio: number}} panel
 * @param {{rows: number, cols: number}} medium
 * @param {string} style
 */
export function overlaySize(panel, medium, style) {
  const width = Math.round(panel.cssWidth * panel.ratio);
  const height = Math.round(panel.cssHeight * panel.ratio);
  if (style === "heat") {
    const across = Math.min(width, medium.cols * HEAT_CELL_PIXELS);
    return { width: Math.max(1, across), height: Math.max(1, Math.min(height, medium.rows * HEAT_CELL_PIXELS)) };
  }
  const shrink = Math.min(1, MAX_CONTOUR_SIDE / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * shrink)), height: Math.max(1, Math.round(height * shrink)) };
}

/**
 * The frame of `medium` that temporal `group` shows: that group, or a shorter video's last (an image: its one).
 * @param {import("./state.js").Medium} medium
 * @param {number} group
 */
export function shownFrame(medium, group) {
  return Math.max(0, Math.min(group, medium.frames.length - 1));
}
