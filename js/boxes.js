// Boxes on the pictures: their outlines and names, and the share of the shown map inside each, in words. Python
// sends each box's cells with the fraction of each inside it (`qvl_widget/_boxes.py`), so this file only sums and
// scales: no geometry. Box names are user text: drawn on a canvas or assigned with textContent, never as markup.

/**
 * A box as the state carries it: its image and temporal group (null: every group of a video), its corners in
 * original-image pixels (clipped to the image), its name (null for a lone unnamed box), the cells of one frame's
 * grid it covers with the fraction of each inside it, and its share of the image's area.
 * @typedef {{image: number, group: number | null, x0: number, y0: number, x1: number, y1: number,
 *            name: string | null, cells: number[], fractions: number[], area: number}} BoxView
 */

const LABEL_SIZE = 12; // CSS pixels
const TAG_COLOUR = "rgb(30, 30, 30)";

/**
 * The boxes a picture shows: medium `image`'s, those of every group or of its shown `frame` (a moving object's box
 * is on its own group's frame only; as Python's `_boxes.shown_boxes`).
 * @param {BoxView[]} boxes
 * @param {number} image
 * @param {number} frame  the temporal group on screen (0 for an image)
 */
export function boxesOn(boxes, image, frame) {
  return boxes.filter((box) => box.image === image && (box.group ?? frame) === frame);
}

/**
 * The share of a map inside a box: its cells' values weighted by their fractions inside, over the map's sum (NaN
 * where the map has no mass).
 * @param {ArrayLike<number>} values  one frame's map, row-major
 * @param {BoxView} box
 */
export function boxShare(values, box) {
  let total = 0;
  for (let index = 0; index < values.length; index++) total += values[index];
  if (!(total > 0)) return Number.NaN;
  let inside = 0;
  box.cells.forEach((cell, index) => {
    inside += values[cell] * box.fractions[index];
  });
  return inside / total;
}

/**
 * "“circle”: 62 % inside, 9 % of the area: 6.9× uniform" (as Python's `_boxes.box_words`).
 * @param {string | null} name
 * @param {number} inside  the share inside (NaN: the map has no mass)
 * @param {number} area  the box's share of the image's area
 */
export function boxWords(name, inside, area) {
  const prefix = name ? `“${name}”: ` : "";
  if (Number.isNaN(inside)) return `${prefix}no attention on this picture (${percentWords(area)} of the area)`;
  return `${prefix}${percentWords(inside)} inside, ${percentWords(area)} of the area: ${ratioWords(inside / area)} uniform`;
}

/**
 * A share as "62 %", "4.5 %", "< 0.1 %", "0 %": whole percents from 1 %, tenths below.
 * @param {number} share
 */
export function percentWords(share) {
  const percent = 100 * share;
  const tenths = Math.floor(percent * 10 + 0.5);
  if (tenths >= 10) return `${Math.floor(percent + 0.5)} %`;
  if (tenths >= 1) return `${Math.floor(tenths / 10)}.${tenths % 10} %`;
  return percent > 0 ? "< 0.1 %" : "0 %";
}

/**
 * A ratio as "6.9×", "0.3×", "12×": tenths below 10, whole numbers from 10.
 * @param {number} ratio
 */
export function ratioWords(ratio) {
  const tenths = Math.floor(ratio * 10 + 0.5);
  if (tenths >= 100) return `${Math.floor(ratio + 0.5)}×`;
  return `${Math.floor(tenths / 10)}.${tenths % 10}×`;
}

/**
 * Outline each box on a canvas showing an image of `width` x `height` original pixels, just outside its edges (a
 * white line in a black band: the box's inside stays as it is), each named box with its name on a dark tag above
 * its top-left corner (inside it where there is no room).
 * @param {CanvasRenderingContext2D} context
 * @param {BoxView[]} boxes
 * @param {{width: number, height: number}} original
 * @param {number} ratio  canvas pixels per CSS pixel
 */
export function drawBoxes(context, boxes, original, ratio) {
  const { width, height } = context.canvas;
  context.clearRect(0, 0, width, height);
  const across = width / original.width;
  const down = height / original.height;
  const line = Math.max(1, Math.round(ratio));
  for (const box of boxes) {
    const x = box.x0 * across - 1.5 * line;
    const y = box.y0 * down - 1.5 * line;
    const w = (box.x1 - box.x0) * across + 3 * line;
    const h = (box.y1 - box.y0) * down + 3 * line;
    context.lineWidth = 3 * line; // the band: from the edge outwards
    context.strokeStyle = "black";
    context.strokeRect(x, y, w, h);
    context.lineWidth = line; // the line: in the band's middle
    context.strokeStyle = "white";
    context.strokeRect(x, y, w, h);
    if (box.name) drawTag(context, box.name, x - 1.5 * line, y - 1.5 * line, ratio);
  }
}

/**
 * `text` in white on a dark tag whose bottom-left is (x, y), or under y where the tag would leave the canvas.
 * @param {CanvasRenderingContext2D} context
 * @param {string} text
 * @param {number} x
 * @param {number} y
 * @param {number} ratio
 */
function drawTag(context, text, x, y, ratio) {
  const size = Math.round(LABEL_SIZE * ratio);
  const pad = Math.max(1, Math.round(2 * ratio));
  context.font = `${size}px sans-serif`;
  const width = context.measureText(text).width + 2 * pad;
  const height = size + 2 * pad;
  const top = y - height < 0 ? y + 3 * pad : y - height;
  context.fillStyle = TAG_COLOUR;
  context.fillRect(Math.max(0, x), top, width, height);
  context.fillStyle = "white";
  context.textBaseline = "top";
  context.fillText(text, Math.max(0, x) + pad, top + pad);
}
