// The overlay rule: an attention map over its picture, as `qvl_widget/_overlay.py` draws it (its docstring states
// the rule; a test runs both on the same inputs and compares the pixels). The map is upsampled to the canvas's
// pixels (bilinear between cell centres, or the cell under each pixel), then either coloured with an opacity that
// grows with the value ("heat": transparent where attention is low) or drawn as iso-lines around 25 %, 50 % and
// 75 % of its mass ("contour"). The result is straight (not premultiplied) RGBA, laid over the untouched picture.

import { colourIndex, rgbTable } from "./colormap.js";

export const STYLES = ["heat", "contour"];
export const CONTOUR_LEGEND = "lines enclose 25 % (thick), 50 % (thin) and 75 % (dashed) of the attention";
const LINE_RGBA = [17, 17, 17, 255];
const HALO_RGBA = [255, 255, 255, 191];
const HALO_WIDTH = 1;
const DASH = 6;
/** Each contour line: the share of the mass it encloses, half its width at scale 1, and whether it is dashed. */
const CONTOUR_LINES = [
  { share: 0.25, radius: 2, dashed: false },
  { share: 0.5, radius: 1, dashed: false },
  { share: 0.75, radius: 1, dashed: true },
];

/**
 * How an overlay is drawn.
 * @typedef {Object} OverlayStyle
 * @property {string} colormap
 * @property {number} opacity  the heat's opacity at the top of the scale
 * @property {boolean} smooth  bilinear (true) or blocky (false) cells
 * @property {string} style  "heat" or "contour"
 * @property {number} scale  the contour lines' pixels per line unit (the screen's pixels per CSS pixel)
 */

/**
 * The overlay of a `rows` x `cols` map on a scale from 0 to `max`, as `width` x `height` straight RGBA pixels.
 * @param {ArrayLike<number>} values  row-major cell values
 * @param {number} rows
 * @param {number} cols
 * @param {number} width
 * @param {number} height
 * @param {number} max
 * @param {OverlayStyle} style
 * @returns {Uint8ClampedArray}
 */
export function overlayPixels(values, rows, cols, width, height, max, style) {
  const pixels = new Uint8ClampedArray(width * height * 4);
  if (style.style === "contour") contourPixels(pixels, values, rows, cols, width, height, style);
  else heatPixels(pixels, values, rows, cols, width, height, max, style);
  return pixels;
}

/**
 * Paint the overlay over a whole canvas (its pixels replaced: transparent where nothing is drawn).
 * @param {CanvasRenderingContext2D} context
 * @param {ArrayLike<number>} values  a `rows` x `cols` map, row-major
 * @param {number} rows
 * @param {number} cols
 * @param {number} max  the top of the scale
 * @param {OverlayStyle} style
 */
export function drawOverlay(context, values, rows, cols, max, style) {
  const { width, height } = context.canvas;
  const image = context.createImageData(width, height);
  image.data.set(overlayPixels(values, rows, cols, width, height, max, style));
  context.putImageData(image, 0, 0);
}

/**
 * Each pixel's colour from the colour map and its alpha `floor(opacity * index + 0.5)`.
 * @param {Uint8ClampedArray} pixels
 * @param {ArrayLike<number>} values
 * @param {number} rows
 * @param {number} cols
 * @param {number} width
 * @param {number} height
 * @param {number} max
 * @param {OverlayStyle} style
 */
function heatPixels(pixels, values, rows, cols, width, height, max, style) {
  const table = heatTable(style.colormap, style.opacity);
  const out = new Uint32Array(pixels.buffer, pixels.byteOffset, width * height);
  const line = new Float64Array(width);
  const across = axis(width, cols, style.smooth);
  const down = axis(height, rows, style.smooth);
  for (let y = 0; y < height; y++) {
    upsampledRow(line, values, cols, across, down, y, style.smooth);
    const offset = y * width;
    for (let x = 0; x < width; x++) out[offset + x] = table[colourIndex(line[x], max)];
  }
}

