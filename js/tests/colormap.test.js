import assert from "node:assert/strict";
import { test } from "node:test";

import { COLORMAP_NAMES, colourIndex, cssColour, packedTable, rgbTable } from "../colormap.js";
import { cellAt } from "../geometry.js";
import { maximum, paintCells, toIndices } from "../paint.js";

test("offers the documented colour maps", () => {
  assert.deepEqual(COLORMAP_NAMES, ["inferno", "viridis", "jet", "gray"]);
  assert.throws(() => rgbTable("rainbow"), /unknown colormap "rainbow"/);
});

test("gray runs from black to white, inferno from near-black to pale yellow", () => {
  const gray = rgbTable("gray");
  assert.deepEqual(Array.from(gray.slice(0, 3)), [0, 0, 0]);
  assert.deepEqual(Array.from(gray.slice(765, 768)), [255, 255, 255]);
  assert.deepEqual(Array.from(gray.slice(3 * 128, 3 * 128 + 3)), [128, 128, 128]);
  const inferno = rgbTable("inferno");
  assert.ok(inferno[0] + inferno[1] + inferno[2] < 20);
  assert.ok(inferno[765] > 240 && inferno[766] > 240 && inferno[767] < 180);
});

test("colour index scales values from 0 to max", () => {
  assert.equal(colourIndex(0, 1), 0);
  assert.equal(colourIndex(1, 1), 255);
  assert.equal(colourIndex(0.5, 1), 128);
  assert.equal(colourIndex(2, 1), 255);
  assert.equal(colourIndex(0.3, 0), 0);
  assert.equal(colourIndex(Number.NaN, 1), 0);
  assert.equal(cssColour("gray", 1, 2, 0.5), "rgba(128, 128, 128, 0.5)");
});

test("packed table writes opaque RGBA pixels through a Uint32 view", () => {
  const pixels = new Uint8ClampedArray(3 * 4);
  paintCells(pixels, Uint8Array.from([0, 255, 128]), "gray");
  assert.deepEqual(Array.from(pixels), [0, 0, 0, 255, 255, 255, 255, 255, 128, 128, 128, 255]);
  assert.equal(packedTable("gray").length, 256);
});

test("indices, maximum and the cell under a point", () => {
  assert.deepEqual(Array.from(toIndices(Float32Array.from([0, 0.25, 0.5]), 0.5)), [0, 128, 255]);
  assert.equal(maximum([0.1, 0.7, 0.3]), 0.7);
  assert.equal(maximum([]), 0);
  assert.deepEqual(cellAt(0, 0, 600, 400, 4, 6), { row: 0, col: 0 });
  assert.deepEqual(cellAt(599.9, 399.9, 600, 400, 4, 6), { row: 3, col: 5 });
  assert.deepEqual(cellAt(450, 150, 600, 400, 4, 6), { row: 1, col: 4 });
  assert.deepEqual(cellAt(-5, 1000, 600, 400, 4, 6), { row: 3, col: 0 });
});
