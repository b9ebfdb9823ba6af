// The head overview: a layers x heads grid of each head's share of attention on the image, or of its spatial
// focus, for the tokens on show. The kernel sends every head's share and entropy for every query row once
// (`_payload.encode_heads`), so hovering a token repaints the grid here, without a round trip. Clicking a cell
// shows that layer and head.
//
// Payload layout (little-endian):
//   uint32 version | uint32 layers | uint32 heads | uint32 queries
//   float32 mass_scales[layers * heads]   each head's largest share (its mass bytes are relative to it)
//   uint8 mass[layers * heads * queries]
//   uint8 entropy[layers * heads * queries]   round(normalized spatial entropy * 254); 255: none (no image mass)

import { element } from "./dom.js";
import { headLabel, layerLabel, number } from "./labels.js";
import { context2d, drawMap, makeScratch } from "./paint.js";

export const HEADS_PAYLOAD_VERSION = 1;
const HEADER_BYTES = 16;
const NO_ENTROPY = 255;
const GRID_CSS_SIZE = 280; // the grid's longer side at most, in CSS pixels
const MAX_CELL = 24;
const MIN_CELL = 4;

/**
 * @typedef {Object} Heads
 * @property {number} layers
 * @property {number} heads
 * @property {number} queries
 * @property {Float32Array} massScales  per head (layer-major), its largest image share
 * @property {Uint8Array} mass  `[layers, heads, queries]`, relative to the head's scale
 * @property {Uint8Array} entropy  `[layers, heads, queries]`, entropy * 254, NO_ENTROPY for none
 *
 * What a grid shows: "mass" (share of attention on the image) or "focus" (1 - spatial entropy).
 * @typedef {"mass" | "focus"} HeadMeasure
 */

/**
 * Decode a heads payload. The DataView may be a window into a larger buffer.
 * @param {DataView} view
 * @returns {Heads}
 */
export function decodeHeads(view) {
  if (view.byteLength < HEADER_BYTES) throw new Error(`heads payload too short: ${view.byteLength} bytes`);
  const version = view.getUint32(0, true);
  if (version !== HEADS_PAYLOAD_VERSION) {
    throw new Error(`heads payload version ${version}, expected ${HEADS_PAYLOAD_VERSION}: update qvl_widget`);
  }
  const [layers, heads, queries] = [4, 8, 12].map((offset) => view.getUint32(offset, true));
  const cells = layers * heads;
  const expected = HEADER_BYTES + 4 * cells + 2 * cells * queries;
  if (view.byteLength !== expected) throw new Error(`heads payload has ${view.byteLength} bytes, expected ${expected}`);
  const massScales = new Float32Array(cells);
  for (let cell = 0; cell < cells; cell++) massScales[cell] = view.getFloat32(HEADER_BYTES + 4 * cell, true);
  const start = view.byteOffset + HEADER_BYTES + 4 * cells;
  const mass = new Uint8Array(view.buffer, start, cells * queries);
  const entropy = new Uint8Array(view.buffer, start + cells * queries, cells * queries);
  return { layers, heads, queries, massScales, mass, entropy };
}

/**
 * Each head's value over `rows` (layer-major, `layers * heads`): "mass", the mean image share; "focus", 1 minus
 * the mean spatial entropy of the rows that have one (NaN where none has), as Python's `head_summary`.
 * @param {Heads} heads
 * @param {number[]} rows
 * @param {HeadMeasure} measure
 * @returns {Float32Array}
 */
export function headValues(heads, rows, measure) {
  const cells = heads.layers * heads.heads;
  const values = new Float32Array(cells);
  for (let cell = 0; cell < cells; cell++) {
    const offset = cell * heads.queries;
    let total = 0;
    let count = 0;
    if (measure === "mass") {
      for (const row of rows) total += heads.mass[offset + row];
      count = rows.length;
      values[cell] = count ? (total / count / 255) * heads.massScales[cell] : 0;
    } else {
      for (const row of rows) {
        const entropy = heads.entropy[offset + row];
        if (entropy === NO_ENTROPY) continue;
        total += entropy;
        count += 1;
      }
      values[cell] = count ? 1 - total / count / 254 : NaN;
    }
  }
  return values;
}

/**
 * What the overview asks of the view.
 * @typedef {Object} HeadOverviewActions
 * @property {(layer: number, head: number) => void} choose  show this layer and head
 */

/**
 * What one paint shows.
 * @typedef {Object} HeadPaint
 * @property {Float32Array} values  `headValues`
 * @property {HeadMeasure} measure
 * @property {string} colormap
 * @property {number[]} layerIds  each captured layer's decoder-layer index
 * @property {{layers: number[], heads: number[]}} chosen  the layers and heads the menus' choice covers
 * @property {(value: number) => string} format  a mass's words (a percentage)
 */