/**
 * The colour map's 256 colours, each with the alpha `floor(opacity * index + 0.5)`, packed for a Uint32 view of
 * RGBA bytes in the platform's byte order.
 * @param {string} colormap
 * @param {number} opacity
 * @returns {Uint32Array}
 */
export function heatTable(colormap, opacity) {
  const rgb = rgbTable(colormap);
  const bytes = new Uint8Array(256 * 4);
  for (let index = 0; index < 256; index++) {
    const alpha = Math.min(255, Math.max(0, Math.floor(opacity * index + 0.5)));
    bytes.set([rgb[3 * index], rgb[3 * index + 1], rgb[3 * index + 2], alpha], 4 * index);
  }
  return new Uint32Array(bytes.buffer);
}

/**
 * Where each pixel along one axis of `extent` pixels over `cells` cells reads the map: blocky, the cell under its
 * centre, `floor((pixel + 0.5) * cells / extent)` (`low`); smooth, the cells below and above its source position
 * `(pixel + 0.5) * cells / extent - 0.5` (clamped to the cells) and its fraction between them.
 * @typedef {{low: Int32Array, high: Int32Array, fraction: Float64Array}} Axis
 *
 * @param {number} extent
 * @param {number} cells
 * @param {boolean} smooth
 * @returns {Axis}
 */
export function axis(extent, cells, smooth) {
  const low = new Int32Array(extent);
  const high = new Int32Array(extent);
  const fraction = new Float64Array(extent);
  for (let pixel = 0; pixel < extent; pixel++) {
    if (!smooth) {
      low[pixel] = Math.min(cells - 1, Math.floor(((pixel + 0.5) * cells) / extent));
      continue;
    }
    const source = Math.min(cells - 1, Math.max(0, ((pixel + 0.5) * cells) / extent - 0.5));
    low[pixel] = Math.floor(source);
    high[pixel] = Math.min(low[pixel] + 1, cells - 1);
    fraction[pixel] = source - low[pixel];
  }
  return { low, high, fraction };
}

/**
 * Row `y` of the map upsampled along `across` and `down` (`axis`), into `line`.
 * @param {Float64Array} line
 * @param {ArrayLike<number>} values  row-major, `cols` a row
 * @param {number} cols
 * @param {Axis} across
 * @param {Axis} down
 * @param {number} y
 * @param {boolean} smooth
 */
export function upsampledRow(line, values, cols, across, down, y, smooth) {
  if (!smooth) {
    const start = down.low[y] * cols;
    for (let x = 0; x < line.length; x++) line[x] = values[start + across.low[x]];
    return;
  }
  const upper = down.low[y] * cols;
  const lower = down.high[y] * cols;
  const fy = down.fraction[y];
  for (let x = 0; x < line.length; x++) {
    const x0 = across.low[x];
    const x1 = across.high[x];
    const fx = across.fraction[x];
    const top = values[upper + x0] * (1 - fx) + values[upper + x1] * fx;
    const bottom = values[lower + x0] * (1 - fx) + values[lower + x1] * fx;
    line[x] = top * (1 - fy) + bottom * fy;
  }
}

/**
 * For each share, the level whose region (values >= level) is the smallest set of cells holding that share of
 * the map's mass: the value of the cell where the running sum, largest first, reaches it (none without mass).
 * @param {ArrayLike<number>} values
 * @param {number[]} shares
 * @returns {number[]}
 */
export function contourLevels(values, shares) {
  const sorted = Array.from(values).filter((value) => value > 0).sort((a, b) => b - a);
  if (!sorted.length) return [];
  const running = new Float64Array(sorted.length);
  let sum = 0;
  sorted.forEach((value, index) => {
    sum += value;
    running[index] = sum;
  });
  return shares.map((share) => {
    const wanted = share * sum;
    let index = 0;
    while (index < sorted.length - 1 && running[index] < wanted) index++;
    return sorted[index];
  });
}

