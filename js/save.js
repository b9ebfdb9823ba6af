// Save PNG: each medium's shown picture at its original resolution with the map drawn over it (the overlay rule,
// `overlay.js`) and its boxes outlined, downloaded as one PNG per medium. The full-size pictures are asked from the kernel once (`want_full_pictures`), then reused;
// the HTML page has them embedded.

import { boxesOn, drawBoxes } from "./boxes.js";
import { drawOverlay } from "./overlay.js";
import { context2d } from "./paint.js";
import { bytesOf } from "./state.js";

const FULL_PICTURES_TIMEOUT_MS = 60000;
// Lines (contours, box outlines) are as thick, relative to the picture, as in a view this many pixels wide.
const LINE_VIEW_WIDTH = 512;

/**
 * What is drawn into one PNG.
 * @typedef {Object} Composite
 * @property {import("./state.js").Medium} medium
 * @property {number} frame  the frame (temporal group) shown
 * @property {Float32Array} values  its map, `rows * cols` values
 * @property {string} name  the file name
 */

/**
 * Download one PNG per composite, every map on a scale from 0 to `max`, each medium's boxes on its frame outlined.
 * @param {import("./state.js").Model} model
 * @param {Composite[]} composites
 * @param {number} max
 * @param {Omit<import("./overlay.js").OverlayStyle, "scale">} style
 * @param {import("./boxes.js").BoxView[]} boxes
 */
export async function savePngs(model, composites, max, style, boxes) {
  const pictures = await fullPictures(model);
  for (const [index, { medium, frame, values, name }] of composites.entries()) {
    const own = boxesOn(boxes, index, frame);
    const blob = await compositePng(pictures[medium.frames[frame].picture], medium, values, max, style, own);
    download(blob, name);
  }
}

/**
 * The full-size pictures: asked from the kernel once, then reused.
 * @param {import("./state.js").Model} model
 * @returns {Promise<DataView[]>}
 */
function fullPictures(model) {
  const count = model.get("pictures").length;
  const ready = () => model.get("full_pictures").length === count;
  if (ready()) return Promise.resolve(model.get("full_pictures"));
  return new Promise((resolve, reject) => {
    const done = () => {
      if (!ready()) return;
      clearTimeout(timer);
      model.off("change:full_pictures", done);
      resolve(model.get("full_pictures"));
    };
    const timer = setTimeout(() => {
      model.off("change:full_pictures", done);
      reject(new Error("the kernel did not send the full-resolution image; is it still running?"));
    }, FULL_PICTURES_TIMEOUT_MS);
    model.on("change:full_pictures", done);
    model.set("want_full_pictures", true);
    model.save_changes();
  });
}

/**
 * The picture at full resolution with the map drawn over it and its boxes outlined, as a PNG blob.
 * @param {DataView} picture
 * @param {import("./state.js").Medium} medium
 * @param {Float32Array} values
 * @param {number} max
 * @param {Omit<import("./overlay.js").OverlayStyle, "scale">} style
 * @param {import("./boxes.js").BoxView[]} boxes
 * @returns {Promise<Blob>}
 */
async function compositePng(picture, medium, values, max, style, boxes) {
  const bytes = bytesOf(picture);
  const type = bytes[0] === 0x89 ? "image/png" : "image/jpeg";
  const bitmap = await createImageBitmap(new Blob([bytes], { type }));
  const canvas = document.createElement("canvas");
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const context = context2d(canvas);
  context.drawImage(bitmap, 0, 0);
  const scale = Math.max(1, Math.max(bitmap.width, bitmap.height) / LINE_VIEW_WIDTH);
  for (const draw of [
    (/** @type {CanvasRenderingContext2D} */ layer) => drawOverlay(layer, values, medium.rows, medium.cols, max, { ...style, scale }),
    (/** @type {CanvasRenderingContext2D} */ layer) => drawBoxes(layer, boxes, medium, scale),
  ]) {
    const layer = document.createElement("canvas");
    layer.width = bitmap.width;
    layer.height = bitmap.height;
    draw(context2d(layer));
    context.drawImage(layer, 0, 0); // laid over the picture with each pixel's own alpha
  }
  return new Promise((resolve, reject) =>
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("the browser could not encode a PNG"))), "image/png"),
  );
}

/**
 * @param {Blob} blob
 * @param {string} name
 */
function download(blob, name) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  link.style.display = "none";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}
