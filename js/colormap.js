// Colour lookup tables: probability -> colour, shared by the overlay, the colour bar and the token tints.

import { COLORMAP_HEX } from "./colormaps.js";

export const COLORMAP_NAMES = Object.keys(COLORMAP_HEX);

/** @type {Map<string, Uint8Array>} */
const rgbCache = new Map();
/** @type {Map<string, Uint32Array>} */
const packedCache = new Map();

/**
 * The 256 RGB colours of a colour map, 768 bytes.
 * @param {string} name
 * @returns {Uint8Array}
 */
export function rgbTable(name) {
  let table = rgbCache.get(name);
  if (!table) {
    const hex = COLORMAP_HEX[name];
    if (!hex) throw new Error(`unknown colormap "${name}": choose one of ${COLORMAP_NAMES.join(", ")}`);
    table = new Uint8Array(768);
    for (let index = 0; index < 768; index++) table[index] = parseInt(hex.slice(2 * index, 2 * index + 2), 16);
    rgbCache.set(name, table);
  }
  return table;
}

/**
 * The colour map as opaque RGBA pixels packed in the platform's byte order, ready to write
 * into an ImageData through a Uint32Array view.
 * @param {string} name
 * @returns {Uint32Array}
 */
export function packedTable(name) {
  let packed = packedCache.get(name);
  if (!packed) {
    const rgb = rgbTable(name);
    const bytes = new Uint8Array(256 * 4);
    for (let index = 0; index < 256; index++) {
      bytes.set([rgb[3 * index], rgb[3 * index + 1], rgb[3 * index + 2], 255], 4 * index);
    }
    packed = new Uint32Array(bytes.buffer);
    packedCache.set(name, packed);
  }
  return packed;
}

/**
 * Index 0..255 of `value` on a scale from 0 to `max`.
 * @param {number} value
 * @param {number} max
 */
export function colourIndex(value, max) {
  if (!(max > 0) || !(value > 0)) return 0;
  return Math.min(255, Math.round((value / max) * 255));
}

/**
 * CSS colour of `value` on a scale from 0 to `max`, with an alpha.
 * @param {string} name
 * @param {number} value
 * @param {number} max
 * @param {number} [alpha]
 */
export function cssColour(name, value, max, alpha = 1) {
  const rgb = rgbTable(name);
  const index = colourIndex(value, max);
  return `rgba(${rgb[3 * index]}, ${rgb[3 * index + 1]}, ${rgb[3 * index + 2]}, ${alpha})`;
}
