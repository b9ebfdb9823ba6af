// The binary payload the kernel sends for one layer/head selection: every query token's map at once.
//
// Layout (little-endian):
//   uint32 version | uint32 queries | uint32 columns
//   float32 scales[queries]   each row's maximum probability (a row's bytes are relative to it)
//   float32 mass[queries]     each row's total probability on image tokens
//   uint8 values[queries * columns]   round(probability / scale * 255), row-major

export const PAYLOAD_VERSION = 1;
const HEADER_BYTES = 12;

/**
 * @typedef {Object} Maps
 * @property {number} queries  number of query tokens (rows)
 * @property {number} columns  number of image tokens over all images (columns)
 * @property {Float32Array} scales  per-row maximum probability
 * @property {Float32Array} mass  per-row total probability on the image tokens
 * @property {Uint8Array} values  quantised rows, `queries * columns` bytes
 */

/**
 * Decode a payload. The DataView may be a window into a larger buffer (byteOffset != 0).
 * @param {DataView} view
 * @returns {Maps}
 */
export function decodeMaps(view) {
  if (view.byteLength < HEADER_BYTES) {
    throw new Error(`attention payload too short: ${view.byteLength} bytes`);
  }
  const version = view.getUint32(0, true);
  if (version !== PAYLOAD_VERSION) {
    throw new Error(`attention payload version ${version}, expected ${PAYLOAD_VERSION}: update qvl_widget`);
  }
  const queries = view.getUint32(4, true);
  const columns = view.getUint32(8, true);
  const expected = HEADER_BYTES + 8 * queries + queries * columns;
  if (view.byteLength !== expected) {
    throw new Error(`attention payload has ${view.byteLength} bytes, expected ${expected}`);
  }
  // Floats are read one by one: the view's offset need not be 4-byte aligned for a Float32Array.
  const scales = new Float32Array(queries);
  const mass = new Float32Array(queries);
  for (let row = 0; row < queries; row++) {
    scales[row] = view.getFloat32(HEADER_BYTES + 4 * row, true);
    mass[row] = view.getFloat32(HEADER_BYTES + 4 * (queries + row), true);
  }
  const values = new Uint8Array(view.buffer, view.byteOffset + HEADER_BYTES + 8 * queries, queries * columns);
  return { queries, columns, scales, mass, values };
}

/**
 * One row's probability at one column.
 * @param {Maps} maps
 * @param {number} row
 * @param {number} column
 */
export function valueAt(maps, row, column) {
  return (maps.values[row * maps.columns + column] / 255) * maps.scales[row];
}

/**
 * The mean over `rows` of the columns `start .. start + count - 1`, in probability units.
 * @param {Maps} maps
 * @param {number[]} rows
 * @param {number} start
 * @param {number} count
 * @returns {Float32Array}
 */
export function meanOfRows(maps, rows, start, count) {
  const mean = new Float32Array(count);
  if (rows.length === 0) return mean;
  for (const row of rows) {
    const factor = maps.scales[row] / 255 / rows.length;
    const offset = row * maps.columns + start;
    for (let index = 0; index < count; index++) {
      mean[index] += maps.values[offset + index] * factor;
    }
  }
  return mean;
}

/**
 * The mean over `rows` of their image mass.
 * @param {Maps} maps
 * @param {number[]} rows
 */
export function meanMass(maps, rows) {
  if (rows.length === 0) return 0;
  let total = 0;
  for (const row of rows) total += maps.mass[row];
  return total / rows.length;
}

/**
 * The mean over `rows` of the sums of `blocks` runs of `count` columns from `start`: the share of attention on
 * each of a video's temporal groups (its tokens are group-major).
 * @param {Maps} maps
 * @param {number[]} rows
 * @param {number} start
 * @param {number} count
 * @param {number} blocks
 * @returns {Float32Array}
 */
export function blockSums(maps, rows, start, count, blocks) {
  const sums = new Float32Array(blocks);
  for (const row of rows) {
    const factor = maps.scales[row] / 255 / rows.length;
    let offset = row * maps.columns + start;
    for (let block = 0; block < blocks; block++) {
      let total = 0;
      for (let index = 0; index < count; index++) total += maps.values[offset + index];
      sums[block] += total * factor;
      offset += count;
    }
  }
  return sums;
}
