// Painting one attention grid: values -> colour indices -> pixels of a grid-sized canvas, which is then drawn
// scaled (blocky or smooth) over the picture, on screen or into a saved PNG.

import { colourIndex, packedTable } from "./colormap.js";

/**
 * Colour indices 0..255 for `values` on a scale from 0 to `max`.
 * @param {Float32Array} values
 * @param {number} max
 * @returns {Uint8Array}
 */
export function toIndices(values, max) {
  const indices = new Uint8Array(values.length);
  for (let index = 0; index < values.length; index++) indices[index] = colourIndex(values[index], max);
  return indices;
}

/**
 * Largest value, 0 for none.
 * @param {ArrayLike<number>} values
 */
export function maximum(values) {
  let max = 0;
  for (let index = 0; index < values.length; index++) if (values[index] > max) max = values[index];
  return max;
}

/**
 * Write one opaque pixel per grid cell into `pixels` (an ImageData's data of the grid's size).
 * @param {Uint8ClampedArray} pixels
 * @param {Uint8Array} indices  row-major cell colour indices
 * @param {string} colormap
 */
export function paintCells(pixels, indices, colormap) {
  const lut = packedTable(colormap);
  const out = new Uint32Array(pixels.buffer, pixels.byteOffset, pixels.byteLength / 4);
  for (let index = 0; index < indices.length; index++) out[index] = lut[indices[index]];
}

/**
 * A canvas of the grid's size (one pixel per token cell) that maps are painted into before being drawn scaled.
 * @typedef {{grid: HTMLCanvasElement, gridContext: CanvasRenderingContext2D}} Scratch
 */

/**
 * @param {number} rows
 * @param {number} cols
 * @returns {Scratch}
 */
export function makeScratch(rows, cols) {
  const grid = document.createElement("canvas");
  grid.className = "qvl-scratch";
  grid.width = cols;
  grid.height = rows;
  return { grid, gridContext: context2d(grid) };
}

/**
 * A canvas's 2-D context (every browser has one; the check satisfies the type).
 * @param {HTMLCanvasElement} canvas
 * @returns {CanvasRenderingContext2D}
 */
export function context2d(canvas) {
  const context = canvas.getContext("2d");
  if (!context) throw new Error("this browser gives no 2-D canvas context");
  return context;
}

/**
 * Draw `values` (a rows x cols map) over a 2-D context covering `width` x `height` pixels.
 * @param {CanvasRenderingContext2D} context
 * @param {Scratch} scratch
 * @param {Float32Array} values
 * @param {number} rows
 * @param {number} cols
 * @param {number} max
 * @param {{colormap: string, smooth: boolean, width: number, height: number}} style
 */
export function drawMap(context, scratch, values, rows, cols, max, style) {
  const image = scratch.gridContext.createImageData(cols, rows);
  paintCells(image.data, toIndices(values, max), style.colormap);
  scratch.gridContext.putImageData(image, 0, 0);
  context.imageSmoothingEnabled = style.smooth;
  context.imageSmoothingQuality = "high";
  context.clearRect(0, 0, style.width, style.height);
  context.drawImage(scratch.grid, 0, 0, cols, rows, 0, 0, style.width, style.height);
}