export class HeadOverview {
  /** @param {HeadOverviewActions} actions */
  constructor(actions) {
    this.element = element("div", "qvl-heads");
    this.title = element("div", "qvl-heads-title");
    this.canvas = element("canvas", "qvl-heads-grid", { role: "img", tabindex: "-1" });
    this.legend = element("div", "qvl-heads-legend");
    this.element.append(this.title, this.canvas, this.legend);
    /** @type {HeadPaint | null} */
    this.shown = null;
    this.layers = 0;
    this.heads = 0;
    this.cell = MAX_CELL;
    this.scratch = makeScratch(1, 1);
    this.canvas.addEventListener("pointermove", (event) => this.describe(this.cellUnder(event)));
    this.canvas.addEventListener("click", (event) => {
      const cell = this.cellUnder(event);
      if (cell) actions.choose(cell.layer, cell.head);
    });
  }

  /**
   * Size the grid for `layers` x `heads` cells.
   * @param {number} layers
   * @param {number} heads
   */
  resize(layers, heads) {
    if (layers === this.layers && heads === this.heads) return;
    this.layers = layers;
    this.heads = heads;
    this.cell = Math.max(MIN_CELL, Math.min(MAX_CELL, Math.floor(GRID_CSS_SIZE / Math.max(layers, heads))));
    const ratio = Math.min(2, window.devicePixelRatio || 1);
    this.canvas.width = Math.round(heads * this.cell * ratio);
    this.canvas.height = Math.round(layers * this.cell * ratio);
    this.canvas.style.width = `${heads * this.cell}px`;
    this.canvas.style.height = `${layers * this.cell}px`;
    this.canvas.dataset.qvlLayers = String(layers); // for tests that click a head
    this.canvas.dataset.qvlHeads = String(heads);
    this.scratch = makeScratch(layers, heads);
  }

  /**
   * Paint the grid and outline the heads the menus' choice covers.
   * @param {HeadPaint} paint
   */
  paint(paint) {
    this.shown = paint;
    const { values, measure, colormap, layerIds, chosen } = paint;
    let max = measure === "focus" ? 1 : 0;
    for (const value of values) if (value > max) max = value;
    const context = context2d(this.canvas);
    const size = { width: this.canvas.width, height: this.canvas.height };
    drawMap(context, this.scratch, values, this.layers, this.heads, max, { colormap, smooth: false, ...size });
    this.outline(context, chosen);
    const what =
      measure === "mass"
        ? "each head's share of attention on the image"
        : "each head's focus (1 − spatial entropy of its map: 1 = one cell, 0 = spread evenly)";
    this.title.textContent = `Heads: ${what} · click a head to show it`;
    const top = measure === "mass" ? `brightest ${paint.format(max)}` : "scale 0 to 1";
    const first = layerIds[0] ?? 0;
    const last = layerIds[this.layers - 1] ?? this.layers - 1;
    this.legend.textContent = `layers ${first}–${last} top to bottom · heads 0–${this.heads - 1} left to right · ${top}`;
    this.canvas.setAttribute("aria-label", `${this.layers} × ${this.heads} grid of ${what}`);
  }

  /**
   * @param {CanvasRenderingContext2D} context
   * @param {{layers: number[], heads: number[]}} chosen
   */
  outline(context, chosen) {
    if (chosen.layers.length === this.layers && chosen.heads.length === this.heads) return; // all: nothing to mark
    const width = this.canvas.width / this.heads;
    const height = this.canvas.height / this.layers;
    context.lineWidth = Math.max(1, width / 6);
    context.strokeStyle = "#00e5ff";
    const heads = new Set(chosen.heads);
    for (const layer of chosen.layers) {
      for (let head = 0; head < this.heads; head++) {
        if (!heads.has(head) || heads.has(head - 1)) continue; // one box per run of neighbouring heads
        let end = head;
        while (heads.has(end + 1)) end += 1;
        const inset = context.lineWidth / 2;
        context.strokeRect(head * width + inset, layer * height + inset, (end - head + 1) * width - 2 * inset, height - 2 * inset);
      }
    }
  }

  /**
   * The grid cell under the pointer, or null.
   * @param {MouseEvent} event
   * @returns {{layer: number, head: number} | null}
   */
  cellUnder(event) {
    const bounds = this.canvas.getBoundingClientRect();
    const head = Math.floor(((event.clientX - bounds.left) / bounds.width) * this.heads);
    const layer = Math.floor(((event.clientY - bounds.top) / bounds.height) * this.layers);
    if (head < 0 || head >= this.heads || layer < 0 || layer >= this.layers) return null;
    return { layer, head };
  }

  /**
   * The hovered head's numbers, as the grid's tooltip.
   * @param {{layer: number, head: number} | null} cell
   */
  describe(cell) {
    const paint = this.shown;
    if (!cell || !paint) return;
    const value = paint.values[cell.layer * this.heads + cell.head];
    const name = `${layerLabel(cell.layer, paint.layerIds)}, ${headLabel(cell.head)}`;
    const words =
      paint.measure === "mass"
        ? `${paint.format(value)} of attention on the image`
        : Number.isNaN(value)
          ? "no attention on the image"
          : `focus ${number(value, 10)} (spatial entropy ${number(1 - value, 10)})`;
    this.canvas.title = `${name}: ${words} · click to show it`;
  }
}
