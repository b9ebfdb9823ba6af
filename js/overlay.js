// Painting one image's attention grid: values -> colour indices -> pixels of a grid-sized canvas,
// which is then drawn scaled (blocky or smooth) over the image.

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
 * The grid cell under a point of an element showing the image at `width` x `height` CSS pixels.
 * @param {number} x
 * @param {number} y
 * @param {number} width
 * @param {number} height
 * @param {number} rows
 * @param {number} cols
 * @returns {{row: number, col: number}}
 */
export function cellAt(x, y, width, height, rows, cols) {
  const col = Math.min(cols - 1, Math.max(0, Math.floor((x / width) * cols)));
  const row = Math.min(rows - 1, Math.max(0, Math.floor((y / height) * rows)));
  return { row, col };
}

/**
 * Draw `values` (a rows x cols map) over a 2-D context covering `width` x `height` pixels.
 * @param {CanvasRenderingContext2D} context
 * @param {{grid: HTMLCanvasElement | OffscreenCanvas, gridContext: any}} scratch  a canvas of grid size
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
