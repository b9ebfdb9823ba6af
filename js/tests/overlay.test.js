import assert from "node:assert/strict";
import { test } from "node:test";

import { boxesOn, boxShare, boxWords, percentWords, ratioWords } from "../boxes.js";
import { contourLevels, heatTable, overlayPixels } from "../overlay.js";

test("the heat's opacity grows with the value, up to the opacity at the top of the scale", () => {
  const bytes = new Uint8Array(heatTable("gray", 0.8).buffer);
  assert.equal(bytes[3], 0); // index 0: transparent
  assert.equal(bytes[4 * 255 + 3], 204); // floor(0.8 * 255 + 0.5)
  assert.deepEqual(Array.from(bytes.slice(4 * 128, 4 * 128 + 4)), [128, 128, 128, 102]);
  const pixels = overlayPixels([0, 1], 1, 2, 2, 1, 1, { colormap: "gray", opacity: 1, smooth: false, style: "heat", scale: 1 });
  assert.deepEqual(Array.from(pixels), [0, 0, 0, 0, 255, 255, 255, 255]);
});

test("contour levels are the smallest regions holding 25, 50 and 75 % of the mass", () => {
  assert.deepEqual(contourLevels([0.4, 0.3, 0.2, 0.1, 0], [0.25, 0.5, 0.75]), [0.4, 0.3, 0.2]);
  assert.deepEqual(contourLevels([0, 0], [0.5]), []);
});

test("a picture shows its image's boxes of every group and of its shown group only", () => {
  /** @type {(image: number, group: number | null, name: string) => import("../boxes.js").BoxView} */
  const box = (image, group, name) => ({ image, group, x0: 0, y0: 0, x1: 1, y1: 1, name, cells: [], fractions: [], area: 0 });
  const boxes = [box(0, null, "still"), box(1, null, "always"), box(1, 2, "third"), box(1, 0, "first")];
  /** @type {(image: number, frame: number) => (string | null)[]} */
  const names = (image, frame) => boxesOn(boxes, image, frame).map((shown) => shown.name);
  assert.deepEqual(names(0, 0), ["still"]);
  assert.deepEqual(names(1, 0), ["always", "first"]);
  assert.deepEqual(names(1, 2), ["always", "third"]);
  assert.deepEqual(names(1, 3), ["always"]);
});

test("a box's share: its cells weighted by the fraction inside, in the words every view uses", () => {
  const box = { image: 0, group: null, x0: 0, y0: 0, x1: 1, y1: 1, name: "cat", cells: [0, 1], fractions: [1, 0.5], area: 0.25 };
  assert.equal(boxShare([2, 2, 4], box), 3 / 8);
  assert.equal(Number.isNaN(boxShare([0, 0, 0], box)), true);
  assert.equal(boxWords("circle", 0.62, 0.09), "“circle”: 62 % inside, 9 % of the area: 6.9× uniform");
  assert.equal(boxWords(null, 0.3, 0.1), "30 % inside, 10 % of the area: 3.0× uniform");
  assert.deepEqual([0, 0.0004, 0.0049, 0.0123, 0.995].map(percentWords), ["0 %", "< 0.1 %", "0.5 %", "1 %", "100 %"]);
  assert.deepEqual([0.04, 6.85, 9.95, 12.5].map(ratioWords), ["0.0×", "6.9×", "10×", "13×"]);
});
