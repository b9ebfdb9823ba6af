// Points on screen <-> token cells: the browser's side of `qvl_widget/_geometry.py` (a test checks that both give
// the same cell for the same point).

/**
 * The grid cell under a point of an element showing an image at `width` x `height` CSS pixels.
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