/**
 * The contour lines: every line's halo first, then the lines, the outermost first. One integral image per level
 * serves both its halo's window and its line's.
 * @param {Uint8ClampedArray} pixels
 * @param {ArrayLike<number>} values
 * @param {number} rows
 * @param {number} cols
 * @param {number} width
 * @param {number} height
 * @param {OverlayStyle} style
 */
function contourPixels(pixels, values, rows, cols, width, height, style) {
  const levels = contourLevels(values, CONTOUR_LINES.map((line) => line.share));
  if (!levels.length) return;
  const field = new Float64Array(width * height);
  const line = new Float64Array(width);
  const across = axis(width, cols, style.smooth);
  const down = axis(height, rows, style.smooth);
  for (let y = 0; y < height; y++) {
    upsampledRow(line, values, cols, across, down, y, style.smooth);
    field.set(line, y * width);
  }
  const halo = Math.max(1, Math.round(HALO_WIDTH * style.scale));
  const dash = Math.max(2, Math.round(DASH * style.scale));
  const order = CONTOUR_LINES.map((spec, index) => ({ spec, level: levels[index] })).sort((a, b) => b.spec.share - a.spec.share);
  const lines = new Uint8Array(width * height); // the pixels of any line, drawn over every halo
  const integral = new Int32Array((width + 1) * (height + 1));
  const haloColour = packed(HALO_RGBA);
  const out = new Uint32Array(pixels.buffer, pixels.byteOffset, width * height);
  for (const { spec, level } of order) {
    insideSums(integral, field, level, width, height);
    const radius = Math.max(1, Math.round(spec.radius * style.scale));
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (!straddlesAt(integral, width, height, x, y, radius + halo)) continue;
        out[y * width + x] = haloColour;
        const kept = !spec.dashed || (Math.floor(y / dash) + Math.floor(x / dash)) % 2 === 0;
        if (kept && straddlesAt(integral, width, height, x, y, radius)) lines[y * width + x] = 1;
      }
    }
  }
  const lineColour = packed(LINE_RGBA);
  for (let index = 0; index < lines.length; index++) if (lines[index]) out[index] = lineColour;
}

/**
 * An RGBA colour as one pixel of a Uint32 view, in the platform's byte order.
 * @param {number[]} rgba
 */
function packed(rgba) {
  return new Uint32Array(Uint8Array.from(rgba).buffer)[0];
}

/**
 * The integral image of the pixels whose value is at least `level` (`(width + 1) x (height + 1)`, a zero first
 * row and column).
 * @param {Int32Array} integral
 * @param {Float64Array} field
 * @param {number} level
 * @param {number} width
 * @param {number} height
 */
function insideSums(integral, field, level, width, height) {
  const stride = width + 1;
  for (let y = 0; y < height; y++) {
    let row = 0;
    for (let x = 0; x < width; x++) {
      row += field[y * width + x] >= level ? 1 : 0;
      integral[(y + 1) * stride + x + 1] = integral[y * stride + x + 1] + row;
    }
  }
}

/**
 * Whether the square window of `radius` around (x, y) (clipped to the canvas) holds pixels inside and outside:
 * the pixel lies in the band `2 * radius` wide along the region's edge.
 * @param {Int32Array} integral  `insideSums`
 * @param {number} width
 * @param {number} height
 * @param {number} x
 * @param {number} y
 * @param {number} radius
 */
function straddlesAt(integral, width, height, x, y, radius) {
  const stride = width + 1;
  const top = Math.max(0, y - radius);
  const bottom = Math.min(height, y + radius + 1);
  const left = Math.max(0, x - radius);
  const right = Math.min(width, x + radius + 1);
  const count =
    integral[bottom * stride + right] - integral[top * stride + right] - integral[bottom * stride + left] + integral[top * stride + left];
  return count > 0 && count < (bottom - top) * (right - left);
}
