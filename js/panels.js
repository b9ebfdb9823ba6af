// The pictures: one panel per medium (its picture, the overlay canvas the map is painted on, a canvas for marked
// cells (visual sinks) and a cursor canvas for the hovered cell), sized for the view's width and the screen's pixel ratio, and the pointer over them.

import { element } from "./dom.js";
import { cellAt } from "./geometry.js";
import { context2d, drawMap, makeScratch } from "./paint.js";
import { bytesOf } from "./state.js";

const MAX_PIXEL_RATIO = 2;
// A frame is at most this many times as tall as wide (a 1:80 strip would otherwise be a 40000 px tower).
const MAX_FRAME_ASPECT = 2;
// Canvases larger than this on a side are not drawn at all by some browsers (Chromium: 32767 px).
const MAX_CANVAS_SIDE = 8192;

/**
 * A token cell of a medium.
 * @typedef {{medium: number, row: number, col: number}} Cell
 *
 * @typedef {Object} Panel
 * @property {HTMLElement} frame
 * @property {HTMLCanvasElement} overlay
 * @property {HTMLCanvasElement} marks
 * @property {HTMLCanvasElement} cursor
 * @property {import("./paint.js").Scratch} scratch
 * @property {number} shown  the frame (temporal group) on screen
 *
 * What the panels ask of the view.
 * @typedef {Object} PanelActions
 * @property {(cell: Cell | null) => void} hoverCell  the pointer is over a token cell (null: it left)
 * @property {() => void} resized  the canvases were made anew (another pixel ratio): paint them again
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
  }

  /**
   * (Re)build every panel for `width` CSS pixels and the current pixel ratio.
   * @param {import("./state.js").Medium[]} media
   * @param {DataView[]} pictures
   * @param {number} width
   */
  build(media, pictures, width) {
    this.release();
    this.media = media;
    this.element.replaceChildren();
    this.panels = media.map((medium, index) => this.buildPanel(medium, index, pictures, width));
    this.watchPixelRatio(() => {
      this.build(media, pictures, width);
      this.actions.resized();
    });
  }

  /**
   * @param {import("./state.js").Medium} medium
   * @param {number} index
   * @param {DataView[]} pictures
   * @param {number} width
   * @returns {Panel}
   */
  buildPanel(medium, index, pictures, width) {
    const shown = 0;
    const figure = element("figure", "qvl-figure");
    const { cssWidth, cssHeight } = frameSize(width, medium);
    const frame = element("div", "qvl-frame");
    // Width and aspect, not height: under `max-width: 100%` a narrow output shrinks the frame, undistorted.
    frame.style.width = `${cssWidth}px`;
    frame.style.aspectRatio = `${cssWidth} / ${cssHeight}`;
    const image = element("img", "qvl-image", { alt: `Image ${index + 1}`, draggable: "false" });
    image.src = this.pictureUrl(pictures[medium.frames[shown].picture], medium.frames[shown].mime);
    const ratio = Math.min(MAX_PIXEL_RATIO, window.devicePixelRatio || 1, MAX_CANVAS_SIDE / Math.max(cssWidth, cssHeight));
    const overlay = element("canvas", "qvl-overlay", { "data-qvl-image": String(index) });
    const marks = element("canvas", "qvl-marks");
    const cursor = element("canvas", "qvl-cursor");
    for (const canvas of [overlay, marks, cursor]) {
      canvas.width = Math.round(cssWidth * ratio);
      canvas.height = Math.round(cssHeight * ratio);
    }
    frame.append(image, overlay, marks, cursor);
    const caption = element("figcaption", "qvl-figcaption");
    caption.textContent = `Image ${index + 1} · ${medium.rows} × ${medium.cols} tokens · ${medium.width} × ${medium.height} px`;
    figure.append(frame, caption);
    this.element.append(figure);
    frame.addEventListener("pointermove", (event) => this.actions.hoverCell(this.cellUnder(index, event)));
    frame.addEventListener("pointerleave", () => this.actions.hoverCell(null));
    return { frame, overlay, marks, cursor, scratch: makeScratch(medium.rows, medium.cols), shown };
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
   * Paint each panel's map: `values[i]` is medium i's shown frame, `rows * cols` values on a scale from 0 to `max`.
   * @param {Float32Array[]} values
   * @param {number} max
   * @param {{colormap: string, smooth: boolean}} style
   */
  paint(values, max, style) {
    this.panels.forEach((panel, index) => {
      const medium = this.media[index];
      const size = { width: panel.overlay.width, height: panel.overlay.height };
      drawMap(context2d(panel.overlay), panel.scratch, values[index], medium.rows, medium.cols, max, { ...style, ...size });
    });
  }

  /** @param {number} opacity */
  setOpacity(opacity) {
    for (const panel of this.panels) panel.overlay.style.opacity = String(opacity);
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
